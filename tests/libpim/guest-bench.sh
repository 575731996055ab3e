#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# guest-bench.sh - libpim's benchmark against the kernel module, run as
# root inside the QEMU guest by `make bench-vm` (VM_BENCH_SUITES): NOP
# submission through libpim and through a raw io_uring ring of the same
# shape on the same device, then batched decode attention. Prints
# "bench NAME VALUE UNIT" lines (pimctl bench).
set -u

top=${PIM_TOP:?PIM_TOP not set}
ko=${PIM_KO:?PIM_KO not set}

if [ "${PIM_BACKING:-ram}" = memmap ]; then
	insmod "$ko" "regions=${PIM_REGION_SIZE}@${PIM_REGION_BASE}" || exit 1
else
	insmod "$ko" ram_mb=64 || exit 1
fi
# TCG runs float work ~60x slower than the host: a short context.
"$top/build/pimctl" --backend kernel bench --ops 10000 --lat-ops 1000 \
	--jobs 8 --tokens 64 --batches 10
rc=$?
rmmod pim || rc=1
exit $rc
