#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# pimd on a private session bus (dbus-run-session) with the in-process
# backend, driven by tests/daemon/test_pimd and tests/daemon/test_overlap
# (TAP, one stream: the second program's plan and version lines dropped).
#   tests/daemon/host-test.sh [BUILD_DIR]
build=${1:-build}
if ! command -v dbus-run-session >/dev/null; then
	echo "1..0 # SKIP dbus-run-session is not installed (package dbus)"
	exit 0
fi
exec dbus-run-session -- sh -c '
	log=$(mktemp)
	out=$(mktemp)
	"$1/daemon/pimd" --user --backend inproc 2>"$log" &
	pid=$!
	PIMD_EXPECT_BACKEND=inproc "$1/tests/daemon/test_pimd" >"$out"
	rc=$?
	"$1/tests/daemon/test_overlap" >>"$out" || rc=1
	kill -TERM $pid
	wait $pid
	prc=$?
	# Renumber the two programs into one TAP stream.
	awk "/^(ok|not ok) [0-9]+/ { n++; sub(/ [0-9]+/, \" \" n) }
	     /^1\.\.[0-9]+$/ || /^TAP version/ { next }
	     { print }
	     END { print \"1..\" n + ($prc != 0) }" "$out" | {
		if [ $prc -ne 0 ]; then
			# Keep the plan last: insert the failure before it.
			sed "\$i not ok - pimd exited with status $prc on SIGTERM"
		else
			cat
		fi
	}
	sed "s/^/# /" "$log"
	rm -f "$log" "$out"
	[ $prc -eq 0 ] || rc=1
	exit $rc
' sh "$build"
