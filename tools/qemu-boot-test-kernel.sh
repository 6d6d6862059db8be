#!/usr/bin/env bash
# Boots kvpc's Linux test kernel under QEMU TCG (no KVM needed) and reports how long it takes
# to reach getty's login prompt on ttyS0: the check, on machines without /dev/kvm, that the
# config, the patches and the initramfs boot (docs/linux-guests.md). QEMU loads the ELF vmlinux
# through its PVH note, as kvpc does.
#
#   tools/qemu-boot-test-kernel.sh VMLINUX INITRD [--params off|on|kvpc] [--two-logins] [--timeout S]
#
# --params off   console=ttyS0 panic=-1                    (the patches' switches absent)
# --params on    the same + skip_int3_selftest=1 syscall_pf_fixup=1
# --params kvpc  kvpc's default Linux command line (vmm/boot/linux_cmdline.cc), with this
#                host's TSC rate as tsc_early_khz and lpj for HZ=100
# --two-logins   then logs alice in on ttyS0 and, from her shell, bob through `telnet 127.0.0.1`
#                (the image needs build-initramfs.sh --telnetd and alice:alice, bob:bob) and
#                checks that `who` lists both: the two utmp sessions LinuxGuestTest logs off.
# Prints "boot: login prompt after N.N s" (and the console log to OUTPUT.log next to INITRD).
# Needs qemu-system-x86 (tools/setup-debian.sh --kernel).
set -euo pipefail

kernel="" initrd="" params="off" two_logins=0 timeout=600
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --params) params="${2:?}"; shift 2 ;;
    --two-logins) two_logins=1; shift ;;
    --timeout) timeout="${2:?}"; shift 2 ;;
    -h|--help) usage 0 ;;
    -*) echo "qemu-boot-test-kernel: unknown option $1" >&2; usage ;;
    *) if [ -z "$kernel" ]; then kernel="$1"; elif [ -z "$initrd" ]; then initrd="$1"; else usage; fi; shift ;;
  esac
done
[ -r "$kernel" ] && [ -r "$initrd" ] || usage
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-boot-test-kernel: qemu-system-x86 is missing" >&2; exit 1; }

case "$params" in
  off) cmdline="console=ttyS0 panic=-1" ;;
  on) cmdline="console=ttyS0 panic=-1 skip_int3_selftest=1 syscall_pf_fixup=1" ;;
  kvpc)
    khz=$(awk -F: '/^cpu MHz/ {printf "%d", $2 * 1000; exit}' /proc/cpuinfo)
    cmdline="console=ttyS0 panic=-1 quiet rodata=off rootfstype=ramfs no_timer_check tsc=reliable noxsave"
    cmdline+=" clearcpuid=smap,fsgsbase,rdrand,rdseed,invpcid,pku,popcnt,cx16 skip_int3_selftest=1 syscall_pf_fixup=1"
    [ -z "$khz" ] || cmdline+=" tsc_early_khz=$khz lpj=$((khz * 10))" ;;
  *) echo "qemu-boot-test-kernel: --params off, on or kvpc" >&2; exit 2 ;;
esac

work=$(mktemp -d)
log="$initrd.$params.log"
qemu_pid=""
cleanup() {
  [ -z "$qemu_pid" ] || kill "$qemu_pid" 2>/dev/null || true
  [ -z "$qemu_pid" ] || wait "$qemu_pid" 2>/dev/null || true
  exec 3>&- 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkfifo "$work/in"
: > "$log"

start=$(date +%s.%N)
qemu-system-x86_64 -accel tcg -m 256M -display none -monitor none -serial stdio -no-reboot \
  -kernel "$kernel" -initrd "$initrd" -append "$cmdline" < "$work/in" > "$log" 2>&1 &
qemu_pid=$!
exec 3> "$work/in"

seen=0  # bytes of the log already matched, so a prompt that comes again is found again
wait_for() {  # text, seconds
  local deadline=$(( $(date +%s) + $2 )) size
  while [ "$(date +%s)" -lt "$deadline" ]; do
    size=$(stat -c %s "$log")
    if tail -c +"$((seen + 1))" "$log" | grep -qF -- "$1"; then seen=$size; return 0; fi
    kill -0 "$qemu_pid" 2>/dev/null || { echo "qemu-boot-test-kernel: QEMU exited" >&2; return 1; }
    sleep 0.2
  done
  echo "qemu-boot-test-kernel: no '$1' within $2 s; the console said:" >&2
  tail -c 3000 "$log" >&2
  return 1
}
type_line() { printf '%s\r' "$1" >&3; }

wait_for "login:" "$timeout"
echo "boot: login prompt after $(echo "$(date +%s.%N) - $start" | bc | xargs printf '%.1f') s (--params $params)"
if [ "$two_logins" = 1 ]; then
  type_line alice; wait_for "Password:" 120; type_line alice; wait_for '$ ' 120
  type_line "telnet 127.0.0.1"; wait_for "login:" 120
  type_line bob; wait_for "Password:" 120; type_line bob; wait_for '$ ' 120
  # Typed as who-''done so that the echo of the line does not match.
  type_line "who; echo who-''done"; wait_for "who-done" 120
  who_out=$(tail -c 2000 "$log")
  if grep -q "^alice" <<<"$who_out" && grep -q "^bob" <<<"$who_out"; then
    echo "two-logins: who lists alice (ttyS0) and bob (pts):"
    grep -E "^(alice|bob) " <<<"$who_out" | tr -d '\r' | sed 's/^/  /'
  else
    echo "qemu-boot-test-kernel: who did not list both users:" >&2
    echo "$who_out" >&2
    exit 1
  fi
fi
