#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# guest-suite.sh - pimd in the QEMU guest with the real module, udev and a
# system bus (make check-vm, VM_SUITES): pimd starts before the module and
# sees the device appear; udev applies the project's rule; the D-Bus test
# (tests/daemon/test_pimd) and the ping-pong test (test_overlap: same tokens
# with overlap on and off, timelines) run against the kernel backend; an unprivileged
# caller is refused a session; pimd stops cleanly, sees the device go, and
# the module unloads with nothing left behind.
set -u

top=${PIM_TOP:?PIM_TOP not set}
. "$top/tests/vm/tap.sh"
. "$top/tests/daemon/guest-env.sh"

# Fold a C test's TAP into ours (the guest has no /dev/fd).
run_tap()
{
	local line out=/tmp/run_tap.out

	"$@" >"$out" 2>&1
	while IFS= read -r line; do
		case $line in
		"TAP version"* | 1..*) ;;
		"ok "*) tap_ok "${line#ok * - }" true ;;
		"not ok "*) tap_ok "${line#not ok * - }" false ;;
		*) echo "$line" ;;
		esac
	done <"$out"
}

has_devices()
{
	pim_devices | grep -q "device/pim0"
}

no_devices()
{
	pim_devices | grep -q '^ao 0$'
}

wait_for()
{
	local i

	for i in $(seq 60); do
		"$@" && return 0
		sleep 0.5
	done
	return 1
}

node_ok()
{
	[ "$(stat -c '%G %a' /dev/pim0)" = "pim 660" ]
}

unprivileged_refused()
{
	local out

	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
		busctl --system call org.l3pim.Pim1 /org/l3pim/Pim1 \
		org.l3pim.Pim1.Manager CreateSession s "" 2>&1)
	echo "$out" | sed 's/^/# /'
	echo "$out" | grep -q 'Access denied\|AccessDenied'
}

unloaded()
{
	rmmod pim && ! grep -q '^pim ' /proc/modules
}

if ! tap_ok "guest system: sysusers, udev rule, udevd, system bus" \
	env_setup || ! tap_ok "pimd starts with no device" pimd_start; then
	[ -n "$pimd_pid" ] && kill "$pimd_pid"
	env_teardown
	tap_done
	exit
fi
tap_ok "pimd lists no device" no_devices
tap_ok "module loaded, udev settled" pim_load
tap_ok "udev rule: /dev/pim0 is group pim, mode 0660" node_ok
tap_ok "pimd sees pim0 appear (udev monitor)" wait_for has_devices
run_tap env PIMD_EXPECT_BACKEND=kernel "$top/build/tests/daemon/test_pimd"
run_tap "$top/build/tests/daemon/test_overlap"
tap_ok "an unprivileged caller gets no session" unprivileged_refused
tap_ok "module unloads under a running pimd (nothing pinned)" unloaded
tap_ok "pimd sees pim0 go" wait_for no_devices
tap_ok "pimd exits cleanly on SIGTERM" pimd_stop
env_teardown
tap_done
