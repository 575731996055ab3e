#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Prepare a Debian 12 machine to build, test, benchmark and demo the project:
# install the Debian packages (skipped when all are present), then fetch the
# guest kernel the QEMU tests boot into build/vm/ (skipped when present).
# The debug guest kernel (vm/debug-kernel/build.sh) is built by make check
# itself when its cache is empty; its source and build dependencies are
# installed here. Runs as root, or through sudo.
set -euo pipefail

cd "$(dirname "$0")/.."

PKGS=(
	build-essential pkg-config bc flex bison libelf-dev dwarves kmod
	cpio xz-utils busybox-static qemu-system-x86
	liburing-dev libudev-dev libsystemd-dev udev dbus systemd
	scdoc gnuplot-nox valgrind
	linux-headers-amd64
	linux-source-6.1 libssl-dev
)

die()
{
	echo "setup: $*" >&2
	exit 1
}

command -v dpkg-query >/dev/null || die "this script needs Debian 12 (no dpkg)"
if ! grep -q '^12' /etc/debian_version 2>/dev/null; then
	echo "setup: warning: not Debian 12 ($(cat /etc/debian_version 2>/dev/null || echo unknown)); continuing" >&2
fi

sudo=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || die "run as root (sudo not found)"
	sudo=sudo
fi

apt_updated=
apt_update()
{
	[ -n "$apt_updated" ] && return 0
	echo "setup: apt-get update"
	$sudo apt-get update -q || die "apt-get update failed"
	apt_updated=1
}

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	[ "${st:0:2}" = ii ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "setup: all ${#PKGS[@]} packages already installed"
else
	apt_update
	echo "setup: installing ${missing[*]}"
	$sudo env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}" ||
		die "apt-get install failed"
fi

kver=$(scripts/kver.sh)
[ -n "$kver" ] || die "no linux-headers-*-amd64 installed after install"
[ -d "/lib/modules/$kver/build" ] || die "/lib/modules/$kver/build missing"

# apt-get download needs package lists; a trimmed image may have none.
if ! apt-cache show "linux-image-$kver" >/dev/null 2>&1; then
	apt_update
fi
vm/fetch-kernel.sh

echo "setup: done (kernel $kver; build with make, test with make check)"
