/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * pimgpu_cuda_abi.h - the interface between the CUDA backend's loader
 * (gpu/gpu_cuda.c, plain C, in libpimgpu.a) and its plugin
 * (libpimgpu-cuda.so, built from gpu/cuda/ with nvcc).
 *
 * The plugin exports one symbol, PIMGPU_CUDA_ENTRY, returning a table of
 * functions whose abi field the loader checks against
 * PIMGPU_CUDA_ABI_VERSION; bump it on any change to this file. Pointers
 * are host memory. The loader validates arguments (layers, tokens, sizes)
 * before calling; the plugin returns 0 or -errno and keeps the text of its
 * last failure (error()).
 */
#ifndef PIMGPU_CUDA_ABI_H
#define PIMGPU_CUDA_ABI_H

#include <stddef.h>
#include <stdint.h>

#define PIMGPU_CUDA_ABI_VERSION	1
#define PIMGPU_CUDA_ENTRY	"pimgpu_cuda_plugin_v1"

#ifdef __cplusplus
extern "C" {
#endif

struct pimgpu_cuda_shape {
	uint32_t layers, heads, kv_heads, hidden, head_dim, ffn, vocab;
};

/* Offsets, in floats, of one layer's tensors in the weight block. */
struct pimgpu_cuda_layer {
	uint64_t attn_norm, wq, wk, wv, wo, ffn_norm, w_gate, w_up, w_down;
};

/* Host weights (gpu_weights.h), uploaded once by create(). */
struct pimgpu_cuda_weights {
	const float *data;
	uint64_t count;				/* floats in data */
	uint64_t embed, out_norm, lm_head;	/* offsets in data */
	const struct pimgpu_cuda_layer *layer;	/* shape.layers entries */
};

struct pimgpu_cuda_ctx;

struct pimgpu_cuda_plugin {
	uint32_t abi;		/* PIMGPU_CUDA_ABI_VERSION */
	uint32_t size;		/* sizeof(struct pimgpu_cuda_plugin) */
	/* Devices visible (> 0), or -ENODEV with the CUDA error in why. */
	int (*probe)(char *why, size_t len);
	int (*create)(const struct pimgpu_cuda_shape *s,
		      const struct pimgpu_cuda_weights *w,
		      struct pimgpu_cuda_ctx **out, char *why, size_t len);
	void (*destroy)(struct pimgpu_cuda_ctx *c);
	/* The text of the last failed call. */
	const char *(*error)(struct pimgpu_cuda_ctx *c);
	/* GPU seconds of compute since the previous call. */
	double (*gpu_seconds)(struct pimgpu_cuda_ctx *c);
	int (*embed)(struct pimgpu_cuda_ctx *c, const uint32_t *tok,
		     uint32_t n, float *x);
	/* rope_cos/rope_sin: n x head_dim / 2, row i's angles pos_i * f_j */
	int (*qkv)(struct pimgpu_cuda_ctx *c, uint32_t layer, const float *x,
		   const float *rope_cos, const float *rope_sin, uint32_t n,
		   float *q, float *k, float *v);
	int (*post_attn)(struct pimgpu_cuda_ctx *c, uint32_t layer, float *x,
			 const float *attn, uint32_t n);
	int (*next_token)(struct pimgpu_cuda_ctx *c, const float *x,
			  uint32_t n, uint32_t *tok);
	/* gpu_backend_ops.prefill_attn, FP16 K and V, scale 1/sqrt(hd) */
	int (*prefill_attn)(struct pimgpu_cuda_ctx *c, const float *q,
			    uint32_t ctx, uint32_t ntok, const uint16_t *k16,
			    const uint16_t *v16, float *out);
};

typedef const struct pimgpu_cuda_plugin *(*pimgpu_cuda_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* PIMGPU_CUDA_ABI_H */
