// SPDX-License-Identifier: GPL-2.0
/*
 * main.c - module parameters, load and unload.
 *
 * Each region given in regions= (reserved at boot with memmap=SIZE$BASE)
 * becomes one /dev/pimN; without regions, ram_devs devices of ram_mb MiB
 * are backed by vmalloc'ed RAM so the module loads on any machine.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "pim_drv.h"

static char *regions;
module_param(regions, charp, 0444);
MODULE_PARM_DESC(regions,
		 "SIZE@BASE[,SIZE@BASE...]: memmap=SIZE$BASE regions, one device each");

static unsigned int ram_mb = 64;
module_param(ram_mb, uint, 0444);
MODULE_PARM_DESC(ram_mb, "MiB of RAM per device when regions is empty (default 64)");

static unsigned int ram_devs = 1;
module_param(ram_devs, uint, 0444);
MODULE_PARM_DESC(ram_devs, "RAM-backed devices when regions is empty (1-8, default 1)");

static unsigned int channels = 2;
module_param(channels, uint, 0444);
MODULE_PARM_DESC(channels, "memory channels per device (default 2)");

static unsigned int dimms = 2;
module_param(dimms, uint, 0444);
MODULE_PARM_DESC(dimms, "DIMMs per channel (default 2)");

static unsigned int ranks = 2;
module_param(ranks, uint, 0444);
MODULE_PARM_DESC(ranks, "ranks per DIMM (default 2)");

static unsigned int bank_groups = 4;
module_param(bank_groups, uint, 0444);
MODULE_PARM_DESC(bank_groups, "bank groups per chip (default 4)");

static unsigned int banks = 4;
module_param(banks, uint, 0444);
MODULE_PARM_DESC(banks, "banks per bank group (default 4)");

static unsigned int row_bytes = 1024;
module_param(row_bytes, uint, 0444);
MODULE_PARM_DESC(row_bytes, "DRAM page size of one chip in bytes (default 1024)");

bool pim_raw_access;
module_param_named(raw_access, pim_raw_access, bool, 0444);
MODULE_PARM_DESC(raw_access, "allow raw rank access without CAP_SYS_ADMIN (default 0)");

static dev_t pim_devt;
static struct pim_device *pim_devs[PIM_MAX_DEVS];
static int pim_nr_devs;

/* The geometry of a device of size bytes, checked by the device model. */
static int pim_geom_from_params(struct pim_geometry *g, u64 size)
{
	const char *why = "unknown";
	u64 nranks = (u64)channels * dimms * ranks;

	memset(g, 0, sizeof(*g));
	g->channels = channels;
	g->dimms_per_channel = dimms;
	g->ranks_per_dimm = ranks;
	g->chips_per_rank = 8;
	g->bank_groups = bank_groups;
	g->banks_per_group = banks;
	g->row_bytes = row_bytes;
	g->ranksets = dimms * ranks;
	if (!nranks || nranks > PIM_MAX_RANKS) {
		pr_err("channels * dimms * ranks = %llu, must be 1..%u\n",
		       nranks, PIM_MAX_RANKS);
		return -EINVAL;
	}
	g->rank_bytes = div64_u64(size, nranks);
	if (pim_geom_check(g, &why)) {
		pr_err("invalid geometry for %llu bytes: %s\n", size, why);
		return -EINVAL;
	}
	return 0;
}

static int pim_add_device(struct pim_backing *bk)
{
	struct pim_device *pdev;
	struct pim_geometry g;
	int ret;

	ret = pim_geom_from_params(&g, bk->size);
	if (ret)
		goto err;
	/* On success the device owns the backing. */
	pdev = pim_device_create(pim_nr_devs, bk, &g,
				 MKDEV(MAJOR(pim_devt), pim_nr_devs));
	if (IS_ERR(pdev)) {
		ret = PTR_ERR(pdev);
		goto err;
	}
	pim_devs[pim_nr_devs++] = pdev;
	return 0;
err:
	pim_backing_release(bk);
	return ret;
}

/* Parse one "SIZE@BASE" token of regions=. */
static int pim_parse_region(char *tok, phys_addr_t *base, u64 *size)
{
	char *p = tok, *end;

	*size = memparse(p, &end);
	if (end == p || *end != '@')
		return -EINVAL;
	p = end + 1;
	*base = memparse(p, &end);
	if (end == p || *end)
		return -EINVAL;
	return 0;
}

static int pim_add_regions(void)
{
	char *list, *cur, *tok;
	int ret = 0;

	list = kstrdup(regions, GFP_KERNEL);
	if (!list)
		return -ENOMEM;
	cur = list;
	while ((tok = strsep(&cur, ",")) != NULL) {
		struct pim_backing bk;
		phys_addr_t base;
		u64 size;

		if (!*tok)
			continue;
		if (pim_nr_devs == PIM_MAX_DEVS) {
			pr_err("regions: more than %d regions\n", PIM_MAX_DEVS);
			ret = -EINVAL;
			break;
		}
		if (pim_parse_region(tok, &base, &size)) {
			pr_err("regions: '%s' is not SIZE@BASE\n", tok);
			ret = -EINVAL;
			break;
		}
		ret = pim_backing_memmap(&bk, base, size);
		if (ret)
			break;
		ret = pim_add_device(&bk);
		if (ret)
			break;
	}
	kfree(list);
	if (!ret && !pim_nr_devs) {
		pr_err("regions: no region given\n");
		ret = -EINVAL;
	}
	return ret;
}

static int pim_add_ram(void)
{
	unsigned int i;
	int ret;

	if (ram_devs < 1 || ram_devs > PIM_MAX_DEVS) {
		pr_err("ram_devs=%u, must be 1..%d\n", ram_devs, PIM_MAX_DEVS);
		return -EINVAL;
	}
	if (ram_mb < 1 || ram_mb > 65536) {
		pr_err("ram_mb=%u, must be 1..65536\n", ram_mb);
		return -EINVAL;
	}
	for (i = 0; i < ram_devs; i++) {
		struct pim_backing bk;

		ret = pim_backing_ram(&bk, (u64)ram_mb << 20);
		if (ret)
			return ret;
		ret = pim_add_device(&bk);
		if (ret)
			return ret;
	}
	return 0;
}

static void pim_remove_devices(void)
{
	while (pim_nr_devs > 0)
		pim_device_destroy(pim_devs[--pim_nr_devs]);
}

static int __init pim_init(void)
{
	int ret;

	pim_exec_select_isa();
	ret = alloc_chrdev_region(&pim_devt, 0, PIM_MAX_DEVS, "pim");
	if (ret)
		return ret;
	ret = class_register(&pim_class);
	if (ret)
		goto err_chrdev;
	if (regions && *regions)
		ret = pim_add_regions();
	else
		ret = pim_add_ram();
	if (ret)
		goto err_devs;
	pr_info("%d device(s), %s backing\n", pim_nr_devs,
		regions && *regions ? "memmap" : "ram");
	return 0;

err_devs:
	pim_remove_devices();
	class_unregister(&pim_class);
err_chrdev:
	unregister_chrdev_region(pim_devt, PIM_MAX_DEVS);
	return ret;
}

static void __exit pim_exit(void)
{
	pim_remove_devices();
	class_unregister(&pim_class);
	unregister_chrdev_region(pim_devt, PIM_MAX_DEVS);
}

module_init(pim_init);
module_exit(pim_exit);

MODULE_DESCRIPTION("Emulated L3 DIMM-PIM devices over reserved DRAM");
MODULE_LICENSE("GPL");
