// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_kvcache.c - KV caches: placement, append (decode and prefill),
 * read-back, and every error path the ABI names.
 */
#include <errno.h>
#include <stdio.h>

#include "helpers.h"

#define LAYERS		4
#define MAX_TOK		64
#define PREFILL		40

static const struct pim_kv_shape shape = {
	.layers = LAYERS, .q_heads = 8, .kv_heads = 2, .head_dim = 64,
	.dtype = PIM_DTYPE_FP16, .max_tokens = MAX_TOK,
};

static uint64_t dev_free(struct pim_dev *dev)
{
	struct pim_dev_stats st;

	return pim_dev_get_stats(dev, &st) ? 0 : st.free;
}

static int raw(struct pim_dev *dev, struct pim_cmd *cmd)
{
	return pim_dev_cmd(dev, cmd, NULL);
}

static void test_bad_shapes(struct pim_dev *dev)
{
	static const struct {
		const char *what;
		struct pim_kv_shape s;
	} bad[] = {
		{ "head_dim 17", { 1, 8, 2, 17, PIM_DTYPE_FP16, 8 } },
		{ "head_dim 512", { 1, 8, 2, 512, PIM_DTYPE_FP16, 8 } },
		{ "kv_heads 3 of 8", { 1, 8, 3, 64, PIM_DTYPE_FP16, 8 } },
		{ "kv_heads 0", { 1, 8, 0, 64, PIM_DTYPE_FP16, 8 } },
		{ "dtype 9", { 1, 8, 2, 64, 9, 8 } },
		{ "layers 0", { 0, 8, 2, 64, PIM_DTYPE_FP16, 8 } },
		{ "GQA group 32", { 1, 32, 1, 64, PIM_DTYPE_FP16, 8 } },
		{ "q_heads 70000", { 1, 70000, 1, 64, PIM_DTYPE_FP16, 8 } },
	};
	struct pim_kv_hints hints = { .rankset = 1000 };
	struct pim_kvcache *kv;
	unsigned int i;
	int ret;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kv = (struct pim_kvcache *)1;
		ret = pim_kvcache_new(dev, &bad[i].s, NULL, &kv);
		tap_ok(ret == -EINVAL && !kv, "bad shape %s: %d (-EINVAL)",
		       bad[i].what, ret);
	}
	ret = pim_kvcache_new(dev, &shape, &hints, &kv);
	tap_ok(ret == -EINVAL, "rankset hint out of range: %d (-EINVAL)",
	       ret);
	hints.rankset = PIM_RANKSET_ANY;
	hints.chips_per_head = 3;
	ret = pim_kvcache_new(dev, &shape, &hints, &kv);
	tap_ok(ret == -EINVAL, "chips_per_head 3: %d (-EINVAL)", ret);
}

static void test_capacity(struct pim_dev *dev, uint64_t free0)
{
	struct pim_kv_shape big = shape;
	struct pim_kvcache *kv[256];
	unsigned int n = 0;
	int ret;

	big.max_tokens = 1U << 22;	/* the most a layer may hold */
	ret = pim_kvcache_new(dev, &big, NULL, &kv[0]);
	tap_ok(ret == -ENOSPC, "cache larger than the device: %d (-ENOSPC)",
	       ret);
	tap_ok(dev_free(dev) == free0, "a refused cache takes no memory");

	/* Fill the device with 1 MiB caches until it refuses one. */
	big.max_tokens = 1024;
	big.layers = 2;
	while (n < 256 && !(ret = pim_kvcache_new(dev, &big, NULL, &kv[n])))
		n++;
	tap_ok(ret == -ENOSPC && n > 0, "device full after %u caches: %d", n,
	       ret);
	while (n)
		pim_kvcache_free(kv[--n]);
	tap_ok(dev_free(dev) == free0, "freeing them all restores free");
}

static void test_raw_errors(struct pim_dev *dev, unsigned int freed)
{
	uint16_t buf[64 * 2];
	struct pim_cmd cmd = { .opcode = PIM_OP_KV_FREE };
	struct pim_cqe cqe;

	cmd.kv_free.handle = 9999;
	tap_ok(raw(dev, &cmd) == -ENOENT, "never-issued handle: -ENOENT");
	cmd.kv_free.handle = 0;
	tap_ok(raw(dev, &cmd) == -ENOENT, "handle 0: -ENOENT");
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = PIM_OP_KV_READ;
	cmd.kv_io.handle = freed;
	cmd.kv_io.count = 1;
	cmd.kv_io.k_addr = (uintptr_t)buf;
	cmd.kv_io.v_addr = (uintptr_t)(buf + 64);
	tap_ok(raw(dev, &cmd) == -ENOENT, "freed cache: -ENOENT");

	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = PIM_OP_LAST + 1;
	tap_ok(raw(dev, &cmd) == -EINVAL, "unknown opcode: -EINVAL");
	cmd.opcode = PIM_OP_NOP;
	cmd.rsvd1 = 1;
	tap_ok(raw(dev, &cmd) == -EINVAL, "nonzero rsvd1: -EINVAL");
	cmd.rsvd1 = 0;
	cmd.args[2] = 1;
	tap_ok(raw(dev, &cmd) == -EINVAL, "NOP with arguments: -EINVAL");
	cmd.args[2] = 0;
	cmd.flags = 0x80;
	tap_ok(raw(dev, &cmd) == -EINVAL, "unknown flag bit: -EINVAL");
	cmd.flags = 0;
	cmd.user_data = 0x1234;
	tap_ok(pim_dev_cmd(dev, &cmd, &cqe) == 0 && cqe.res == 0 &&
	       cqe.device_ns == 0 && cqe.user_data == 0x1234,
	       "NOP: res 0, device_ns 0, user_data echoed");
}

static void test_io(struct pim_dev *dev, struct pim_kvcache *kv)
{
	size_t tb = pim_kvcache_token_bytes(kv), all = MAX_TOK * tb;
	uint16_t *k = malloc(all), *v = malloc(all);
	uint16_t *rk = malloc(all), *rv = malloc(all);
	struct pim_cmd cmd = { .opcode = PIM_OP_KV_APPEND };
	uint64_t seed = 42, ns = 0;
	unsigned int l;
	int ret;

	fill_elems(k, all / 2, shape.dtype, &seed);
	fill_elems(v, all / 2, shape.dtype, &seed);

	ret = pim_kvcache_append(kv, 0, PREFILL, k, v, PREFILL * tb, 0, &ns);
	tap_ok(ret == 0 && ns > 0, "prefill of %d tokens: %d, %llu ns",
	       PREFILL, ret, (unsigned long long)ns);
	ret = pim_kvcache_append(kv, 0, 1, (char *)k + PREFILL * tb,
				 (char *)v + PREFILL * tb, tb, 0, &ns);
	tap_ok(ret == 0 && pim_kvcache_get_len(kv, 0) == PREFILL + 1,
	       "decode token: %d, len %u", ret, pim_kvcache_get_len(kv, 0));
	memset(rk, 0xa5, all);
	memset(rv, 0xa5, all);
	ret = pim_kvcache_read(kv, 0, 0, PREFILL + 1, rk, rv, all);
	tap_ok(ret == 0 && !memcmp(rk, k, (PREFILL + 1) * tb) &&
	       !memcmp(rv, v, (PREFILL + 1) * tb),
	       "read-back is bit-exact: %d", ret);
	ret = pim_kvcache_read(kv, 0, 10, 5, rk, rv, 5 * tb);
	tap_ok(ret == 0 && !memcmp(rk, (char *)k + 10 * tb, 5 * tb),
	       "partial read-back: %d", ret);

	ret = pim_kvcache_read(kv, 0, PREFILL, 2, rk, rv, all);
	tap_ok(ret == -ERANGE, "read past the end: %d (-ERANGE)", ret);
	ret = pim_kvcache_read(kv, 0, 0, 4, rk, rv, 4 * tb - 1);
	tap_ok(ret == -ENOBUFS, "read buffer too small: %d (-ENOBUFS)", ret);
	ret = pim_kvcache_append(kv, 0, 2, k, v, tb, 0, NULL);
	tap_ok(ret == -ENOBUFS, "append buffer too small: %d (-ENOBUFS)",
	       ret);
	ret = pim_kvcache_append(kv, 0, 0, k, v, all, 0, NULL);
	tap_ok(ret == -EINVAL, "append of 0 tokens: %d (-EINVAL)", ret);
	ret = pim_kvcache_append(kv, LAYERS, 1, k, v, all, 0, NULL);
	tap_ok(ret == -ERANGE, "layer out of range: %d (-ERANGE)", ret);
	ret = pim_kvcache_append(kv, 0, MAX_TOK - PREFILL, k, v, all, 0,
				 NULL);
	tap_ok(ret == -ENOSPC && pim_kvcache_get_len(kv, 0) == PREFILL + 1,
	       "append past max_tokens: %d (-ENOSPC), nothing lost", ret);
	ret = pim_kvcache_append(kv, 1, 1, k, v, all, PIM_CMD_F_ALL, NULL);
	tap_ok(ret == -EINVAL, "both re-layout flags: %d (-EINVAL)", ret);
	ret = pim_kvcache_append(kv, 1, 1, k, v, all, 1U << 5, NULL);
	tap_ok(ret == -EINVAL, "unknown flag: %d (-EINVAL)", ret);

	cmd.kv_io.handle = pim_kvcache_get_handle(kv);
	cmd.kv_io.count = 1;
	cmd.kv_io.start = 3;
	cmd.kv_io.k_addr = (uintptr_t)k;
	cmd.kv_io.v_addr = (uintptr_t)v;
	tap_ok(raw(dev, &cmd) == -ERANGE, "append not at the end: -ERANGE");
	cmd.kv_io.start = PREFILL + 1;
	cmd.kv_io.rsvd[1] = 1;
	tap_ok(raw(dev, &cmd) == -EINVAL, "kv_io.rsvd set: -EINVAL");
	cmd.kv_io.rsvd[1] = 0;
	cmd.kv_io.layer = 99;
	tap_ok(raw(dev, &cmd) == -ERANGE, "layer 99: -ERANGE");
	cmd.kv_io.layer = 0;
	cmd.kv_io.k_addr = 0;
	tap_ok(raw(dev, &cmd) == -EFAULT, "NULL k: -EFAULT");

	for (l = 1; l < 3; l++) {
		unsigned int f = l == 1 ? PIM_CMD_F_NO_RELAYOUT :
					  PIM_CMD_F_HOST_RELAYOUT;

		ret = pim_kvcache_append(kv, l, 8, k, v, all, f, &ns);
		ret = ret ?: pim_kvcache_read(kv, l, 0, 8, rk, rv, all);
		tap_ok(ret == 0 && !memcmp(rk, k, 8 * tb) &&
		       !memcmp(rv, v, 8 * tb),
		       "%s append reads back bit-exact: %d",
		       l == 1 ? "NO_RELAYOUT" : "HOST_RELAYOUT", ret);
	}
	free(k);
	free(v);
	free(rk);
	free(rv);
}

int main(void)
{
	struct pim_kv_place place;
	struct pim_kvcache *kv;
	struct pim_ctx *ctx;
	struct pim_dev *dev;
	unsigned int l, handle, ok;
	uint64_t free0;
	int ret;

	if (test_ctx_new(&ctx))
		return 1;
	dev = test_dev(ctx);
	if (!dev)
		return pim_unref(ctx) != NULL;
	tap_plan(47);
	free0 = dev_free(dev);
	ret = pim_kvcache_new(dev, &shape, NULL, &kv);
	if (!tap_ok(ret == 0 && pim_kvcache_get_handle(kv) > 0,
		    "allocate %u layers x %u tokens: %d", LAYERS, MAX_TOK, ret))
		return tap_done();
	tap_ok(dev_free(dev) < free0, "allocation lowers free");
	for (l = 0, ok = 1; l < LAYERS; l++) {
		ok &= !pim_kvcache_get_placement(kv, l, &place);
		ok &= place.nr_ranks >= 1 && place.rank_mask != 0 &&
		      place.rankset < pim_dev_get_geometry(dev)->ranksets &&
		      (unsigned int)__builtin_popcountll(place.rank_mask) ==
		      place.nr_ranks;
	}
	tap_ok(ok, "placement of every layer names its rankset and ranks");
	tap_ok(pim_kvcache_get_placement(kv, LAYERS, &place) == -ERANGE,
	       "placement of a missing layer: -ERANGE");
	tap_ok(pim_kvcache_token_bytes(kv) == 2 * 64 * 2, "token bytes");

	test_io(dev, kv);
	test_bad_shapes(dev);

	handle = pim_kvcache_get_handle(kv);
	ret = pim_kvcache_free(kv);
	tap_ok(ret == 0 && dev_free(dev) == free0,
	       "free returns the memory: %d", ret);
	test_raw_errors(dev, handle);
	test_capacity(dev, free0);
	tap_ok(pim_kvcache_new(NULL, &shape, NULL, &kv) == -EINVAL &&
	       pim_kvcache_new(dev, NULL, NULL, &kv) == -EINVAL &&
	       pim_kvcache_free(NULL) == -EINVAL,
	       "NULL arguments: -EINVAL");
	pim_unref(ctx);
	return tap_done();
}
