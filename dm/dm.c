// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * dm.c - device-model state: geometry, timing preset, features and the
 * per-rank capacity bitmap.
 */
#include "dm_state.h"
#include "dm_util.h"

/* Allocation unit: a row-set, doubled until a rank has few enough units. */
static u32 pim_unit_shift(const struct pim_geometry *g)
{
	u64 unit = (u64)g->row_bytes * PIM_CHIPS * pim_geom_banks(g);
	u32 shift = 0;

	while ((1ULL << shift) < unit)
		shift++;
	while ((g->rank_bytes >> shift) > PIM_DM_MAX_UNITS)
		shift++;
	return shift;
}

static u32 pim_map_words(const struct pim_geometry *g)
{
	return pim_div_up(g->rank_bytes >> pim_unit_shift(g), 64);
}

size_t pim_dm_state_bytes(const struct pim_geometry *g)
{
	if (pim_geom_check(g, NULL))
		return 0;
	return (size_t)pim_geom_ranks(g) * pim_map_words(g) * sizeof(u64);
}

int pim_dm_init(struct pim_dm *dm, const struct pim_geometry *g,
		void *mem, void *state)
{
	if (!dm || pim_geom_check(g, NULL) || !state)
		return -EINVAL;
	memset(dm, 0, sizeof(*dm));
	dm->g = *g;
	pim_timing_ddr4_3200(&dm->t);
	dm->mem = mem;
	dm->features = PIM_TF_ALL;
	dm->nranks = pim_geom_ranks(g);
	dm->nbanks = pim_geom_banks(g);
	dm->rowset_bytes = (u64)g->row_bytes * PIM_CHIPS * dm->nbanks;
	dm->unit_shift = pim_unit_shift(g);
	dm->units = g->rank_bytes >> dm->unit_shift;
	dm->map_words = pim_map_words(g);
	dm->map = state;
	memset(state, 0, pim_dm_state_bytes(g));
	return 0;
}

void pim_dm_set_features(struct pim_dm *dm, u32 tf)
{
	dm->features = tf & PIM_TF_ALL;
}

u32 pim_dm_features(const struct pim_dm *dm)
{
	return dm->features;
}

int pim_dm_set_timing(struct pim_dm *dm, const struct pim_timing *t)
{
	if (!t->tck_ps || !t->bl || t->bl % 2 || !t->tccd_l ||
	    !t->psum_bytes || !t->sm_per_tck || !t->chunk_tokens)
		return -EINVAL;
	dm->t = *t;
	return 0;
}

u64 pim_dm_capacity(const struct pim_dm *dm)
{
	return ((u64)dm->units << dm->unit_shift) * dm->nranks;
}

u64 pim_dm_rank_free(const struct pim_dm *dm, u32 rank)
{
	if (rank >= dm->nranks)
		return 0;
	return (u64)(dm->units - dm->used[rank]) << dm->unit_shift;
}

u64 pim_dm_free(const struct pim_dm *dm)
{
	u64 sum = 0;
	u32 r;

	for (r = 0; r < dm->nranks; r++)
		sum += pim_dm_rank_free(dm, r);
	return sum;
}
