// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * dm.c - device-model state: geometry, timing preset, features and the
 * per-rank capacity bitmap with its tree of free runs.
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

static u32 pim_tree_leaves(const struct pim_geometry *g)
{
	u32 leaves = 1;

	while (leaves < pim_map_words(g))
		leaves *= 2;
	return leaves;
}

size_t pim_dm_state_bytes(const struct pim_geometry *g)
{
	if (pim_geom_check(g, NULL))
		return 0;
	return (size_t)pim_geom_ranks(g) *
	       (pim_map_words(g) * sizeof(u64) +
		2 * pim_tree_leaves(g) * sizeof(struct pim_run));
}

/* Word i of a rank's map, units past the rank's end marked in use. */
static u64 pim_map_word(const struct pim_dm *dm, const u64 *map, u32 i)
{
	u32 end;

	if (i >= dm->map_words)
		return ~0ULL;
	end = dm->units - i * 64;
	return end >= 64 ? map[i] : map[i] | ~0ULL << end;
}

/* Free runs of one 64-unit word: a set bit is a unit in use. */
static struct pim_run pim_run_of_word(u64 w)
{
	struct pim_run r = { 64, 64, 64, 0 };
	u64 free = ~w;
	u32 start, len;

	if (!w)
		return r;
	r.pre = pim_ctz64(w);
	r.suf = pim_clz64(w);
	r.best = 0;
	/* Every free run, one per step. */
	while (free) {
		start = pim_ctz64(free);
		len = ~(free >> start) ? pim_ctz64(~(free >> start)) :
		      64 - start;
		r.best = pim_max32(r.best, len);
		free &= len + start >= 64 ? 0 : ~0ULL << (start + len);
	}
	return r;
}

/* A node from its two children of len units each. */
static struct pim_run pim_run_join(struct pim_run a, struct pim_run b,
				   u32 len)
{
	struct pim_run r = {
		.pre = a.pre == len ? len + b.pre : a.pre,
		.suf = b.suf == len ? len + a.suf : b.suf,
		.best = pim_max32(pim_max32(a.best, b.best), a.suf + b.pre),
	};

	return r;
}

/* Recompute the leaves of words first..last and every node above them. */
static void pim_tree_update(struct pim_dm *dm, u32 rank, u32 first, u32 last)
{
	struct pim_run *t = dm->tree + (size_t)rank * 2 * dm->tree_leaves;
	const u64 *map = dm->map + (size_t)rank * dm->map_words;
	u32 lo = dm->tree_leaves + first, hi = dm->tree_leaves + last;
	u32 i, len = 64;

	for (i = lo; i <= hi; i++)
		t[i] = pim_run_of_word(pim_map_word(dm, map,
						    i - dm->tree_leaves));
	for (; lo > 1; len *= 2) {
		lo /= 2;
		hi /= 2;
		for (i = lo; i <= hi; i++)
			t[i] = pim_run_join(t[2 * i], t[2 * i + 1], len);
	}
}

void pim_map_set(struct pim_dm *dm, u32 rank, u32 first, u32 n, bool on)
{
	u64 *map = dm->map + (size_t)rank * dm->map_words;
	u32 i = first, end = first + n, bits;
	u64 mask;

	while (i < end) {
		bits = pim_min32(64 - i % 64, end - i);
		mask = (bits == 64 ? ~0ULL : (1ULL << bits) - 1) << (i % 64);
		if (on)
			map[i / 64] |= mask;
		else
			map[i / 64] &= ~mask;
		i += bits;
	}
	pim_tree_update(dm, rank, first / 64, (end - 1) / 64);
	if (on)
		dm->used[rank] += n;
	else
		dm->used[rank] -= n;
}

/* The first bit of the lowest run of n clear bits in w (one exists). */
static u32 pim_word_fit(u64 w, u32 n)
{
	u64 free = ~w;
	u32 have = 1, step;

	/* Bit i stays set while bits i..i + have - 1 are all clear in w. */
	while (have < n) {
		step = pim_min32(have, n - have);
		free &= free >> step;
		have += step;
	}
	return pim_ctz64(free);
}

int pim_map_find(const struct pim_dm *dm, u32 rank, u32 n)
{
	const struct pim_run *t = dm->tree +
				  (size_t)rank * 2 * dm->tree_leaves;
	u32 node = 1, base = 0, len = 64 * dm->tree_leaves;
	const struct pim_run *l, *r;

	if (!n || t[1].best < n)
		return -ENOSPC;
	/*
	 * Lowest first: a run inside the left half, else one across the
	 * middle, else one inside the right half.
	 */
	while (node < dm->tree_leaves) {
		len /= 2;
		l = &t[2 * node];
		r = &t[2 * node + 1];
		if (l->best < n && l->suf + r->pre >= n)
			return base + len - l->suf;
		node *= 2;
		if (l->best < n) {
			node++;
			base += len;
		}
	}
	return base + pim_word_fit(pim_map_word(dm, dm->map +
						(size_t)rank * dm->map_words,
						node - dm->tree_leaves), n);
}

int pim_dm_init(struct pim_dm *dm, const struct pim_geometry *g,
		void *mem, void *state)
{
	u32 r;

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
	dm->tree_leaves = pim_tree_leaves(g);
	dm->map = state;
	dm->tree = (struct pim_run *)(dm->map +
				      (size_t)dm->nranks * dm->map_words);
	memset(state, 0, pim_dm_state_bytes(g));
	for (r = 0; r < dm->nranks; r++)
		pim_tree_update(dm, r, 0, dm->tree_leaves - 1);
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
