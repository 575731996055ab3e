#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The main job (make demo): boot the guest, load the module, start udev
# with the project's rule, a system bus and pimd (kernel backend), and run
# a long-context trace through pimd with pimd-demo, which prints the
# per-iteration and total figures and checks every token against a
# pure-CPU reference.
#
#   scripts/demo.sh [--host] [PIMD-DEMO OPTIONS...]
#
# --host runs the same against pimd's in-process backend on a private
# session bus, without a guest (make demo-host). In the guest the options
# come from $PIM_DEMO_ARGS (default: 8 requests, prompts 64..160 tokens).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "${1:-}" = --host ]; then
	shift
	exec dbus-run-session -- sh -c '
		build/daemon/pimd --user --backend inproc 2>/dev/null &
		pid=$!
		build/daemon/pimd-demo "$@"
		rc=$?
		kill -TERM $pid
		wait $pid || rc=1
		exit $rc
	' sh "$@"
fi

: "${PIM_KO:?PIM_KO not set: run make demo}"
[ $# -gt 0 ] && PIM_DEMO_ARGS="$*"
export PIM_DEMO_ARGS="${PIM_DEMO_ARGS:-}"
exec vm/run.sh --memmap '256M$1G' --timeout 900 --env PIM_KO="$PIM_KO" \
	--env PIM_DEMO_ARGS="$PIM_DEMO_ARGS" -- daemon/demo/guest-demo.sh
