/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * helpers.h - shared by the libpim tests: backend choice, random KV data,
 * and a double-precision attention reference.
 *
 * The tests run against $PIM_BACKEND when it is set (the guest suite sets
 * "kernel"), else against the in-process backend, asked for explicitly.
 */
#ifndef TESTS_LIBPIM_HELPERS_H
#define TESTS_LIBPIM_HELPERS_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <libpim.h>

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

/* xorshift64*: the same data on every run and every machine. */
static inline uint64_t test_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [-1, 1). */
static inline float test_randf(uint64_t *s)
{
	return (float)((double)(test_rand(s) >> 11) / (double)(1ULL << 52)) -
	       1.0f;
}

static inline uint16_t f32_to_bf16(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	u += 0x7fff + ((u >> 16) & 1);	/* round to nearest even */
	return u >> 16;
}

static inline float bf16_to_f32(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

static inline uint16_t f32_to_fp16(float f)
{
	_Float16 h = (_Float16)f;
	uint16_t u;

	memcpy(&u, &h, sizeof(u));
	return u;
}

static inline float fp16_to_f32(uint16_t u)
{
	_Float16 h;

	memcpy(&h, &u, sizeof(h));
	return (float)h;
}

static inline uint16_t to_elem(unsigned int dtype, float f)
{
	return dtype == PIM_DTYPE_BF16 ? f32_to_bf16(f) : f32_to_fp16(f);
}

static inline double from_elem(unsigned int dtype, uint16_t e)
{
	return dtype == PIM_DTYPE_BF16 ? bf16_to_f32(e) : fp16_to_f32(e);
}

static inline void fill_elems(uint16_t *e, size_t n, unsigned int dtype,
			      uint64_t *seed)
{
	while (n--)
		*e++ = to_elem(dtype, test_randf(seed));
}

/*
 * out[h][d] for the first ctx tokens of k/v (ctx x kv_heads x head_dim),
 * in double precision.
 */
static inline void ref_attn(const struct pim_kv_shape *s, const uint16_t *k,
			    const uint16_t *v, unsigned int ctx,
			    const float *q, double scale, double *out)
{
	unsigned int group = s->q_heads / s->kv_heads;
	unsigned int h, t, d, kvh;
	double *p = malloc(ctx * sizeof(*p));

	for (h = 0; h < s->q_heads; h++) {
		double max = -INFINITY, sum = 0;

		kvh = h / group;
		for (t = 0; t < ctx; t++) {
			const uint16_t *kt = k + ((size_t)t * s->kv_heads +
						  kvh) * s->head_dim;
			double dot = 0;

			for (d = 0; d < s->head_dim; d++)
				dot += (double)q[h * s->head_dim + d] *
				       from_elem(s->dtype, kt[d]);
			p[t] = dot * scale;
			if (p[t] > max)
				max = p[t];
		}
		for (t = 0; t < ctx; t++) {
			p[t] = exp(p[t] - max);
			sum += p[t];
		}
		for (d = 0; d < s->head_dim; d++) {
			double acc = 0;

			for (t = 0; t < ctx; t++)
				acc += p[t] * from_elem(s->dtype,
					v[((size_t)t * s->kv_heads + kvh) *
					  s->head_dim + d]);
			out[h * s->head_dim + d] = acc / sum;
		}
	}
	free(p);
}

/* max |got - ref| / max |ref|: the device model's tolerance is 2e-3. */
static inline double rel_err(const float *got, const double *ref, size_t n)
{
	double max_ref = 0, max_diff = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (fabs(ref[i]) > max_ref)
			max_ref = fabs(ref[i]);
		if (isnan(got[i]))
			return INFINITY;
		if (fabs(got[i] - ref[i]) > max_diff)
			max_diff = fabs(got[i] - ref[i]);
	}
	return max_ref ? max_diff / max_ref : max_diff;
}

#endif /* TESTS_LIBPIM_HELPERS_H */
