#!/usr/bin/env bash
# QEMU's cost per port exit on the same Multiboot guest (mb_hello.bin, N x out 0x5F8 before it
# exits): (wall(n=N) - wall(n=0)) / N, medians of 5 runs each, next to kvpc run the same way.
# Meaningful under -accel kvm only (under TCG a port write is not an exit), so without KVM it
# prints n/a.
#   tests/bench/qemu_exit_cost.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh
n=${1:-200000}
export KVPC_RUNTIME_DIR=$(mktemp -d)
trap 'rm -rf "$KVPC_RUNTIME_DIR"' EXIT
per_exit() {  # command... (with @N@ for the count) -> ns per exit
  local with=() without=()
  for _ in 1 2 3 4 5; do
    with+=($(time_us "${@//@N@/$n}"))
    without+=($(time_us "${@//@N@/0}"))
  done
  local a b
  a=$(printf '%s\n' "${with[@]}" | median); b=$(printf '%s\n' "${without[@]}" | median)
  awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN {printf "%.0f ns", (a - b) * 1000 / n}'
}
echo "| whole-process cost per port exit, mb_hello.bin n=$n | kvpc --accel kvm | QEMU -accel kvm |"
echo "|---|---|---|"
if ! have_kvm; then
  echo "| (wall(n=N) - wall(n=0)) / N | n/a ($(kvm_reason)) | n/a ($(kvm_reason)) |"
  exit 0
fi
k=$(per_exit "$kvpc" run -q --accel kvm --serial none --kernel "$guests/mb_hello.bin" --cmdline "n=@N@")
if [ -n "$qemu" ]; then
  q=$(per_exit "$qemu" -accel kvm -m 64 -kernel "$guests/mb_hello.bin" -append "n=@N@" -nographic -device isa-debug-exit)
else
  q="n/a ($(qemu_reason))"
fi
echo "| (wall(n=N) - wall(n=0)) / N | $k | $q |"
