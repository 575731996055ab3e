/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * gpu_weights.h - the small Llama-style model's weights (gpu_cpu.h), made
 * from a seed: the one generator that the CPU backend computes with and
 * the CUDA backend uploads, so both hold the same values.
 *
 * All tensors are FP32, row-major, in one allocation in generation order:
 * embed, then per layer attn_norm, wq, wk, wv, wo, ffn_norm, w_gate, w_up,
 * w_down, then out_norm and lm_head. A "W rows of cols" matrix computes
 * y = W x with x of cols values.
 */
#ifndef PIM_GPU_WEIGHTS_H
#define PIM_GPU_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "gpu.h"

#define GPU_ROPE_BASE	10000.0

struct gpu_layer_weights {
	const float *attn_norm;	/* hidden */
	const float *wq;	/* heads * head_dim rows of hidden */
	const float *wk;	/* kv_heads * head_dim rows of hidden */
	const float *wv;
	const float *wo;	/* hidden rows of heads * head_dim */
	const float *ffn_norm;	/* hidden */
	const float *w_gate;	/* ffn rows of hidden */
	const float *w_up;
	const float *w_down;	/* hidden rows of ffn */
};

struct gpu_weights {
	const float *embed;	/* vocab rows of hidden */
	const float *out_norm;	/* hidden */
	const float *lm_head;	/* vocab rows of hidden */
	struct gpu_layer_weights *layer;
	/* RoPE: pair i of a head turns by pos * inv_freq[i], head_dim / 2 */
	double *inv_freq;
	float *data;		/* every tensor above */
	size_t count;		/* floats in data */
};

/* FP32 values in m's weights (m need not be valid: no overflow check). */
size_t gpu_weights_count(const struct gpu_model *m);

/*
 * Weights for m (checked with gpu_cpu_model_check()) from seed: 0, or
 * -EINVAL or -ENOMEM.
 */
int gpu_weights_new(const struct gpu_model *m, uint64_t seed,
		    struct gpu_weights **out);
void gpu_weights_free(struct gpu_weights *w);

#endif /* PIM_GPU_WEIGHTS_H */
