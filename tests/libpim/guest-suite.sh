#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# guest-suite.sh - the libpim tests against the kernel module, run as root
# inside the QEMU guest by `make check-vm` (VM_SUITES). Loads pim.ko
# itself, runs the host tests with PIM_BACKEND=kernel (test_attn then also
# checks the module bit for bit against the in-process device), pimctl,
# and removal of the module under an open context; unloads it at the end.
#
# Environment (from the harness): PIM_TOP, PIM_KO, PIM_BACKING (memmap or
# ram), PIM_REGION_BASE and PIM_REGION_SIZE (memmap only).
set -u

top=${PIM_TOP:?PIM_TOP not set}
ko=${PIM_KO:?PIM_KO not set}
bin=$top/build/tests/libpim
pimctl=$top/build/pimctl
. "$top/tests/vm/tap.sh"

load()
{
	if [ "${PIM_BACKING:-ram}" = memmap ]; then
		insmod "$ko" "regions=${PIM_REGION_SIZE}@${PIM_REGION_BASE}"
	else
		insmod "$ko" ram_mb=64
	fi
}

loaded()
{
	grep -q '^pim ' /proc/modules
}

# free == capacity: nothing a test allocated outlived its process.
all_free()
{
	local d=/sys/class/pim/pim0

	[ "$(cat $d/free)" = "$(cat $d/capacity)" ]
}

# run_tap NAME COMMAND...: pass a TAP program's output through; one more
# point for its exit status.
run_tap()
{
	local name=$1

	shift
	"$@"
	tap_ok "$name exits 0" test $? -eq 0
}

if ! tap_ok "insmod pim.ko (${PIM_BACKING:-ram})" load; then
	tap_done
	exit
fi
udevadm settle 2>/dev/null
export PIM_BACKEND=kernel
for t in "$bin"/test_*; do
	case $t in *.o|*.d) continue ;; esac
	run_tap "$(basename "$t")" "$t"
done
tap_ok "every KV cache freed (sysfs free == capacity)" all_free
tap_ok "pimctl list --json names pim0" \
	sh -c "'$pimctl' list --json | grep -q '\"pim0\"'"
run_tap "pimctl selftest" "$pimctl" selftest
tap_ok "pimctl on a missing device: exit status 69 (EX_UNAVAILABLE)" \
	sh -c "'$pimctl' info -d 7 >/dev/null 2>&1; test \$? -eq 69"

# Device removed while a context is open: rmmod fails while the device is
# open, then succeeds, and the stale context only reports errors.
run_tap "module removal under an open context" "$bin/removal"
if loaded; then
	tap_ok "rmmod pim" rmmod pim
else
	tap_ok "module unloaded by the removal test" true
fi
tap_ok "nothing left in /sys/class/pim" test ! -e /sys/class/pim/pim0
tap_done
