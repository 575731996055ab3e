/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * attn.h - one decode-attention unit: a (job, head group) on one rank.
 *
 * The unit is plain memory the caller allocates with pim_attn_unit_bytes().
 * Every float lives in data[] (or as a u32 bit pattern), so the integer
 * code may set a unit up, copy or free it; only attn.c (built twice: SSE2
 * and AVX2) does arithmetic on it, inside FPU sections.
 *
 * data[], from the first 32-byte boundary, holds (v8 = 8 FP32 lanes, one
 * per chip of the rank):
 *   q    G * kb * 4 v8: q permuted to the chips' element order
 *   acc  G * kb * 4 v8: context accumulators
 *   sc   nq * cpad FP32: one chunk's scores, then its softmax weights
 *   pv   chunk * G v8: the weights as the chips see them
 *   m, l, alpha  nq FP32: running max, running sum, last rescale
 * with G = GQA group size and nq = heads * G q heads.
 */
#ifndef PIM_DM_ATTN_H
#define PIM_DM_ATTN_H

#include "pim_dm.h"

#define PIM_ATTN_CHUNK	512	/* tokens per softmax chunk, at most */

struct pim_attn_unit {
	const u8 *k;		/* the group's first K row-set */
	const u8 *v;		/* its first V row-set */
	u64 rowset_bytes;
	u32 ctx_len;
	u32 done;		/* tokens processed */
	u32 dtype;
	u32 d;			/* head_dim */
	u32 nhc;		/* chips per head */
	u32 heads;		/* KV heads in this group */
	u32 gqa;
	u32 kb;			/* bursts per token */
	u32 nbanks;
	u32 bpr;		/* bursts per bank row */
	u32 tpr;		/* tokens per row-set */
	u32 chunk;		/* tokens per softmax chunk */
	u32 cpad;		/* chunk rounded up to 8 */
	u32 q0;			/* first q head of the group */
	u32 nq;			/* q heads of the group */
	u32 scale_bits;		/* FP32, 0 until the first step if default */
	u32 off_q, off_acc, off_sc, off_pv, off_m, off_l, off_alpha;
	u8 data[];
};

struct pim_attn_ops {
	bool (*step)(struct pim_attn_unit *u, u32 max_tokens);
	void (*finish)(struct pim_attn_unit *u, u32 *out);
};

extern const struct pim_attn_ops pim_attn_ops_sse2;
extern const struct pim_attn_ops pim_attn_ops_avx2;

/* One FP16 value to FP32 bits through each build's conversion (tests). */
u32 pim_fp16_to_fp32_sse2(u16 h);
u32 pim_fp16_to_fp32_avx2(u16 h);

/* The 32-byte aligned start of a unit's arrays. */
static inline u8 *pim_attn_data(const struct pim_attn_unit *u)
{
	return (u8 *)(((unsigned long)u->data + 31) & ~31UL);
}

#endif /* PIM_DM_ATTN_H */
