#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-isolation.sh - pim-isolation with raw_access=0 and raw_access=1,
# then no leak. pimd's checks of D-Bus peers are in tests/daemon.

. "$PIM_TOP/tests/fuzz/guest-lib.sh"

iso=$top/build/tests/isolation/pim-isolation

for raw in 0 1; do
	check "insmod raw_access=$raw" load raw_access=$raw || break
	run_tap "$iso"
	unload_clean "isolation, raw_access=$raw"
done
finish
