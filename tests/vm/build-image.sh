#!/bin/bash
# Builds (once) the Debian 12 image the VM test boots: AppArmor, libvirt 9.0 (bookworm) and
# qemu installed, plus the bookworm-backports libvirt .debs downloaded (not installed) into
# /var/cache/virt-hook-vm/backports-debs so inside.sh can upgrade offline.
#
# Usage: build-image.sh CACHE_DIR   (as root). Writes CACHE_DIR/{rootfs.img,vmlinuz,initrd.img}
# and CACHE_DIR/ok last; does nothing when CACHE_DIR/ok exists. run.sh picks CACHE_DIR from a
# hash of this file and vm-boot.service, so editing either builds a new image.
# Needs mmdebstrap and e2fsprogs; the Debian mirror is read from the host's apt sources
# (VIRT_HOOK_VM_MIRROR / VIRT_HOOK_VM_SECMIRROR override).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${1:?usage: build-image.sh CACHE_DIR}"
SUITE=bookworm
if [ -e "$OUT/ok" ]; then echo "image cached in $OUT"; exit 0; fi
mkdir -p "$OUT"
# First Debian mirror URI configured on this host (deb822 or one-line format).
mirror_for() { # $1 = last path component of the URI (debian | debian-security)
  { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{for(i=2;i<=NF;i++)print $i}'
    grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | sed -E 's/\[[^]]*\]//' | awk '{print $2}'
  } 2>/dev/null | grep -E "/$1/?\$" | head -1 || true
}
MIRROR="${VIRT_HOOK_VM_MIRROR:-$(mirror_for debian)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
SECMIRROR="${VIRT_HOOK_VM_SECMIRROR:-$(mirror_for debian-security)}"
PKGS=linux-image-amd64,systemd,systemd-sysv,udev,kmod,dbus,apparmor,apparmor-utils,libvirt-daemon-system,libvirt-daemon-driver-qemu,libvirt-clients,qemu-system-x86,procps,less
SRC=("deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $MIRROR $SUITE-backports main")
[ -n "$SECMIRROR" ] && SRC+=("deb $SECMIRROR $SUITE-security main")
BP=/var/cache/virt-hook-vm/backports-debs
ROOT="$OUT/rootfs"
rm -rf "$ROOT"
# The package lists and apt's binary caches stay in the image (--skip=cleanup/apt): apt in the
# VM resolves the offline upgrade against them (parsing the lists again costs ~25 s under TCG),
# with the downloaded .debs as its only archive. The base system's .debs are dropped.
mmdebstrap --variant=minbase --include="$PKGS" --skip=cleanup/apt \
  --customize-hook='echo vhvm > "$1/etc/hostname"' \
  --customize-hook='printf "/dev/vda / ext4 rw 0 1\n" > "$1/etc/fstab"' \
  --customize-hook="cp '$HERE/vm-boot.service' \"\$1/etc/systemd/system/vm-boot.service\"" \
  --customize-hook='ln -sf /etc/systemd/system/vm-boot.service "$1/etc/systemd/system/multi-user.target.wants/vm-boot.service"' \
  --customize-hook='mkdir -p "$1/mnt/vmtest"; chroot "$1" passwd -d root' \
  --chrooted-customize-hook="mkdir -p $BP/partial && apt-get install -y --download-only --no-install-recommends -o APT::Sandbox::User=root -o Dir::Cache::Archives=$BP/ -t $SUITE-backports libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients && ls $BP/*.deb > $BP/list.txt" \
  --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb; chroot "$1" apt-cache gencaches' \
  "$SUITE" "$ROOT" "${SRC[@]}"
cp -L "$ROOT"/boot/vmlinuz-* "$OUT/vmlinuz"
cp -L "$ROOT"/boot/initrd.img-* "$OUT/initrd.img"
rm -f "$OUT/rootfs.img"
mkfs.ext4 -q -F -L vhvmroot -d "$ROOT" "$OUT/rootfs.img" 4G
rm -rf "$ROOT"
touch "$OUT/ok"
echo "built $OUT/rootfs.img"
