#!/usr/bin/env bash
# The integration path: Logoff round trip with two sessions (wall time, exits to userspace) and
# the heartbeat's cost per minute of an idle VM (exits/min, CPU time/min), each measured with
# the integration doorbell as an ioeventfd (kvpc's default) and without (KVPC_NO_IOEVENTFD=1:
# every doorbell write exits to userspace) — the difference is the exits the ioeventfd avoids.
#   tests/bench/integration_path.sh [rounds] [idle-seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh
rounds=${1:-20}
idle=${2:-30}
accel=emu; have_kvm && accel=kvm
work=$(mktemp -d)
vm=""
cleanup() { [ -n "$vm" ] && kill "$vm" 2>/dev/null; wait 2>/dev/null; exec 3>&- 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export KVPC_RUNTIME_DIR="$work"
ticks=$(getconf CLK_TCK)

exits() { "$kvpc" list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["vms"][0]["exits"]["total"])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

measure() {  # label, no_ioeventfd(0/1) -> one table row
  local label=$1 no_ioeventfd=$2 input="$work/in-$2" console="$work/console-$2"
  mkfifo "$input"; exec 3<>"$input"
  KVPC_NO_IOEVENTFD=$no_ioeventfd "$kvpc" run --accel "$accel" --name bench --mem 32M --cmdline "users=alice,bob" \
    <"$input" >"$console" 2>&1 &
  vm=$!
  wait_for_text "$console" "agent: ready" || { echo "the built-in guest did not come up"; exit 1; }
  local times=() counts=() before after start end
  for _ in $(seq 1 "$rounds"); do
    printf 'login alice\rlogin bob\r' >&3
    sleep 0.3
    before=$(exits)
    start=$(date +%s%N)
    "$kvpc" logoff bench --wait --json >/dev/null
    end=$(date +%s%N)
    after=$(exits)
    times+=($(( (end - start) / 1000 )))
    counts+=($(( after - before )))
  done
  # Idle: only the heartbeat (and whatever else an idle guest does) runs.
  local e0 c0 e1 c1
  e0=$(exits); c0=$(cpu_ticks "$vm")
  sleep "$idle"
  e1=$(exits); c1=$(cpu_ticks "$vm")
  "$kvpc" stop bench >/dev/null 2>&1 || kill "$vm"
  wait "$vm" 2>/dev/null || true
  vm=""
  exec 3>&-
  local t_med t_min e_med ex_min cpu_min
  t_med=$(printf '%s\n' "${times[@]}" | median | awk '{printf "%.1f", $1/1000}')
  t_min=$(printf '%s\n' "${times[@]}" | minimum | awk '{printf "%.1f", $1/1000}')
  e_med=$(printf '%s\n' "${counts[@]}" | median)
  ex_min=$(awk -v e=$((e1 - e0)) -v s="$idle" 'BEGIN {printf "%.0f", e * 60 / s}')
  cpu_min=$(awk -v c=$((c1 - c0)) -v t="$ticks" -v s="$idle" 'BEGIN {printf "%.2f s", c / t * 60 / s}')
  echo "| $label | $t_med ms (min $t_min) | $e_med | $ex_min | $cpu_min |"
}

echo "### Integration path (kvpc --accel $accel; $rounds Logoff rounds with 2 sessions; idle measured over ${idle} s)"
echo
echo "| doorbell | Logoff round trip, median (CLI process start included) | exits per round trip | exits per idle minute (heartbeat) | kvpc CPU time per idle minute |"
echo "|---|---|---|---|---|"
measure "ioeventfd (default)" 0
measure "no ioeventfd (KVPC_NO_IOEVENTFD=1)" 1
if ! have_kvm; then
  echo
  echo "Bare KVM_RUN loop / QEMU: n/a ($(kvm_reason)); QEMU has no Virtual PC integration device to compare."
fi
