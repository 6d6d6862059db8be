# Shared by the tests/bench/*.sh benchmarks (sourced, not run). Everything prints Markdown
# tables; a column that cannot be measured on this machine prints "n/a (reason)".
build=${KVPC_BUILD_DIR:-build}
kvpc="$build/tools/kvpc"
guests="$build/guest-firmware"

# median/min of whitespace-separated numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "n/a"; else print a[int((NR+1)/2)]}'; }
minimum() { sort -g | head -1; }

# "kvm" when /dev/kvm opens read-write, else the reason it does not.
kvm_reason() {
  if [ ! -e /dev/kvm ]; then echo "no KVM: /dev/kvm does not exist"; return; fi
  if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then echo "no KVM: /dev/kvm is not read-write for $(id -un)"; return; fi
  echo kvm
}
have_kvm() { [ "$(kvm_reason)" = kvm ]; }
qemu=$(command -v qemu-system-x86_64 || true)
qemu_reason() { [ -n "$qemu" ] && echo qemu || echo "qemu-system-x86_64 is not installed (tools/setup-debian.sh)"; }

# Wall time of one command in microseconds (stdout/stderr discarded, status ignored).
time_us() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1 || true
  end=$(date +%s%N)
  echo $(( (end - start) / 1000 ))
}

# Peak RSS (VmHWM, KiB) of a process, read while it runs.
peak_rss_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
pss_kib() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }

# Waits until file $1 contains $2 (at most $3 tenths of a second, default 300).
wait_for_text() {
  for _ in $(seq 1 "${3:-300}"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
