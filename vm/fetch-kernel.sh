#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch the guest kernel into build/vm/ without touching /boot: Debian's
# linux-image package for KVER (the release the module is built against),
# its modules with a modules.dep, and an uncompressed vmlinux that QEMU boots
# through PVH (XZ decompression costs ~6 s per boot under TCG).
#
#   build/vm/vmlinux                       the PVH-bootable kernel
#   build/vm/kernel/lib/modules/KVER/      its modules (bind-mounted in the guest)
#   build/vm/kernel.stamp                  KVER of a complete fetch
#
# Needs only apt-get download, dpkg -x and depmod: no root.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kver=${KVER:-$("$top/scripts/kver.sh")}
out=$top/build/vm
kdir=$out/kernel
stamp=$out/kernel.stamp
PATH=$PATH:/usr/sbin:/sbin

die()
{
	echo "fetch-kernel: $*" >&2
	exit 1
}

[ -n "$kver" ] ||
	die "no kernel headers found (install linux-headers-amd64 or set KVER)"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$kver" ] &&
   [ -s "$out/vmlinux" ] && [ -s "$kdir/lib/modules/$kver/modules.dep" ]; then
	echo "fetch-kernel: guest kernel $kver already in build/vm"
	exit 0
fi

for tool in apt-get dpkg depmod readelf xz; do
	command -v "$tool" >/dev/null || die "$tool not found (run scripts/setup.sh)"
done

rm -f "$stamp"
mkdir -p "$out/deb"
pkg=linux-image-$kver
deb=$(find "$out/deb" -name "${pkg}_*.deb" | sort -V | tail -n 1)
if [ -z "$deb" ]; then
	echo "fetch-kernel: downloading $pkg"
	(cd "$out/deb" && apt-get download -q "$pkg") ||
		die "apt-get download $pkg failed: run 'apt-get update'; if the archive no longer has $pkg, upgrade linux-headers-amd64 so that headers and guest kernel match"
	deb=$(find "$out/deb" -name "${pkg}_*.deb" | sort -V | tail -n 1)
	[ -n "$deb" ] || die "apt-get download $pkg produced no .deb"
fi

echo "fetch-kernel: unpacking $(basename "$deb")"
rm -rf "$kdir"
dpkg -x "$deb" "$kdir" || die "dpkg -x $deb failed"
[ -d "$kdir/lib/modules/$kver" ] || die "$deb holds no lib/modules/$kver"

# The package leaves modules.dep to its postinst, which we do not run.
depmod -b "$kdir" "$kver" || die "depmod failed"

# The bzImage carries vmlinux as one XZ stream after the setup code.
bz=$kdir/boot/vmlinuz-$kver
[ -f "$bz" ] || die "$deb holds no boot/vmlinuz-$kver"
pos=$(LC_ALL=C grep -aboP -m 1 '\xFD7zXZ\x00' "$bz" | cut -d: -f1 || true)
[ -n "$pos" ] || die "$bz: no XZ payload found"
# xz complains about the data after the stream; the ELF check below judges.
tail -c +$((pos + 1)) "$bz" | xz -dc >"$out/vmlinux.tmp" 2>/dev/null || true
# PVH entry point: the Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY (type 0x12).
readelf -n "$out/vmlinux.tmp" 2>/dev/null | grep -q '0x00000012' ||
	die "$bz: extracted vmlinux has no PVH entry note (CONFIG_PVH)"
mv "$out/vmlinux.tmp" "$out/vmlinux"

echo "$kver" >"$stamp"
echo "fetch-kernel: guest kernel $kver ready: build/vm/vmlinux, modules in build/vm/kernel"
