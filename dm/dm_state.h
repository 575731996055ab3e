/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * dm_state.h - the device-model state a caller embeds (struct pim_dm).
 *
 * Capacity is handed out in allocation units: a run of whole row-sets (one
 * DRAM row in every bank of every chip of a rank), doubled until a rank has
 * at most PIM_DM_MAX_UNITS units. The caller's state memory holds one bit
 * per unit and, per rank, a binary tree over the bitmap's words whose nodes
 * give the longest free run under them and the free runs touching their
 * ends, so a first-fit search takes a walk down the tree however
 * fragmented the rank is: a 2 TB / 64-rank model needs 768 KiB of state.
 */
#ifndef PIM_DM_STATE_H
#define PIM_DM_STATE_H

#include "pim_dm.h"
#include "timing.h"

#define PIM_DM_MAX_UNITS	32768	/* per rank */

struct pim_dm {
	struct pim_geometry g;
	struct pim_timing t;
	u8 *mem;			/* rank r at mem + r * rank_bytes */
	u32 features;			/* PIM_TF_* */
	u32 nranks;
	u32 nbanks;			/* banks per chip */
	u32 unit_shift;			/* log2 of the allocation unit */
	u32 units;			/* allocation units per rank */
	u32 map_words;			/* u64 words of bitmap per rank */
	u64 rowset_bytes;		/* one row of every bank of every chip */
	u32 tree_leaves;		/* map_words rounded up to a power of 2 */
	u64 *map;			/* nranks * map_words, in state memory */
	struct pim_run *tree;		/* nranks * 2 * tree_leaves, after map */
	u32 next_rankset;		/* PIM_RANKSET_ANY tie-break */
	u32 used[PIM_MAX_RANKS];	/* units in use per rank */
};

/* Free runs under one tree node, in units (at most PIM_DM_MAX_UNITS). */
struct pim_run {
	u16 pre;			/* free from the node's first unit */
	u16 suf;			/* free up to its last unit */
	u16 best;			/* longest free run inside it */
	u16 rsvd;
};

/* Mark n units from first used (on) or free; the caller checks the range. */
void pim_map_set(struct pim_dm *dm, u32 rank, u32 first, u32 n, bool on);
/* First fit: the first unit of the lowest run of n free units, or -ENOSPC. */
int pim_map_find(const struct pim_dm *dm, u32 rank, u32 n);

#endif /* PIM_DM_STATE_H */
