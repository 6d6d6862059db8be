#!/usr/bin/env bash
# The whole test suite, from a fresh clone: install what is missing (Debian 12), build, run
# every test with CTest. Real-KVM tests skip with a reason where /dev/kvm is absent; the
# same guests then run under kvpc's interpreter (--accel emu).
#   tools/test.sh [extra ctest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh
build=${KVPC_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 600 "$@"
