# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The system pimd runs in, set up inside the QEMU guest (source it): the
# project's sysusers entry, udev rule and D-Bus policy installed into the
# guest's overlay, systemd-udevd, a system bus, and helpers to load the
# module and to start and stop pimd. Used by guest-suite.sh and the demo.
#
# Environment (from vm/run.sh): PIM_TOP, PIM_KO, PIM_BACKING,
# PIM_REGION_BASE and PIM_REGION_SIZE (memmap only).

top=${PIM_TOP:?PIM_TOP not set}
pimd=$top/build/daemon/pimd
pimd_pid=
pimd_log=/run/pimd.log

env_setup()
{
	systemd-sysusers "$top/data/sysusers.d/pim.conf" || return 1
	mkdir -p /run/udev/rules.d /etc/dbus-1/system.d /run/dbus
	cp "$top/data/udev/70-pim.rules" /run/udev/rules.d/
	cp "$top/data/dbus/org.l3pim.Pim1.conf" /etc/dbus-1/system.d/
	# Daemons must not hold the suite's output open.
	/lib/systemd/systemd-udevd --daemon </dev/null >/run/udevd.log 2>&1 ||
		return 1
	dbus-daemon --system --fork </dev/null >/run/dbus.log 2>&1
}

env_teardown()
{
	udevadm control --exit
	[ -f /run/dbus/pid ] && kill "$(cat /run/dbus/pid)"
	return 0
}

pim_load()
{
	if [ "${PIM_BACKING:-ram}" = memmap ]; then
		insmod "${PIM_KO:?PIM_KO not set}" \
			"regions=${PIM_REGION_SIZE}@${PIM_REGION_BASE}"
	else
		insmod "${PIM_KO:?PIM_KO not set}" ram_mb=64
	fi || return 1
	udevadm trigger --action=add --subsystem-match=pim
	udevadm settle --timeout=30
}

pimd_start()
{
	"$pimd" --system --backend kernel "$@" </dev/null >"$pimd_log" 2>&1 &
	pimd_pid=$!
	busctl_wait && return 0
	sed 's/^/# /' "$pimd_log"
	return 1
}

# Wait for pimd's name on the system bus.
busctl_wait()
{
	local i

	for i in $(seq 60); do
		busctl --system call org.freedesktop.DBus /org/freedesktop/DBus \
			org.freedesktop.DBus NameHasOwner s org.l3pim.Pim1 \
			2>/dev/null | grep -q true && return 0
		sleep 0.5
	done
	return 1
}

# SIGTERM must end pimd cleanly.
pimd_stop()
{
	[ -n "$pimd_pid" ] || return 1
	kill -TERM "$pimd_pid"
	wait "$pimd_pid"
	local rc=$?

	pimd_pid=
	sed 's/^/# /' "$pimd_log"
	return $rc
}

pim_devices()
{
	busctl --system get-property org.l3pim.Pim1 /org/l3pim/Pim1 \
		org.l3pim.Pim1.Manager Devices
}
