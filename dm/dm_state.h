/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * dm_state.h - the device-model state a caller embeds (struct pim_dm).
 *
 * Capacity is handed out in allocation units: a run of whole row-sets (one
 * DRAM row in every bank of every chip of a rank), doubled until a rank has
 * at most PIM_DM_MAX_UNITS units, so a 2 TB / 64-rank model needs 256 KiB of
 * allocator state. One bit per unit lives in the caller's state memory.
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
	u64 *map;			/* nranks * map_words, in state memory */
	u32 next_rankset;		/* PIM_RANKSET_ANY tie-break */
	u32 used[PIM_MAX_RANKS];	/* units in use per rank */
	u32 low_free[PIM_MAX_RANKS];	/* lowest free unit per rank */
};

#endif /* PIM_DM_STATE_H */
