#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-soak.sh - pim-soak: 4 processes x 3 queues and a ring each for
# PIM_SOAK_SECONDS (default 8), then no leak.

. "$PIM_TOP/tests/fuzz/guest-lib.sh"

check "insmod" load || { finish; exit 1; }
run_tap "$top/build/tests/soak/pim-soak" -p 4 -q 3 -s "${PIM_SOAK_SECONDS:-8}"
unload_clean "the soak"
finish
