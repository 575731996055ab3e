/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * pim_dm.h - the emulated L3 DIMM-PIM device model.
 *
 * One portable implementation compiled into the kernel module and into
 * userspace (tests, simulator, libpim's in-process backend). No libc, no
 * allocation: every buffer is sized by a *_bytes() helper and passed in.
 *
 * Functions whose name ends in _fpu use floating point: in the kernel they
 * must run between kernel_fpu_begin() and kernel_fpu_end(), never sleep, and
 * each call does bounded work. Everything else is integer-only.
 *
 * Errors are negative errno values: -EINVAL for bad arguments (with a reason
 * string where one is asked for), -ENOSPC when PIM memory is exhausted,
 * -ERANGE for offsets or token ranges outside what exists.
 */
#ifndef PIM_DM_H
#define PIM_DM_H

#include "dm_types.h"

/* ---- geometry and address mapping (geometry.c, addr.c) ---- */

/* The paper's DDR4-3200 rank shape, as many ranks as fit capacity bytes. */
void pim_geom_default(struct pim_geometry *g, u64 capacity);
/* 0, or -EINVAL with *why naming the first field at fault. */
int pim_geom_check(const struct pim_geometry *g, const char **why);
u32 pim_geom_ranks(const struct pim_geometry *g);
u32 pim_geom_banks(const struct pim_geometry *g);	/* per chip */

/* Where a byte of backing memory lives on the emulated DIMMs. */
struct pim_dram_addr {
	u32 channel;
	u32 dimm;
	u32 rank;		/* rank within its DIMM */
	u32 grank;		/* global rank index */
	u32 rankset;
	u32 chip;
	u32 bank_group;
	u32 bank;
	u32 row;
	u32 column;		/* byte column within the chip's row */
};

int pim_addr_decode(const struct pim_geometry *g, u64 offset,
		    struct pim_dram_addr *a);
/* The inverse: the backing-memory offset of a (grank and the DRAM fields). */
int pim_addr_encode(const struct pim_geometry *g,
		    const struct pim_dram_addr *a, u64 *offset);

/* ---- timing model (timing.c) ---- */

/* Switches for ablations: every L3 feature can be turned off. */
#define PIM_TF_INFLIGHT_RELAYOUT	(1U << 0)
#define PIM_TF_BUBBLE_FREE		(1U << 1)
#define PIM_TF_RANKSET_OVERLAP		(1U << 2)
#define PIM_TF_ALL			(PIM_TF_INFLIGHT_RELAYOUT | \
					 PIM_TF_BUBBLE_FREE | \
					 PIM_TF_RANKSET_OVERLAP)

struct pim_timing;	/* DDR4 timings and PU rates, defined in timing.h */
struct pim_dm;		/* defined in dm_state.h; callers may embed it */
struct pim_kv;		/* one KV cache, variable size, see pim_kv_bytes() */

/* Feature switches (PIM_TF_*) of a device; all on after pim_dm_init(). */
void pim_dm_set_features(struct pim_dm *dm, u32 tf);

/*
 * The modeled device time of one command. Work is added rank by rank
 * (a rank being written does not compute; one rank per channel talks to the
 * host at a time) and the command ends when its slowest rank ends.
 */
struct pim_timeline;	/* defined in timing.h; pim_timeline_bytes() */
size_t pim_timeline_bytes(const struct pim_geometry *g);
void pim_tl_reset(struct pim_timeline *tl, const struct pim_dm *dm);
void pim_tl_attn(struct pim_timeline *tl, const struct pim_kv *kv, u32 layer,
		 u32 ctx_len);
void pim_tl_append(struct pim_timeline *tl, const struct pim_kv *kv,
		   u32 layer, u32 ntok, u32 flags);
void pim_tl_read(struct pim_timeline *tl, const struct pim_kv *kv, u32 layer,
		 u32 ntok);
void pim_tl_raw(struct pim_timeline *tl, u32 rank, u64 len, bool write);
u64 pim_tl_end_ns(const struct pim_timeline *tl);

/* ---- device state and KV placement (dm.c, kv.c) ---- */

/* Bytes of allocator state the caller provides to pim_dm_init(). */
size_t pim_dm_state_bytes(const struct pim_geometry *g);
/*
 * mem: backing store, rank r at mem + r * rank_bytes, or NULL for a
 * timing-only model (the simulator). state: pim_dm_state_bytes() bytes.
 */
int pim_dm_init(struct pim_dm *dm, const struct pim_geometry *g,
		void *mem, void *state);
u64 pim_dm_capacity(const struct pim_dm *dm);
u64 pim_dm_free(const struct pim_dm *dm);
u64 pim_dm_rank_free(const struct pim_dm *dm, u32 rank);

/* 0, or -EINVAL with *why; checks the shape against the geometry. */
int pim_kv_check(const struct pim_dm *dm, const struct pim_kv_alloc *shape,
		 const char **why);
size_t pim_kv_bytes(const struct pim_kv_alloc *shape);
/* Place every layer; -ENOSPC leaves the device as it was. */
int pim_kv_place(struct pim_dm *dm, const struct pim_kv_alloc *shape,
		 struct pim_kv *kv);
void pim_kv_release(struct pim_dm *dm, struct pim_kv *kv);
void pim_kv_layer_place(const struct pim_kv *kv, u32 layer,
			struct pim_kv_place *p);
u32 pim_kv_len(const struct pim_kv *kv, u32 layer);
const struct pim_kv_alloc *pim_kv_shape(const struct pim_kv *kv);

/*
 * KV data: k and v hold ntok x kv_heads x head_dim elements of 2 bytes,
 * host order. flags are PIM_CMD_F_*: default is the rank PU's in-flight
 * re-layout; HOST_RELAYOUT stores the same bytes but charges the host
 * software transpose; NO_RELAYOUT writes the burst as the host bus stripes
 * it, so bank PUs see split elements. Append adds tokens at the layer's end;
 * read returns exactly what was appended.
 */
int pim_kv_append(struct pim_dm *dm, struct pim_kv *kv, u32 layer, u32 ntok,
		  const void *k, const void *v, u32 flags);
int pim_kv_read(const struct pim_dm *dm, const struct pim_kv *kv, u32 layer,
		u32 start, u32 ntok, void *k, void *v);

/* The 8x8 byte transpose of each 64-byte burst (its own inverse). */
void pim_relayout_bursts(void *dst, const void *src, size_t bytes);

/* Raw rank bytes, as the chips hold them. */
int pim_raw_read(const struct pim_dm *dm, u32 rank, u64 off, void *buf,
		 u64 len);
int pim_raw_write(struct pim_dm *dm, u32 rank, u64 off, const void *buf,
		  u64 len);

/* ---- decode attention (attn.c: the only floating-point file) ---- */

/*
 * A layer's KV heads are split into head groups, each held by one rank; a
 * job runs as one unit per group, and units on different ranks run in
 * parallel. q and out are q_heads x head_dim FP32 bit patterns.
 */
u32 pim_kv_groups(const struct pim_kv *kv);
u32 pim_kv_group_rank(const struct pim_kv *kv, u32 layer, u32 group);

struct pim_attn_unit;	/* defined in attn.h; caller memory */
size_t pim_attn_unit_bytes(const struct pim_kv *kv);

/* Integer-only: validate and prepare one unit. */
int pim_attn_unit_init(struct pim_attn_unit *u, const struct pim_dm *dm,
		       const struct pim_kv *kv, u32 layer, u32 group,
		       u32 ctx_len, u32 scale_bits, const u32 *q);
/* FPU section: process up to max_tokens more; returns true when done. */
bool pim_attn_unit_step_fpu(struct pim_attn_unit *u, u32 max_tokens);
/* FPU section: write this group's heads of out. */
void pim_attn_unit_finish_fpu(struct pim_attn_unit *u, u32 *out);

/*
 * ISA of the attention kernels: SSE2 (the default) or AVX2+F16C, built from
 * the same source and bit-identical. The kernel calls this once at load
 * with boot_cpu_has(AVX2) && boot_cpu_has(F16C) && YMM state enabled.
 */
void pim_attn_select(bool avx2);
bool pim_attn_uses_avx2(void);
#ifndef __KERNEL__
/* Userspace: cpuid + xgetbv say whether AVX2 and F16C are usable. */
bool pim_cpu_has_avx2(void);
#endif

/* ---- more of the device (dm.c, kv.c) ---- */

/* Replace the DDR4-3200 timings (0, or -EINVAL for a zero field). */
int pim_dm_set_timing(struct pim_dm *dm, const struct pim_timing *t);
u32 pim_dm_features(const struct pim_dm *dm);
u32 pim_kv_nhc(const struct pim_kv *kv);		/* chips per head */
u32 pim_kv_group_heads(const struct pim_kv *kv, u32 group);
/* The layer's data mode: 0 empty, PIM_KV_RELAID or PIM_KV_UNRELAID. */
#define PIM_KV_RELAID		1
#define PIM_KV_UNRELAID		2
u32 pim_kv_mode(const struct pim_kv *kv, u32 layer);

/* ---- analytic timing, no backing memory needed (timing.c) ---- */

/*
 * N_hc from the bubble-free condition (paper Eq. 1), a power of two in
 * 1..8 that also divides head_dim / 4.
 */
u32 pim_model_nhc(const struct pim_dm *dm, u32 head_dim, u32 gqa);
/* Groups per layer and KV heads per group for a (checked) shape. */
u32 pim_model_groups(const struct pim_dm *dm,
		     const struct pim_kv_alloc *shape);
/*
 * Device time of decode attention over ctx_len tokens for one full head
 * group on one rank (bank-PU score and context phases, rank-PU reduction,
 * softmax and result drain; no host transfers), with dm's features.
 */
u64 pim_model_attn_ns(const struct pim_dm *dm,
		      const struct pim_kv_alloc *shape, u32 ctx_len);
/* Host-bus time of appending ntok tokens (K and V) of one head group. */
u64 pim_model_append_ns(const struct pim_dm *dm,
			const struct pim_kv_alloc *shape, u32 ntok,
			u32 flags);
/* Host-bus time of reading ntok tokens of one head group back. */
u64 pim_model_read_ns(const struct pim_dm *dm,
		      const struct pim_kv_alloc *shape, u32 ntok);
/* Aggregate peak bandwidths in bytes per second (paper Table I). */
u64 pim_model_rank_bw(const struct pim_dm *dm);	/* host bus of every rank */
u64 pim_model_bank_bw(const struct pim_dm *dm);	/* all bank PUs */
u64 pim_model_host_bw(const struct pim_dm *dm);	/* channels: CPU baseline */

#endif /* PIM_DM_H */
