#!/usr/bin/env bash
# Installs everything kvpc needs to build and test from Debian 12 packages.
# Safe to run any number of times: apt-get skips what is already installed, and the
# package index is refreshed only when it is older than a day (or missing).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config   # compiler and build
  lld                                             # links the static kvpc with its symbol order (tools/CMakeLists.txt)
  linux-libc-dev                                  # <linux/kvm.h>; <linux/posix_acl_xattr.h> (--allow-user ACLs)
  nasm                                            # guest firmware and test guests
  binutils gdb                                    # gdb stub: ELF test guest (ld, objcopy) and e2e tests
  libgtest-dev libgmock-dev                       # unit and KVM tests
  libbenchmark-dev                                # tests/bench
  nlohmann-json3-dev                              # control socket and --json output
  libcli11-dev                                    # kvpc command-line parsing
  libspdlog-dev libfmt-dev                        # logging
  libsdl2-dev                                     # --display sdl (linked into kvpc-display only)
  libpng-dev                                      # screenshots (libpng16.a in the static kvpc)
  zlib1g-dev                                      # gzip-compressed console fonts
  console-setup-linux                             # the VGA text font (PSF) for direct-boot guests
  xvfb xauth x11-apps x11-utils xdotool           # tests: the SDL window under Xvfb, xwd/xprop, typed keys
  libseccomp-dev                                  # syscall filter for vCPU/device threads
  qemu-utils                                      # tests: qemu-img checks VHD interoperability
  clang libclang-rt-14-dev                        # fuzz targets: libFuzzer + sanitizers (tools/fuzz.sh)
  seabios                                         # --bios firmware (/usr/share/seabios/bios.bin) and its e2e test
  dbus-daemon                                     # a private bus for the Linux agent's D-Bus tests
  busybox-static                                  # tools/build-initramfs.sh: Linux guest images
)
# `setup-debian.sh --bench` (tools/bench.sh): what the benchmark suite compares kvpc with (also the SeaBIOS timing of docs/firmware.md).
if [ "${1:-}" = "--bench" ]; then
  packages+=(
    qemu-system-x86                               # QEMU columns: same guests, -accel kvm / tcg
    valgrind                                      # callgrind: exit-path instruction counts, code layout list
  )
fi

# `setup-debian.sh --kernel` (tools/build-test-kernel.sh): kvpc's Linux test kernel, built from
# Debian's kernel source; tools/test.sh asks for it only where /dev/kvm can boot it. Also for QEMU
# TCG boots of that kernel (docs/linux-guests.md), which need no KVM.
if [ "${1:-}" = "--kernel" ]; then
  packages+=(
    linux-source-6.1 flex bison libelf-dev bc     # the kernel source and what its build needs
    qemu-system-x86                               # QEMU TCG boots of the test kernel, without KVM
  )
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
stamp=/var/lib/apt/periodic/update-success-stamp
lists=/var/lib/apt/lists
if [ -z "$(find "$lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
  $SUDO apt-get update -qq
fi
echo "setup: installing ${missing[*]}"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
