#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host test of the QEMU harness, run by make check-vm before the guest
# suites: vm/run.sh refuses bad regions, kills a guest that runs out of
# time, and - with one boot - its kernel log scan fails the suite after
# which a module WARNed while passing the suite before it.
# Needs VM_WARN_KO, the path of tests/vm/warnmod built by vm/vm.mk.
top=$(cd "$(dirname "$0")/../.." && pwd -P)
. "$top/tests/vm/tap.sh"
cd "$top" || exit 1

run=vm/run.sh
quiet=tests/vm/warnmod-quiet.sh
warn=tests/vm/warnmod-warn.sh

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
	--suite "$quiet" --suite "$warn" 2>&1)
rc=$?
drop_logs
tap_diag "output of the scanner run (failures expected):" "$out" |
	sed 's/^# /#   /'
tap_ok "a run whose module WARNs fails (status 1)" test $rc -eq 1
tap_ok "the boot log is clean" lacks '^not ok - kernel log clean at boot'
tap_ok "the suite before the WARNING passes its own tests" \
	shows '^ok 1 - insmod vm_warn.ko$'
tap_ok "the scan after the suite before the WARNING is clean" \
	lacks "^not ok - kernel log clean after $quiet"
tap_ok "the scan after the suite with the WARNING fails it" \
	shows "^not ok - kernel log clean after $warn"
tap_ok "the scan prints the WARNING line" shows '^# kernel: WARNING: .*vm_warn'
tap_done
