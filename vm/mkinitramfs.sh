#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mkinitramfs.sh OUT: build the test guest's initramfs: static busybox,
# vm/init as /init, and the guest kernel's modules for virtio-9p and
# overlayfs in dependency order (listed in /lib/vm-modules/order), unless
# the kernel has them built in. VM_KMOD_ROOT (default build/vm/kernel)
# holds lib/modules/KVER.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: mkinitramfs.sh OUT}
kver=${KVER:-$("$top/scripts/kver.sh")}
kdir=${VM_KMOD_ROOT:-$top/build/vm/kernel}
PATH=$PATH:/usr/sbin:/sbin

die()
{
	echo "mkinitramfs: $*" >&2
	exit 1
}

[ -s "$kdir/lib/modules/$kver/modules.dep" ] ||
	die "no guest kernel modules for $kver in build/vm (run scripts/setup.sh)"
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox not found (apt-get install busybox-static)"
# The initramfs has no libc: only a static busybox works.
if ldd "$busybox" >/dev/null 2>&1; then
	die "$busybox is dynamically linked (apt-get install busybox-static)"
fi

tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree"/{bin,dev,proc,sys,lib/vm-modules}
cp "$busybox" "$tree/bin/busybox"
cp "$top/vm/init" "$tree/init"
chmod 755 "$tree/init"

# modprobe prints "insmod PATH" lines, dependencies first.
for m in virtio_pci 9pnet_virtio 9p overlay; do
	modprobe -d "$kdir" -S "$kver" --show-depends "$m" ||
		die "modprobe --show-depends $m failed"
done >"$tree/deps"
: >"$tree/lib/vm-modules/order"
while read -r cmd path _; do
	[ "$cmd" = insmod ] || continue
	name=$(basename "$path")
	grep -qx "$name" "$tree/lib/vm-modules/order" && continue
	cp "$path" "$tree/lib/vm-modules/$name"
	echo "$name" >>"$tree/lib/vm-modules/order"
done <"$tree/deps"
[ -s "$tree/lib/vm-modules/order" ] || grep -q '^builtin 9p$' "$tree/deps" ||
	die "no modules found for virtio-9p"
rm "$tree/deps"

# Uncompressed: decompressing under TCG costs more than copying.
# Concurrent runs may rebuild it at once: write aside, rename atomically.
tmp=$(mktemp "$out.XXXXXX")
(cd "$tree" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) \
	>"$tmp" || { rm -f "$tmp"; die "cpio failed"; }
chmod 644 "$tmp"
mv "$tmp" "$out"
