// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * removal.c - the module goes away under a live context (guest only, run
 * as root by guest-suite.sh with pim.ko loaded and idle).
 *
 * A context whose device is open pins the module: rmmod must fail and the
 * context keeps working. A context that only enumerated the device does
 * not: rmmod succeeds, and every later call on the stale device reports
 * an error instead of crashing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "helpers.h"

static const struct pim_kv_shape shape = {
	1, 4, 4, 64, PIM_DTYPE_FP16, 16,
};

static int rmmod(void)
{
	return system("rmmod pim 2>/dev/null");
}

int main(void)
{
	struct pim_ctx *open_ctx, *idle_ctx;
	struct pim_dev *dev, *idle;
	struct pim_dev_stats st;
	struct pim_kvcache *kv;
	struct pim_queue *q;
	int ret;

	tap_plan(8);
	if (pim_new_with_flags(&open_ctx, PIM_CTX_KERNEL) ||
	    pim_new_with_flags(&idle_ctx, PIM_CTX_KERNEL))
		return 1;
	dev = pim_dev_get_first(open_ctx);
	idle = pim_dev_get_first(idle_ctx);
	if (!dev || !idle) {
		printf("1..0 # SKIP no /dev/pim0\n");
		return 0;
	}
	ret = pim_kvcache_new(dev, &shape, NULL, &kv);
	tap_ok(ret == 0, "cache on the open device: %d", ret);
	tap_ok(rmmod() != 0, "rmmod refused while the device is open");
	tap_ok(pim_kvcache_append(kv, 0, 0, NULL, NULL, 0, 0, NULL) ==
	       -EINVAL && pim_kvcache_free(kv) == 0,
	       "the open context still works");
	pim_unref(open_ctx);

	tap_ok(rmmod() == 0, "rmmod with an idle, enumerated context");
	ret = pim_dev_get_stats(idle, &st);
	tap_ok(ret == -ENODEV, "stats of the removed device: %d (-ENODEV)",
	       ret);
	ret = pim_kvcache_new(idle, &shape, NULL, &kv);
	tap_ok(ret == -ENOENT || ret == -ENODEV,
	       "cache on the removed device: %d", ret);
	ret = pim_queue_new(idle, 4, &q);
	tap_ok(ret == -ENOENT || ret == -ENODEV,
	       "queue on the removed device: %d", ret);
	tap_ok(pim_unref(idle_ctx) == NULL, "stale context freed");
	return tap_done();
}
