#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-suite.sh - the driver tests, run as root inside the QEMU guest by
# `make check-vm` (vm/vm.mk) once per boot configuration.
#
# Environment (set by the harness):
#   PIM_TOP          repository root (same path as on the host)
#   PIM_KO           the module to load
#   PIM_BACKING      memmap or ram
#   PIM_REGION_BASE  PIM_REGION_SIZE   the memmap= region (memmap only)
#   PIM_CPU          QEMU CPU model, for the log
#
# Prints TAP: the suite's own checks and every test program's output, and
# exits non-zero if anything failed. After each step the kernel log is
# scanned; a WARNING, BUG, Oops, KASAN, lockdep or hung-task line fails it.

set -u

top=${PIM_TOP:?PIM_TOP not set}
ko=${PIM_KO:?PIM_KO not set}
backing=${PIM_BACKING:-ram}
bin=$top/build/tests/kmod
n=0
failed=0

ok() {
	n=$((n + 1))
	echo "ok $n - $*"
}

not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $*"
}

# check DESCRIPTION COMMAND...: one test point from a command's status.
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; return 1; fi
}

# Every program started here is an exec over 9p under TCG (0.2 to 1 s),
# so the log checks use a marker written with a shell builtin, read the log
# once per check and scan it with builtins.
marks=0

klog_mark() {
	marks=$((marks + 1))
	mark="pimt-suite-mark-$marks"
	echo "$mark" >/dev/kmsg
}

# Kernel messages since the last mark.
klog_new() {
	dmesg | sed "1,/$mark\$/d"
}

# Scan log text $1 with shell builtins only: $bad gets the lines that fail
# a run, $msg the last line of the module's own.
klog_scan() {
	bad=
	msg=
	while IFS= read -r line; do
		case $line in
		*WARNING:* | *BUG:* | *Oops* | *KASAN* | *lockdep* | \
		*"possible recursive locking"* | *"blocked for more than"* | \
		*"general protection"* | *"Call Trace"*)
			bad="$bad# $line
" ;;
		*pim*)
			msg=${line#\[*\] } ;;
		esac
	done <<EOF
$1
EOF
}

# One test point: no kernel complaint in $1 (log text) during $2.
klog_check() {
	klog_scan "$1"
	if [ -z "$bad" ]; then
		ok "kernel log clean after $2"
	else
		not_ok "kernel log clean after $2"
		printf '%s' "$bad"
	fi
}

klog_clean() {
	klog_check "$(klog_new)" "$1"
	klog_mark
}

loaded() {
	[ -d /sys/module/pim ]
}

# A bad parameter set must fail the load, leave nothing loaded, and say why.
bad_load() {
	desc=$1
	shift
	klog_mark
	if insmod "$ko" "$@" 2>/dev/null; then
		not_ok "insmod $desc refused"
		rmmod pim
		return
	fi
	new=$(klog_new)
	klog_scan "$new"
	if loaded; then
		not_ok "insmod $desc refused (module stayed loaded)"
	elif [ -z "$msg" ]; then
		not_ok "insmod $desc refused with a message"
	else
		ok "insmod $desc refused: $msg"
	fi
	klog_check "$new" "insmod $desc"
}

# Run one TAP program; its output goes straight through.
run_prog() {
	prog=$1
	shift
	klog_mark
	if [ ! -x "$bin/$prog" ]; then
		not_ok "$prog built ($bin/$prog missing)"
		return
	fi
	echo "# --- $prog $*"
	read -r t0 _ </proc/uptime
	env "$@" "$bin/$prog"
	rc=$?
	read -r t1 _ </proc/uptime
	echo "# $prog: $((${t1%.*} - ${t0%.*})) s"
	if [ "$rc" -ne 0 ]; then
		not_ok "$prog exited with status $rc"
	fi
	klog_clean "$prog"
}

sysfs_free_is_capacity() {
	read -r free </sys/class/pim/"$1"/free &&
	read -r cap </sys/class/pim/"$1"/capacity &&
	[ "$free" = "$cap" ]
}

unload() {
	klog_mark
	for d in /sys/class/pim/pim*; do
		[ -e "$d" ] || continue
		check "${d##*/}: free equals capacity before rmmod" \
			sysfs_free_is_capacity "${d##*/}"
	done
	check "rmmod pim" rmmod pim
	check "no module, device nodes or class left" \
		sh -c '! [ -d /sys/module/pim ] && ! ls /dev/pim* >/dev/null 2>&1 && ! ls -d /sys/class/pim/pim* >/dev/null 2>&1'
	if [ "$backing" = memmap ]; then
		check "memmap region released in /proc/iomem" \
			sh -c '! grep -q ": pim" /proc/iomem'
	fi
	klog_clean "rmmod"
}

hex() {
	printf '0x%x' "$1"
}

echo "# guest-suite: backing $backing, cpu ${PIM_CPU:-default}, kernel $(uname -r)"
klog_mark

if loaded; then
	rmmod pim
fi

# Bad module parameters: each load must fail cleanly.
bad_load "channels=0" channels=0
bad_load "row_bytes=1000" row_bytes=1000
bad_load "ram_mb=0" ram_mb=0
bad_load "ram_devs=9" ram_devs=9
bad_load "regions=bogus" regions=bogus
# 16 MiB at 512 MiB is ordinary System RAM in every guest we boot.
bad_load "regions on System RAM" regions=16M@0x20000000
# Far above guest RAM: neither RAM nor reserved.
bad_load "regions not reserved" regions=16M@0x7f0000000000

if [ "$backing" = memmap ]; then
	base=$(($(printf '%d' "${PIM_REGION_BASE:?}")))
	size=$(($(printf '%d' "${PIM_REGION_SIZE:?}")))
	half=$((size / 2))
	quarter=$((size / 4))
	bad_load "overlapping regions" \
		"regions=$(hex $half)@$(hex $base),$(hex $half)@$(hex $((base + quarter)))"
	bad_load "region running past the reservation" \
		"regions=$(hex $size)@$(hex $((base + half)))"
	params="regions=$(hex $size)@$(hex $base)"
else
	# Two small RAM devices: both appear and both work.
	klog_mark
	if insmod "$ko" ram_mb=16 ram_devs=2; then
		ok "insmod ram_mb=16 ram_devs=2"
		check "/dev/pim0 and /dev/pim1 exist" \
			test -c /dev/pim0 -a -c /dev/pim1
		run_prog test_basic PIM_DEV=/dev/pim1
		unload
	else
		not_ok "insmod ram_mb=16 ram_devs=2"
	fi
	params="ram_mb=64"
fi

klog_mark
if ! insmod "$ko" "$params"; then
	not_ok "insmod $params"
	klog_new | sed 's/^/# /'
	exit 1
fi
ok "insmod $params"
# shellcheck disable=SC2016 # expanded by the inner shell
check "/dev/pim0 is a char device, mode 0600 root:root" \
	sh -c '[ -c /dev/pim0 ] && [ "$(stat -c %a:%u:%g /dev/pim0)" = 600:0:0 ]'
if [ "$backing" = memmap ]; then
	check "memmap region claimed in /proc/iomem" \
		sh -c 'grep -q ": pim" /proc/iomem'
fi
klog_clean "insmod"

# Tracepoints on submit and complete, recorded while test_basic runs.
tr=/sys/kernel/tracing
[ -d $tr/events ] || mount -t tracefs nodev $tr 2>/dev/null
if check "tracepoints pim:pim_submit and pim:pim_complete exist" \
	test -d $tr/events/pim/pim_submit -a -d $tr/events/pim/pim_complete
then
	echo >$tr/trace
	echo 1 >$tr/events/pim/enable
	run_prog test_basic
	echo 0 >$tr/events/pim/enable
	check "trace holds pim_submit and pim_complete events" \
		sh -c "grep -q ' pim_submit:' $tr/trace && grep -q ' pim_complete:' $tr/trace"
	echo >$tr/trace
else
	run_prog test_basic
fi

for prog in test_kv test_attn test_queue test_uring test_procs; do
	run_prog "$prog"
done

unload

echo "# guest-suite: $((n - failed)) passed, $failed failed (suite checks)"
[ "$failed" -eq 0 ]
