#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# guest-restart.sh - pimd as the system service data/systemd/pimd.service
# (Restart=on-failure) in a guest whose PID 1 is systemd (vm/run.sh
# --systemd), SIGKILLed while clients have Attend calls in flight,
# PIM_SYSTEMD_ROUNDS times (default 2) with PIM_SYSTEMD_CLIENTS clients
# (default 4): every client gets an error, none hangs; systemd restarts
# pimd, which comes back on the bus and serves the clients again with the
# results of before; the device's free capacity returns to full; at the end
# pimd stops cleanly and the module unloads with nothing left.
set -u

. "$PIM_TOP/tests/fuzz/guest-lib.sh"

load_bin=$top/build/tests/systemd/pim-sd-load
rounds=${PIM_SYSTEMD_ROUNDS:-2}
nclients=${PIM_SYSTEMD_CLIENTS:-4}
unit=pimd.service

if [ "$(cat /proc/1/comm)" != systemd ]; then
	skip "PID 1 is $(cat /proc/1/comm), not systemd (vm/run.sh --systemd boots it)"
	finish
	exit
fi

# The project's files as make install puts them, in the guest's overlay.
install_pimd() {
	systemd-sysusers "$top/data/sysusers.d/pim.conf" &&
	mkdir -p /run/udev/rules.d /etc/dbus-1/system.d /usr/local/bin &&
	cp "$top/data/udev/70-pim.rules" /run/udev/rules.d/ &&
	udevadm control --reload &&
	cp "$top/data/dbus/org.l3pim.Pim1.conf" /etc/dbus-1/system.d/ &&
	install -m 0755 "$top/build/daemon/pimd" /usr/local/bin/pimd &&
	sed 's|@BINDIR@|/usr/local/bin|' "$top/data/systemd/pimd.service.in" \
		>/run/systemd/system/$unit &&
	systemctl daemon-reload &&
	systemctl start dbus.socket dbus.service
}

load_udev() {
	# shellcheck disable=SC2119 # no extra module parameters
	load || return 1
	udevadm trigger --action=add --subsystem-match=pim &&
	udevadm settle --timeout=30 &&
	[ "$(stat -c '%G %a' /dev/pim0)" = "pim 660" ]
}

prop() {
	systemctl show -P "$1" $unit
}

on_bus() {
	busctl --system call org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus NameHasOwner s org.l3pim.Pim1 |
		grep -q true
}

free_below_capacity() {
	read -r free </sys/class/pim/pim0/free &&
	read -r cap </sys/class/pim/pim0/capacity &&
	[ "$free" -lt "$cap" ]
}

journal() {
	journalctl -u $unit --no-pager -n 30 2>&1 | sed 's/^/# journal: /'
}

all_ready() {
	for f in /tmp/sd-load.*; do
		grep -q '^ready$' "$f" || return 1
	done
}

# One round: clients in flight, SIGKILL, restart, everyone served again.
round() {
	r=$1
	rm -f /tmp/sd-load.*
	pids=
	for i in $(seq "$nclients"); do
		"$load_bin" --timeout 30 >"/tmp/sd-load.$i" 2>&1 &
		pids="$pids $!"
	done
	if ! check "round $r: $nclients clients have sessions with results" \
		retry 60 all_ready; then
		# shellcheck disable=SC2086 # a list of pids
		kill -KILL $pids
		return 1
	fi
	check "round $r: their caches hold device memory" free_below_capacity
	# Calls flow for a while before the kill.
	sleep 1
	n0=$(prop NRestarts)
	pid0=$(prop MainPID)
	check "round $r: pimd (pid $pid0) SIGKILLed" kill -KILL "$pid0"

	# A client still running after 90 s heard nothing: a hang.
	hung=0
	bad=0
	inflight=0
	t=0
	for p in $pids; do
		while kill -0 "$p" 2>/dev/null && [ "$t" -lt 900 ]; do
			sleep 0.1
			t=$((t + 1))
		done
	done
	i=0
	for p in $pids; do
		i=$((i + 1))
		if kill -0 "$p" 2>/dev/null; then
			kill -KILL "$p"
			hung=$((hung + 1))
		fi
		wait "$p"
		rc=$?
		[ "$rc" -eq 0 ] || bad=$((bad + 1))
		grep -q '^error org.freedesktop.DBus.Error.NoReply' \
			"/tmp/sd-load.$i" && inflight=$((inflight + 1))
		sed "s/^/# client $i (status $rc): /" "/tmp/sd-load.$i"
	done
	check "round $r: no client hung (hung $hung)" test "$hung" -eq 0
	check "round $r: every client got an error, then was served again with the same results ($bad failed)" \
		test "$bad" -eq 0
	check "round $r: $inflight of $nclients clients had a call in flight when pimd died (NoReply)" \
		test "$inflight" -gt 0
	check "round $r: systemd restarted pimd (NRestarts $n0 -> $(prop NRestarts), pid $(prop MainPID))" \
		test "$(prop NRestarts)" -eq $((n0 + 1)) -a \
		"$(prop MainPID)" != "$pid0" -a "$(prop MainPID)" != 0
	check "round $r: pimd is active and on the bus again" \
		sh -c "systemctl is-active -q $unit && busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus NameHasOwner s org.l3pim.Pim1 | grep -q true"
	check "round $r: free equals capacity once the clients are gone" \
		retry 30 free_is_capacity
}

if ! check "guest system: sysusers, udev rule, bus policy, pimd.service, system bus" \
	install_pimd || ! check "module loaded; /dev/pim0 is pim 0660" load_udev ||
	! check "systemctl start pimd: active, on the bus" \
	sh -c "systemctl start $unit && systemctl is-active -q $unit" ||
	! check "pimd owns org.l3pim.Pim1" retry 30 on_bus; then
	journal
	finish
	exit
fi
for r in $(seq "$rounds"); do
	round "$r" || break
done
[ "$tfailed" -gt 0 ] && journal
check "systemctl stop pimd: it exits cleanly (Result success)" \
	sh -c "systemctl stop $unit && [ \"\$(systemctl show -P Result $unit)\" = success ]"
unload_clean "pimd killed $rounds times under load"
kmemleak_clean "pimd's restarts"
finish
