#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# pimd on a private session bus (dbus-run-session) with the in-process
# backend, driven by tests/daemon/test_pimd. TAP on stdout.
#   tests/daemon/host-test.sh [BUILD_DIR]
build=${1:-build}
if ! command -v dbus-run-session >/dev/null; then
	echo "1..0 # SKIP dbus-run-session is not installed (package dbus)"
	exit 0
fi
exec dbus-run-session -- sh -c '
	log=$(mktemp)
	"$1/daemon/pimd" --user --backend inproc 2>"$log" &
	pid=$!
	PIMD_EXPECT_BACKEND=inproc "$1/tests/daemon/test_pimd"
	rc=$?
	kill -TERM $pid
	wait $pid
	prc=$?
	sed "s/^/# /" "$log"
	rm -f "$log"
	if [ $prc -ne 0 ]; then
		echo "not ok - pimd exited with status $prc on SIGTERM"
		rc=1
	fi
	exit $rc
' sh "$build"
