#!/usr/bin/env bash
# Start-up: execve -> first guest instruction (KVPC_EXEC_NS, reported by kvpc itself), and the
# whole run of a small Multiboot guest that prints one line and exits (mb_hello.bin), kvpc next
# to QEMU booting the same file with -kernel. QEMU runs TCG when KVM is absent: a valid
# like-for-like comparison of start-up and whole-run time, not of exit cost.
#   tests/bench/startup.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh
runs=${1:-20}
guest="$guests/mb_hello.bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export KVPC_RUNTIME_DIR="$work"

# The guest must really print and exit the same way under both.
"$kvpc" run -q --accel emu --kernel "$guest" --serial "file:$work/kvpc.out" --name check >/dev/null 2>&1 && status=0 || status=$?
grep -q "hello from a Multiboot guest" "$work/kvpc.out" || { echo "kvpc did not run mb_hello.bin (status $status)"; exit 1; }
[ "$status" = 1 ] || { echo "kvpc: mb_hello.bin exited with $status, expected 1"; exit 1; }

kvpc_column() {  # accel -> "first-instruction median|after-main median|whole-run median"
  local accel=$1 log="$work/startup-$1.log" whole=()
  : >"$log"
  for i in $(seq 1 "$runs"); do
    local start end
    start=$(date +%s%N)
    KVPC_EXEC_NS=$start "$kvpc" run -q --accel "$accel" --serial none --kernel "$guest" --name "s$i" 2>>"$log" || true
    end=$(date +%s%N)
    whole+=($(( (end - start) / 1000 )))
  done
  local first after total
  first=$(grep -o '[0-9.]* ms from exec' "$log" | awk '{print $1}' | median)
  after=$(grep -o '[0-9.]* ms of it after main' "$log" | awk '{print $1}' | median)
  total=$(printf '%s\n' "${whole[@]}" | median | awk '{printf "%.1f", $1/1000}')
  echo "$first ms|$after ms|$total ms"
}

qemu_whole_run() {  # accel -> median ms, or n/a
  local accel=$1 times=() n=$(( runs < 10 ? runs : 10 ))
  "$qemu" -accel "$accel" -kernel "$guest" -nographic -device isa-debug-exit -m 64 \
    </dev/null >"$work/qemu.out" 2>&1 && status=0 || status=$?
  if ! grep -q "hello from a Multiboot guest" "$work/qemu.out" || [ "$status" != 1 ]; then
    echo "n/a (QEMU -accel $accel did not run the guest: status $status)"; return
  fi
  for _ in $(seq 1 "$n"); do
    times+=($(time_us "$qemu" -accel "$accel" -kernel "$guest" -nographic -device isa-debug-exit -m 64))
  done
  printf '%s\n' "${times[@]}" | median | awk '{printf "%.1f ms", $1/1000}'
}

floor=()
for _ in $(seq 1 "$runs"); do floor+=($(time_us /bin/true)); done
floor_ms=$(printf '%s\n' "${floor[@]}" | median | awk '{printf "%.1f", $1/1000}')

IFS='|' read -r emu_first emu_after emu_whole < <(kvpc_column emu)
if have_kvm; then
  IFS='|' read -r kvm_first kvm_after kvm_whole < <(kvpc_column kvm)
else
  kvm_first="n/a ($(kvm_reason))"; kvm_after=$kvm_first; kvm_whole=$kvm_first
fi
if [ -n "$qemu" ]; then
  qemu_tcg=$(qemu_whole_run tcg)
  if have_kvm; then qemu_kvm=$(qemu_whole_run kvm); else qemu_kvm="n/a ($(kvm_reason))"; fi
else
  qemu_tcg="n/a ($(qemu_reason))"; qemu_kvm=$qemu_tcg
fi

echo "### Start-up (mb_hello.bin, Multiboot; medians of $runs runs; /bin/true fork+exec+exit here: $floor_ms ms)"
echo
echo "| | kvpc --accel kvm | kvpc --accel emu | QEMU -accel kvm | QEMU-TCG |"
echo "|---|---|---|---|---|"
echo "| execve -> first guest instruction | $kvm_first | $emu_first | n/a (no hook in QEMU) | n/a (no hook in QEMU) |"
echo "| of which after main() | $kvm_after | $emu_after | | |"
echo "| whole run: execve -> guest printed and exited | $kvm_whole | $emu_whole | $qemu_kvm | $qemu_tcg |"
