// SPDX-License-Identifier: GPL-2.0
/*
 * dev.c - one emulated DIMM-PIM device: its device model, its char device
 * and its sysfs attributes. The attributes belong to the class, so they
 * exist before the KOBJ_ADD uevent reaches udev.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "pim_drv.h"
#include "dm_state.h"

static struct pim_device *to_pim(struct device *dev)
{
	return container_of(dev, struct pim_device, dev);
}

u64 pim_device_free_bytes(struct pim_device *pdev)
{
	u64 free;

	mutex_lock(&pdev->dm_lock);
	free = pim_dm_free(pdev->dm);
	mutex_unlock(&pdev->dm_lock);
	return free;
}

u64 pim_device_features(bool raw)
{
	u64 f = PIM_F_URING_CMD | PIM_F_QUEUES | PIM_F_INFLIGHT_RELAYOUT |
		PIM_F_HOST_RELAYOUT | PIM_F_FP16 | PIM_F_BF16 | PIM_F_GQA |
		PIM_F_UNORDERED;

	return raw ? f | PIM_F_RAW : f;
}

/* A sysfs file showing one field of the geometry or one counter. */
struct pim_field_attr {
	struct device_attribute dattr;
	size_t off;
};

static size_t pim_field_off(struct device_attribute *attr)
{
	return container_of(attr, struct pim_field_attr, dattr)->off;
}

static ssize_t pim_geom_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	const struct pim_geometry *g = &to_pim(dev)->geom;
	size_t off = pim_field_off(attr);

	if (off == offsetof(struct pim_geometry, rank_bytes))
		return sysfs_emit(buf, "%llu\n", g->rank_bytes);
	return sysfs_emit(buf, "%u\n", *(const u32 *)((const char *)g + off));
}

static ssize_t pim_counter_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	struct pim_device *pdev = to_pim(dev);
	size_t off = pim_field_off(attr);
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += *(u64 *)((char *)per_cpu_ptr(pdev->stats, cpu) + off);
	return sysfs_emit(buf, "%llu\n", sum);
}

#define PIM_GEOM_ATTR(f)						\
static struct pim_field_attr pim_attr_##f = {				\
	.dattr = { .attr = { .name = #f, .mode = 0444 },		\
		   .show = pim_geom_show },				\
	.off = offsetof(struct pim_geometry, f),			\
}

#define PIM_COUNTER_ATTR(f)						\
static struct pim_field_attr pim_attr_##f = {				\
	.dattr = { .attr = { .name = #f, .mode = 0444 },		\
		   .show = pim_counter_show },				\
	.off = offsetof(struct pim_stats, f),				\
}

PIM_GEOM_ATTR(channels);
PIM_GEOM_ATTR(dimms_per_channel);
PIM_GEOM_ATTR(ranks_per_dimm);
PIM_GEOM_ATTR(chips_per_rank);
PIM_GEOM_ATTR(bank_groups);
PIM_GEOM_ATTR(banks_per_group);
PIM_GEOM_ATTR(row_bytes);
PIM_GEOM_ATTR(ranksets);
PIM_GEOM_ATTR(rank_bytes);
PIM_COUNTER_ATTR(commands);
PIM_COUNTER_ATTR(bytes_in);
PIM_COUNTER_ATTR(bytes_out);
PIM_COUNTER_ATTR(device_ns);

static ssize_t capacity_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%llu\n", pim_dm_capacity(to_pim(dev)->dm));
}
static DEVICE_ATTR_RO(capacity);

static ssize_t free_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%llu\n", pim_device_free_bytes(to_pim(dev)));
}
static DEVICE_ATTR_RO(free);

static ssize_t backing_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  to_pim(dev)->bk.kind == PIM_BACKING_MEMMAP ?
			  "memmap" : "ram");
}
static DEVICE_ATTR_RO(backing);

static ssize_t features_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%#llx\n", pim_device_features(pim_raw_access));
}
static DEVICE_ATTR_RO(features);

static ssize_t max_xfer_bytes_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", PIM_MAX_XFER);
}
static DEVICE_ATTR_RO(max_xfer_bytes);

static struct attribute *pim_dev_attrs[] = {
	&pim_attr_channels.dattr.attr,
	&pim_attr_dimms_per_channel.dattr.attr,
	&pim_attr_ranks_per_dimm.dattr.attr,
	&pim_attr_chips_per_rank.dattr.attr,
	&pim_attr_bank_groups.dattr.attr,
	&pim_attr_banks_per_group.dattr.attr,
	&pim_attr_row_bytes.dattr.attr,
	&pim_attr_ranksets.dattr.attr,
	&pim_attr_rank_bytes.dattr.attr,
	&dev_attr_capacity.attr,
	&dev_attr_free.attr,
	&dev_attr_backing.attr,
	&dev_attr_features.attr,
	&dev_attr_max_xfer_bytes.attr,
	&pim_attr_commands.dattr.attr,
	&pim_attr_bytes_in.dattr.attr,
	&pim_attr_bytes_out.dattr.attr,
	&pim_attr_device_ns.dattr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(pim_dev);

static int pim_dev_uevent(struct device *dev, struct kobj_uevent_env *env)
{
	return add_uevent_var(env, "PIM_CAPACITY=%llu",
			      pim_dm_capacity(to_pim(dev)->dm));
}

struct class pim_class = {
	.name		= "pim",
	.owner		= THIS_MODULE,
	.dev_groups	= pim_dev_groups,
	.dev_uevent	= pim_dev_uevent,
};

static void pim_dev_release(struct device *dev)
{
	struct pim_device *pdev = to_pim(dev);

	free_percpu(pdev->stats);
	kfree(pdev);
}

static void pim_dm_free_state(struct pim_device *pdev)
{
	kvfree(pdev->dm_state);
	kfree(pdev->dm);
}

static int pim_dm_setup(struct pim_device *pdev)
{
	int ret;

	pdev->dm = kzalloc(sizeof(*pdev->dm), GFP_KERNEL);
	pdev->dm_state = kvzalloc(pim_dm_state_bytes(&pdev->geom),
				  GFP_KERNEL);
	if (!pdev->dm || !pdev->dm_state) {
		ret = -ENOMEM;
		goto err;
	}
	ret = pim_dm_init(pdev->dm, &pdev->geom, pdev->bk.mem, pdev->dm_state);
	if (ret) {
		pr_err("pim%d: device model refused the geometry (%d)\n",
		       pdev->id, ret);
		goto err;
	}
	pdev->nr_ranks = pim_geom_ranks(&pdev->geom);
	pdev->tl_bytes = pim_timeline_bytes(&pdev->geom);
	return 0;
err:
	pim_dm_free_state(pdev);
	return ret;
}

struct pim_device *pim_device_create(int id, const struct pim_backing *bk,
				     const struct pim_geometry *g, dev_t devt)
{
	struct pim_device *pdev;
	int ret;

	pdev = kzalloc(sizeof(*pdev), GFP_KERNEL);
	if (!pdev)
		return ERR_PTR(-ENOMEM);
	pdev->id = id;
	pdev->bk = *bk;
	pdev->geom = *g;
	mutex_init(&pdev->dm_lock);
	pdev->stats = alloc_percpu(struct pim_stats);
	if (!pdev->stats) {
		ret = -ENOMEM;
		goto err_free;
	}

	ret = pim_dm_setup(pdev);
	if (ret)
		goto err_free;
	ret = pim_lanes_init(pdev);
	if (ret)
		goto err_dm;

	device_initialize(&pdev->dev);
	pdev->dev.class = &pim_class;
	pdev->dev.devt = devt;
	pdev->dev.release = pim_dev_release;
	ret = dev_set_name(&pdev->dev, "pim%d", id);
	if (ret)
		goto err_put;
	cdev_init(&pdev->cdev, &pim_fops);
	pdev->cdev.owner = THIS_MODULE;
	ret = cdev_device_add(&pdev->cdev, &pdev->dev);
	if (ret)
		goto err_put;
	dev_info(&pdev->dev, "%llu MiB %s, %u ranks of %llu KiB\n",
		 bk->size >> 20,
		 bk->kind == PIM_BACKING_MEMMAP ? "memmap region" : "of RAM",
		 pdev->nr_ranks, g->rank_bytes >> 10);
	return pdev;

err_put:
	pim_lanes_destroy(pdev);
	pim_dm_free_state(pdev);
	put_device(&pdev->dev);
	return ERR_PTR(ret);
err_dm:
	pim_dm_free_state(pdev);
err_free:
	free_percpu(pdev->stats);
	kfree(pdev);
	return ERR_PTR(ret);
}

/* Only called when no file is open (each open holds a module reference). */
void pim_device_destroy(struct pim_device *pdev)
{
	cdev_device_del(&pdev->cdev, &pdev->dev);
	pim_lanes_destroy(pdev);
	pim_dm_free_state(pdev);
	pim_backing_release(&pdev->bk);
	put_device(&pdev->dev);
}
