#!/bin/sh
# Run TAP test programs, pass their output through and finish with one
# "N passed, N failed" line. A program that exits non-zero without a
# "not ok" line (a crash, say) counts as one failure.
pass=0
fail=0
skip=0
for t in "$@"; do
	out=$(mktemp)
	"$t" >"$out" 2>&1
	rc=$?
	cat "$out"
	p=$(grep -cE '^ok [0-9]+' "$out")
	s=$(grep -cE '^ok [0-9]+.*# SKIP' "$out")
	f=$(grep -cE '^not ok [0-9]+' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $t exited with status $rc"
		f=1
	fi
	pass=$((pass + p - s))
	skip=$((skip + s))
	fail=$((fail + f))
	rm -f "$out"
done
[ "$skip" -gt 0 ] && echo "# $skip skipped (reasons above)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
