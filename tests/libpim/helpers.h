/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * helpers.h - shared by the libpim tests: backend choice, random KV data,
 * and the double-precision attention reference (pim/ref_attn.h) for a
 * libpim KV shape.
 *
 * The tests run against $PIM_BACKEND when it is set (the guest suite sets
 * "kernel"), else against the in-process backend, asked for explicitly.
 */
#ifndef TESTS_LIBPIM_HELPERS_H
#define TESTS_LIBPIM_HELPERS_H

#include <stdint.h>
#include <stdlib.h>
#include <libpim.h>
#include <pim/half.h>
#include <pim/prng.h>
#include <pim/ref_attn.h>

#include "../tap.h"

static inline int test_ctx_new(struct pim_ctx **ctx)
{
	const char *env = getenv("PIM_BACKEND");

	if (env && *env)
		return pim_new(ctx);
	return pim_new_with_flags(ctx, PIM_CTX_INPROC);
}

/* The device to test, or NULL after printing why the plan is skipped. */
static inline struct pim_dev *test_dev(struct pim_ctx *ctx)
{
	struct pim_dev *dev = pim_dev_get_first(ctx);

	if (!dev)
		printf("1..0 # SKIP no PIM device (%s backend)\n",
		       pim_get_backend_name(ctx));
	return dev;
}

static inline void fill_elems(uint16_t *e, size_t n, unsigned int dtype,
			      uint64_t *seed)
{
	while (n--)
		*e++ = elem_from_f32(dtype, prng_uniform(seed));
}

/* pim/ref_attn.h's reference for a KV cache of shape s. */
static inline void test_ref_attn(const struct pim_kv_shape *s,
				 const uint16_t *k, const uint16_t *v,
				 unsigned int ctx, const float *q,
				 double scale, double *out)
{
	const struct ref_attn_shape rs = {
		.q_heads = s->q_heads, .kv_heads = s->kv_heads,
		.head_dim = s->head_dim, .dtype = s->dtype,
	};

	ref_attn(&rs, k, v, ctx, q, scale, out);
}

#endif /* TESTS_LIBPIM_HELPERS_H */
