// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * device.c - device objects and their getters, whatever the backend.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "private.h"

struct pim_dev *pim_dev_alloc(struct pim_ctx *ctx, unsigned int id)
{
	struct pim_dev *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return NULL;
	dev->ctx = ctx;
	dev->id = id;
	dev->fd = -1;
	pthread_mutex_init(&dev->lock, NULL);
	snprintf(dev->devname, sizeof(dev->devname), "pim%u", id);
	return dev;
}

/* Keep the list sorted by id, so pim0 comes first. */
void pim_dev_add(struct pim_ctx *ctx, struct pim_dev *dev)
{
	struct pim_dev **pos = &ctx->devs;

	while (*pos && (*pos)->id < dev->id)
		pos = &(*pos)->next;
	dev->next = *pos;
	*pos = dev;
}

void pim_dev_free_all(struct pim_ctx *ctx)
{
	struct pim_dev *dev, *next;

	for (dev = ctx->devs; dev; dev = next) {
		next = dev->next;
		ctx->be->dev_release(dev);
		pthread_mutex_destroy(&dev->lock);
		free(dev);
	}
	ctx->devs = NULL;
}

/* Open on first use, so an idle context does not pin the module. */
int pim_dev_open(struct pim_dev *dev)
{
	int ret = 0;

	pthread_mutex_lock(&dev->lock);
	if (!dev->opened) {
		ret = dev->ctx->be->dev_open(dev);
		dev->opened = !ret;
	}
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

PIM_EXPORT struct pim_dev *pim_dev_get_first(struct pim_ctx *ctx)
{
	return ctx ? ctx->devs : NULL;
}

PIM_EXPORT struct pim_dev *pim_dev_get_next(struct pim_dev *dev)
{
	return dev ? dev->next : NULL;
}

PIM_EXPORT struct pim_dev *pim_dev_get_by_id(struct pim_ctx *ctx,
					     unsigned int id)
{
	struct pim_dev *dev;

	pim_dev_foreach(ctx, dev)
		if (dev->id == id)
			return dev;
	return NULL;
}

PIM_EXPORT struct pim_ctx *pim_dev_get_ctx(struct pim_dev *dev)
{
	return dev->ctx;
}

PIM_EXPORT unsigned int pim_dev_get_id(struct pim_dev *dev)
{
	return dev->id;
}

PIM_EXPORT const char *pim_dev_get_devname(struct pim_dev *dev)
{
	return dev->devname;
}

PIM_EXPORT const char *pim_dev_get_devnode(struct pim_dev *dev)
{
	return dev->devnode;
}

PIM_EXPORT const char *pim_dev_get_backing(struct pim_dev *dev)
{
	return dev->backing;
}

PIM_EXPORT const struct pim_geometry *pim_dev_get_geometry(struct pim_dev *dev)
{
	return &dev->geom;
}

PIM_EXPORT uint64_t pim_dev_get_capacity(struct pim_dev *dev)
{
	return dev->capacity;
}

PIM_EXPORT uint64_t pim_dev_get_features(struct pim_dev *dev)
{
	return dev->features;
}

PIM_EXPORT int pim_dev_get_stats(struct pim_dev *dev,
				 struct pim_dev_stats *stats)
{
	if (!dev || !stats)
		return -EINVAL;
	memset(stats, 0, sizeof(*stats));
	return dev->ctx->be->dev_stats(dev, stats);
}

PIM_EXPORT int pim_dev_get_info(struct pim_dev *dev, struct pim_info *info)
{
	int ret;

	if (!dev || !info)
		return -EINVAL;
	ret = pim_dev_open(dev);
	if (ret)
		return ret;
	return dev->ctx->be->dev_info(dev, info);
}

PIM_EXPORT int pim_dev_cmd(struct pim_dev *dev, struct pim_cmd *cmd,
			   struct pim_cqe *cqe)
{
	struct pim_cqe local;
	int ret;

	if (!dev || !cmd)
		return -EINVAL;
	ret = pim_dev_open(dev);
	if (ret)
		return ret;
	if (!cqe)
		cqe = &local;
	memset(cqe, 0, sizeof(*cqe));
	return dev->ctx->be->dev_cmd(dev, cmd, cqe);
}
