// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * geometry.c - DIMM geometry and the map from backing-memory offsets to
 * DRAM coordinates.
 *
 * Rank r occupies [r * rank_bytes, (r + 1) * rank_bytes). Inside a rank,
 * 64-byte bursts fill a bank row (row_bytes / 8 bursts: each chip takes 8
 * bytes of every burst), then the same row of the next bank (bank groups
 * interleave fastest), then the next row. So one bank row of the 8 chips
 * is row_bytes * 8 contiguous host bytes, and one row of every bank (a
 * "row-set") is contiguous too. Inside a burst, byte 8 * b + c is beat b
 * of chip c: host-linear data is byte-striped across the chips.
 */
#include "pim_dm.h"
#include "dm_util.h"

#define PIM_ROW_MIN		512	/* a bank row holds >= 64 bursts */
#define PIM_ROW_MAX		16384
#define PIM_BANKS_MAX		8	/* per group, and groups per chip */
#define PIM_RANK_MAX_BYTES	(1024ULL << 30)	/* 1 TiB */
#define PIM_DEF_MIN_RANK	(16ULL << 20)

void pim_geom_default(struct pim_geometry *g, u64 capacity)
{
	static const u32 shapes[][3] = {	/* channels, DIMMs, ranks */
		{ 16, 2, 2 }, { 8, 2, 2 }, { 4, 2, 2 }, { 2, 2, 2 },
		{ 1, 2, 2 }, { 1, 1, 2 }, { 1, 1, 1 },
	};
	u64 rowset;
	u32 i, n = 0;

	memset(g, 0, sizeof(*g));
	g->chips_per_rank = PIM_CHIPS;
	g->bank_groups = 4;
	g->banks_per_group = 4;
	g->row_bytes = 1024;		/* DDR4 x8 page */
	rowset = (u64)g->row_bytes * PIM_CHIPS * 16;

	for (i = 0; i < ARRAY_SIZE(shapes) - 1; i++) {
		n = shapes[i][0] * shapes[i][1] * shapes[i][2];
		if (capacity / n >= PIM_DEF_MIN_RANK)
			break;
	}
	n = shapes[i][0] * shapes[i][1] * shapes[i][2];
	g->channels = shapes[i][0];
	g->dimms_per_channel = shapes[i][1];
	g->ranks_per_dimm = shapes[i][2];
	g->ranksets = g->dimms_per_channel * g->ranks_per_dimm;
	g->rank_bytes = capacity / n / rowset * rowset;
	if (g->rank_bytes > PIM_RANK_MAX_BYTES)
		g->rank_bytes = PIM_RANK_MAX_BYTES;
}

static const char *pim_geom_fault(const struct pim_geometry *g)
{
	u64 ranks, rowset;

	if (!g)
		return "no geometry";
	if (g->chips_per_rank != PIM_CHIPS)
		return "chips_per_rank: must be 8 (x8 chips on a 64-bit bus)";
	if (!g->channels || !g->dimms_per_channel || !g->ranks_per_dimm)
		return "channels, dimms_per_channel, ranks_per_dimm: must be > 0";
	ranks = (u64)g->channels * g->dimms_per_channel * g->ranks_per_dimm;
	if (ranks > PIM_MAX_RANKS)
		return "channels * dimms * ranks: more than PIM_MAX_RANKS ranks";
	if (g->ranksets != g->dimms_per_channel * g->ranks_per_dimm)
		return "ranksets: must be dimms_per_channel * ranks_per_dimm";
	if (!pim_is_pow2(g->bank_groups) || g->bank_groups > PIM_BANKS_MAX)
		return "bank_groups: must be a power of two, 1..8";
	if (!pim_is_pow2(g->banks_per_group) ||
	    g->banks_per_group > PIM_BANKS_MAX)
		return "banks_per_group: must be a power of two, 1..8";
	if (!pim_is_pow2(g->row_bytes) || g->row_bytes < PIM_ROW_MIN ||
	    g->row_bytes > PIM_ROW_MAX)
		return "row_bytes: must be a power of two, 512..16384";
	if (!g->rank_bytes || g->rank_bytes > PIM_RANK_MAX_BYTES)
		return "rank_bytes: must be 1 row-set .. 1 TiB";
	rowset = (u64)g->bank_groups * g->banks_per_group * g->row_bytes *
		 PIM_CHIPS;
	if (g->rank_bytes % rowset)
		return "rank_bytes: not a multiple of a row-set (row_bytes * 8 chips * banks)";
	return NULL;
}

int pim_geom_check(const struct pim_geometry *g, const char **why)
{
	const char *w = pim_geom_fault(g);

	if (w && why)
		*why = w;
	return w ? -EINVAL : 0;
}

u32 pim_geom_ranks(const struct pim_geometry *g)
{
	return g->channels * g->dimms_per_channel * g->ranks_per_dimm;
}

u32 pim_geom_banks(const struct pim_geometry *g)
{
	return g->bank_groups * g->banks_per_group;
}

int pim_addr_decode(const struct pim_geometry *g, u64 offset,
		    struct pim_dram_addr *a)
{
	u64 o, burst, bpr = g->row_bytes / PIM_BEAT_BYTES;
	u32 nb, fb, x;

	if (pim_geom_check(g, NULL))
		return -EINVAL;
	if (offset / g->rank_bytes >= pim_geom_ranks(g))
		return -ERANGE;
	nb = pim_geom_banks(g);
	a->grank = offset / g->rank_bytes;
	a->channel = a->grank / g->ranksets;
	a->rankset = a->grank % g->ranksets;
	a->dimm = a->rankset / g->ranks_per_dimm;
	a->rank = a->rankset % g->ranks_per_dimm;
	o = offset % g->rank_bytes;
	x = o % PIM_BURST_BYTES;
	burst = o / PIM_BURST_BYTES;
	a->chip = x % PIM_CHIPS;
	fb = (burst / bpr) % nb;
	a->bank_group = fb % g->bank_groups;
	a->bank = fb / g->bank_groups;
	a->row = burst / (bpr * nb);
	a->column = (burst % bpr) * PIM_BEAT_BYTES + x / PIM_CHIPS;
	return 0;
}

int pim_addr_encode(const struct pim_geometry *g,
		    const struct pim_dram_addr *a, u64 *offset)
{
	u64 bpr = g->row_bytes / PIM_BEAT_BYTES, burst, rows;
	u32 nb;

	if (pim_geom_check(g, NULL))
		return -EINVAL;
	nb = pim_geom_banks(g);
	rows = g->rank_bytes / ((u64)nb * g->row_bytes * PIM_CHIPS);
	if (a->grank >= pim_geom_ranks(g) || a->chip >= PIM_CHIPS ||
	    a->bank_group >= g->bank_groups ||
	    a->bank >= g->banks_per_group || a->row >= rows ||
	    a->column >= g->row_bytes)
		return -ERANGE;
	burst = ((u64)a->row * nb + a->bank * g->bank_groups +
		 a->bank_group) * bpr + a->column / PIM_BEAT_BYTES;
	*offset = (u64)a->grank * g->rank_bytes + burst * PIM_BURST_BYTES +
		  (a->column % PIM_BEAT_BYTES) * PIM_CHIPS + a->chip;
	return 0;
}
