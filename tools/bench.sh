#!/usr/bin/env bash
# The benchmark suite: every table of docs/performance.md, kvpc next to its baselines (a bare
# run loop over the same accelerator, a bare KVM_RUN loop, QEMU) measured in the same run.
# Columns that need /dev/kvm print "n/a (no KVM: reason)" where it is absent.
#   tools/bench.sh            all sections (the 32-VM scale run takes a few minutes)
#   tools/bench.sh SECTION... any of: exits startup memory integration scale profile
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh --bench
build=${KVPC_BUILD_DIR:-build}
export KVPC_BUILD_DIR=$build
[ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target kvpc kvpc_guest_firmware kvpc_bench_exit_path kvpc_bench_exit_loop >/dev/null
. tests/bench/lib.sh
sections=("$@"); [ ${#sections[@]} -eq 0 ] && sections=(exits startup memory integration scale profile)

for section in "${sections[@]}"; do
  case $section in
    exits)
      echo "## 1. Work per exit"
      echo
      echo "Real guest (bench_exits.bin, CPL3), real board, TSC around run():"
      echo
      "$build/tests/kvpc_bench_exit_loop" --accel emu --exits 100000 --repetitions 5
      echo
      if have_kvm; then
        "$build/tests/kvpc_bench_exit_loop" --accel kvm --exits 100000 --repetitions 5
      else
        echo "accelerator kvm (bare KVM_RUN loop and kvpc on KVM): n/a ($(kvm_reason))"
      fi
      echo
      tests/bench/qemu_exit_cost.sh
      echo
      echo "Synthetic exits (no accelerator at all: run() returns an exit at once), Google Benchmark:"
      echo
      "$build/tests/kvpc_bench_exit_path" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
        --benchmark_format=console 2>/dev/null | grep -E "median|Benchmark"
      echo ;;
    startup) echo "## 3. Start-up"; echo; tests/bench/startup.sh 20; echo ;;
    memory) echo "## 4. Memory"; echo; tests/bench/memory.sh; echo ;;
    integration) echo "## 2 and 5. Exits avoided by the ioeventfd doorbell; the integration path"; echo
                 tests/bench/integration_path.sh 20 60; echo ;;
    scale) echo "## 6. Scale"; echo; nice -n 10 tests/bench/scale.sh 1 8 32; echo ;;
    profile) echo "## Profile: instructions per exit in handle_exit and below (callgrind)"; echo
             tests/bench/profile.sh; echo ;;
    *) echo "unknown section '$section' (exits startup memory integration scale profile)" >&2; exit 2 ;;
  esac
done
