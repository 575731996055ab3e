#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# pimctl.sh - pimctl on the in-process backend: every command in human and
# JSON form (JSON checked with python3 where it exists), exit statuses for
# bad usage and missing devices. Run from the repository root by
# `make check-host`.
cd "$(dirname "$0")/../.." || exit 1
pimctl="build/pimctl --backend inproc"
n=0
failed=0

echo "TAP version 13"

ok()
{
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}

# status WANT DESCRIPTION COMMAND...: the command exits with WANT.
status()
{
	want=$1
	desc=$2
	shift 2
	"$@" >/dev/null 2>&1
	got=$?
	[ "$got" -eq "$want" ]
	ok $? "$desc: exit $got (want $want)"
}

json_ok()
{
	if command -v python3 >/dev/null; then
		python3 -c 'import json, sys; json.load(sys.stdin)'
	else
		grep -q '^{\|^\['
	fi
}

for cmd in list info topology stats "selftest --tokens 19" \
	   "kv-dump --tokens 2 --layers 3" \
	   "bench --ops 256 --lat-ops 16 --jobs 2 --tokens 16 --batches 2"; do
	status 0 "pimctl $cmd" $pimctl $cmd
	$pimctl $cmd --json 2>/dev/null | json_ok
	ok $? "pimctl $cmd --json is valid JSON"
done
out=$($pimctl bench --ops 64 --lat-ops 4 --jobs 1 --tokens 8 --batches 1)
echo "$out" | grep -qE '^bench libpim-nop-rate [0-9.e+]+ ops/s$'
ok $? "bench prints 'bench NAME VALUE UNIT' lines"
$pimctl -j selftest --tokens 5 | grep -q '"passed": true'
ok $? "selftest --json reports passed"
status 64 "no command" $pimctl
status 64 "unknown command" $pimctl frobnicate
status 64 "unknown option" $pimctl list --frob
status 64 "bad number" $pimctl selftest --tokens 1x
status 64 "number out of range" $pimctl bench --depth 3
status 64 "bad backend" build/pimctl --backend gpu list
status 64 "shape the device refuses" $pimctl kv-dump --head-dim 17
status 69 "missing device" $pimctl info -d 5
status 0 "help" $pimctl --help
status 0 "command help" $pimctl bench --help
echo "1..$n"
[ "$failed" -eq 0 ]
