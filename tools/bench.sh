#!/usr/bin/env bash
# Benchmarks, each printing kvpc next to its baseline measured in the same run.
#   tools/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh
build=${KVPC_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target kvpc kvpc_bench_exit_path
echo "== kvpc's own work per exit vs a bare run loop (synthetic exits; ratios and differences are what count)"
"$build/tests/kvpc_bench_exit_path" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
echo "== start-up: execve -> first guest instruction, and the whole run of a tiny guest (debug_exit.bin)"
accel=emu; [ -r /dev/kvm ] && [ -w /dev/kvm ] && accel=kvm
runtime=$(mktemp -d)
times=()
for i in $(seq 1 20); do
  start=$(date +%s%N)
  KVPC_EXEC_NS=$start KVPC_RUNTIME_DIR=$runtime "$build/tools/kvpc" run -q --accel $accel --serial none \
    --kernel "$build/guest-firmware/debug_exit.bin" --name "bench$i" 2>>"$runtime/startup.log" || true
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000 )))
done
grep -o '[0-9.]* ms from exec' "$runtime/startup.log" | awk '{print $1}' | sort -n |
  awk -v accel=$accel '{a[NR]=$1} END {printf "accelerator %s: exec -> first guest instruction: median %.2f ms, min %.2f ms\n", accel, a[int((NR+1)/2)], a[1]}'
grep -o '[0-9.]* ms of it after main' "$runtime/startup.log" | awk '{print $1}' | sort -n |
  awk '{a[NR]=$1} END {printf "  of which after main(): median %.2f ms, min %.2f ms\n", a[int((NR+1)/2)], a[1]}'
# The floor: what exec'ing any program costs on this machine.
floor=()
for i in $(seq 1 20); do s=$(date +%s%N); /bin/true; e=$(date +%s%N); floor+=($(( (e - s) / 1000 ))); done
printf '%s\n' "${floor[@]}" | sort -n | awk '{a[NR]=$1} END {printf "  baseline, fork+exec+exit of /bin/true from the same shell: median %.2f ms\n", a[int((NR+1)/2)]/1000}'
rm -rf "$runtime"
printf '%s\n' "${times[@]}" | sort -n | awk -v accel=$accel '{a[NR]=$1} END {printf "accelerator %s: median %.2f ms, min %.2f ms over %d runs\n", accel, a[int((NR+1)/2)]/1000, a[1]/1000, NR}'
