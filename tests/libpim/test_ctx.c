// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_ctx.c - contexts, logging, backend choice and device discovery.
 */
#include <errno.h>
#include <stdio.h>
#include <syslog.h>

#include "helpers.h"

static int logged;

static void count_log(struct pim_ctx *ctx, int priority, const char *file,
		      int line, const char *fn, const char *format,
		      va_list args)
{
	(void)ctx;
	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	(void)format;
	(void)args;
	logged++;
}

static void test_geometry(struct pim_dev *dev)
{
	const struct pim_geometry *g = pim_dev_get_geometry(dev);
	struct pim_dev_stats st;
	struct pim_info info;
	uint64_t ranks;
	int ret;

	ranks = (uint64_t)g->channels * g->dimms_per_channel *
		g->ranks_per_dimm;
	tap_ok(g->chips_per_rank == 8 && ranks >= 1 && ranks <= PIM_MAX_RANKS,
	       "%s: geometry %ux%ux%u ranks of 8 chips",
	       pim_dev_get_devname(dev), g->channels, g->dimms_per_channel,
	       g->ranks_per_dimm);
	tap_ok(g->ranksets == g->dimms_per_channel * g->ranks_per_dimm,
	       "ranksets = DIMMs per channel x ranks per DIMM (%u)",
	       g->ranksets);
	tap_ok(pim_dev_get_capacity(dev) > 0 &&
	       pim_dev_get_capacity(dev) <= ranks * g->rank_bytes,
	       "capacity %llu fits %llu ranks of %llu bytes",
	       (unsigned long long)pim_dev_get_capacity(dev),
	       (unsigned long long)ranks,
	       (unsigned long long)g->rank_bytes);
	ret = pim_dev_get_stats(dev, &st);
	tap_ok(ret == 0 && st.capacity == pim_dev_get_capacity(dev) &&
	       st.free <= st.capacity, "stats: free %llu of %llu",
	       (unsigned long long)st.free, (unsigned long long)st.capacity);
	tap_ok(pim_dev_get_info(dev, &info) == 0 &&
	       info.abi_version == PIM_ABI_VERSION &&
	       info.dev_id == pim_dev_get_id(dev) &&
	       !memcmp(&info.geom, g, sizeof(*g)) &&
	       (info.features & ~PIM_F_RAW) ==
	       (pim_dev_get_features(dev) & ~PIM_F_RAW),
	       "GET_INFO agrees with discovery (RAW is per opener)");
	tap_ok(pim_dev_get_features(dev) & PIM_F_FP16,
	       "features 0x%llx include FP16",
	       (unsigned long long)pim_dev_get_features(dev));
	tap_ok(pim_dev_get_by_id(pim_dev_get_ctx(dev), pim_dev_get_id(dev)) ==
	       dev && !pim_dev_get_by_id(pim_dev_get_ctx(dev), 4096),
	       "pim_dev_get_by_id");
}

int main(void)
{
	struct pim_ctx *ctx, *bad = (struct pim_ctx *)1;
	struct pim_dev *dev;
	int n = 0;

	tap_plan(16);
	tap_ok(pim_new_with_flags(&bad, PIM_CTX_KERNEL | PIM_CTX_INPROC) ==
	       -EINVAL && bad == NULL, "two backends at once: -EINVAL");
	tap_ok(pim_new_with_flags(&bad, 1U << 7) == -EINVAL,
	       "unknown context flag: -EINVAL");
	tap_ok(pim_new_with_flags(NULL, 0) == -EINVAL, "NULL ctx: -EINVAL");
	if (!tap_ok(test_ctx_new(&ctx) == 0, "context"))
		return tap_done();
	tap_diag("backend: %s", pim_get_backend_name(ctx));
	tap_ok(pim_ref(ctx) == ctx && pim_unref(ctx) == ctx,
	       "ref/unref keep a referenced context");
	pim_set_userdata(ctx, &n);
	tap_ok(pim_get_userdata(ctx) == &n, "userdata");
	pim_set_log_fn(ctx, count_log);
	pim_set_log_priority(ctx, LOG_DEBUG);
	tap_ok(pim_get_log_priority(ctx) == LOG_DEBUG, "log priority");

	pim_dev_foreach(ctx, dev)
		n++;
	if (!n) {
		tap_skip("no PIM device (%s backend)",
			 pim_get_backend_name(ctx));
		while (tap_n < 16)
			tap_skip("no PIM device");
		pim_unref(ctx);
		return tap_done();
	}
	dev = pim_dev_get_first(ctx);
	test_geometry(dev);
	{
		struct pim_kv_shape bad_shape = {
			.layers = 1, .q_heads = 1, .kv_heads = 1,
			.head_dim = 17, .dtype = PIM_DTYPE_FP16,
			.max_tokens = 1,
		};
		struct pim_kvcache *kv;

		logged = 0;
		pim_kvcache_new(dev, &bad_shape, NULL, &kv);
		tap_ok(logged > 0, "a refused shape is logged at debug level");
	}
	tap_ok(pim_unref(ctx) == NULL, "last unref frees the context");
	return tap_done();
}
