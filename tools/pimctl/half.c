// SPDX-License-Identifier: GPL-2.0
/*
 * half.c - FP16/BF16 conversions, a deterministic random source and the
 * double-precision attention reference pimctl checks the device against.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pimctl.h"

static uint16_t f32_to_bf16(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	u += 0x7fff + ((u >> 16) & 1);	/* round to nearest even */
	return u >> 16;
}

uint16_t pimctl_to_elem(unsigned int dtype, float f)
{
	_Float16 h;
	uint16_t u;

	if (dtype == PIM_DTYPE_BF16)
		return f32_to_bf16(f);
	h = (_Float16)f;
	memcpy(&u, &h, sizeof(u));
	return u;
}

double pimctl_from_elem(unsigned int dtype, uint16_t e)
{
	uint32_t u = (uint32_t)e << 16;
	_Float16 h;
	float f;

	if (dtype == PIM_DTYPE_BF16) {
		memcpy(&f, &u, sizeof(f));
		return f;
	}
	memcpy(&h, &e, sizeof(h));
	return h;
}

/* xorshift64* */
uint64_t pimctl_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [-1, 1). */
float pimctl_randf(uint64_t *s)
{
	return (float)((double)(pimctl_rand(s) >> 11) /
		       (double)(1ULL << 52)) - 1.0f;
}

void pimctl_ref_attn(const struct pim_kv_shape *s, const uint16_t *k,
		     const uint16_t *v, unsigned int ctx, const float *q,
		     double scale, double *out)
{
	unsigned int group = s->q_heads / s->kv_heads, h, t, d;
	double *p = malloc(ctx * sizeof(*p));

	if (!p) {
		for (h = 0; h < s->q_heads * s->head_dim; h++)
			out[h] = NAN;
		return;
	}
	for (h = 0; h < s->q_heads; h++) {
		size_t kvh = h / group;
		double max = -INFINITY, sum = 0;

		for (t = 0; t < ctx; t++) {
			const uint16_t *kt = k + (t * s->kv_heads + kvh) *
					     s->head_dim;
			double dot = 0;

			for (d = 0; d < s->head_dim; d++)
				dot += (double)q[h * s->head_dim + d] *
				       pimctl_from_elem(s->dtype, kt[d]);
			p[t] = dot * scale;
			max = fmax(max, p[t]);
		}
		for (t = 0; t < ctx; t++) {
			p[t] = exp(p[t] - max);
			sum += p[t];
		}
		for (d = 0; d < s->head_dim; d++) {
			double acc = 0;

			for (t = 0; t < ctx; t++)
				acc += p[t] * pimctl_from_elem(s->dtype,
					v[(t * s->kv_heads + kvh) *
					  s->head_dim + d]);
			out[h * s->head_dim + d] = acc / sum;
		}
	}
	free(p);
}
