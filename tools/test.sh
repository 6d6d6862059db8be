#!/usr/bin/env bash
# The whole test suite, from a fresh clone: install what is missing (Debian 12), build, run
# every test with CTest. Real-KVM tests skip with a reason where /dev/kvm is absent; the
# same guests then run under kvpc's interpreter (--accel emu).
#   tools/test.sh [extra ctest arguments]
#   KVPC_SANITIZE=1 tools/test.sh     the same suite built with AddressSanitizer + UBSan (build-asan/)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh
if [ "${KVPC_SANITIZE:-0}" = 1 ]; then
  build=${KVPC_BUILD_DIR:-build-asan}
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKVPC_SANITIZE=ON >/dev/null
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
else
  build=${KVPC_BUILD_DIR:-build}
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j"$(nproc)"
# Debian's stock kernel for the Linux loader tests (downloaded once, not installed); the
# tests that need it say "skipped" when the download is impossible (no network).
bash tools/fetch-debian-kernel.sh "$build/cache/debian-kernel" ||
  echo "test.sh: Debian's kernel could not be fetched; its loader tests will be skipped" >&2
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 600 "$@"
