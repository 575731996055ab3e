#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host test of the QEMU harness, run by make check-vm before the guest
# suites: vm/run.sh refuses bad regions, kills a guest that runs out of
# time, and - with one boot - its kernel log scan passes a clean suite and
# one with the debug kernel's banners and an allocation failure injected in
# a window, and fails the suite after which a module WARNed (in a window)
# and the one with an allocation failure outside a window and fake KASAN,
# UBSAN, kmemleak and lockdep reports. tests/vm/klog-scan-test.sh checks the
# scanner's rules on the host. Needs VM_WARN_KO, the path of
# tests/vm/warnmod built by vm/vm.mk.
top=$(cd "$(dirname "$0")/../.." && pwd -P)
. "$top/tests/vm/tap.sh"
cd "$top" || exit 1

run=vm/run.sh
quiet=tests/vm/warnmod-quiet.sh
warn=tests/vm/warnmod-warn.sh
allowed=tests/vm/klog-allowed.sh
caught=tests/vm/klog-caught.sh

# Checks on the last run's status ($rc) and output ($out).
shows()
{
	grep -qE -- "$1" <<<"$out"
}

lacks()
{
	! shows "$1"
}

ended()		# ended STATUS REGEX
{
	[ "$rc" -eq "$1" ] && shows "$2"
}

# A run that failed on purpose keeps its logs; drop them.
drop_logs()
{
	local kept

	kept=$(sed -n 's|^vm: logs kept in \(build/vm/runs/[^/ ]*\)$|\1|p' \
		<<<"$out")
	[ -n "$kept" ] && rm -rf "$kept"
}

# shellcheck disable=SC2016 # a literal $ in memmap=
out=$($run --memmap '256M$3G' --mem 2G -- true 2>&1)
rc=$?
tap_ok "a region above guest RAM is refused" ended 125 'inside guest RAM'

out=$($run --memmap 256M -- true 2>&1)
rc=$?
tap_ok "a region without a base is refused" ended 125 'want SIZE'

# Boot alone takes longer than this.
out=$($run --timeout 2 -- true 2>&1)
rc=$?
drop_logs
tap_ok "a guest over its time is killed (status 124)" ended 124 'timed out'

if [ ! -f "${VM_WARN_KO:-}" ]; then
	tap_ok "VM_WARN_KO names the built vm_warn.ko ('${VM_WARN_KO:-}')" false
	tap_done
	exit
fi

out=$($run --timeout 300 --env "VM_WARN_KO=$VM_WARN_KO" \
	--suite "$quiet" --suite "$allowed" --suite "$warn" --suite "$caught" \
	2>&1)
rc=$?
drop_logs
tap_diag "output of the scanner run (failures expected):" "$out" |
	sed 's/^# /#   /'
all=$out

# The output from a suite's header line to the next suite's.
part()
{
	awk -v s="# suite $1 (" '
		index($0, "# suite ") == 1 && / \(/ { f = index($0, s) == 1 }
		f' <<<"$all"
}

tap_ok "a run whose module WARNs fails (status 1)" test $rc -eq 1
tap_ok "the boot log is clean" lacks '^not ok - kernel log clean at boot'
out=$(part "$quiet")
tap_ok "the suite before the WARNING passes its own tests" \
	shows '^ok 1 - insmod vm_warn.ko$'
tap_ok "the scan after the suite before the WARNING is clean" \
	lacks "^not ok - kernel log clean"
out=$(part "$allowed")
tap_ok "the banners and the injected failure pass their own tests" \
	shows '^ok 2 - vm_warn.ko fail_alloc=1 in an injection window$'
tap_ok "the scan accepts the banners and the failure in the window" \
	lacks "^not ok - kernel log clean"
tap_ok "the scan says it accepted one injected failure" \
	shows "^# kernel log after $allowed: 1 injected allocation failures accepted$"
out=$(part "$warn")
tap_ok "the scan after the suite with the WARNING fails it" \
	shows "^not ok - kernel log clean after $warn"
tap_ok "the scan prints the WARNING line" shows '^# kernel: WARNING: .*vm_warn'
out=$(part "$caught")
tap_ok "the suite with the reports passes its own tests" \
	shows '^ok 3 - 5 fake reports written to the kernel log$'
tap_ok "the scan fails it: one backtrace and five reports" \
	shows "^not ok - kernel log clean after $caught \(6 suspicious lines\)$"
tap_ok "the scan prints the failed vmalloc's backtrace" \
	shows '^# kernel: Call Trace:$'
for r in "BUG: KASAN:" "UBSAN:" "kmemleak: 1 new suspected memory leaks" \
	"WARNING: possible circular locking dependency detected" \
	"WARNING: suspicious RCU usage"; do
	tap_ok "the scan prints the report '$r'" \
		grep -qF -- "# kernel: $r" <<<"$out"
done
tap_done
