#!/usr/bin/env bash
# The integration path, measured: Logoff round trip (call -> task complete, two sessions) in
# wall time and in exits to userspace, over N rounds against one VM (sessions are logged
# back on at the guest console between rounds). Uses KVM when /dev/kvm opens, else the
# interpreter (then wall times measure the interpreter, not kvpc's exit path).
#   tools/bench-logoff.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
build=${KVPC_BUILD_DIR:-build}
kvpc="$build/tools/kvpc"
export KVPC_RUNTIME_DIR=$(mktemp -d)
input=$(mktemp -u); mkfifo "$input"; exec 3<>"$input"
console=$(mktemp)
"$kvpc" run --accel auto --name bench --mem 32M --cmdline "users=alice,bob" <"$input" >"$console" 2>&1 &
vm=$!
trap 'kill $vm 2>/dev/null || true; exec 3>&-; rm -rf "$input" "$console" "$KVPC_RUNTIME_DIR"' EXIT
for _ in $(seq 1 300); do grep -q "agent: ready" "$console" && break; sleep 0.1; done
exits() { "$kvpc" list --json | python3 -c 'import json,sys; v=json.load(sys.stdin)["vms"][0]; print(v["exits"]["total"], v["accelerator"])'; }
times=(); exit_counts=()
for i in $(seq 1 "$rounds"); do
  printf 'login alice\rlogin bob\r' >&3
  sleep 0.3
  read -r before accel < <(exits)
  start=$(date +%s%N)
  "$kvpc" logoff bench --wait --json >/dev/null
  end=$(date +%s%N)
  read -r after accel < <(exits)
  times+=($(( (end - start) / 1000 )))
  exit_counts+=($(( after - before )))
done
printf '%s\n' "${times[@]}" | sort -n | awk -v a="$accel" '{t[NR]=$1} END {printf "logoff round trip (%s, 2 sessions, incl. CLI process start): median %.2f ms, min %.2f ms, %d rounds\n", a, t[int((NR+1)/2)]/1000, t[1]/1000, NR}'
printf '%s\n' "${exit_counts[@]}" | sort -n | awk '{e[NR]=$1} END {printf "exits to userspace per logoff round trip: median %d, min %d, max %d\n", e[int((NR+1)/2)], e[1], e[NR]}'
