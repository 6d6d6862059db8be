#!/usr/bin/env bash
# Scale: N headless VMs (built-in guest, 64 MiB, sessions alice and bob) started at once, each
# then performing a Logoff. Reports, per N: wall time from the first start to every VM's agent
# being ready, wall time of N concurrent Logoff round trips, wall time of the whole thing, and
# memory per VM (RSS and PSS: PSS shares kvpc's code and libraries fairly between the VMs).
#   tests/bench/scale.sh [N...]      (default: 1 8 32)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh
counts=("$@"); [ ${#counts[@]} -eq 0 ] && counts=(1 8 32)
accel=emu; have_kvm && accel=kvm
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export KVPC_RUNTIME_DIR="$work"

echo "### Scale: N VMs started at once, each performing a Logoff (kvpc --accel $accel, $(nproc) CPUs)"
echo
echo "| N | start -> all agents ready | N Logoffs at once | whole run | RSS per VM | PSS per VM | Logoffs that failed |"
echo "|---|---|---|---|---|---|---|"
for n in "${counts[@]}"; do
  pids=()
  t0=$(date +%s%N)
  for i in $(seq 1 "$n"); do
    "$kvpc" run -q --accel "$accel" --mem 64M --headless --serial "file:$work/vm$i.out" --name "vm$i" \
      --cmdline "users=alice,bob" </dev/null >/dev/null 2>&1 &
    pids+=($!)
  done
  for i in $(seq 1 "$n"); do wait_for_text "$work/vm$i.out" "agent: ready" 3000 || echo "vm$i did not come up" >&2; done
  t1=$(date +%s%N)
  rss=0; pss=0
  for p in "${pids[@]}"; do rss=$((rss + $(peak_rss_kib "$p"))); pss=$((pss + $(pss_kib "$p"))); done
  logoffs=()
  for i in $(seq 1 "$n"); do "$kvpc" logoff "vm$i" --wait --json >"$work/logoff$i.json" 2>&1 & logoffs+=($!); done
  failed=0
  for p in "${logoffs[@]}"; do wait "$p" || failed=$((failed + 1)); done
  t2=$(date +%s%N)
  for i in $(seq 1 "$n"); do "$kvpc" stop "vm$i" >/dev/null 2>&1 || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  t3=$(date +%s%N)
  rm -f "$work"/vm*.out
  awk -v n="$n" -v a=$(( (t1 - t0) / 1000000 )) -v b=$(( (t2 - t1) / 1000000 )) -v c=$(( (t3 - t0) / 1000000 )) \
      -v r="$rss" -v p="$pss" -v f="$failed" \
      'BEGIN {printf "| %d | %d ms | %d ms | %d ms | %.2f MiB | %.2f MiB | %d |\n", n, a, b, c, r/n/1024, p/n/1024, f}'
done
