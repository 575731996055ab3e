// SPDX-License-Identifier: GPL-2.0
/*
 * backing.c - the memory an emulated device holds: a physical range the
 * kernel was told to leave alone (memmap=SIZE$BASE), or plain vmalloc'ed RAM.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>

#include "pim_drv.h"

int pim_backing_memmap(struct pim_backing *bk, phys_addr_t base, u64 size)
{
	u64 last;

	memset(bk, 0, sizeof(*bk));
	if (!size || !PAGE_ALIGNED(base) || !PAGE_ALIGNED(size) ||
	    check_add_overflow((u64)base, size - 1, &last)) {
		pr_err("region %#llx@%#llx: size and base must be page aligned\n",
		       size, (u64)base);
		return -EINVAL;
	}
	/* Usable RAM belongs to the page allocator: only reserved ranges. */
	if (region_intersects(base, size, IORESOURCE_SYSTEM_RAM,
			      IORES_DESC_NONE) != REGION_DISJOINT) {
		pr_err("region %#llx@%#llx is System RAM; reserve it with memmap=SIZE$BASE\n",
		       size, (u64)base);
		return -EINVAL;
	}
	bk->res = request_mem_region(base, size, "pim");
	if (!bk->res) {
		pr_err("region %#llx@%#llx is busy (see /proc/iomem)\n",
		       size, (u64)base);
		return -EBUSY;
	}
	bk->mem = memremap(base, size, MEMREMAP_WB);
	if (!bk->mem) {
		pr_err("region %#llx@%#llx: memremap failed\n", size, (u64)base);
		release_mem_region(base, size);
		return -ENOMEM;
	}
	bk->kind = PIM_BACKING_MEMMAP;
	bk->base = base;
	bk->size = size;
	return 0;
}

int pim_backing_ram(struct pim_backing *bk, u64 size)
{
	memset(bk, 0, sizeof(*bk));
	bk->mem = vzalloc(size);
	if (!bk->mem) {
		pr_err("cannot allocate %llu MiB of RAM\n", size >> 20);
		return -ENOMEM;
	}
	bk->kind = PIM_BACKING_RAM;
	bk->size = size;
	return 0;
}

void pim_backing_release(struct pim_backing *bk)
{
	if (bk->kind == PIM_BACKING_MEMMAP) {
		memunmap(bk->mem);
		release_mem_region(bk->base, bk->size);
	} else {
		vfree(bk->mem);
	}
	bk->mem = NULL;
}
