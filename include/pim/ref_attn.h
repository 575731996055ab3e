/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * pim/ref_attn.h - the double-precision decode-attention reference that
 * the device is checked against (pimctl selftest, the libpim, driver and
 * pimd tests) and that pimd's host attention computes with, and the
 * error measure the tolerances apply to. Link -lm.
 */
#ifndef PIM_REF_ATTN_H
#define PIM_REF_ATTN_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <pim/half.h>

struct ref_attn_shape {
	unsigned int q_heads;
	unsigned int kv_heads;		/* divides q_heads (GQA) */
	unsigned int head_dim;
	unsigned int dtype;		/* PIM_DTYPE_FP16 or PIM_DTYPE_BF16 */
};

/*
 * out (q_heads x head_dim) = softmax(scale * q . K^T) . V over the first
 * ctx tokens of k and v (ctx x kv_heads x head_dim elements, host order),
 * for one query row q (q_heads x head_dim); score holds ctx doubles of
 * scratch.
 */
static inline void ref_attn_scratch(const struct ref_attn_shape *s,
				    const uint16_t *k, const uint16_t *v,
				    unsigned int ctx, const float *q,
				    double scale, double *score, double *out)
{
	unsigned int group = s->q_heads / s->kv_heads, hd = s->head_dim;
	unsigned int h, t, d;

	for (h = 0; h < s->q_heads; h++) {
		size_t kvh = h / group;
		double max = -INFINITY, sum = 0;

		for (t = 0; t < ctx; t++) {
			const uint16_t *kt = k + ((size_t)t * s->kv_heads +
						  kvh) * hd;
			double dot = 0;

			for (d = 0; d < hd; d++)
				dot += (double)q[h * hd + d] *
				       elem_to_f32(s->dtype, kt[d]);
			score[t] = dot * scale;
			if (score[t] > max)
				max = score[t];
		}
		for (t = 0; t < ctx; t++) {
			score[t] = exp(score[t] - max);
			sum += score[t];
		}
		for (d = 0; d < hd; d++) {
			double acc = 0;

			for (t = 0; t < ctx; t++)
				acc += score[t] * elem_to_f32(s->dtype,
					v[((size_t)t * s->kv_heads + kvh) *
					  hd + d]);
			out[h * hd + d] = acc / sum;
		}
	}
}

/* The same with its own scratch; all NaN if that cannot be allocated. */
static inline void ref_attn(const struct ref_attn_shape *s, const uint16_t *k,
			    const uint16_t *v, unsigned int ctx,
			    const float *q, double scale, double *out)
{
	double *score = malloc((ctx ? ctx : 1) * sizeof(*score));
	size_t i;

	if (!score) {
		for (i = 0; i < (size_t)s->q_heads * s->head_dim; i++)
			out[i] = NAN;
		return;
	}
	ref_attn_scratch(s, k, v, ctx, q, scale, score, out);
	free(score);
}

/*
 * max |got - ref| / max |ref| (the absolute error when ref is all zero);
 * +inf when got holds a NaN or an infinity.
 */
static inline double ref_rel_err(const float *got, const double *ref,
				 size_t n)
{
	double max_ref = 0, max_diff = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!isfinite(got[i]))
			return INFINITY;
		max_ref = fmax(max_ref, fabs(ref[i]));
		max_diff = fmax(max_diff, fabs(got[i] - ref[i]));
	}
	return max_ref ? max_diff / max_ref : max_diff;
}

#endif /* PIM_REF_ATTN_H */
