/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * kv.h - struct pim_kv and the KV data layout (internal to dm/).
 *
 * One (layer, head group) owns a run of allocation units on one rank: K in
 * its first "rowsets" row-sets, V in the next. A row-set is one DRAM row of
 * every bank of every chip; with the address map of geometry.c it is
 * contiguous in the backing memory, bank after bank, row_bytes * 8 bytes
 * per bank.
 *
 * Each head of the group owns nhc chips; each chip holds head_dim / nhc
 * elements of every K and V vector of its head, 4 per burst, so one token
 * of one group takes kb = head_dim / (4 * nhc) bursts of K and as many of V.
 *   K: token t -> bank t % nbanks, its kb bursts side by side ("vertical":
 *      every chip of the head, same bank);
 *   V: burst q = t * kb + j -> bank q % nbanks ("across banks").
 */
#ifndef PIM_DM_KV_H
#define PIM_DM_KV_H

#include "dm_state.h"
#include "dm_util.h"

#define PIM_DM_MAX_LAYERS	1024
#define PIM_DM_MAX_TOKENS	4194304

/* The layout of one KV shape on one device. */
struct pim_kv_lay {
	u32 gqa;		/* q heads per KV head */
	u32 nhc;		/* chips per head */
	u32 hpg;		/* KV heads per (full) group */
	u32 groups;		/* per layer */
	u32 kb;			/* bursts per token per group, K or V */
	u32 bpr;		/* bursts per bank row */
	u32 tpb;		/* K tokens per bank row */
	u32 tpr;		/* tokens per row-set */
	u32 rowsets;		/* row-sets of K (and of V) */
	u32 units;		/* allocation units per (layer, group) */
};

struct pim_kv_layer {
	u32 rankset;
	u32 len;		/* tokens appended */
	u32 mode;		/* 0, PIM_KV_RELAID or PIM_KV_UNRELAID */
	u32 rsvd;
};

struct pim_kv_slot {
	u32 rank;
	u32 unit;		/* first allocation unit of the run */
};

struct pim_kv {
	struct pim_kv_alloc shape;
	struct pim_kv_lay lay;
	u64 rowset_bytes;
	u64 unit_bytes;
	u32 nbanks;
	u32 rsvd;
	struct pim_kv_layer layer[];	/* then layers * groups slots */
};

static inline struct pim_kv_slot *pim_kv_slot(const struct pim_kv *kv,
					      u32 layer, u32 group)
{
	struct pim_kv_slot *s = (void *)&kv->layer[kv->shape.layers];

	return &s[layer * kv->lay.groups + group];
}

/* Byte offset inside the rank of the group's K (or V) row-set R. */
static inline u64 pim_kv_rowset_off(const struct pim_kv *kv, u32 layer,
				    u32 group, u32 rowset, bool v)
{
	const struct pim_kv_slot *s = pim_kv_slot(kv, layer, group);

	return (u64)s->unit * kv->unit_bytes +
	       ((v ? (u64)kv->lay.rowsets : 0) + rowset) * kv->rowset_bytes;
}

/* Offset inside the row-set of burst j of token t's K. */
static inline u64 pim_kv_kburst(const struct pim_kv_lay *l, u32 nbanks,
				u32 t, u32 j)
{
	u32 b = t % nbanks, ts = t / nbanks;

	return ((u64)b * l->bpr + (u64)ts * l->kb + j) * PIM_BURST_BYTES;
}

/* Offset inside the row-set of burst j of token t's V. */
static inline u64 pim_kv_vburst(const struct pim_kv_lay *l, u32 nbanks,
				u32 t, u32 j)
{
	u64 q = (u64)t * l->kb + j;

	return ((q % nbanks) * l->bpr + q / nbanks) * PIM_BURST_BYTES;
}

int pim_kv_layout(const struct pim_dm *dm, const struct pim_kv_alloc *s,
		  struct pim_kv_lay *l);

#endif /* PIM_DM_KV_H */
