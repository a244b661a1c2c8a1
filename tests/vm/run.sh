#!/bin/bash
# The VM test: virt-hook installed as libvirt's qemu hook under a real libvirtd with AppArmor
# enforcing (Debian 12; libvirt 9.0, then the bookworm-backports libvirt in the same boot).
# See tests/vm/README.md.
#
# Usage (as root): tests/vm/run.sh --binary PATH [--deb PATH] [--rounds "stable backports"]
#                   [--cases "a local fail moved cargo symlink-old deb"] [--out DIR] [--timeout S]
# Prints one "CASE <id> <expected> <got> <ok|MISMATCH|skip> <details>" line per case and a
# final SUMMARY line. Exit status: 0 every case matched, 1 some case did not, 2 setup problem
# (no root, no image, the VM produced no or incomplete results: see the console log named).
# Env: VIRT_HOOK_VM_CACHE (image cache, default /var/cache/virt-hook-vm),
#      VIRT_HOOK_VM_ACCEL (kvm | tcg; default kvm when it works), VIRT_HOOK_VM_MIRROR.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
T0=$(date +%s)
die() { echo "tests/vm: $*" >&2; exit 2; }

BIN= DEB= ROUNDS="stable backports" CASES="a local fail moved cargo symlink-old deb" RUN= TIMEOUT=1800
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) BIN="${2:?--binary needs a path}"; shift 2 ;;
    --deb) DEB="${2:?--deb needs a path}"; shift 2 ;;
    --rounds) ROUNDS="${2:?--rounds needs a list}"; shift 2 ;;
    --cases) CASES="${2:?--cases needs a list}"; shift 2 ;;
    --out) RUN="${2:?--out needs a directory}"; shift 2 ;;
    --timeout) TIMEOUT="${2:?--timeout needs seconds}"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[ -n "$BIN" ] || die "usage: run.sh --binary PATH [--deb PATH]"
[ -x "$BIN" ] && [ -f "$BIN" ] || die "not an executable file: $BIN"
[ -z "$DEB" ] || [ -f "$DEB" ] || die "no such .deb: $DEB"
for r in $ROUNDS; do case "$r" in stable|backports) ;; *) die "unknown round: $r (stable | backports)" ;; esac; done
for c in $CASES; do case "$c" in a|local|fail|moved|cargo|symlink-old|deb) ;; *) die "unknown case: $c" ;; esac; done
[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap, mkfs.ext4 -d of a rootfs, qemu with 9p as root)"

# Host tools; CI installs them here.
need=()
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
if [ ${#need[@]} -gt 0 ]; then
  echo "tests/vm: installing ${need[*]}" >&2
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"; } >&2 ||
    die "could not install ${need[*]}"
fi

# The image, cached under a key that changes with the files that make it.
CACHE="${VIRT_HOOK_VM_CACHE:-/var/cache/virt-hook-vm}"
KEY=$(cat "$HERE/build-image.sh" "$HERE/vm-boot.service" | sha256sum | cut -c1-16)
IMG="$CACHE/img-$KEY"
mkdir -p "$CACHE"
exec 9> "$CACHE/.lock"
flock 9 # one build at a time; concurrent runs then share the image read-only (snapshot=on)
IMAGE=cached
if [ ! -e "$IMG/ok" ]; then
  B0=$(date +%s)
  for old in "$CACHE"/img-*; do [ "$old" = "$IMG" ] || [ ! -d "$old" ] || rm -rf "$old"; done
  echo "tests/vm: building the image in $IMG (once per change of build-image.sh / vm-boot.service)" >&2
  "$HERE/build-image.sh" "$IMG" > "$CACHE/build-$KEY.log" 2>&1 || die "image build failed: $CACHE/build-$KEY.log"
  IMAGE="built-in-$(( $(date +%s) - B0 ))s"
fi
flock -u 9

# The run folder: shared with the VM over 9p; evidence stays there.
if [ -z "$RUN" ]; then RUN="$(mktemp -d /tmp/virt-hook-vm.XXXXXX)"; else mkdir -p "$RUN"; fi
RUN="$(cd "$RUN" && pwd)"
cp "$HERE/inside.sh" "$RUN/inside.sh"
install -m 755 "$BIN" "$RUN/virt-hook"
rm -f "$RUN/virt-hook.deb" "$RUN/results.txt"; rm -rf "$RUN/out"
[ -z "$DEB" ] || cp "$DEB" "$RUN/virt-hook.deb"
printf 'ROUNDS=%q\nCASES=%q\n' "$ROUNDS" "$CASES" > "$RUN/config.sh"

ACCEL="${VIRT_HOOK_VM_ACCEL:-}"
if [ -z "$ACCEL" ]; then
  ACCEL=tcg
  # kvm_pvm (a PVM host) only runs PVM-enabled guest kernels: a stock Debian kernel hangs there.
  if [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]; then
    set +e; timeout 5 qemu-system-x86_64 -accel kvm -M pc -nodefaults -display none -S -monitor none >/dev/null 2>&1; r=$?; set -e
    [ $r = 124 ] && ACCEL=kvm
  fi
fi
CPU=max; [ "$ACCEL" = kvm ] && CPU=host
echo "tests/vm: booting ($ACCEL, image $IMAGE, rounds: $ROUNDS); console: $RUN/console.log" >&2
# cache=unsafe: the guest's flushes (dpkg, journald) cost nothing; the image is never written
# (snapshot=on), so nothing is lost.
set +e
timeout "$TIMEOUT" qemu-system-x86_64 -accel "$ACCEL" -cpu "$CPU" -m 2048 -smp 2 \
  -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img" \
  -append "root=/dev/vda rw console=ttyS0 apparmor=1 security=apparmor systemd.show_status=0" \
  -drive file="$IMG/rootfs.img",if=virtio,format=raw,snapshot=on,cache=unsafe \
  -virtfs local,path="$RUN",mount_tag=vmtest,security_model=none,id=vmtest \
  -nic none -display none -serial file:"$RUN/console.log" -monitor none -no-reboot &
QPID=$!
trap 'kill "$QPID" 2>/dev/null' EXIT; trap 'exit 2' INT TERM
wait "$QPID"; QRC=$?
trap - EXIT INT TERM
set -e
WALL=$(( $(date +%s) - T0 ))
if ! grep -q '^CASE' "$RUN/results.txt" 2>/dev/null; then
  echo "SUMMARY ok=0 failed=0 no results (qemu rc=$QRC, wall=${WALL}s); console: $RUN/console.log, inside log: $RUN/inside.log"
  exit 2
fi
grep -v '^DONE' "$RUN/results.txt"
N=$(grep -c '^CASE' "$RUN/results.txt" || true)
OK=$(grep -cE '^CASE [^ ]+ [^ ]+ [^ ]+ ok( |$)' "$RUN/results.txt" || true)
SKIP=$(grep -cE '^CASE [^ ]+ [^ ]+ [^ ]+ skip( |$)' "$RUN/results.txt" || true)
BAD=$(( N - OK - SKIP ))
COMPLETE=no; grep -q '^DONE' "$RUN/results.txt" && COMPLETE=yes
echo "SUMMARY rounds=\"$ROUNDS\" accel=$ACCEL image=$IMAGE cases=$N ok=$OK failed=$BAD skipped=$SKIP complete=$COMPLETE qemu_rc=$QRC wall=${WALL}s evidence=$RUN/out"
if [ "$COMPLETE" != yes ]; then
  echo "tests/vm: the VM stopped before the last case (qemu rc=$QRC); console: $RUN/console.log, inside log: $RUN/inside.log" >&2
  exit 2
fi
[ "$BAD" = 0 ] || exit 1
exit 0
