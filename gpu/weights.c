// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * weights.c - the seeded weights of the CPU and CUDA backends
 * (gpu_weights.h): splitmix64 in a fixed order, scaled by 1/sqrt(fan_in).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <pim/prng.h>

#include "gpu_cpu.h"
#include "gpu_weights.h"

/* Uniform in [-1, 1), exactly representable: 24 random bits. */
static float uniform(uint64_t *s)
{
	return (float)(prng_splitmix64(s) >> 40) / (float)(1 << 23) - 1.0f;
}

/* n values of scale * U[-1, 1) + bias, taken from *w onward. */
static const float *fill(float **w, size_t n, uint64_t *s, float scale,
			 float bias)
{
	float *p = *w;
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = bias + scale * uniform(s);
	*w += n;
	return p;
}

size_t gpu_weights_count(const struct gpu_model *m)
{
	size_t h = m->hidden, q = (size_t)m->heads * m->head_dim;
	size_t kv = (size_t)m->kv_heads * m->head_dim;
	size_t layer = 2 * h + h * q + 2 * h * kv + q * h + 3 * h * m->ffn;

	return 2 * (size_t)m->vocab * h + h + m->layers * layer;
}

/*
 * U[-a, a) has variance a^2 / 3: a = sqrt(3 / fan_in) keeps each
 * projection's output at the variance of its input. Embeddings are
 * smaller than the residual updates, so context, not just the last
 * token, decides the next one.
 */
static void generate(struct gpu_weights *gw, const struct gpu_model *m,
		     uint64_t seed)
{
	size_t h = m->hidden, q = (size_t)m->heads * m->head_dim;
	size_t kv = (size_t)m->kv_heads * m->head_dim;
	float wh = sqrtf(3.0f / h), wq = sqrtf(3.0f / q);
	float wf = sqrtf(3.0f / m->ffn);
	float *w = gw->data;
	uint64_t s = seed;
	uint32_t l;

	gw->embed = fill(&w, m->vocab * h, &s, 0.5f, 0);
	for (l = 0; l < m->layers; l++) {
		struct gpu_layer_weights *ly = &gw->layer[l];

		ly->attn_norm = fill(&w, h, &s, 0.1f, 1);
		ly->wq = fill(&w, q * h, &s, wh, 0);
		ly->wk = fill(&w, kv * h, &s, wh, 0);
		ly->wv = fill(&w, kv * h, &s, wh, 0);
		ly->wo = fill(&w, h * q, &s, wq, 0);
		ly->ffn_norm = fill(&w, h, &s, 0.1f, 1);
		ly->w_gate = fill(&w, m->ffn * h, &s, wh, 0);
		ly->w_up = fill(&w, m->ffn * h, &s, wh, 0);
		ly->w_down = fill(&w, h * m->ffn, &s, wf, 0);
	}
	gw->out_norm = fill(&w, h, &s, 0.1f, 1);
	gw->lm_head = fill(&w, m->vocab * h, &s, wh, 0);
}

void gpu_weights_free(struct gpu_weights *w)
{
	if (!w)
		return;
	free(w->data);
	free(w->layer);
	free(w->inv_freq);
	free(w);
}

int gpu_weights_new(const struct gpu_model *m, uint64_t seed,
		    struct gpu_weights **out)
{
	struct gpu_weights *w;
	uint32_t i;

	if (!out || gpu_cpu_model_check(m, NULL))
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->count = gpu_weights_count(m);
	w->data = malloc(w->count * sizeof(float));
	w->layer = calloc(m->layers, sizeof(*w->layer));
	w->inv_freq = malloc(m->head_dim / 2 * sizeof(double));
	if (!w->data || !w->layer || !w->inv_freq) {
		gpu_weights_free(w);
		return -ENOMEM;
	}
	for (i = 0; i < m->head_dim / 2; i++)
		w->inv_freq[i] = pow(GPU_ROPE_BASE, -2.0 * i / m->head_dim);
	generate(w, m, seed);
	*out = w;
	return 0;
}
