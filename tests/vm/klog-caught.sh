#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest suite of tests/vm/harness-test.sh: what the kernel log scan must
# catch besides a WARNING. A real allocation failure outside an injection
# window, and report lines of KASAN, UBSAN, kmemleak and lockdep written to
# the kernel log. Its own tests pass; the scan after it must fail it, with
# one suspicious line for the backtrace and one per report.
top=$(cd "$(dirname "$0")/../.." && pwd -P)
. "$top/tests/vm/tap.sh"

REPORTS=(
	"BUG: KASAN: slab-out-of-bounds in vm_fake+0x10/0x20"
	"UBSAN: shift-out-of-bounds in tests/vm/fake.c:1:2"
	"kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)"
	"WARNING: possible circular locking dependency detected"
	"WARNING: suspicious RCU usage"
)

reports()
{
	local r

	for r in "${REPORTS[@]}"; do
		echo "$r" >/dev/kmsg || return 1
	done
}

# warn_alloc reports one failure per 10 s, and klog-allowed.sh's was the
# last one.
sleep 11
tap_ok "insmod vm_warn.ko fail_alloc=1 outside any window" \
	insmod "$VM_WARN_KO" fail_alloc=1
tap_ok "rmmod vm_warn" rmmod vm_warn
tap_ok "${#REPORTS[@]} fake reports written to the kernel log" reports
tap_done
