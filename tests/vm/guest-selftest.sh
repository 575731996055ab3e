#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest suite: the harness built the guest it promises. Runs first in every
# check-vm configuration.
top=$(cd "$(dirname "$0")/../.." && pwd -P)
. "$top/tests/vm/tap.sh"

kver=$("$top/scripts/kver.sh")

fs_at()		# fs_at MOUNTPOINT TYPE
{
	awk -v m="$1" -v t="$2" '$2 == m && $3 == t { f = 1 } END { exit !f }' \
		/proc/mounts
}

# Empty but for the repository itself when it lives under /tmp.
tmp_empty()
{
	local keep=

	case "$PIM_TOP" in
	/tmp/*)	keep=$(echo "${PIM_TOP#/tmp/}" | cut -d/ -f1) ;;
	esac
	fs_at /tmp tmpfs && [ "$(ls -A /tmp)" = "$keep" ]
}

kmods_match()
{
	local ko

	ko=$(modinfo -n overlay 2>/dev/null) &&
		[[ "$ko" == /lib/modules/"$(uname -r)"/* ]] && [ -f "$ko" ]
}

# /proc/iomem prints "start-end : Reserved" in lowercase hex, at least
# eight digits.
region_reserved()
{
	local start end

	start=$(printf '%08x' "$PIM_REGION_BASE")
	end=$(printf '%08x' $((PIM_REGION_BASE + PIM_REGION_SIZE - 1)))
	grep -qx "$start-$end : Reserved" /proc/iomem
}

no_memmap()
{
	! grep -q 'memmap=' /proc/cmdline
}

host_bin_runs()
{
	udevadm --version >/dev/null
}

cpu_has()
{
	grep -m 1 '^flags' /proc/cpuinfo | grep -qw "$1"
}

cpu_matches()
{
	case "$PIM_CPU" in
	default)	! cpu_has avx2 ;;
	max,-erms)	cpu_has avx2 && cpu_has f16c && ! cpu_has erms ;;
	max*)		cpu_has avx2 && cpu_has f16c ;;
	esac
}

tap_ok "guest runs kernel $kver" test "$(uname -r)" = "$kver"
tap_ok "runs as root" test "$(id -u)" -eq 0
tap_ok "devtmpfs is mounted on /dev" fs_at /dev devtmpfs
tap_ok "/tmp is an empty tmpfs (but for the repository)" tmp_empty
tap_ok "/.dockerenv is gone from the guest root" test ! -e /.dockerenv
tap_ok "repository at its host path ($PIM_TOP)" \
	test "$top" = "$PIM_TOP" -a -f "$PIM_TOP/Makefile"
tap_ok "guest kernel modules at /lib/modules" kmods_match
tap_ok "host binaries run (dynamically linked udevadm)" host_bin_runs
case "$PIM_BACKING" in
memmap)
	tap_ok "memmap region $PIM_REGION_SIZE@$PIM_REGION_BASE is reserved" \
		region_reserved ;;
ram)
	tap_ok "no memmap= region without --memmap" no_memmap ;;
*)
	tap_ok "PIM_BACKING is memmap or ram (got '$PIM_BACKING')" false ;;
esac
case "$PIM_CPU" in
default|max*)
	tap_ok "CPU flags match CPU model $PIM_CPU" cpu_matches ;;
*)
	tap_skip "no expected flags known for CPU model $PIM_CPU" ;;
esac
if [ -n "${PIM_KO:-}" ]; then
	tap_ok "PIM_KO ($PIM_KO) exists" test -f "$PIM_KO"
else
	tap_skip "PIM_KO not set (not run by make check-vm)"
fi
tap_done
