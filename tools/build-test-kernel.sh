#!/usr/bin/env bash
# Builds kvpc's Linux test kernel: Debian 12's linux-source-6.1, the patches in
# tests/guest-kernel/patches/, `make tinyconfig` + tests/guest-kernel/kvpc-guest.config, and
# writes OUTDIR/vmlinux (the uncompressed ELF kvpc and QEMU boot through its PVH note) and
# OUTDIR/config. docs/linux-guests.md says why each option and patch is there.
#
#   tools/build-test-kernel.sh OUTDIR [--source TARBALL] [--jobs N] [--keep-source]
#
# The result is cached: OUTDIR/key holds the hash of the fragment, the patches, this script and
# the source tarball; when it matches, nothing is rebuilt (about 3 minutes with -j2 otherwise).
# Every line of the fragment is checked against the final .config, so an option Kconfig dropped
# (a missing dependency) stops the build with its name.
# Needs: apt-get install linux-source-6.1 flex bison libelf-dev bc  (tools/setup-debian.sh --kernel)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
fragment="$repo/tests/guest-kernel/kvpc-guest.config"
patch_dir="$repo/tests/guest-kernel/patches"
source_tar="/usr/src/linux-source-6.1.tar.xz"
jobs="$(nproc)"
keep_source=0
out=""

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --source) source_tar="${2:?}"; shift 2 ;;
    --jobs) jobs="${2:?}"; shift 2 ;;
    --keep-source) keep_source=1; shift ;;
    -h|--help) usage 0 ;;
    -*) echo "build-test-kernel: unknown option $1" >&2; usage ;;
    *) [ -z "$out" ] || { echo "build-test-kernel: one OUTDIR only" >&2; usage; }; out="$1"; shift ;;
  esac
done
[ -n "$out" ] || { echo "build-test-kernel: OUTDIR is required" >&2; usage; }
case "$jobs" in ''|*[!0-9]*|0) echo "build-test-kernel: bad --jobs '$jobs'" >&2; exit 2 ;; esac
[ -r "$source_tar" ] || {
  echo "build-test-kernel: no kernel source at $source_tar (apt-get install linux-source-6.1, or tools/setup-debian.sh --kernel)" >&2
  exit 1
}
for tool in make gcc flex bison bc patch sha256sum; do
  command -v "$tool" >/dev/null || {
    echo "build-test-kernel: '$tool' is missing (apt-get install flex bison libelf-dev bc build-essential)" >&2
    exit 1
  }
done
[ -e /usr/include/libelf.h ] || [ -e /usr/include/gelf.h ] || {
  echo "build-test-kernel: libelf headers are missing (apt-get install libelf-dev)" >&2
  exit 1
}

patches=("$patch_dir"/*.patch)
[ -e "${patches[0]}" ] || { echo "build-test-kernel: no patches in $patch_dir" >&2; exit 1; }

# The cache key: everything that decides the bytes of vmlinux that we control. The tarball's own
# hash (not its name) so a Debian point release that changes the source rebuilds.
key="$( { sha256sum "$fragment" "${patches[@]}" "$0" | awk '{print $1}'; sha256sum < "$source_tar"; } | sha256sum | cut -c1-32)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
if [ -f "$out/vmlinux" ] && [ "$(cat "$out/key" 2>/dev/null)" = "$key" ]; then
  echo "build-test-kernel: $out/vmlinux is up to date (key $key)"
  exit 0
fi

start=$(date +%s)
work="$out/src"
rm -rf "$work" "$out/vmlinux" "$out/key"
mkdir -p "$work"
cleanup() { [ "$keep_source" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT
echo "build-test-kernel: unpacking $source_tar"
tar -xf "$source_tar" -C "$work" --strip-components=1

for p in "${patches[@]}"; do
  echo "build-test-kernel: applying $(basename "$p")"
  patch -d "$work" -p1 --forward --batch --no-backup-if-mismatch < "$p" || {
    echo "build-test-kernel: $(basename "$p") does not apply to $source_tar" >&2
    exit 1
  }
done

make -C "$work" -s tinyconfig
"$work/scripts/kconfig/merge_config.sh" -m -O "$work" "$work/.config" "$fragment" >/dev/null
make -C "$work" -s olddefconfig

# Every requested line must be in the final .config: merge_config only warns.
missing=0
while IFS= read -r line; do
  case "$line" in
    CONFIG_*=*)
      grep -qxF "$line" "$work/.config" || {
        have="$(grep -E "^(# )?${line%%=*}[= ]" "$work/.config" || echo "absent")"
        echo "build-test-kernel: requested $line but .config has: $have" >&2
        missing=1
      } ;;
    "# CONFIG_"*" is not set")
      name="${line#\# }"; name="${name%% *}"
      if grep -qE "^$name=" "$work/.config"; then
        echo "build-test-kernel: requested $name off but .config has: $(grep -E "^$name=" "$work/.config")" >&2
        missing=1
      fi ;;
  esac
done < "$fragment"
[ "$missing" = 0 ] || { echo "build-test-kernel: the configuration is not what tests/guest-kernel/kvpc-guest.config asks" >&2; exit 1; }

echo "build-test-kernel: building vmlinux with -j$jobs"
make -C "$work" -s -j"$jobs" vmlinux
cp "$work/vmlinux" "$out/vmlinux.tmp"
cp "$work/.config" "$out/config"
mv "$out/vmlinux.tmp" "$out/vmlinux"
echo "$key" > "$out/key"
echo "build-test-kernel: wrote $out/vmlinux ($(stat -c %s "$out/vmlinux") bytes) in $(( $(date +%s) - start )) s"
