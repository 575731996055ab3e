#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest suite of tests/vm/harness-test.sh: what the kernel log scan must let
# pass. The debug kernel's boot banners (written here, where the stock
# kernel has none), and a real allocation failure - vm_warn.ko fail_alloc=1,
# warn_alloc's backtrace - inside an injection window.
top=$(cd "$(dirname "$0")/../.." && pwd -P)
. "$top/tests/vm/tap.sh"

banners()
{
	local b

	for b in "rcu: RCU lockdep checking is enabled." \
		"Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar" \
		"kmemleak: Kernel memory leak detector initialized (mem pool available: 30958)" \
		"kmemleak: Automatic memory scanning thread started"; do
		echo "$b" >/dev/kmsg || return 1
	done
}

failed_alloc()
{
	local rc=1

	echo "vm-inject-begin vm_warn" >/dev/kmsg
	insmod "$VM_WARN_KO" fail_alloc=1 && rmmod vm_warn && rc=0
	echo "vm-inject-end" >/dev/kmsg
	return $rc
}

tap_ok "boot banners written to the kernel log" banners
tap_ok "vm_warn.ko fail_alloc=1 in an injection window" failed_alloc
tap_done
