# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# TAP output for the harness's shell tests; source it.
#	tap_ok NAME COMMAND [ARG...]	# ok when COMMAND succeeds
#	tap_skip WHY
#	tap_diag TEXT
#	tap_done			# exit status: 0 if nothing failed
tap_n=0
tap_failed=0

echo "TAP version 13"

tap_ok()
{
	local name=$1

	shift
	tap_n=$((tap_n + 1))
	if "$@"; then
		echo "ok $tap_n - $name"
		return 0
	fi
	echo "not ok $tap_n - $name"
	tap_failed=$((tap_failed + 1))
	return 1
}

tap_skip()
{
	tap_n=$((tap_n + 1))
	echo "ok $tap_n # SKIP $*"
}

tap_diag()
{
	printf '%s\n' "$@" | sed 's/^/# /'
}

tap_done()
{
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}
