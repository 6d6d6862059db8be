#!/usr/bin/env bash
# The whole test suite, from a fresh clone: install what is missing (Debian 12), build, run
# every test with CTest. Real-KVM tests skip with a reason where /dev/kvm is absent; the
# same guests then run under kvpc's interpreter (--accel emu). CI runs exactly this.
#   tools/test.sh [extra ctest arguments]
#
# Stages, in order (docs/reliability.md describes them and records their times):
#   suite     the RelWithDebInfo build (build/) and every CTest test
#   sanitize  the same suite built with AddressSanitizer + UBSan (build-asan/)
#   fuzz      tools/fuzz.sh: every fuzz target built with clang/libFuzzer (build-fuzz/) and
#             fuzzed for KVPC_FUZZ_SECONDS (default 10) seconds each
# Default: suite, sanitize, fuzz (what CI runs: about 43 minutes from a fresh clone on 2 cores;
# docs/reliability.md "Sanitizers in CI" has the times). The first stage that fails ends the
# script with its status.
#   KVPC_TEST_STAGES="suite sanitize fuzz" tools/test.sh   the full reliability run
#   KVPC_TEST_STAGES=suite tools/test.sh          runs only the stages named
#   KVPC_SANITIZE=1 tools/test.sh                 the sanitize stage alone
#   KVPC_SANITIZE_CTEST_ARGS="-E Machine"         extra ctest arguments for the sanitize stage
#                                                 only (a subset, should CI time require one)
# Extra ctest arguments apply to the suite and sanitize stages.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh

stages=${KVPC_TEST_STAGES:-suite sanitize fuzz}
if [ "${KVPC_SANITIZE:-0}" = 1 ]; then stages=sanitize; fi

run_suite() {  # build dir, extra ctest arguments (one word, may be empty), then cmake arguments
  local build=$1 extra=$2
  shift 2
  cmake -S . -B "$build" -G Ninja "$@" >/dev/null
  cmake --build "$build" -j"$(nproc)"
  # Debian's stock kernel for the Linux loader tests (downloaded once, not installed); the
  # tests that need it say "skipped" when the download is impossible (no network).
  bash tools/fetch-debian-kernel.sh "$build/cache/debian-kernel" ||
    echo "test.sh: Debian's kernel could not be fetched; its loader tests will be skipped" >&2
  # kvpc's Linux test kernel (about 3 minutes once per machine, then cached by its inputs' hash)
  # only where /dev/kvm can run it; elsewhere LinuxGuestTest says "skipped: KVM is not available".
  if [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    bash tools/setup-debian.sh --kernel
    nice -n 10 bash tools/build-test-kernel.sh "$build/cache/test-kernel"
  fi
  # shellcheck disable=SC2086  # $extra is a list of ctest arguments
  (cd "$build" && ctest --output-on-failure -j"$(nproc)" --timeout 600 "${ctest_args[@]}" $extra)
}

ctest_args=("$@")
for stage in $stages; do
  start=$SECONDS
  echo "test.sh: stage '$stage'"
  case "$stage" in
    suite)
      run_suite "${KVPC_BUILD_DIR:-build}" "" -DCMAKE_BUILD_TYPE=RelWithDebInfo ;;
    sanitize)
      export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
      run_suite "${KVPC_ASAN_BUILD_DIR:-build-asan}" "${KVPC_SANITIZE_CTEST_ARGS:-}" \
        -DCMAKE_BUILD_TYPE=Debug -DKVPC_SANITIZE=ON ;;
    fuzz)
      KVPC_FUZZ_REQUIRED=1 tools/fuzz.sh ;;
    *)
      echo "test.sh: unknown stage '$stage' (suite, sanitize, fuzz)" >&2
      exit 2 ;;
  esac
  echo "test.sh: stage '$stage' passed in $((SECONDS - start)) s"
done
