# SPDX-License-Identifier: GPL-2.0
#
# klog-scan.awk - the harness's kernel log scan (vm/guest-run.sh), kept
# apart so that tests/vm/klog-scan-test.sh can feed it records no guest
# can forge. Input: /dev/kmsg records, "PRIO,SEQ,USEC,FLAGS;TEXT"; lines
# that start with a space are a record's properties and are skipped.
# Output: each report line, and the 40 lines after the first, as
# "# kernel: TEXT", then one line "klog-scan HITS ACCEPTED".
#
# Reports: see BAD below. Not reports: boot banners (lockdep's copyright,
# "RCU lockdep checking is enabled", kmemleak's start-up lines), since only
# the report forms are matched. Accepted: the backtrace of an allocation
# failure that a test injected on purpose. A test opens a window with the
# line "vm-inject-begin WHY" written to /dev/kmsg and closes it with
# "vm-inject-end"; the markers count only from userspace (facility user),
# the failure's header only from the kernel (facility kernel, which
# userspace cannot write), and only inside a window. The header is
# warn_alloc's "COMM: page allocation failure: order:N, ..." or
# "COMM: vmalloc error: size N, ...", or fault injection's verbose
# "FAULT_INJECTION: forcing a failure."; its "Call Trace:" is accepted
# when nothing but dump_stack's "CPU:", "Hardware name:" and fault
# injection's "name ..., interval ..." lines lie between. Anything else in
# the window is scanned as usual, so a WARNING there still fails the run.

BEGIN {
	BAD = "WARNING:|BUG:|Oops:|general protection|Kernel panic|" \
	      "KASAN:|UBSAN:|" \
	      "kmemleak: [0-9]+ new suspected memory leak|" \
	      "kmemleak: Kernel memory leak detector disabled|" \
	      "possible circular locking|possible recursive locking|" \
	      "inconsistent lock state|suspicious RCU usage|" \
	      "lock inversion|locking correctness validator|" \
	      "hung_task|blocked for more than|Call Trace"
	ALLOC = ": (page allocation failure: order:[0-9]+|" \
		"vmalloc error: size [0-9]+), |" \
		"^FAULT_INJECTION: forcing a failure"
	hits = 0
	accepted = 0
	win = 0
	hdr = 0
	shown = 0
}

!/^[0-9]+,[0-9]+,[0-9]+,[^;]*;/ {
	next
}

{
	semi = index($0, ";")
	prio = substr($0, 1, index($0, ",") - 1) + 0
	msg = substr($0, semi + 1)
	user = prio >= 8
}

# The command line names paths and options, not reports; the scan's own
# markers are noise.
!user && msg ~ /^(Kernel command line|Command line): / {
	next
}
user && msg ~ /^vm-scan-[0-9]+$/ {
	next
}

user && msg ~ /^vm-inject-begin( |$)/ {
	win = 1
	hdr = 0
	next
}
user && msg ~ /^vm-inject-end( |$)/ {
	win = 0
	hdr = 0
	next
}

win && !user && msg ~ ALLOC {
	hdr = 1
	accepted++
	next
}
hdr && !user && msg ~ /^(CPU: |Hardware name: |name [^ ]+, interval )/ {
	next
}
hdr && !user && msg ~ /^Call Trace:/ {
	hdr = 0
	next
}

{
	hdr = 0
	bad = msg ~ BAD
	if (bad)
		hits++
	if (bad || (shown && shown < 40)) {
		shown++
		print "# kernel: " msg
	}
}

END {
	print "klog-scan " hits " " accepted
}
