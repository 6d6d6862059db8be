#!/usr/bin/env bash
# Builds an uncompressed initramfs (newc cpio) for a Linux guest under kvpc: Debian's
# busybox-static, the kvpc Linux agent started by busybox init, getty/login on ttyS0, test users
# with passwords, and utmp (busybox getty/login write it; the agent's Logoff reads it).
# It is also the recipe for putting the agent into your own image (docs/linux-agent.md).
#
#   tools/build-initramfs.sh -o initrd.cpio [--agent build/guest-agent/linux/kvpc-agent]
#                            [--user alice:secret]... [--hostname NAME] [--modules DIR]
#                            [--telnetd]
#
# --modules DIR copies DIR (a kernel's lib/modules/<release>) into the image, for a modular kernel
# whose uio_pci_generic the agent should load; without it the agent polls.
# --telnetd adds a second way to log in: busybox telnetd on 127.0.0.1 only (the kernel needs
# CONFIG_INET), so a user logged in on ttyS0 can open another login session with
# `telnet 127.0.0.1` -- a real one on a pty, in utmp (the end-to-end Logoff test uses it).
# Needs: busybox-static (apt-get install busybox-static). Runs as any user: the archive gets
# root ownership from cpio -R, device nodes come from devtmpfs at boot.
set -euo pipefail

out=""
agent="build/guest-agent/linux/kvpc-agent"
busybox="/bin/busybox"
hostname="kvpc-linux"
modules=""
telnetd=0
users=()

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="${2:?}"; shift 2 ;;
    --agent) agent="${2:?}"; shift 2 ;;
    --user) users+=("${2:?}"); shift 2 ;;
    --hostname) hostname="${2:?}"; shift 2 ;;
    --modules) modules="${2:?}"; shift 2 ;;
    --busybox) busybox="${2:?}"; shift 2 ;;
    --telnetd) telnetd=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "build-initramfs: unknown argument $1" >&2; usage ;;
  esac
done
[ -n "$out" ] || { echo "build-initramfs: -o OUTPUT is required" >&2; usage; }
[ ${#users[@]} -gt 0 ] || users=("alice:alice" "bob:bob")
[ -x "$agent" ] || { echo "build-initramfs: no agent at $agent (cmake --build build --target kvpc-agent)" >&2; exit 1; }
if ! file -L "$busybox" 2>/dev/null | grep -q "statically linked"; then
  echo "build-initramfs: $busybox is not a static busybox (apt-get install busybox-static)" >&2
  exit 1
fi
case "$hostname" in *[!A-Za-z0-9.-]*|"") echo "build-initramfs: bad --hostname" >&2; exit 1 ;; esac

root="$(mktemp -d)"
chmod 755 "$root"  # mktemp made it 0700: the image's / must be searchable by every user
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/init.d,proc,sys,dev,run,tmp,root,home,var/log}
ln -s ../run "$root/var/run"
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
# /init and /bin/sh are all the kernel and rcS need; rcS links every other applet at boot
# (busybox --install -s), before init starts getty and the agent.
ln -s /bin/busybox "$root/init"
ln -s busybox "$root/bin/sh"
cp "$agent" "$root/usr/sbin/kvpc-agent"
[ -z "$modules" ] || { mkdir -p "$root/lib/modules"; cp -a "$modules" "$root/lib/modules/"; }

# Users: root without a password on the console is not offered; every user gets a home.
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
echo "root:*:19000:0:99999:7:::" > "$root/etc/shadow"
echo "root:x:0:" > "$root/etc/group"
uid=1000
for entry in "${users[@]}"; do
  name="${entry%%:*}"
  password="${entry#*:}"
  case "$name" in *[!a-z0-9_-]*|"") echo "build-initramfs: bad user name '$name'" >&2; exit 1 ;; esac
  hash="$("$busybox" mkpasswd -m sha512 "$password")"
  echo "$name:x:$uid:$uid:$name:/home/$name:/bin/sh" >> "$root/etc/passwd"
  echo "$name:$hash:19000:0:99999:7:::" >> "$root/etc/shadow"
  echo "$name:x:$uid:" >> "$root/etc/group"
  mkdir -p "$root/home/$name"
  chown "$uid:$uid" "$root/home/$name" 2>/dev/null || true
  uid=$((uid + 1))
done
chmod 600 "$root/etc/shadow"
echo "$hostname" > "$root/etc/hostname"
echo "/bin/sh" > "$root/etc/shells"
# The host's os-release (a Debian build host: "Debian GNU/Linux 12 (bookworm)"): what the
# image's userland is built from.
cp /etc/os-release "$root/etc/os-release" 2>/dev/null || cp /usr/lib/os-release "$root/etc/os-release"

cat > "$root/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS
ttyS0::respawn:/sbin/getty -L 115200 ttyS0 vt100
::respawn:/usr/sbin/kvpc-agent --log kmsg
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
EOF
if [ "$telnetd" = 1 ]; then
  # Loopback only: reachable from inside the guest, never from a network.
  echo "::respawn:/usr/sbin/telnetd -F -b 127.0.0.1 -l /bin/login" >> "$root/etc/inittab"
fi

cat > "$root/etc/init.d/rcS" <<'EOF'
#!/bin/sh
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/hugepages
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=755 tmpfs /run
: > /run/utmp
: > /var/log/wtmp
hostname -F /etc/hostname
ifconfig lo 127.0.0.1 up 2>/dev/null
echo "kvpc initramfs: userspace up" > /dev/kmsg
EOF
chmod +x "$root/etc/init.d/rcS"

mkdir -p "$(dirname "$out")"
out_abs="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
owner=(-R 0:0)  # not root: the files are ours, the image wants root
[ "$(id -u)" = 0 ] && owner=()
(cd "$root" && find . | sort | "$busybox" cpio -o -H newc "${owner[@]}" > "$out_abs" 2>/dev/null)
echo "build-initramfs: wrote $out ($(stat -c %s "$out") bytes; users: ${users[*]%%:*})"
