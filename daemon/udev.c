// SPDX-License-Identifier: GPL-2.0
/*
 * udev.c - devices coming and going. The monitor is created before the
 * first enumeration (ratbagd's order), so no device can slip between the
 * two. libpim enumerates when a context is made, so a uevent makes a fresh
 * context; sessions keep the one they were created with.
 */
#include <errno.h>
#include <stdio.h>
#include <libudev.h>

#include "pimd.h"

int pimd_rescan(struct pimd *d)
{
	struct pim_ctx *ctx;
	struct pim_dev *dev;
	int ret;

	ret = pim_new_with_flags(&ctx, d->ctx_flags);
	if (ret)
		return ret;
	pim_unref(d->ctx);
	d->ctx = ctx;
	fprintf(stderr, "pimd: devices (%s backend):",
		pim_get_backend_name(ctx));
	pim_dev_foreach(ctx, dev)
		fprintf(stderr, " %s", pim_dev_get_devname(dev));
	fprintf(stderr, "%s\n", pim_dev_get_first(ctx) ? "" : " none");
	return 0;
}

static int on_uevent(sd_event_source *src, int fd, uint32_t revents,
		     void *userdata)
{
	struct pimd *d = userdata;
	struct udev_device *ud;
	int n = 0;

	while ((ud = udev_monitor_receive_device(d->monitor))) {
		fprintf(stderr, "pimd: uevent %s %s\n",
			udev_device_get_action(ud) ?: "?",
			udev_device_get_sysname(ud) ?: "?");
		udev_device_unref(ud);
		n++;
	}
	if (n && !pimd_rescan(d) && d->bus)
		pimd_devices_changed(d);
	return 0;
}

int pimd_udev_start(struct pimd *d)
{
	int ret;

	d->udev = udev_new();
	if (!d->udev)
		return -ENOMEM;
	d->monitor = udev_monitor_new_from_netlink(d->udev, "udev");
	if (!d->monitor)
		return -ENOMEM;
	ret = udev_monitor_filter_add_match_subsystem_devtype(d->monitor,
							      "pim", NULL);
	ret = ret < 0 ? ret : udev_monitor_enable_receiving(d->monitor);
	ret = ret < 0 ? ret :
		sd_event_add_io(d->event, &d->monitor_src,
				udev_monitor_get_fd(d->monitor), EPOLLIN,
				on_uevent, d);
	return ret < 0 ? ret : 0;
}

void pimd_udev_stop(struct pimd *d)
{
	d->monitor_src = sd_event_source_disable_unref(d->monitor_src);
	d->monitor = udev_monitor_unref(d->monitor);
	d->udev = udev_unref(d->udev);
}
