#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host test of vm/klog-scan.awk, the harness's kernel log scan: every form
# of report it must catch is caught, the debug kernel's boot banners and the
# backtraces of allocation failures injected inside a window are not, and
# the window and facility rules hold (records a guest cannot forge are
# written here directly). The guest half is tests/vm/harness-test.sh.
top=$(cd "$(dirname "$0")/../.." && pwd -P)
. "$top/tests/vm/tap.sh"

scan_awk=$top/vm/klog-scan.awk
seq=0

# k LEVEL TEXT / u TEXT: a kernel or a userspace (/dev/kmsg) record.
k()
{
	seq=$((seq + 1))
	printf '%d,%d,%d,-;%s\n' "$1" "$seq" "$((seq * 1000))" "$2"
}

u()
{
	k 12 "$1"
}

# A warn_alloc report as the kernel prints it (dump_stack's lines).
alloc_failure()
{
	k 4 "$1"
	k 4 "CPU: 0 PID: 361 Comm: pim-fault Tainted: G           O       6.1.192-pimdebug #1"
	k 4 "Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 0.1 11/11/2019"
	k 4 "Call Trace:"
	k 4 " <TASK>"
	k 4 " dump_stack_lvl+0x4c/0x63"
	k 4 " warn_alloc.cold+0x95/0x1a7"
	k 4 " ? lockdep_hardirqs_on_prepare+0x28a/0x400"
	k 4 " kvmalloc_node+0xed/0x140"
	k 4 " </TASK>"
	k 4 "Mem-Info:"
}

VMALLOC='pim-fault: vmalloc error: size 8192, vm_struct allocation failed, mode:0x400dc0(GFP_KERNEL_ACCOUNT|__GFP_ZERO), nodemask=(null),cpuset=/,mems_allowed=0'
PAGE='pim-fault: page allocation failure: order:0, mode:0x400dc0(GFP_KERNEL_ACCOUNT|__GFP_ZERO), nodemask=(null),cpuset=/,mems_allowed=0'

# scan: run the scanner on stdin; sets $hits, $acc and $out (its report).
scan()
{
	local res

	res=$(awk -f "$scan_awk")
	read -r _ hits acc <<<"$(tail -n 1 <<<"$res")"
	out=$(sed '$d' <<<"$res")
}

is()		# is HITS ACCEPTED
{
	[ "$hits" = "$1" ] && [ "$acc" = "$2" ] && return 0
	tap_diag "hits $hits accepted $acc, want $1 $2" "$out"
	return 1
}

# The debug kernel's boot banners, as in a real boot log.
scan < <(
	k 6 "rcu: \\x09RCU lockdep checking is enabled."
	k 4 "Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar"
	k 4 "... MAX_LOCKDEP_SUBCLASSES:  8"
	k 4 " memory used by lock dependency info: 6493 kB"
	k 6 "kasan: KernelAddressSanitizer initialized"
	k 6 "kmemleak: Kernel memory leak detector initialized (mem pool available: 30958)"
	k 6 "kmemleak: Automatic memory scanning thread started"
	k 5 "Kernel command line: console=ttyS0 vm.top=/src/WARNING:BUG:"
	printf ' SUBSYSTEM=pim\n DEVICE=c250:0 Call Trace\n'
	u "vm-scan-1"
)
tap_ok "boot banners, command line and properties are not reports" is 0 0

for rep in \
	"WARNING: CPU: 1 PID: 80 at kmod/dev.c:12 pim_x+0x1/0x2 [pim]" \
	"BUG: KASAN: slab-use-after-free in pim_req_done+0x10/0x20 [pim]" \
	"UBSAN: shift-out-of-bounds in dm/kv.c:40:12" \
	"kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)" \
	"kmemleak: Kernel memory leak detector disabled" \
	"WARNING: possible circular locking dependency detected" \
	"WARNING: possible recursive locking detected" \
	"WARNING: inconsistent lock state" \
	"WARNING: suspicious RCU usage" \
	"BUG: sleeping function called from invalid context at mm/slab.h:1" \
	"general protection fault, probably for non-canonical address 0xdead" \
	"Oops: 0000 [#1] PREEMPT SMP KASAN" \
	"INFO: task pim-fuzz:120 blocked for more than 60 seconds." \
	"turning off the locking correctness validator." \
	"Call Trace:"; do
	scan < <(k 4 "$rep")
	tap_ok "caught: $rep" is 1 0
done

scan < <(u "BUG: KASAN: wild-memory-access in fake+0x0/0x1")
tap_ok "a report written from userspace is caught too" is 1 0

# Injected failures: inside a window their backtrace is accepted.
scan < <(
	u "vm-inject-begin failslab"
	alloc_failure "$VMALLOC"
	alloc_failure "$PAGE"
	k 4 "FAULT_INJECTION: forcing a failure."
	k 4 "name failslab, interval 1, probability 10, space 0, times -1"
	k 4 "CPU: 0 PID: 361 Comm: pim-fault"
	k 4 "Call Trace:"
	k 4 " dump_stack_lvl+0x4c/0x63"
	u "vm-inject-end"
)
tap_ok "vmalloc, page and failslab failures in a window are accepted" is 0 3

scan < <(alloc_failure "$VMALLOC")
tap_ok "an allocation failure outside a window is caught" is 1 0
tap_ok "... with its backtrace shown" grep -q '^# kernel:  warn_alloc' <<<"$out"

scan < <(
	u "vm-inject-begin failslab"
	u "vm-inject-end"
	alloc_failure "$PAGE"
)
tap_ok "a closed window accepts nothing" is 1 0

scan < <(
	u "vm-inject-begin failslab"
	k 4 "WARNING: CPU: 0 PID: 1 at mm/page_alloc.c:5534 __alloc_pages+0x1"
	k 4 "Call Trace:"
	u "vm-inject-end"
)
tap_ok "a WARNING and its trace in a window are caught" is 2 0

scan < <(
	u "vm-inject-begin failslab"
	k 4 "$VMALLOC"
	k 4 "CPU: 0 PID: 361 Comm: pim-fault"
	k 4 "BUG: KASAN: use-after-free in pim_x+0x1/0x2 [pim]"
	k 4 "Call Trace:"
	u "vm-inject-end"
)
tap_ok "a report between the header and its trace is caught with the trace" \
	is 2 1

scan < <(
	k 4 "vm-inject-begin failslab"
	k 4 "$VMALLOC"
	k 4 "Call Trace:"
)
tap_ok "a window opened by a kernel record does not count" is 1 0

scan < <(
	u "vm-inject-begin failslab"
	u "$VMALLOC"
	u "Call Trace:"
	u "vm-inject-end"
)
tap_ok "a header written from userspace is not accepted" is 1 0

scan < <(
	u "vm-inject-begin failslab"
	alloc_failure "$VMALLOC"
	k 4 "Call Trace:"
	u "vm-inject-end"
)
tap_ok "one header accepts one trace" is 1 1

scan < <(
	k 4 "WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1"
	for i in $(seq 60); do
		k 4 " frame$i+0x1/0x2"
	done
	k 4 "WARNING: CPU: 0 PID: 1 at x.c:2 g+0x1"
)
tap_ok "the first report's 40 lines and later reports are shown" \
	test "$hits" = 2 -a "$(wc -l <<<"$out")" = 41 \
	-a "$(tail -n 1 <<<"$out")" = "# kernel: WARNING: CPU: 0 PID: 1 at x.c:2 g+0x1"
tap_done
