#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# valgrind.sh - the libpim host tests again, under valgrind (memcheck):
# any invalid access, uninitialised use or leak fails the test. Run from
# the repository root by `make check-host`, after the tests are built.
cd "$(dirname "$0")/../.." || exit 1
tests=$(ls build/tests/libpim/test_* 2>/dev/null | grep -v '\.[od]$')

echo "TAP version 13"
if ! command -v valgrind >/dev/null; then
	echo "1..0 # SKIP valgrind is not installed"
	exit 0
fi
if [ -z "$tests" ]; then
	echo "1..0 # SKIP no tests built in build/tests/libpim"
	exit 0
fi
n=0
failed=0
for t in $tests; do
	n=$((n + 1))
	log=$(mktemp)
	if valgrind -q --error-exitcode=99 --leak-check=full \
		--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
		"$t" >"$log" 2>&1 && ! grep -q '^not ok' "$log"; then
		echo "ok $n - $t is clean under valgrind"
	else
		sed 's/^/# /' "$log"
		echo "not ok $n - $t under valgrind"
		failed=$((failed + 1))
	fi
	rm -f "$log"
done
echo "1..$n"
[ "$failed" -eq 0 ]
