#!/usr/bin/env bash
# Instruction counts of kvpc's exit path (handle_exit and everything it calls: buses, device,
# counters) under callgrind, over the benchmark guest's 2 x N exits under the interpreter.
# Deterministic, unlike timings on a shared machine. perf is used instead when it works here.
#   tests/bench/profile.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh
n=${1:-20000}
if perf stat -e instructions true >/dev/null 2>&1; then
  echo "(perf stat works here; callgrind is used anyway so that the counts compare across machines)"
fi
command -v valgrind >/dev/null || { echo "n/a (valgrind is not installed: tools/setup-debian.sh --bench)"; exit 0; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect='kvpc::handle_exit*' \
  "$build/tests/kvpc_bench_exit_loop" --exits "$n" --repetitions 1 >/dev/null 2>&1
exits=$((2 * n + 3))
total=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "| what | instructions per exit |"
echo "|---|---|"
echo "| handle_exit and below, mean over $exits exits (N PIO + N MMIO + 3 POST) | $(awk -v t="$total" -v e="$exits" 'BEGIN {printf "%.1f", t/e}') |"
callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
  awk -v n="$n" '/(PioBus::write|MmioBus::write|SinkDevice::write)/ && /\.(cc|h):kvpc/ && /\[/ {gsub(",", "", $1); name=$0; sub(/.*:kvpc::/, "", name); sub(/\(.*/, "", name);
    if (!(name in seen)) {seen[name]=1; printf "| %s (inclusive) | %.1f |\n", name, $1/n}}'
