#!/usr/bin/env bash
# Boots kvpc's Linux test kernel under QEMU TCG (no KVM needed) and reports how long it takes
# to reach getty's login prompt on ttyS0: the check, on machines without /dev/kvm, that the
# config, the patches and the initramfs boot (docs/linux-guests.md). QEMU loads the ELF vmlinux
# through its PVH note, as kvpc does.
#
#   tools/qemu-boot-test-kernel.sh VMLINUX INITRD [--params off|on|kvpc] [--two-logins] [--probe]
#                                  [--timeout S]
#
# --params off   console=ttyS0 panic=-1                    (the patches' switches absent)
# --params on    the same + skip_int3_selftest=1 syscall_pf_fixup=1
# --params kvpc  kvpc's default Linux command line (vmm/boot/linux_cmdline.cc), with this
#                host's TSC rate as tsc_early_khz and lpj for HZ=100
# --two-logins   then logs alice in on ttyS0 and, from her shell, bob through `telnet 127.0.0.1`
#                (the image needs build-initramfs.sh --telnetd and alice:alice, bob:bob) and
#                checks that `who` lists both: the two utmp sessions LinuxGuestTest logs off.
# --probe        adds tests/guest-kernel/syscall_pf_probe.c (built static here) to the image and
#                runs it as alice: system calls entered the way the nested KVM delivers SYSCALL
#                (a user-mode jump to entry_SYSCALL_64). With syscall_pf_fixup (on, kvpc) they
#                must complete ("syscall-pf-probe: ok"); without it (off) the probe must die of
#                SIGSEGV (status 139). QEMU's own SYSCALL never takes that path.
# Prints "boot: login prompt after N.N s" (and the console log to OUTPUT.log next to INITRD).
# Needs qemu-system-x86 (tools/setup-debian.sh --kernel).
set -euo pipefail

kernel="" initrd="" params="off" two_logins=0 probe=0 timeout=600
usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --params) params="${2:?}"; shift 2 ;;
    --two-logins) two_logins=1; shift ;;
    --probe) probe=1; shift ;;
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

boot_initrd="$initrd"
if [ "$probe" = 1 ]; then
  here="$(cd "$(dirname "$0")/.." && pwd)"
  entry=$(nm "$kernel" | awk '$3 == "entry_SYSCALL_64" {print $1}')
  [ -n "$entry" ] || { echo "qemu-boot-test-kernel: no entry_SYSCALL_64 in $kernel" >&2; exit 1; }
  mkdir -p "$work/probe/usr/bin"
  gcc -static -O2 -o "$work/probe/usr/bin/syscall-pf-probe" "$here/tests/guest-kernel/syscall_pf_probe.c"
  # The kernel unpacks concatenated newc archives in order: the probe lands on top of the image.
  (cd "$work/probe" && find . | busybox cpio -o -H newc -R 0:0 > "$work/probe.cpio" 2>/dev/null)
  cat "$initrd" "$work/probe.cpio" > "$work/initrd-probe.cpio"
  boot_initrd="$work/initrd-probe.cpio"
fi

start=$(date +%s.%N)
qemu-system-x86_64 -accel tcg -m 256M -display none -monitor none -serial stdio -no-reboot \
  -kernel "$kernel" -initrd "$boot_initrd" -append "$cmdline" < "$work/in" > "$log" 2>&1 &
qemu_pid=$!
exec 3> "$work/in"

seen=0  # bytes of the log already matched, so a prompt that comes again is found again
wait_for() {  # text, seconds[, quiet]
  local deadline=$(( $(date +%s) + $2 )) size
  while [ "$(date +%s)" -lt "$deadline" ]; do
    size=$(stat -c %s "$log")
    if tail -c +"$((seen + 1))" "$log" | grep -qF -- "$1"; then seen=$size; return 0; fi
    kill -0 "$qemu_pid" 2>/dev/null || { echo "qemu-boot-test-kernel: QEMU exited" >&2; return 1; }
    sleep 0.2
  done
  [ -n "${3:-}" ] && return 1
  echo "qemu-boot-test-kernel: no '$1' within $2 s; the console said:" >&2
  tail -c 3000 "$log" >&2
  return 1
}
type_line() { printf '%s\r' "$1" >&3; }
matched=0
wait_for_either() {  # text1, text2, seconds: sets matched=1 or 2, or returns 1 on timeout
  local deadline=$(( $(date +%s) + $3 )) size chunk
  while [ "$(date +%s)" -lt "$deadline" ]; do
    size=$(stat -c %s "$log")
    chunk=$(tail -c +"$((seen + 1))" "$log")
    if grep -qF -- "$1" <<<"$chunk"; then seen=$size; matched=1; return 0; fi
    if grep -qF -- "$2" <<<"$chunk"; then seen=$size; matched=2; return 0; fi
    kill -0 "$qemu_pid" 2>/dev/null || { echo "qemu-boot-test-kernel: QEMU exited" >&2; return 1; }
    sleep 0.2
  done
  return 1
}
# Logging in over a serial line races the other side: a getty or login still setting up its
# line (termios, flushing input) can drop what was typed, and a name typed again while the
# first one is still being read becomes the password. So each attempt waits for the prompt it
# answers, and a refused or lost attempt (login says "Login incorrect" and asks again) starts
# over, a few times, before the console is shown.
log_in() {  # user (password = user name)
  local try typed
  for try in 1 2 3 4 5; do
    type_line "$1"
    wait_for "Password:" 60 quiet || continue
    sleep 1
    # A password that arrives while login is still setting up the line is flushed, and login
    # then waits for one forever (seen under TCG: the typed password echoed before the prompt).
    # So when neither a shell nor a refusal follows, type it again.
    matched=0
    for typed in 1 2 3; do
      type_line "$1"
      wait_for_either '$ ' "Login incorrect" 20 && break
    done
    [ "$matched" = 1 ] && return 0
    [ "$matched" = 2 ] && { wait_for "login:" 30 quiet || true; }
  done
  echo "qemu-boot-test-kernel: $1 could not log in; the console said:" >&2
  tail -c 3000 "$log" >&2
  return 1
}

wait_for "login:" "$timeout"
echo "boot: login prompt after $(echo "$(date +%s.%N) - $start" | bc | xargs printf '%.1f') s (--params $params)"
if [ "$two_logins" = 1 ] || [ "$probe" = 1 ]; then
  log_in alice
fi
if [ "$probe" = 1 ]; then
  type_line "syscall-pf-probe $entry; echo probe-''status=\$?"; wait_for "probe-status=" 120
  result=$(tail -c 1000 "$log" | tr -d '\r' | grep -E "^(syscall-pf-probe: |probe-status=)" || true)
  echo "$result" | sed 's/^/probe: /'
  if [ "$params" = off ]; then
    grep -q "^probe-status=139" <<<"$result" || { echo "qemu-boot-test-kernel: without syscall_pf_fixup the probe should die of SIGSEGV" >&2; exit 1; }
  else
    grep -q "^syscall-pf-probe: ok" <<<"$result" && grep -q "^probe-status=0" <<<"$result" ||
      { echo "qemu-boot-test-kernel: the fault path did not complete the system calls" >&2; exit 1; }
  fi
fi
if [ "$two_logins" = 1 ]; then
  type_line "telnet 127.0.0.1"; wait_for "login:" 120
  log_in bob
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
