#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the debug guest kernel (KASAN, lockdep, UBSAN, kmemleak, fault
# injection) from Debian's linux-source-6.1 and vm/debug-kernel/
# config.fragment, into a cache outside the checkout keyed by the
# fragment's hash. A cached build is reused at once. Prints the cache
# directory on stdout; progress goes to stderr and DIR/build.log.
#
# usage: vm/debug-kernel/build.sh [--print-dir]
#   --print-dir  print the cache directory and exit (built or not)
#
# The cache directory holds
#   bzImage        the kernel (PVH boot of this vmlinux does not work)
#   obj/           the build tree: make -C DIR/obj M=... builds modules
#   modules/       modules_install tree (lib/modules/RELEASE)
#   release        the kernel release (make kernelrelease)
#   configured     the tree is unpacked and configured: an interrupted
#                  build resumes from here
#   done           written last: the build is complete
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd -P)
frag=$top/vm/debug-kernel/config.fragment
cache=${PIM_CACHE:-/var/cache/l3pim}
key=$(sha256sum "$frag" | cut -c1-16)
dir=$cache/debug-kernel-$key
tarball=/usr/src/linux-source-6.1.tar.xz
jobs=${DEBUG_KERNEL_JOBS:-2}

log()
{
	echo "debug-kernel: $*" >&2
}

if [ "${1:-}" = --print-dir ]; then
	echo "$dir"
	exit 0
fi
[ "$#" -eq 0 ] || { log "unknown argument '$1'"; exit 2; }

if [ -e "$dir/done" ]; then
	echo "$dir"
	exit 0
fi

mkdir -p "$cache"
# One build at a time; a second caller waits and then finds it done.
exec 9>"$cache/debug-kernel.lock"
flock 9
if [ -e "$dir/done" ]; then
	echo "$dir"
	exit 0
fi

if [ ! -s "$tarball" ]; then
	log "installing linux-source-6.1"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends linux-source-6.1 >&2
fi
for t in gcc make bc flex bison perl; do
	command -v "$t" >/dev/null || { log "$t is missing"; exit 1; }
done
[ -e /usr/include/openssl/ssl.h ] || { log "libssl-dev is missing"; exit 1; }
[ -e /usr/include/libelf.h ] || { log "libelf-dev is missing"; exit 1; }

src=$dir/linux-source-6.1
obj=$dir/obj
start=$(date +%s)
if [ -e "$dir/configured" ]; then
	log "resuming the build in $dir"
else
	rm -rf "$dir"
	mkdir -p "$obj"
	log "building in $dir (about 20 min on 2 idle cores)"
	tar -xf "$tarball" -C "$dir"
	{
		make -C "$src" O="$obj" defconfig kvm_guest.config
		grep -v '^#' "$frag" | sed '/^$/d' >>"$obj/.config"
		make -C "$src" O="$obj" olddefconfig
	} >"$dir/build.log" 2>&1 ||
		{ log "config failed, see $dir/build.log"; exit 1; }
fi

# Kconfig silently drops symbols whose dependencies are unmet.
bad=0
while IFS= read -r line; do
	case "$line" in
	''|'#'*) continue ;;
	*=n)	grep -qx "${line%=n}=y" "$obj/.config" && bad=1 &&
		log "still set: $line" ;;
	*)	grep -qxF "$line" "$obj/.config" || { bad=1; log "not set: $line"; } ;;
	esac
done <"$frag"
[ "$bad" -eq 0 ] || exit 1
touch "$dir/configured"

nice -n 19 make -C "$src" O="$obj" -j"$jobs" bzImage modules \
	>>"$dir/build.log" 2>&1 || { log "build failed, see $dir/build.log"; exit 1; }
make -C "$src" O="$obj" INSTALL_MOD_PATH="$dir/modules" modules_install \
	>>"$dir/build.log" 2>&1
make -s -C "$src" O="$obj" kernelrelease >"$dir/release"
cp "$obj/arch/x86/boot/bzImage" "$dir/bzImage"
log "built $(cat "$dir/release") in $(( $(date +%s) - start )) s"
echo "$(( $(date +%s) - start ))" >"$dir/build-seconds"
touch "$dir/done"
echo "$dir"
