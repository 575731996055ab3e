#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test guest (started by vm/init, output on the host's
# stdout). Executes the job that vm/run.sh wrote to /run/vm/job - one
# command, or a list of TAP suites - and scans the kernel log after the
# command and after each suite. Reports to the host in /run/vm/status:
#	"STATUS KLOG_HITS"
# STATUS is the command's exit status (command mode) or the number of
# failed suites (suite mode); KLOG_HITS counts suspicious kernel messages.

export LC_ALL=C
out=/run/vm
# shellcheck source=/dev/null
. "$out/job" || exit 1

# The kernel log scan: vm/klog-scan.awk says what is a report.
KLOG_SCAN=$PIM_TOP/vm/klog-scan.awk

# Every kernel message, from boot on, goes to the host's run directory.
# /dev/kmsg readers keep their own position, so a test that clears the
# ring buffer (dmesg -C) cannot hide a warning from the scan. A reader that
# falls behind a flood gets EPIPE and cat quits: reopening resumes at the
# oldest record still there, right after the gap.
klog=$out/kmsg.log
(
	trap 'kill "$cat_pid" 2>/dev/null; exit 0' TERM
	while :; do
		cat /dev/kmsg 2>/dev/null &
		cat_pid=$!
		wait "$cat_pid"
	done
) >"$klog" &
klog_pid=$!
klog_off=0
klog_hits=0
scan_no=0

# scan WHAT: check the messages since the previous scan. A marker written
# to /dev/kmsg tells when the logger has caught up.
scan()
{
	local mark chunk res n acc t

	scan_no=$((scan_no + 1))
	mark="vm-scan-$scan_no"
	echo "$mark" >/dev/kmsg
	t=0
	while ! tail -c +$((klog_off + 1)) "$klog" | grep -q ";$mark\$"; do
		if [ "$t" -ge 600 ]; then
			klog_hits=$((klog_hits + 1))
			echo "not ok - kernel log clean $1 (the log stalled)"
			return 1
		fi
		sleep 0.05
		t=$((t + 1))
	done
	chunk=$(tail -c +$((klog_off + 1)) "$klog" | sed -n "1,/;$mark\$/p")
	klog_off=$((klog_off + ${#chunk} + 1))
	res=$(printf '%s\n' "$chunk" | awk -f "$KLOG_SCAN")
	read -r _ n acc <<<"$(printf '%s\n' "$res" | tail -n 1)"
	if [ -z "$n" ]; then
		klog_hits=$((klog_hits + 1))
		echo "not ok - kernel log clean $1 (the scan failed)"
		return 1
	fi
	[ "$acc" -gt 0 ] &&
		echo "# kernel log $1: $acc injected allocation failures accepted"
	[ "$n" -eq 0 ] && return 0
	klog_hits=$((klog_hits + n))
	printf '%s\n' "$res" | sed '$d'
	echo "not ok - kernel log clean $1 ($n suspicious lines)"
	return 1
}

# Close the results: stop the logger, write the status.
finish()
{
	kill "$klog_pid" 2>/dev/null
	wait "$klog_pid" 2>/dev/null
	echo "$1 $klog_hits" >"$out/status"
}

# A task stuck for a minute is a bug here (the default is two minutes).
echo 60 >/proc/sys/kernel/hung_task_timeout_secs

cd "$VM_CWD" 2>/dev/null || cd "$PIM_TOP" || exit 1

if [ "$VM_MODE" = command ]; then
	if [ -n "${VM_TTY:-}" ]; then
		# --shell: the host's terminal on ttyS1, cooked, with its
		# size; setsid -c makes it the controlling terminal.
		read -r rows cols term <<<"$VM_TTY"
		stty -F /dev/ttyS1 sane rows "$rows" cols "$cols"
		TERM=$term setsid -c -w "${VM_ITEMS[@]}" \
			<>/dev/ttyS1 >&0 2>&0
	else
		"${VM_ITEMS[@]}" </dev/null
	fi
	rc=$?
	scan "after the command" >&2
	finish "$rc"
	exit 0
fi

failed=0
scan "at boot" || failed=$((failed + 1))
for suite in "${VM_ITEMS[@]}"; do
	echo "# suite $suite (${PIM_BACKING:-?} backing, ${PIM_CPU:-default} CPU)"
	res=$(mktemp -p /run)
	t0=$SECONDS
	cd "$PIM_TOP" || exit 1
	# timeout(1) signals the suite's whole process group.
	timeout -k 10 "$VM_SUITE_TIMEOUT" "$suite" </dev/null 2>&1 |
		tee "$res"
	rc=${PIPESTATUS[0]}
	# Our lines must start lines: end a last line left open.
	[ -n "$(tail -c 1 "$res")" ] && echo
	nok=$(grep -c '^not ok' "$res")
	rm -f "$res"
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "not ok - $suite timed out after $VM_SUITE_TIMEOUT s"
		nok=$((nok + 1))
	elif [ "$rc" -ne 0 ] && [ "$nok" -eq 0 ]; then
		echo "not ok - $suite exited with status $rc"
		nok=1
	fi
	echo "# suite $suite: $((SECONDS - t0)) s"
	scan "after $suite" || nok=$((nok + 1))
	[ "$nok" -gt 0 ] && failed=$((failed + 1))
done
finish "$failed"
