#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-bench.sh - the transport benchmark, run as root inside the QEMU
# guest by `make bench-vm`. Loads the module on the memmap= region (or on
# RAM), runs build/tests/kmod/bench_transport and unloads it. The figures
# are wall time under QEMU TCG: compare them with each other, not with
# hardware.

set -u

top=${PIM_TOP:?PIM_TOP not set}
ko=${PIM_KO:?PIM_KO not set}

if [ "${PIM_BACKING:-ram}" = memmap ]; then
	params="regions=${PIM_REGION_SIZE:?}@${PIM_REGION_BASE:?}"
else
	params="ram_mb=64"
fi
if grep -q '^pim ' /proc/modules; then
	rmmod pim || exit 1
fi
insmod "$ko" "$params" || exit 1
echo "# bench_transport: ${PIM_BACKING:-ram} backing, cpu ${PIM_CPU:-default}, QEMU TCG guest, kernel $(uname -r)"
"$top/build/tests/kmod/bench_transport"
rc=$?
rmmod pim || rc=1
exit $rc
