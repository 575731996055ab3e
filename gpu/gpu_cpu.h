/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * gpu_cpu.h - a CPU backend that really computes the non-attention layers
 * of a small Llama-style transformer, and a pure-CPU reference decode that
 * computes attention too, so a decode served with attention on the PIM
 * device can be checked token for token.
 *
 * The model: token embedding; per layer RMSNorm, Q/K/V projections, RoPE on
 * q and k, (attention), output projection, RMSNorm and a SwiGLU FFN
 * (ffn_mats == 3), each with a residual add; final RMSNorm and an LM head;
 * greedy argmax, the lowest token id winning a tie. Weights come from the
 * seed through splitmix64 in a fixed order, scaled by 1/sqrt(fan_in), so
 * one seed gives the same weights everywhere. Math is FP32 with every
 * reduction in index order and no contraction (-ffp-contract=off): each
 * row's result depends only on that row, never on batch size or on how a
 * prompt was chunked, and is reproducible run to run.
 *
 * time() returns the wall seconds the backend spent in its compute
 * callbacks since the previous time() call (its argument is not used): it
 * is a measured clock, not a model. For a GPU's modeled time use the
 * roofline backend next to it.
 */
#ifndef PIM_GPU_CPU_H
#define PIM_GPU_CPU_H

#include <stdint.h>

#include "gpu.h"

/* Largest shapes the CPU backend takes (it is for small test models). */
#define GPU_CPU_MAX_DIM		8192	/* hidden, ffn, heads * head_dim */
#define GPU_CPU_MAX_VOCAB	65536
#define GPU_CPU_MAX_LAYERS	64
#define GPU_CPU_MAX_WEIGHTS	(1U << 26)	/* FP32 values: 256 MiB */

/* How the reference stores K and V: as the device would. */
enum gpu_kv_dtype {
	GPU_KV_F32,
	GPU_KV_FP16,
	GPU_KV_BF16,
};

/*
 * 0, or -EINVAL with *why naming what the CPU backend cannot compute:
 * gpu_model_check() plus ffn_mats == 3, tp == 1, an even head_dim and
 * the GPU_CPU_MAX_* limits.
 */
int gpu_cpu_model_check(const struct gpu_model *m, const char **why);

/*
 * The backend for m (copied; the name string is not), weights from seed;
 * 0 or -errno. One thread at a time may use it: it has one scratch area.
 */
int gpu_cpu_backend_new(const struct gpu_model *m, uint64_t seed,
			struct gpu_backend **out);

/* f rounded to dtype and widened back (conversions: pim/half.h). */
float gpu_kv_round(float f, enum gpu_kv_dtype dtype);

/*
 * Greedy generation on the CPU alone: runs the prompt (n tokens) through
 * backend b (a gpu_cpu_backend_new one), then max_new - 1 decode steps,
 * writing max_new tokens to out. Attention is computed here, in double,
 * over this call's own KV copy rounded to dtype. 0 or -errno.
 */
int gpu_cpu_reference_generate(struct gpu_backend *b, const uint32_t *prompt,
			       uint32_t n, uint32_t max_new,
			       enum gpu_kv_dtype dtype, uint32_t *out);

#endif /* PIM_GPU_CPU_H */
