// SPDX-License-Identifier: GPL-2.0
/*
 * test_kv.c - KV-cache allocate/free, placement, append and read-back on
 * every re-layout path, handle ownership, capacity exhaustion and raw rank
 * access, all on the synchronous ioctl path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pimt.h"
#include "../tap.h"

static uint64_t seed = 0x9e3779b97f4a7c15ULL;

static uint64_t info_free(struct pimt_dev *d)
{
	struct pim_info in;

	if (pimt_ioctl(d->fd, PIM_IOC_GET_INFO, &in))
		return ~0ULL;
	return in.free;
}

static void expect_alloc(struct pimt_dev *d, const struct pim_kv_alloc *s,
			 int want, const char *what)
{
	int ret = pimt_kv_alloc(d->fd, s);

	tap_ok(ret == want, "KV_ALLOC %s: %d (want %d)", what, ret, want);
	if (ret > 0)
		pimt_kv_free(d->fd, ret);
}

static void test_alloc_invalid(struct pimt_dev *d)
{
	struct pim_kv_alloc base = pimt_shape(2, 4, 2, 64, PIM_DTYPE_FP16, 32);
	struct pim_kv_alloc s;
	uint64_t before = info_free(d);
	int ret;

	s = base; s.layers = 0;
	expect_alloc(d, &s, -EINVAL, "layers 0");
	s = base; s.q_heads = 0;
	expect_alloc(d, &s, -EINVAL, "q_heads 0");
	s = base; s.kv_heads = 0;
	expect_alloc(d, &s, -EINVAL, "kv_heads 0");
	s = base; s.q_heads = 6; s.kv_heads = 4;
	expect_alloc(d, &s, -EINVAL, "kv_heads not dividing q_heads");
	s = base; s.q_heads = 34; s.kv_heads = 2;
	expect_alloc(d, &s, -EINVAL, "GQA group 17 > PIM_MAX_GQA_GROUP");
	s = base; s.head_dim = 8;
	expect_alloc(d, &s, -EINVAL, "head_dim 8 < PIM_MIN_HEAD_DIM");
	s = base; s.head_dim = 40;
	expect_alloc(d, &s, -EINVAL, "head_dim 40 not a multiple of 16");
	s = base; s.head_dim = 272;
	expect_alloc(d, &s, -EINVAL, "head_dim 272 > PIM_MAX_HEAD_DIM");
	s = base; s.dtype = 0;
	expect_alloc(d, &s, -EINVAL, "dtype 0");
	s = base; s.dtype = 3;
	expect_alloc(d, &s, -EINVAL, "dtype 3");
	s = base; s.chips_per_head = 3;
	expect_alloc(d, &s, -EINVAL, "chips_per_head 3");
	s = base; s.max_tokens = 0;
	expect_alloc(d, &s, -EINVAL, "max_tokens 0");
	s = base; s.rsvd0 = 1;
	expect_alloc(d, &s, -EINVAL, "rsvd0 != 0");
	s = base; s.rsvd1 = 1;
	expect_alloc(d, &s, -EINVAL, "rsvd1 != 0");
	s = base; s.rsvd2[1] = 1;
	expect_alloc(d, &s, -EINVAL, "rsvd2[1] != 0");

	s = base;
	s.rankset_hint = d->info.geom.ranksets;
	ret = pimt_kv_alloc(d->fd, &s);
	tap_ok(ret == -EINVAL || ret == -ERANGE,
	       "KV_ALLOC rankset_hint %u = ranksets: %d (want -EINVAL/-ERANGE)",
	       s.rankset_hint, ret);
	if (ret > 0)
		pimt_kv_free(d->fd, ret);

	s = base;
	s.placement = PIMT_BAD_ADDR;
	expect_alloc(d, &s, -EFAULT, "placement at a bad pointer");
	tap_ok(info_free(d) == before,
	       "failed allocations placed nothing (free %llu)",
	       (unsigned long long)info_free(d));

	/* Sizes whose product overflows 64 bits must not wrap into a fit. */
	s = pimt_shape(0xffffffff, 16, 16, 256, PIM_DTYPE_BF16, 0xffffffff);
	ret = pimt_kv_alloc(d->fd, &s);
	tap_ok(ret == -ENOSPC || ret == -EINVAL,
	       "KV_ALLOC of 2^32 layers x 2^32 tokens: %d (want -ENOSPC/-EINVAL)",
	       ret);
	if (ret > 0)
		pimt_kv_free(d->fd, ret);
}

static void test_alloc_placement(struct pimt_dev *d)
{
	const struct pim_geometry *g = &d->info.geom;
	uint32_t ranks = g->channels * g->dimms_per_channel * g->ranks_per_dimm;
	uint32_t layers = 2 * g->ranksets, l;
	struct pim_kv_alloc s = pimt_shape(layers, 8, 4, 64, PIM_DTYPE_BF16,
					   64);
	struct pim_kv_place *p = calloc(layers, sizeof(*p));
	uint64_t before = info_free(d);
	int h, ok = 1, n;
	uint8_t nhc;

	s.rankset_hint = 0;
	s.placement = (uintptr_t)p;
	h = pimt_kv_alloc(d->fd, &s);
	tap_ok(h > 0, "KV_ALLOC %u layers from rankset 0: handle %d", layers,
	       h);
	tap_ok(info_free(d) < before, "free shrinks by %llu bytes",
	       (unsigned long long)(before - info_free(d)));
	for (l = 0; l < layers; l++) {
		n = __builtin_popcountll(p[l].rank_mask);
		if (p[l].rankset != l % g->ranksets || !p[l].nr_ranks ||
		    (uint32_t)n != p[l].nr_ranks ||
		    (ranks < 64 && p[l].rank_mask >> ranks)) {
			tap_diag("layer %u: rankset %u nr_ranks %u mask 0x%llx",
				 l, p[l].rankset, p[l].nr_ranks,
				 (unsigned long long)p[l].rank_mask);
			ok = 0;
		}
	}
	tap_ok(ok, "placement: layer l on rankset l %% %u, masks match nr_ranks",
	       g->ranksets);
	tap_ok(h > 0 && pimt_kv_free(d->fd, h) == 0 && info_free(d) == before,
	       "KV_FREE returns every byte");

	ok = 1;
	for (nhc = 1; nhc <= 8; nhc *= 2) {
		s = pimt_shape(1, 8, 8, 128, PIM_DTYPE_FP16, 16);
		s.chips_per_head = nhc;
		h = pimt_kv_alloc(d->fd, &s);
		if (h <= 0) {
			tap_diag("chips_per_head %u: %d", nhc, h);
			ok = 0;
		} else {
			pimt_kv_free(d->fd, h);
		}
	}
	tap_ok(ok, "KV_ALLOC with chips_per_head 1, 2, 4, 8");
	free(p);
}

/* Append a layer in uneven chunks with the given flags, read it back. */
static void roundtrip(struct pimt_dev *d, uint8_t dtype, const uint8_t *flags,
		      int nflags, const char *what)
{
	static const uint32_t chunks[] = { 1, 7, 64, 100, 3, 125 };
	struct pim_kv_alloc s = pimt_shape(2, 4, 2, 64, dtype, 300);
	size_t tok = pimt_kv_bytes(&s, 1), elems = tok / 2;
	uint16_t *k = malloc(tok * 300), *v = malloc(tok * 300);
	uint16_t *rk = malloc(tok * 300), *rv = malloc(tok * 300);
	uint32_t l, c, at;
	int h, ok = 1, ret;

	h = pimt_kv_alloc(d->fd, &s);
	if (h <= 0) {
		tap_ok(0, "%s: KV_ALLOC %d", what, h);
		goto out;
	}
	for (l = 0; l < 2 && ok; l++) {
		pimt_fill_kv(&seed, dtype, k, elems * 300);
		pimt_fill_kv(&seed, dtype, v, elems * 300);
		for (c = 0, at = 0; c < 6 && ok; at += chunks[c], c++) {
			ret = pimt_kv_append(d->fd, h, l, at, chunks[c],
					     k + at * elems, v + at * elems,
					     flags[c % nflags]);
			if (ret) {
				tap_diag("layer %u append %u+%u: %d", l, at,
					 chunks[c], ret);
				ok = 0;
			}
		}
		memset(rk, 0xee, tok * 300);
		memset(rv, 0xee, tok * 300);
		ret = pimt_kv_read(d->fd, h, l, 0, 300, rk, rv);
		if (ret || memcmp(k, rk, tok * 300) ||
		    memcmp(v, rv, tok * 300)) {
			tap_diag("layer %u read: %d or data differ", l, ret);
			ok = 0;
		}
		ret = pimt_kv_read(d->fd, h, l, 63, 77, rk, rv);
		if (ret || memcmp(k + 63 * elems, rk, tok * 77) ||
		    memcmp(v + 63 * elems, rv, tok * 77)) {
			tap_diag("layer %u read 63+77: %d or data differ", l,
				 ret);
			ok = 0;
		}
	}
	tap_ok(ok, "%s: 2 layers x 300 tokens appended in 6 chunks read back exactly",
	       what);
	pimt_kv_free(d->fd, h);
out:
	free(k);
	free(v);
	free(rk);
	free(rv);
}

static void test_roundtrips(struct pimt_dev *d)
{
	static const uint8_t inflight[] = { 0 };
	static const uint8_t host[] = { PIM_CMD_F_HOST_RELAYOUT };
	static const uint8_t none[] = { PIM_CMD_F_NO_RELAYOUT };
	static const uint8_t mixed[] = { 0, PIM_CMD_F_HOST_RELAYOUT };

	roundtrip(d, PIM_DTYPE_FP16, inflight, 1, "FP16 in-flight re-layout");
	roundtrip(d, PIM_DTYPE_BF16, inflight, 1, "BF16 in-flight re-layout");
	roundtrip(d, PIM_DTYPE_FP16, host, 1, "FP16 host re-layout");
	roundtrip(d, PIM_DTYPE_BF16, host, 1, "BF16 host re-layout");
	roundtrip(d, PIM_DTYPE_FP16, none, 1, "FP16 no re-layout");
	roundtrip(d, PIM_DTYPE_BF16, none, 1, "BF16 no re-layout");
	roundtrip(d, PIM_DTYPE_BF16, mixed, 2,
		  "BF16 in-flight and host re-layout alternating");
}

static void test_io_errors(struct pimt_dev *d)
{
	struct pim_kv_alloc s = pimt_shape(2, 2, 2, 32, PIM_DTYPE_FP16, 16);
	size_t tok = pimt_kv_bytes(&s, 1);
	uint16_t *k = calloc(32, tok), *v = calloc(32, tok);
	uint16_t *rk = calloc(32, tok), *rv = calloc(32, tok);
	struct pim_cqe cqe;
	struct pim_cmd c;
	int h, ret;

	pimt_fill_kv(&seed, PIM_DTYPE_FP16, k, 16 * tok / 2);
	pimt_fill_kv(&seed, PIM_DTYPE_FP16, v, 16 * tok / 2);
	h = pimt_kv_alloc(d->fd, &s);
	if (h <= 0) {
		tap_ok(0, "KV_ALLOC for error cases: %d", h);
		return;
	}
	pimt_cmd_kv_io(&c, PIM_OP_KV_APPEND, h, 0, 0, 4, k, v);
	ret = pimt_submit(d->fd, &c, &cqe);
	tap_ok(ret == 0 && cqe.res == 0 && cqe.device_ns > 0,
	       "KV_APPEND 4 tokens: res %d, device_ns %llu", ret,
	       (unsigned long long)cqe.device_ns);

	ret = pimt_kv_append(d->fd, h, 0, 0, 1, k, v, 0);
	tap_ok(ret == -ERANGE, "append at start 0 != length 4: %d (want -ERANGE)",
	       ret);
	ret = pimt_kv_append(d->fd, h, 0, 5, 1, k, v, 0);
	tap_ok(ret == -ERANGE, "append at start 5 != length 4: %d (want -ERANGE)",
	       ret);
	ret = pimt_kv_append(d->fd, h, 0, 4, 0, k, v, 0);
	tap_ok(ret == -EINVAL, "append of 0 tokens: %d (want -EINVAL)", ret);
	ret = pimt_kv_append(d->fd, h, 2, 0, 1, k, v, 0);
	tap_ok(ret == -ERANGE || ret == -EINVAL,
	       "append to layer 2 of 2: %d (want -ERANGE/-EINVAL)", ret);
	ret = pimt_kv_append(d->fd, h, 0, 4, 13, k, v, 0);
	tap_ok(ret == -ENOSPC, "append past max_tokens 16: %d (want -ENOSPC)",
	       ret);
	ret = pimt_kv_append(d->fd, h, 0, 4, 0xfffffff0, k, v, 0);
	tap_ok(ret == -ENOSPC || ret == -EINVAL,
	       "append of 2^32-16 tokens: %d (want -ENOSPC/-EINVAL)", ret);
	ret = pimt_kv_append(d->fd, h, 0, 4, 2, (void *)PIMT_BAD_ADDR, v, 0);
	tap_ok(ret == -EFAULT, "append from bad k_addr: %d (want -EFAULT)",
	       ret);
	ret = pimt_kv_append(d->fd, h, 0, 4, 2, k, (void *)PIMT_BAD_ADDR, 0);
	tap_ok(ret == -EFAULT, "append from bad v_addr: %d (want -EFAULT)",
	       ret);
	ret = pimt_kv_append(d->fd, h, 0, 4, 2, k + 4 * tok / 2,
			     v + 4 * tok / 2, PIM_CMD_F_ALL);
	tap_ok(ret == -EINVAL, "append with HOST_ and NO_RELAYOUT: %d (want -EINVAL)",
	       ret);
	/* A layer may refuse to mix layouts, but must not lose data over it. */
	ret = pimt_kv_append(d->fd, h, 0, 4, 2, k + 4 * tok / 2,
			     v + 4 * tok / 2, PIM_CMD_F_NO_RELAYOUT);
	tap_ok(ret == -EINVAL || ret == 0,
	       "NO_RELAYOUT append to a re-laid-out layer: %d (0 or -EINVAL)",
	       ret);
	if (ret == 0) {
		ret = pimt_kv_read(d->fd, h, 0, 0, 6, rk, rv);
		tap_ok(ret == 0 && !memcmp(k, rk, 6 * tok) &&
		       !memcmp(v, rv, 6 * tok),
		       "mixed-layout layer reads back exactly (%d)", ret);
		pimt_kv_free(d->fd, h);
		h = pimt_kv_alloc(d->fd, &s);
		pimt_kv_append(d->fd, h, 0, 0, 4, k, v, 0);
	}
	c.kv_io.handle = h;
	c.kv_io.start = 4;
	c.kv_io.rsvd[1] = 1;
	ret = pimt_submit(d->fd, &c, NULL);
	tap_ok(ret == -EINVAL, "append with rsvd[1] != 0: %d (want -EINVAL)",
	       ret);

	/* None of the failures above may have changed the layer. */
	ret = pimt_kv_append(d->fd, h, 0, 4, 12, k + 4 * tok / 2,
			     v + 4 * tok / 2, 0);
	tap_ok(ret == 0, "failed appends lost nothing: append at 4 works (%d)",
	       ret);
	ret = pimt_kv_read(d->fd, h, 0, 0, 16, rk, rv);
	tap_ok(ret == 0 && !memcmp(k, rk, 16 * tok) && !memcmp(v, rv, 16 * tok),
	       "layer reads back exactly after the failures (%d)", ret);

	ret = pimt_kv_read(d->fd, h, 0, 10, 7, rk, rv);
	tap_ok(ret == -ERANGE, "read 10+7 of 16 tokens: %d (want -ERANGE)", ret);
	ret = pimt_kv_read(d->fd, h, 1, 0, 1, rk, rv);
	tap_ok(ret == -ERANGE, "read from an empty layer: %d (want -ERANGE)",
	       ret);
	ret = pimt_kv_read(d->fd, h, 0, 0xffffffff, 2, rk, rv);
	tap_ok(ret == -ERANGE, "read with start+count wrapping: %d (want -ERANGE)",
	       ret);
	ret = pimt_kv_read(d->fd, h, 0, 0, 16, (void *)PIMT_BAD_ADDR, rv);
	tap_ok(ret == -EFAULT, "read to bad k_addr: %d (want -EFAULT)", ret);
	ret = pimt_kv_read(d->fd, h, 0, 0, 16, rk, (void *)PIMT_BAD_ADDR);
	tap_ok(ret == -EFAULT, "read to bad v_addr: %d (want -EFAULT)", ret);

	pimt_cmd_kv_io(&c, PIM_OP_KV_READ, h, 0, 0, 16, rk, rv);
	ret = pimt_submit(d->fd, &c, &cqe);
	tap_ok(ret == 0 && cqe.device_ns > 0, "KV_READ: res %d, device_ns %llu",
	       ret, (unsigned long long)cqe.device_ns);
	pimt_kv_free(d->fd, h);
	free(k);
	free(v);
	free(rk);
	free(rv);
}

static void test_handles(struct pimt_dev *d)
{
	struct pim_kv_alloc s = pimt_shape(1, 2, 2, 32, PIM_DTYPE_BF16, 8);
	uint16_t k[2 * 32 * 8] = { 0 }, v[2 * 32 * 8] = { 0 };
	struct pim_attn_job job = { 0 };
	float q[64], out[64];
	int fd2 = pimt_reopen(d), fd3;
	int h, h2, ret, i;

	/* Several in fd2, so its last handle differs from h (per-file IDR). */
	for (i = 0; i < 4; i++)
		h2 = pimt_kv_alloc(fd2, &s);
	h = pimt_kv_alloc(d->fd, &s);
	tap_ok(h > 0 && h2 > 0, "two files allocate handles %d and %d", h, h2);
	tap_ok(pimt_kv_append(fd2, h2, 0, 0, 1, k, v, 0) == 0,
	       "owner appends to its handle");

	ret = pimt_kv_append(d->fd, h2 + 1000, 0, 0, 1, k, v, 0);
	tap_ok(ret == -ENOENT, "append to a never-issued handle: %d (want -ENOENT)",
	       ret);
	ret = pimt_kv_free(d->fd, 0);
	tap_ok(ret == -ENOENT, "free handle 0: %d (want -ENOENT)", ret);

	/* The same number may be live in both files: then none is foreign. */
	if (h2 != h) {
		ret = pimt_kv_append(d->fd, h2, 0, 1, 1, k, v, 0);
		tap_ok(ret == -ENOENT, "append to another file's handle: %d (want -ENOENT)",
		       ret);
		ret = pimt_kv_read(d->fd, h2, 0, 0, 1, k, v);
		tap_ok(ret == -ENOENT, "read another file's handle: %d (want -ENOENT)",
		       ret);
		job.handle = h2;
		job.ctx_len = 1;
		job.q_addr = (uintptr_t)q;
		job.out_addr = (uintptr_t)out;
		memset(q, 0, sizeof(q));
		ret = pimt_attn(d->fd, &job, 1, NULL);
		tap_ok(ret == -ENOENT, "attention on another file's handle: %d (want -ENOENT)",
		       ret);
		ret = pimt_kv_free(d->fd, h2);
		tap_ok(ret == -ENOENT, "free another file's handle: %d (want -ENOENT)",
		       ret);
	} else {
		tap_skip("handle %d is live in both files; foreign checks need distinct numbers",
			 h);
		tap_skip("see above");
		tap_skip("see above");
		tap_skip("see above");
	}
	tap_ok(pimt_kv_read(fd2, h2, 0, 0, 1, k, v) == 0,
	       "owner's handle survived the foreign attempts");

	tap_ok(pimt_kv_free(d->fd, h) == 0, "free own handle");
	ret = pimt_kv_free(d->fd, h);
	tap_ok(ret == -ENOENT, "double free: %d (want -ENOENT)", ret);
	ret = pimt_kv_append(d->fd, h, 0, 0, 1, k, v, 0);
	tap_ok(ret == -ENOENT, "append to a freed handle: %d (want -ENOENT)",
	       ret);

	/* Objects belong to the open file, not to one descriptor of it. */
	fd3 = dup(fd2);
	close(fd2);
	tap_ok(pimt_kv_read(fd3, h2, 0, 0, 1, k, v) == 0 &&
	       info_free(d) < d->info.capacity,
	       "closing one of two descriptors of a file keeps its KV caches");
	close(fd3);
	tap_ok(pimt_wait_all_free(d, 5000),
	       "closing the file frees its KV caches (free = capacity)");
}

static void test_capacity(struct pimt_dev *d)
{
	const struct pim_geometry *g = &d->info.geom;
	uint64_t cap = d->info.capacity;
	struct pim_kv_alloc s = pimt_shape(g->ranksets, 8, 8, 128,
					   PIM_DTYPE_FP16, 0);
	uint64_t per_tok = 2 * pimt_kv_bytes(&s, 1) * s.layers;
	int h[64], n = 0, ret = 0, i;

	s.max_tokens = 2 * cap / per_tok + 1;
	ret = pimt_kv_alloc(d->fd, &s);
	tap_ok(ret == -ENOSPC, "KV_ALLOC twice the capacity: %d (want -ENOSPC)",
	       ret);
	tap_ok(info_free(d) == cap, "failed allocation placed nothing");

	s.max_tokens = cap / 8 / per_tok;
	while (n < 64) {
		ret = pimt_kv_alloc(d->fd, &s);
		if (ret <= 0)
			break;
		h[n++] = ret;
	}
	tap_ok(ret == -ENOSPC && n >= 4,
	       "%d caches of 1/8 capacity fit, then -ENOSPC (%d)", n, ret);
	for (i = 0; i < n; i++)
		pimt_kv_free(d->fd, h[i]);
	tap_ok(info_free(d) == cap, "freeing them all returns the capacity");
	ret = pimt_kv_alloc(d->fd, &s);
	tap_ok(ret > 0, "allocation works again after exhaustion (%d)", ret);
	if (ret > 0)
		pimt_kv_free(d->fd, ret);
}

static int raw(int fd, uint8_t op, uint32_t rank, uint64_t off, uint32_t len,
	       void *buf)
{
	struct pim_cmd c = { .opcode = op };

	c.raw.rank = rank;
	c.raw.offset = off;
	c.raw.len = len;
	c.raw.addr = (uintptr_t)buf;
	return pimt_submit(fd, &c, NULL);
}

static void test_raw(struct pimt_dev *d)
{
	const struct pim_geometry *g = &d->info.geom;
	uint32_t ranks = g->channels * g->dimms_per_channel * g->ranks_per_dimm;
	uint64_t rb = g->rank_bytes;
	uint8_t wbuf[4096], rbuf[4096];
	int ret;

	pimt_fill_kv(&seed, PIM_DTYPE_BF16, (uint16_t *)wbuf, 2048);
	ret = raw(d->fd, PIM_OP_RAW_WRITE, ranks - 1, rb - 4096, 4096, wbuf);
	tap_ok(ret == 0, "RAW_WRITE last 4 KiB of the last rank: %d", ret);
	memset(rbuf, 0, sizeof(rbuf));
	ret = raw(d->fd, PIM_OP_RAW_READ, ranks - 1, rb - 4096, 4096, rbuf);
	tap_ok(ret == 0 && !memcmp(wbuf, rbuf, 4096),
	       "RAW_READ returns what RAW_WRITE wrote (%d)", ret);
	ret = raw(d->fd, PIM_OP_RAW_READ, ranks - 1, rb - 100, 77, rbuf);
	tap_ok(ret == 0 && !memcmp(wbuf + 3996, rbuf, 77),
	       "RAW_READ at an odd offset and length (%d)", ret);

	ret = raw(d->fd, PIM_OP_RAW_READ, ranks, 0, 64, rbuf);
	tap_ok(ret == -ERANGE, "RAW_READ rank %u of %u: %d (want -ERANGE)",
	       ranks, ranks, ret);
	ret = raw(d->fd, PIM_OP_RAW_READ, 0, rb - 63, 64, rbuf);
	tap_ok(ret == -ERANGE, "RAW_READ one byte past the rank: %d (want -ERANGE)",
	       ret);
	ret = raw(d->fd, PIM_OP_RAW_WRITE, 0, ~0ULL - 10, 64, wbuf);
	tap_ok(ret == -ERANGE, "RAW_WRITE with offset+len wrapping: %d (want -ERANGE)",
	       ret);
	ret = raw(d->fd, PIM_OP_RAW_READ, 0, 0, 0, rbuf);
	tap_ok(ret == -EINVAL, "RAW_READ of 0 bytes: %d (want -EINVAL)", ret);
	ret = raw(d->fd, PIM_OP_RAW_READ, 0, 0, 64, (void *)PIMT_BAD_ADDR);
	tap_ok(ret == -EFAULT, "RAW_READ to a bad pointer: %d (want -EFAULT)",
	       ret);
	ret = raw(d->fd, PIM_OP_RAW_WRITE, 0, 0, 64, (void *)PIMT_BAD_ADDR);
	tap_ok(ret == -EFAULT, "RAW_WRITE from a bad pointer: %d (want -EFAULT)",
	       ret);
}

int main(void)
{
	struct pimt_dev d;

	pimt_open(&d);
	test_alloc_invalid(&d);
	test_alloc_placement(&d);
	test_roundtrips(&d);
	test_io_errors(&d);
	test_handles(&d);
	test_capacity(&d);
	test_raw(&d);
	tap_ok(pimt_wait_all_free(&d, 1000), "free = capacity at the end");
	pimt_close(&d);
	return tap_done();
}
