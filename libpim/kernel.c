// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kernel.c - the kernel backend: /dev/pimN found through libudev (sysfs
 * class "pim"), synchronous commands through PIM_IOC_SUBMIT. Queues are
 * io_uring rings, see uring.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <libudev.h>

#include "private.h"
#include "kqueue.h"

static int attr_u64(struct udev_device *d, const char *name, int base,
		    uint64_t *val)
{
	const char *s = udev_device_get_sysattr_value(d, name);
	char *end;

	if (!s)
		return -ENOENT;
	errno = 0;
	*val = strtoull(s, &end, base);
	if (errno || end == s || (*end && *end != '\n'))
		return -EINVAL;
	return 0;
}

static int attr_u32(struct udev_device *d, const char *name, uint32_t *val)
{
	uint64_t v;
	int ret = attr_u64(d, name, 10, &v);

	if (ret)
		return ret;
	if (v > UINT32_MAX)
		return -EINVAL;
	*val = v;
	return 0;
}

static int geom_from_sysfs(struct udev_device *d, struct pim_geometry *g)
{
	uint64_t rank_bytes = 0;
	int ret;

	ret = attr_u32(d, "channels", &g->channels);
	ret = ret ?: attr_u32(d, "dimms_per_channel", &g->dimms_per_channel);
	ret = ret ?: attr_u32(d, "ranks_per_dimm", &g->ranks_per_dimm);
	ret = ret ?: attr_u32(d, "chips_per_rank", &g->chips_per_rank);
	ret = ret ?: attr_u32(d, "bank_groups", &g->bank_groups);
	ret = ret ?: attr_u32(d, "banks_per_group", &g->banks_per_group);
	ret = ret ?: attr_u32(d, "row_bytes", &g->row_bytes);
	ret = ret ?: attr_u32(d, "ranksets", &g->ranksets);
	ret = ret ?: attr_u64(d, "rank_bytes", 10, &rank_bytes);
	g->rank_bytes = rank_bytes;
	return ret;
}

/* Without per-field attributes, ask the device (opened only for this). */
static int geom_from_ioctl(struct pim_dev *dev)
{
	struct pim_info info;
	int fd, ret = 0;

	fd = open(dev->devnode, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, PIM_IOC_GET_INFO, &info) < 0)
		ret = -errno;
	else
		dev->geom = info.geom;
	close(fd);
	return ret;
}

static int add_device(struct pim_ctx *ctx, struct udev_device *d)
{
	const char *sysname = udev_device_get_sysname(d);
	const char *node = udev_device_get_devnode(d);
	const char *backing;
	struct pim_dev *dev;
	unsigned int id;
	int ret;

	if (!sysname || sscanf(sysname, "pim%u", &id) != 1 || !node) {
		dbg(ctx, "skipping %s: not a pimN device node\n",
		    sysname ? sysname : "?");
		return 0;
	}
	dev = pim_dev_alloc(ctx, id);
	if (!dev)
		return -ENOMEM;
	snprintf(dev->devnode, sizeof(dev->devnode), "%s", node);
	snprintf(dev->syspath, sizeof(dev->syspath), "%s",
		 udev_device_get_syspath(d));
	backing = udev_device_get_sysattr_value(d, "backing");
	snprintf(dev->backing, sizeof(dev->backing), "%.*s",
		 backing ? (int)strcspn(backing, "\n") : 7,
		 backing ? backing : "unknown");
	ret = attr_u64(d, "capacity", 10, &dev->capacity);
	if (!ret)
		ret = attr_u64(d, "features", 16, &dev->features);
	if (!ret && geom_from_sysfs(d, &dev->geom))
		ret = geom_from_ioctl(dev);
	if (ret) {
		err(ctx, "%s: cannot read its attributes: %s\n", sysname,
		    strerror(-ret));
		pthread_mutex_destroy(&dev->lock);
		free(dev);
		return 0;
	}
	pim_dev_add(ctx, dev);
	return 0;
}

static int kernel_scan(struct pim_ctx *ctx)
{
	struct udev_list_entry *e;
	struct udev_enumerate *en;
	struct udev *udev;
	int ret;

	udev = udev_new();
	if (!udev)
		return -ENOMEM;
	en = udev_enumerate_new(udev);
	if (!en) {
		udev_unref(udev);
		return -ENOMEM;
	}
	ret = udev_enumerate_add_match_subsystem(en, "pim");
	ret = ret ?: udev_enumerate_scan_devices(en);
	udev_list_entry_foreach(e, ret ? NULL :
				udev_enumerate_get_list_entry(en)) {
		struct udev_device *d;

		d = udev_device_new_from_syspath(udev,
						 udev_list_entry_get_name(e));
		if (!d)
			continue;	/* gone since the scan */
		ret = add_device(ctx, d);
		udev_device_unref(d);
		if (ret)
			break;
	}
	udev_enumerate_unref(en);
	udev_unref(udev);
	if (!ret && !ctx->devs)
		info(ctx, "no /dev/pim* devices (is pim.ko loaded? PIM_BACKEND=inproc selects the in-process device)\n");
	return ret;
}

static int kernel_dev_open(struct pim_dev *dev)
{
	dev->fd = open(dev->devnode, O_RDWR | O_CLOEXEC);
	if (dev->fd < 0) {
		int ret = -errno;

		err(dev->ctx, "%s: %s\n", dev->devnode, strerror(-ret));
		return ret;
	}
	return 0;
}

static void kernel_dev_release(struct pim_dev *dev)
{
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
}

static int kernel_dev_cmd(struct pim_dev *dev, struct pim_cmd *cmd,
			  struct pim_cqe *cqe)
{
	struct pim_sync s = { .cmd = *cmd };
	int ret;

	ret = ioctl(dev->fd, PIM_IOC_SUBMIT, &s);
	if (ret < 0) {
		ret = -errno;
		/* The completion is only valid when the command ran. */
		if (s.cqe.res == ret)
			*cqe = s.cqe;
		else
			cqe->res = ret;
		return ret;
	}
	*cqe = s.cqe;
	return ret;
}

static int kernel_dev_info(struct pim_dev *dev, struct pim_info *info)
{
	if (ioctl(dev->fd, PIM_IOC_GET_INFO, info) < 0)
		return -errno;
	return 0;
}

static int kernel_dev_stats(struct pim_dev *dev, struct pim_dev_stats *st)
{
	struct udev_device *d;
	struct udev *udev;
	int ret;

	udev = udev_new();
	if (!udev)
		return -ENOMEM;
	/* A fresh object each time: libudev caches attribute values. */
	d = udev_device_new_from_syspath(udev, dev->syspath);
	if (!d) {
		udev_unref(udev);
		return -ENODEV;
	}
	ret = attr_u64(d, "capacity", 10, &st->capacity);
	ret = ret ?: attr_u64(d, "free", 10, &st->free);
	ret = ret ?: attr_u64(d, "commands", 10, &st->commands);
	ret = ret ?: attr_u64(d, "bytes_in", 10, &st->bytes_in);
	ret = ret ?: attr_u64(d, "bytes_out", 10, &st->bytes_out);
	ret = ret ?: attr_u64(d, "device_ns", 10, &st->device_ns);
	udev_device_unref(d);
	udev_unref(udev);
	/* A device that went away loses its attributes. */
	return ret == -ENOENT ? -ENODEV : ret;
}

const struct pim_backend pim_kernel_backend = {
	.type		= PIM_BACKEND_KERNEL,
	.name		= "kernel",
	.scan		= kernel_scan,
	.dev_open	= kernel_dev_open,
	.dev_release	= kernel_dev_release,
	.dev_cmd	= kernel_dev_cmd,
	.dev_info	= kernel_dev_info,
	.dev_stats	= kernel_dev_stats,
	.queue_ops	= &pim_uring_ops,
	.ioctl_queue_ops = &pim_ioctlq_ops,
};
