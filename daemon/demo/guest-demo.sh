#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of scripts/demo.sh: the system pimd runs in
# (tests/daemon/guest-env.sh), the module, pimd, then pimd-demo with
# $PIM_DEMO_ARGS; pimd stops and the module unloads at the end.
set -u
top=${PIM_TOP:?PIM_TOP not set}
. "$top/tests/daemon/guest-env.sh"

step()
{
	echo "demo: $1"
	shift
	"$@" || { echo "demo: FAILED: $*"; exit 1; }
}

step "guest system: sysusers, udev rule, udevd, system bus" env_setup
step "loading pim.ko (${PIM_BACKING:-ram} backing)" pim_load
echo "demo: $(stat -c '%n %G %a' /dev/pim0)"
step "starting pimd (kernel backend)" pimd_start
# shellcheck disable=SC2086
"$top/build/daemon/pimd-demo" ${PIM_DEMO_ARGS:-}
rc=$?
step "stopping pimd" pimd_stop
step "unloading pim.ko" rmmod pim
env_teardown
exit $rc
