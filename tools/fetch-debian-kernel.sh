#!/usr/bin/env bash
# Downloads Debian 12's stock kernel (the package linux-image-amd64 points at) and unpacks
# its vmlinuz into DIR — downloaded and unpacked, never installed. The loader tests read it,
# and on hosts with hardware virtualization it is the stock kernel the Linux guest tests boot.
#   tools/fetch-debian-kernel.sh DIR      (DIR/vmlinuz, DIR/version; kept once fetched)
set -euo pipefail
dest=${1:?usage: fetch-debian-kernel.sh DIR}
if [ -s "$dest/vmlinuz" ]; then exit 0; fi
mkdir -p "$dest"
package=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$package" ]; then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  package=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt's sandbox user cannot write into a root-owned mktemp dir; the download is verified by apt either way.
chmod 0755 "$work"
(cd "$work" && apt-get download -q "$package" >/dev/null 2>&1) || {
  echo "fetch-debian-kernel: could not download $package" >&2
  exit 1
}
dpkg-deb --fsys-tarfile "$work"/*.deb | tar -x -C "$work" --wildcards './boot/vmlinuz-*'
install -m 0644 "$work"/boot/vmlinuz-* "$dest/vmlinuz.tmp"
mv "$dest/vmlinuz.tmp" "$dest/vmlinuz"
echo "$package" > "$dest/version"
echo "fetch-debian-kernel: $package -> $dest/vmlinuz"
