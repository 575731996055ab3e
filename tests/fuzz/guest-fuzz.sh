#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-fuzz.sh - the short ABI fuzz of make check-vm, in every guest
# configuration: two runs of pim-fuzz with random SIGKILLs, the module
# reloaded between them, each followed by the functional check; then no
# leak (free == capacity, rmmod, kmemleak where the kernel has it).
# PIM_FUZZ_SECONDS (default 6) sets the length of each run.

. "$PIM_TOP/tests/fuzz/guest-lib.sh"

fuzz=$top/build/tests/fuzz/pim-fuzz
secs=${PIM_FUZZ_SECONDS:-6}
echo "# guest-fuzz: backing $backing, kernel $(uname -r)"

kmemleak_clear
for run in 1 2; do
	if ! check "insmod for fuzz run $run" load; then
		finish
		exit 1
	fi
	run_tap "$fuzz" --seconds "$secs" --procs 3 --kill-ms 400
	unload_clean "fuzz run $run"
done
kmemleak_clean "the fuzz runs"
finish
