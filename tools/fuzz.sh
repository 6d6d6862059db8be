#!/usr/bin/env bash
# Builds kvpc's fuzz targets with clang + libFuzzer + ASan + UBSan (build-fuzz/) and runs each
# for a bounded time. A crash, a UBSan report, a leak, an input slower than 10 s or an RSS above
# 2 GiB fails the run; the failing input is printed (hex) and kept in build-fuzz/artifacts/.
# docs/reliability.md describes the targets and records longer runs.
#
#   tools/fuzz.sh [--seconds N] [--seed S] [--jobs J] [--merge] [--summary FILE] [TARGET...]
#     --seconds N    fuzzing time per target (default $KVPC_FUZZ_SECONDS or 10)
#     --seed S       libFuzzer's random seed, a number or 'random' (default $KVPC_FUZZ_SEED or 1).
#                    A fixed seed makes the short run that tools/test.sh (and so CI) does repeat
#                    the same mutations each time, so a change in its verdict is a change in
#                    kvpc, not luck; use --seed random with a long --seconds to explore.
#     --jobs J       targets fuzzed at once (default: the number of CPUs)
#     --merge        afterwards, add the inputs that found new coverage to tests/fuzz/corpus/
#                    (libFuzzer -merge=1: only coverage-increasing inputs are kept)
#     --summary F    also write the result table (markdown) to F
#     TARGET         a target name (uart16550, emu_exec, ...); default: every target
#
# Without clang's libFuzzer runtime (Debian: clang + libclang-rt-14-dev, which
# tools/setup-debian.sh installs) it says so and exits 0: the gcc build still replays every
# corpus as CTest tests (fuzz_replay.*). With KVPC_FUZZ_REQUIRED=1 (tools/test.sh) it fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${KVPC_FUZZ_SECONDS:-10}
seed=${KVPC_FUZZ_SEED:-1}
jobs=$(nproc)
merge=0
summary=""
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --merge) merge=1; shift ;;
    --summary) summary=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    -*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

case "$seed" in
  random) seed_flag=() ;;
  ''|*[!0-9]*) echo "fuzz: --seed takes a number or 'random', not '$seed'" >&2; exit 2 ;;
  *) seed_flag=(-seed="$seed") ;;
esac

build=${KVPC_FUZZ_BUILD_DIR:-build-fuzz}
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' > "$probe_dir/probe.cc"
if ! command -v clang++ >/dev/null ||
   ! clang++ -fsanitize=fuzzer,address,undefined "$probe_dir/probe.cc" -o "$probe_dir/probe" 2>/dev/null; then
  # tools/test.sh's fuzz stage sets KVPC_FUZZ_REQUIRED=1: there setup-debian.sh has just
  # installed clang, so a probe that fails is a broken toolchain, not a stage to skip.
  if [ "${KVPC_FUZZ_REQUIRED:-0}" = 1 ]; then
    echo "fuzz: clang with libFuzzer does not work (clang++ -fsanitize=fuzzer,address,undefined failed; tools/setup-debian.sh installs clang and libclang-rt-14-dev)" >&2
    exit 1
  fi
  echo "fuzz: skipped: clang with libFuzzer is not installed (tools/setup-debian.sh installs clang and libclang-rt-14-dev)"
  exit 0
fi

CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVPC_FUZZ=ON >/dev/null
cmake --build "$build" --target kvpc_fuzzers -j"$(nproc)"

if [ ${#targets[@]} -eq 0 ]; then
  for corpus in tests/fuzz/corpus/*/; do targets+=("$(basename "$corpus")"); done
fi
mkdir -p "$build/fuzz-corpus" "$build/artifacts" "$build/fuzz-logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# One target: fuzz for $seconds into a scratch corpus seeded from the repository's (libFuzzer
# writes new inputs to its first corpus folder only, so the repository stays untouched).
run_one() {
  local name=$1 binary="$build/tests/fuzz/kvpc_fuzz_$1"
  local scratch="$build/fuzz-corpus/$name" log="$build/fuzz-logs/$name.log"
  mkdir -p "$scratch"
  rm -f "$build/artifacts/$name-"*
  local status=0
  timeout --kill-after=10 $((seconds + 120)) "$binary" -max_total_time="$seconds" "${seed_flag[@]}" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$name-" "$scratch" "tests/fuzz/corpus/$name" \
    >"$log" 2>&1 || status=$?
  local execs cov ft
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  local verdict=ok
  [ "$status" -eq 0 ] || verdict="FAILED (exit $status)"
  echo "| $name | ${seconds} s | ${execs:-?} | ${cov:-?} | ${ft:-?} | $verdict |" > "$build/fuzz-logs/$name.row"
  if [ "$status" -ne 0 ]; then
    {
      echo "fuzz: $name FAILED (exit $status); the end of its log ($log):"
      grep -v '^#[0-9]' "$log" | tail -60
      for artifact in "$build/artifacts/$name-"*; do
        [ -e "$artifact" ] || continue
        echo "fuzz: $name: the failing input is $artifact ($(stat -c %s "$artifact") bytes):"
        od -A x -t x1z -v "$artifact" | head -40
        echo "fuzz: replay it with: $binary $artifact"
      done
    } >&2
    return 1
  fi
  if [ "$merge" = 1 ]; then
    "$binary" -merge=1 "tests/fuzz/corpus/$name" "$scratch" >>"$log" 2>&1
  fi
}

echo "fuzz: ${#targets[@]} targets, ${seconds} s each, seed $seed, $jobs at a time"
failed=0
running=0
pids=()
for name in "${targets[@]}"; do
  if [ ! -x "$build/tests/fuzz/kvpc_fuzz_$name" ]; then
    echo "fuzz: no such target: $name" >&2
    failed=1
    continue
  fi
  run_one "$name" &
  pids+=($!)
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done

table=$( {
  echo "| target | time | executions | cov | ft | result |"
  echo "|---|---|---|---|---|---|"
  for name in "${targets[@]}"; do cat "$build/fuzz-logs/$name.row" 2>/dev/null || true; done
} )
echo "$table"
[ -z "$summary" ] || echo "$table" > "$summary"
if [ "$failed" -ne 0 ]; then
  echo "fuzz: FAILED (see above)" >&2
  exit 1
fi
echo "fuzz: every target ran ${seconds} s without a crash"
