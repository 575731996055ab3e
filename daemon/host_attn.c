// SPDX-License-Identifier: GPL-2.0
/*
 * host_attn.c - double-precision attention over FP16 KV on the host.
 */
#include <math.h>
#include <string.h>

#include "host_attn.h"

uint16_t host_f32_to_fp16(float f)
{
	_Float16 h = (_Float16)f;
	uint16_t u;

	memcpy(&u, &h, sizeof(u));
	return u;
}

double host_fp16_to_f64(uint16_t u)
{
	_Float16 h;

	memcpy(&h, &u, sizeof(h));
	return (double)h;
}

void host_attn(const struct gpu_model *m, const float *q, const uint16_t *k,
	       const uint16_t *v, uint32_t ctx, double *score, float *out)
{
	uint32_t group = m->heads / m->kv_heads, hd = m->head_dim;
	double scale = 1.0 / sqrt((double)hd);
	uint32_t h, t, d;

	for (h = 0; h < m->heads; h++) {
		size_t kvh = h / group;
		double max = -INFINITY, sum = 0;

		for (t = 0; t < ctx; t++) {
			const uint16_t *kt = k + (t * m->kv_heads + kvh) * hd;
			double dot = 0;

			for (d = 0; d < hd; d++)
				dot += (double)q[h * hd + d] *
				       host_fp16_to_f64(kt[d]);
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
				acc += score[t] * host_fp16_to_f64(
					v[(t * m->kv_heads + kvh) * hd + d]);
			out[h * hd + d] = (float)(acc / sum);
		}
	}
}
