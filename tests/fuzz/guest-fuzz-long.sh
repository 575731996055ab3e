#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-fuzz-long.sh - make fuzz: PIM_FUZZ_ITERS commands (default
# 1,000,000) in four runs of pim-fuzz, the module reloaded between runs,
# 4 processes with random SIGKILLs; then the driver's functional tests on
# the fuzzed module, and no leak. Prints the totals as bench lines.

. "$PIM_TOP/tests/fuzz/guest-lib.sh"

fuzz=$top/build/tests/fuzz/pim-fuzz
iters=${PIM_FUZZ_ITERS:-1000000}
secs=${PIM_FUZZ_SECONDS:-3000}
runs=4
total=0
kills=0
t0=$(cut -d. -f1 /proc/uptime)
echo "# guest-fuzz-long: $iters commands in $runs runs, kernel $(uname -r)"

kmemleak_clear
for run in $(seq $runs); do
	check "insmod for fuzz run $run" load || break
	run_tap "$fuzz" --iters $((iters / runs)) --seconds $((secs / runs)) \
		--procs 4 --kill-ms 500 --bench
	n=$(sed -n 's/^bench fuzz-commands \([0-9]*\) .*/\1/p' /tmp/run_tap.out)
	k=$(sed -n 's/^bench fuzz-kills \([0-9]*\) .*/\1/p' /tmp/run_tap.out)
	total=$((total + ${n:-0}))
	kills=$((kills + ${k:-0}))
	[ "$run" -eq $runs ] || unload_clean "fuzz run $run"
done

# The fuzzed module must still pass the driver's functional tests.
for prog in test_basic test_kv test_attn test_queue test_uring; do
	run_tap "$top/build/tests/kmod/$prog"
done
unload_clean "the functional tests"
kmemleak_clean "the long fuzz"
t1=$(cut -d. -f1 /proc/uptime)
echo "bench fuzz-long-commands $total cmds"
echo "bench fuzz-long-kills $kills kills"
echo "bench fuzz-long-seconds $((t1 - t0)) s"
echo "bench fuzz-long-failed-checks $tfailed count"
finish
