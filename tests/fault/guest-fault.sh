#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-fault.sh - fault injection: clients SIGKILLed with commands in
# flight on each transport (PIM_FAULT_ROUNDS each, default 10), waiters
# whose queue or fd goes away, rmmod the moment the last user is gone,
# failslab / fail_page_alloc where the kernel has them; after each, no
# leak (free == capacity, rmmod, kmemleak where the kernel has it).

. "$PIM_TOP/tests/fuzz/guest-lib.sh"

fault=$top/build/tests/fault/pim-fault
rounds=${PIM_FAULT_ROUNDS:-10}

[ -d /sys/kernel/debug/failslab ] ||
	mount -t debugfs none /sys/kernel/debug 2>/dev/null
kmemleak_clear
check "insmod" load || { finish; exit 1; }
run_tap "$fault" kill "$rounds"
run_tap "$fault" close
# failslab / fail_page_alloc print warn_alloc backtraces on purpose.
inject_begin failslab
run_tap "$fault" failslab "$rounds"
inject_end
unload_clean "kills, closes and failed allocations"
for i in 1 2 3; do
	check "insmod for rmmod race $i" load || break
	run_tap "$fault" rmmod
done
[ -d /sys/module/pim ] && rmmod pim
kmemleak_clean "fault injection"
finish
