/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * dm_test.h - helpers shared by the device-model tests: a device over
 * calloc'ed memory, random KV data, and a double-precision reference.
 */
#ifndef PIM_TESTS_DM_TEST_H
#define PIM_TESTS_DM_TEST_H

#include "dm_state.h"

struct dmt {
	struct pim_dm dm;
	void *mem;
	void *state;
};

/* A device with the default rank shape; mem NULL when !backed. */
int dmt_init(struct dmt *t, const struct pim_geometry *g, bool backed);
void dmt_fini(struct dmt *t);
struct pim_kv *dmt_kv(struct dmt *t, const struct pim_kv_alloc *s, int *ret);

u64 dmt_rand(void);
void dmt_seed(u64 seed);
/* Uniform in [lo, hi). */
double dmt_uniform(double lo, double hi);

/* FP32 <-> FP16/BF16 (round to nearest even) and back to double. */
u16 dmt_to_half(float f, u8 dtype);
double dmt_from_half(u16 h, u8 dtype);
float dmt_f32(u32 bits);
u32 dmt_bits(float f);

/*
 * Attention of q (q_heads x d, FP32) over ntok tokens of host-order K/V
 * (ntok x kv_heads x d halves), in double, into ref (q_heads x d).
 */
void dmt_ref_attn(const struct pim_kv_alloc *s, u32 ntok, const float *q,
		  const u16 *k, const u16 *v, double scale, double *ref);

/* Run every group's unit; max_tokens per step. Returns 0 or -errno. */
int dmt_attn(const struct pim_dm *dm, const struct pim_kv *kv, u32 layer,
	     u32 ctx, u32 scale_bits, const float *q, float *out,
	     u32 max_tokens);

#endif /* PIM_TESTS_DM_TEST_H */
