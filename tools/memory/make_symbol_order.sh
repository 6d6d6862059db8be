#!/usr/bin/env bash
# Regenerates tools/memory/kvpc.symbol-order: the functions a headless VM runs, so the linker can
# put them next to each other (docs/performance.md, "Memory").
#
# Why: the kernel maps code in 64 KiB windows around each page a process faults in ("fault
# around"), so a VM's RSS counts every 64 KiB window of kvpc's code that holds one function it
# ran. Laid out in link order, the start-up and idle code is spread over the whole 2.5 MiB text;
# ordered, it is a few hundred KiB and the rest is never mapped.
#
# How: run the measured scenario of tests/bench/memory.sh (built-in guest, --accel emu, 64 MiB,
# headless, agent ready, idle) under callgrind, take every function it executed (mangled names),
# and list them. Functions that only run with the seccomp filter on (valgrind cannot run under
# it) are added from thread_sandbox.cc and libseccomp by name. Stale or missing names are
# harmless: the linker ignores names it does not find, and code not listed is only placed later.
#   tools/memory/make_symbol_order.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
kvpc="$build/tools/kvpc"
out=tools/memory/kvpc.symbol-order
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export KVPC_RUNTIME_DIR="$work"

valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/callgrind.out" -q \
  "$kvpc" run -q --accel emu --mem 64M --headless --seccomp off --serial "file:$work/serial.out" --name order \
  </dev/null 2>"$work/valgrind.err" &
pid=$!
for _ in $(seq 1200); do
  grep -q "agent: ready" "$work/serial.out" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/valgrind.err"; exit 1; }
  sleep 0.5
done
grep -q "agent: ready" "$work/serial.out" || { echo "the built-in guest did not come up under callgrind"; exit 1; }
sleep 5  # idle with the agent running, as the memory benchmark samples it
kill -TERM "$pid"
wait "$pid" || true

# Every function callgrind saw run (fn=) in the kvpc executable. Callgrind's compressed format
# names an object or function once, at its first mention, and later uses only its "(id)"; the
# first mention of an object is often a call into it (cob=), so names are collected from both
# ob= and cob= lines (reading only ob= lost every function of an object first named by a cob=:
# the list came out with 205 functions instead of ~1200).
awk -v exe="$(readlink -f "$kvpc")" '
  /^c?ob=/ { id = $1; sub(/^c?ob=/, "", id); name = substr($0, length($1) + 2);
             if (name != "") obj[id] = name;
             if ($0 ~ /^ob=/) cur = obj[id];
             next }
  /^c?fn=/ { id = $1; sub(/^c?fn=/, "", id); name = substr($0, length($1) + 2);
             if (name != "") fn[id] = name;
             if ($0 ~ /^fn=/ && cur == exe) print fn[id] }
' "$work/callgrind.out" > "$work/ran"
{
  awk '!seen[$0]++' "$work/ran"
  # Run only with the seccomp filter on.
  nm --defined-only "$build/vmm/CMakeFiles/kvpc_vmm.dir/thread_sandbox.cc.o" | awk '$2 ~ /[TtWw]/ {print $3}'
  nm --defined-only /usr/lib/x86_64-linux-gnu/libseccomp.a 2>/dev/null | awk '$2 ~ /[Tt]/ {print $3}'
} | awk '!seen[$0]++' > "$out"
echo "$(wc -l < "$out") functions -> $out"
