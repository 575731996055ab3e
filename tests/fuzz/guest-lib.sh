# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# guest-lib.sh - shared by the reliability suites (tests/fuzz, fault,
# isolation, soak) inside the QEMU guest: TAP points, loading the module
# for the boot's backing, checks that nothing leaked, kmemleak. Source it
# after setting nothing; it reads PIM_TOP, PIM_KO, PIM_BACKING and
# PIM_REGION_BASE/SIZE from the harness.

top=${PIM_TOP:?PIM_TOP not set}
ko=${PIM_KO:?PIM_KO not set}
backing=${PIM_BACKING:-ram}
tn=0
tfailed=0

echo "TAP version 13"

ok() {
	tn=$((tn + 1))
	echo "ok $tn - $*"
}

not_ok() {
	tn=$((tn + 1))
	tfailed=$((tfailed + 1))
	echo "not ok $tn - $*"
}

skip() {
	tn=$((tn + 1))
	echo "ok $tn # SKIP $*"
}

# check DESCRIPTION COMMAND...: one test point from a command's status.
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; return 1; fi
}

# Run a TAP program: its points are renumbered into this suite's.
run_tap() {
	"$@" >/tmp/run_tap.out 2>&1
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok "[0-9]*" # SKIP "*)
			skip "${line#ok [0-9]* # SKIP }" ;;
		"ok "[0-9]*)
			ok "${line#ok [0-9]* - }" ;;
		"not ok "[0-9]*)
			not_ok "${line#not ok [0-9]* - }" ;;
		"TAP version"* | [0-9]*..[0-9]*)
			;;
		*)
			echo "$line" ;;
		esac
	done </tmp/run_tap.out
	[ "$rc" -eq 0 ] || not_ok "$1 exited with status $rc"
	return "$rc"
}

# Module parameters for this boot's backing, plus any given.
load_params() {
	if [ "$backing" = memmap ]; then
		echo "regions=$(printf '0x%x' "$PIM_REGION_SIZE")@$(printf '0x%x' "$PIM_REGION_BASE")"
	else
		echo "ram_mb=64"
	fi
}

load() {
	[ -d /sys/module/pim ] && rmmod pim
	# shellcheck disable=SC2046 # one word per parameter
	insmod "$ko" $(load_params) "$@"
}

free_is_capacity() {
	read -r free </sys/class/pim/pim0/free &&
	read -r cap </sys/class/pim/pim0/capacity &&
	[ "$free" = "$cap" ]
}

# retry SECONDS COMMAND...: io_uring tears a dead process's rings down in
# a worker after the process is reaped; the files it held go then.
retry() {
	tries=$(($1 * 10))
	shift
	until "$@" 2>/dev/null; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		sleep 0.1
	done
}

# Nothing left: capacity free, rmmod works, no node or region remains.
unload_clean() {
	check "free equals capacity before rmmod ($1)" \
		retry 30 free_is_capacity
	check "rmmod pim ($1)" retry 30 rmmod pim
	check "no module, node or region left ($1)" \
		sh -c '! [ -d /sys/module/pim ] && ! [ -e /dev/pim0 ] && ! grep -q ": pim" /proc/iomem'
}

# On a kernel with kmemleak, a scan must find nothing new.
kmemleak_clean() {
	kl=/sys/kernel/debug/kmemleak
	[ -e $kl ] || mount -t debugfs none /sys/kernel/debug 2>/dev/null
	if [ ! -e $kl ]; then
		skip "kmemleak scan after $1: this kernel has no kmemleak"
		return
	fi
	# Objects freed in RCU callbacks or deferred work need a moment.
	sleep 1
	echo scan >$kl
	echo scan >$kl
	leaks=$(cat $kl)
	if [ -z "$leaks" ]; then
		ok "kmemleak finds nothing after $1"
	else
		not_ok "kmemleak finds nothing after $1"
		echo "$leaks" | head -40 | sed 's/^/# /'
	fi
	echo clear >$kl
}

# The kernel's own leak check starts from a clean slate.
kmemleak_clear() {
	kl=/sys/kernel/debug/kmemleak
	[ -e $kl ] || mount -t debugfs none /sys/kernel/debug 2>/dev/null
	[ -e $kl ] && { echo scan >$kl; echo clear >$kl; }
}

# The harness's kernel log scan accepts the backtraces of allocation
# failures between these two markers (vm/klog-scan.awk): bracket exactly
# what injects them.
inject_begin() {
	echo "vm-inject-begin $1" >/dev/kmsg
}

inject_end() {
	echo "vm-inject-end" >/dev/kmsg
}

finish() {
	echo "1..$tn"
	[ "$tfailed" -eq 0 ]
}
