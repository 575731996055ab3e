/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * gpu.h - the GPU side of L3: hardware and model descriptions, a roofline
 * timing model, and a backend interface for the non-attention layers.
 *
 * A backend runs (or times) everything but decode attention: embedding,
 * QKV generation, prefill attention, output projection, FFN and the LM
 * head. Decode attention goes to the PIM device. Two backends exist: the
 * roofline timing model (gpu_roofline_*) and a CPU backend that really
 * computes a small Llama-style model (gpu_cpu_*, gpu_cpu.h); a CUDA backend
 * (gpu_cuda.h) computes the same model on an NVIDIA GPU.
 */
#ifndef PIM_GPU_H
#define PIM_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One accelerator. Rates are per device, in SI units. */
struct gpu_spec {
	const char *name;
	double flops;		/* peak dense FP16 FLOP/s */
	double mem_bw;		/* HBM bytes/s */
	uint64_t mem_bytes;	/* HBM capacity */
	double link_bw;		/* NVLink bytes/s per device, for all-reduce */
	double link_lat;	/* seconds per all-reduce step */
	double compute_util;	/* roofline caps, 0..1 */
	double bw_util;
};

/* A transformer, by shape. KV and weights are FP16 (2 bytes). */
struct gpu_model {
	const char *name;
	uint32_t layers;
	uint32_t heads;		/* query heads */
	uint32_t kv_heads;	/* == heads for MHA */
	uint32_t hidden;	/* D_e */
	uint32_t head_dim;	/* D_e / heads */
	uint32_t ffn;		/* FFN inner size */
	uint32_t ffn_mats;	/* 2 (GELU MLP) or 3 (gated) */
	uint32_t vocab;
	uint32_t tp;		/* tensor parallelism (GPUs per replica) */
	uint32_t dp;		/* data parallelism (replicas) */
};

/* The work of one (sub-)batch, all layers, that is not decode attention. */
struct gpu_work {
	uint64_t tokens;	/* tokens through the FC layers */
	uint64_t out_tokens;	/* tokens that produce logits */
	uint64_t prefill_pairs;	/* prefill query-key pairs: sum c (f + (c + 1) / 2) */
	uint64_t prefill_kv;	/* KV tokens read by prefill: sum (f + c) */
	uint64_t decode_ctx;	/* KV tokens read by decode attention on the GPU */
};

/* Presets; NULL when the name is unknown. */
const struct gpu_spec *gpu_spec_find(const char *name);
const struct gpu_model *gpu_model_find(const char *name);
/* For listing: index 0.. until NULL. */
const struct gpu_spec *gpu_spec_at(unsigned int i);
const struct gpu_model *gpu_model_at(unsigned int i);

/* 0, or -EINVAL with *why naming the field at fault. */
int gpu_model_check(const struct gpu_model *m, const char **why);

/* Sizes of one replica, in bytes. */
uint64_t gpu_model_weight_bytes(const struct gpu_model *m);
/* K and V of one token, all layers (the whole model, not one TP shard). */
uint64_t gpu_model_kv_token_bytes(const struct gpu_model *m);

/*
 * Roofline: every operator takes max(flops / (tp * flops * compute_util),
 * bytes / (tp * mem_bw * bw_util)); tensor parallelism adds two all-reduces
 * per layer. Returns seconds for one replica of tp devices.
 */
double gpu_roofline_time(const struct gpu_spec *hw, const struct gpu_model *m,
			 const struct gpu_work *w);

/* ---- backends ---- */

struct gpu_backend;

/*
 * A backend computes a model's non-attention layers for a batch of n
 * tokens. Activations are n x hidden floats; q is n x heads x head_dim,
 * k and v n x kv_heads x head_dim. pos[i] is token i's position (RoPE).
 * Compute callbacks are NULL in a timing-only backend.
 */
struct gpu_backend_ops {
	const char *name;
	void (*destroy)(struct gpu_backend *b);
	/* Modeled or measured seconds for the work; 0 if it has no clock. */
	double (*time)(struct gpu_backend *b, const struct gpu_work *w);
	int (*embed)(struct gpu_backend *b, const uint32_t *tok, uint32_t n,
		     float *x);
	int (*qkv)(struct gpu_backend *b, uint32_t layer, const float *x,
		   const uint32_t *pos, uint32_t n, float *q, float *k,
		   float *v);
	/* x += proj(attn); x += ffn(norm(x)) */
	int (*post_attn)(struct gpu_backend *b, uint32_t layer, float *x,
			 const float *attn, uint32_t n);
	/* Greedy next token of each row. */
	int (*next_token)(struct gpu_backend *b, const float *x, uint32_t n,
			  uint32_t *tok);
	/*
	 * Optional (NULL: the caller attends on the host): causal attention
	 * of ntok query rows at positions ctx .. ctx + ntok - 1 of one
	 * request over its FP16 K and V of ctx + ntok tokens (kv_heads x
	 * head_dim each, token-major); row j sees tokens 0 .. ctx + j. q and
	 * out are ntok x heads x head_dim; the math is pim/ref_attn.h's.
	 */
	int (*prefill_attn)(struct gpu_backend *b, const float *q,
			    uint32_t ctx, uint32_t ntok, const uint16_t *k16,
			    const uint16_t *v16, float *out);
};

struct gpu_backend {
	const struct gpu_backend_ops *ops;
	const struct gpu_model *model;
};

/* Timing-only backend over a preset or user spec; 0 or -errno. */
int gpu_roofline_backend_new(const struct gpu_spec *hw,
			     const struct gpu_model *m,
			     struct gpu_backend **out);
void gpu_backend_destroy(struct gpu_backend *b);

#endif /* PIM_GPU_H */
