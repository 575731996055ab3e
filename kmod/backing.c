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

static int pim_add_reserved(struct resource *res, void *covered)
{
	*(u64 *)covered += resource_size(res);
	return 0;
}

/* Bytes of [base, base + size) the e820 map marks reserved (memmap=$/!). */
static u64 pim_reserved_bytes(phys_addr_t base, u64 size)
{
	u64 covered = 0;

	walk_iomem_res_desc(IORES_DESC_RESERVED, IORESOURCE_MEM, base,
			    base + size - 1, &covered, pim_add_reserved);
	walk_iomem_res_desc(IORES_DESC_PERSISTENT_MEMORY_LEGACY,
			    IORESOURCE_MEM, base, base + size - 1, &covered,
			    pim_add_reserved);
	return covered;
}

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
	if (pim_reserved_bytes(base, size) != size) {
		pr_err("region %#llx@%#llx is not reserved memory; reserve it with memmap=SIZE$BASE\n",
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
	bk->mem = __vmalloc(size, GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN);
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
