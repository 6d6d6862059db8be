#!/usr/bin/env bash
# The mission in one command: boot kvpc's built-in guest headless with two users logged on,
# call IVMGuestOS::Logoff through `kvpc logoff --wait`, show the task's progress and result,
# and exit 0 — on a fresh Debian 12 machine (installs and builds what it needs first).
# Uses /dev/kvm when it opens, else kvpc's interpreter (--accel auto).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh
build=${KVPC_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target kvpc >/dev/null
kvpc="$build/tools/kvpc"
export KVPC_RUNTIME_DIR=${KVPC_RUNTIME_DIR:-$(mktemp -d)}
name=demo-$$
console=$(mktemp)
input=$(mktemp -u)
mkfifo "$input"
exec 3<>"$input"   # held open here so the guest's console input never sees end-of-file
# The guest's console goes to a file; its input is the FIFO.
"$kvpc" run --accel auto --name "$name" --mem 64M --cmdline "users=alice,bob" <"$input" >"$console" 2>&1 &
vm=$!
trap 'kill $vm 2>/dev/null || true; exec 3>&-; rm -f "$console" "$input"' EXIT
for _ in $(seq 1 200); do
  grep -q "agent: ready" "$console" && break
  kill -0 $vm 2>/dev/null || { cat "$console"; echo "demo: the VM exited early" >&2; exit 1; }
  sleep 0.1
done
echo "== guest console"; cat "$console"
echo "== kvpc guest $name (IVMGuestOS properties)"
"$kvpc" guest "$name" | grep -E "OSName|ComputerName|OSVersion|IsUserLoggedOn|IntegrationComponentsVersion"
echo "== kvpc logoff $name --wait"
"$kvpc" logoff "$name" --wait
status=$?
echo "== guest console after Logoff"; tail -n 3 "$console"
echo "== kvpc logoff $name --wait --json (nobody is logged on now: the task ends with 0x80070520)"
"$kvpc" logoff "$name" --wait --json || true
"$kvpc" stop "$name" >/dev/null
wait $vm || true
exit $status
