#!/usr/bin/env bash
# Memory: peak RSS (VmHWM) and PSS of a headless VM with 64 MiB of guest RAM the guest does not
# touch, sampled once the guest is up: kvpc with its built-in guest (agent ready, idle), kvpc
# and QEMU with the same Multiboot guest (mb_hello.bin spinning on port exits), and where
# kvpc's RSS goes (anonymous vs each mapped file).
#   tests/bench/memory.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"' EXIT
export KVPC_RUNTIME_DIR="$work"
accel=emu; have_kvm && accel=kvm

sample() {  # pid -> "rss KiB|pss KiB"
  echo "$(peak_rss_kib "$1")|$(pss_kib "$1")"
}
mib() { awk -v k="$1" 'BEGIN {printf "%.2f MiB", k/1024}'; }

# kvpc, built-in guest, idle with its agent running.
"$kvpc" run -q --accel "$accel" --mem 64M --headless --serial "file:$work/builtin.out" --name mem-builtin </dev/null &
pids+=($!); builtin=$!
wait_for_text "$work/builtin.out" "agent: ready" || { echo "the built-in guest did not come up"; exit 1; }
sleep 1
IFS='|' read -r builtin_rss builtin_pss < <(sample "$builtin")
breakdown=$(awk '/^[0-9a-f]+-[0-9a-f]+ /{name=$6; if (name == "") name="[anonymous]"} /^Rss:/{rss[name]+=$2} /^AnonHugePages:/{huge+=$2}
  END {for (n in rss) if (rss[n] > 0) printf "%d %s\n", rss[n], n; printf "%d [of which anonymous huge pages]\n", huge}' \
  "/proc/$builtin/smaps" | sort -rn | head -12)

# The same Multiboot guest under kvpc and QEMU, sampled while it spins on port exits.
spin="n=4000000000"
"$kvpc" run -q --accel "$accel" --mem 64M --headless --serial none --kernel "$guests/mb_hello.bin" \
  --cmdline "$spin" --name mem-mb </dev/null & pids+=($!); mb=$!
sleep 1.5
IFS='|' read -r mb_rss mb_pss < <(sample "$mb")
if [ -n "$qemu" ]; then
  qaccel=tcg; have_kvm && qaccel=kvm
  "$qemu" -accel $qaccel -m 64 -kernel "$guests/mb_hello.bin" -append "$spin" -nographic -device isa-debug-exit \
    </dev/null >/dev/null 2>&1 & pids+=($!); qpid=$!
  sleep 3
  IFS='|' read -r q_rss q_pss < <(sample "$qpid")
  qemu_cell="$(mib "$q_rss") (PSS $(mib "$q_pss"))"
  qemu_label="QEMU -accel $qaccel"
else
  qemu_cell="n/a ($(qemu_reason))"; qemu_label=QEMU
fi

echo "### Memory, 64 MiB of guest RAM (kvpc --accel $accel)"
echo
echo "| VM | kvpc peak RSS | $qemu_label peak RSS |"
echo "|---|---|---|"
echo "| built-in guest, agent ready, idle | $(mib "$builtin_rss") (PSS $(mib "$builtin_pss")) | n/a (kvpc's own guest) |"
echo "| mb_hello.bin spinning on port exits | $(mib "$mb_rss") (PSS $(mib "$mb_pss")) | $qemu_cell |"
echo
echo "Where kvpc's RSS goes (built-in guest, KiB):"
echo
echo '```'
echo "$breakdown"
echo '```'
