// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * kv.c - KV-cache shapes, placement across ranksets and ranks, capacity.
 *
 * Layer l goes to rankset (first + l) % ranksets, so every rankset moves
 * the same bytes per token (paper VI-A). A layer's KV heads form groups of
 * 8 / N_hc heads (one rank's chips); each group takes a contiguous run of
 * allocation units on the least loaded rank of the rankset that can hold
 * it. Any failure undoes every run taken so far.
 */
#include "kv.h"

int pim_kv_layout(const struct pim_dm *dm, const struct pim_kv_alloc *s,
		  struct pim_kv_lay *l)
{
	u64 bytes;

	l->gqa = s->q_heads / s->kv_heads;
	l->nhc = s->chips_per_head ? s->chips_per_head :
		 pim_model_nhc(dm, s->head_dim, l->gqa);
	l->hpg = pim_min32(PIM_CHIPS / l->nhc, s->kv_heads);
	l->groups = pim_div_up(s->kv_heads, l->hpg);
	l->kb = s->head_dim / (4 * l->nhc);
	l->bpr = dm->g.row_bytes / PIM_BEAT_BYTES;
	l->tpb = l->bpr / l->kb;
	l->tpr = l->tpb * dm->nbanks;
	l->rowsets = pim_div_up(s->max_tokens, l->tpr);
	bytes = 2ULL * l->rowsets * dm->rowset_bytes;
	if (pim_div_up(bytes, 1ULL << dm->unit_shift) > dm->units)
		return -ENOSPC;
	l->units = pim_div_up(bytes, 1ULL << dm->unit_shift);
	return 0;
}

int pim_kv_check(const struct pim_dm *dm, const struct pim_kv_alloc *s,
		 const char **why)
{
	const char *w = NULL;
	u32 nhc = s->chips_per_head;

	if (!s->layers || s->layers > PIM_DM_MAX_LAYERS)
		w = "layers: must be 1..1024";
	else if (!s->kv_heads || !s->q_heads || s->q_heads % s->kv_heads)
		w = "kv_heads: must divide q_heads";
	else if (s->q_heads / s->kv_heads > PIM_MAX_GQA_GROUP)
		w = "q_heads / kv_heads: GQA group above PIM_MAX_GQA_GROUP";
	else if (s->head_dim % 16 || s->head_dim < PIM_MIN_HEAD_DIM ||
		 s->head_dim > PIM_MAX_HEAD_DIM)
		w = "head_dim: must be a multiple of 16 in 16..256";
	else if (s->dtype != PIM_DTYPE_FP16 && s->dtype != PIM_DTYPE_BF16)
		w = "dtype: must be PIM_DTYPE_FP16 or PIM_DTYPE_BF16";
	else if (nhc && (!pim_is_pow2(nhc) || nhc > PIM_CHIPS))
		w = "chips_per_head: must be 0 (auto), 1, 2, 4 or 8";
	else if (nhc && s->head_dim % (4 * nhc))
		w = "chips_per_head: head_dim / chips_per_head must be a multiple of 4";
	else if (!s->max_tokens || s->max_tokens > PIM_DM_MAX_TOKENS)
		w = "max_tokens: must be 1..4194304";
	else if (s->rankset_hint != PIM_RANKSET_ANY &&
		 s->rankset_hint >= dm->g.ranksets)
		w = "rankset_hint: no such rankset";
	else if (s->rsvd0 || s->rsvd1 || s->rsvd2[0] || s->rsvd2[1])
		w = "reserved fields must be zero";
	if (w) {
		if (why)
			*why = w;
		return -EINVAL;
	}
	return 0;
}

size_t pim_kv_bytes(const struct pim_kv_alloc *s)
{
	/* At most one group per KV head (N_hc = 8). */
	if (!s->layers || s->layers > PIM_DM_MAX_LAYERS || !s->kv_heads)
		return 0;
	return sizeof(struct pim_kv) +
	       s->layers * sizeof(struct pim_kv_layer) +
	       (size_t)s->layers * s->kv_heads * sizeof(struct pim_kv_slot);
}

/*
 * The rankset with the most free capacity. Layer interleaving keeps the
 * ranksets equally loaded, so ties are the rule: they go round-robin from
 * the rankset after the last one placed on, or every cache's layer l would
 * share one rankset.
 */
static u32 pim_least_loaded_rankset(const struct pim_dm *dm)
{
	u32 i, rs, ch, best = dm->next_rankset % dm->g.ranksets;
	u64 free, best_free = 0;

	for (i = 0; i < dm->g.ranksets; i++) {
		rs = (dm->next_rankset + i) % dm->g.ranksets;
		free = 0;
		for (ch = 0; ch < dm->g.channels; ch++)
			free += pim_dm_rank_free(dm, ch * dm->g.ranksets + rs);
		if (free > best_free) {
			best_free = free;
			best = rs;
		}
	}
	return best;
}

/* Place one group on the least loaded rank of rankset rs that fits it. */
static int pim_place_group(struct pim_dm *dm, u32 rs, u32 units,
			   struct pim_kv_slot *slot)
{
	u64 tried = 0;
	u32 ch, r, best;
	int unit;

	for (;;) {
		best = dm->nranks;
		for (ch = 0; ch < dm->g.channels; ch++) {
			r = ch * dm->g.ranksets + rs;
			if (tried >> r & 1)
				continue;
			if (best == dm->nranks || dm->used[r] < dm->used[best])
				best = r;
		}
		if (best == dm->nranks)
			return -ENOSPC;
		tried |= 1ULL << best;
		unit = pim_map_find(dm, best, units);
		if (unit >= 0) {
			pim_map_set(dm, best, unit, units, true);
			slot->rank = best;
			slot->unit = unit;
			return 0;
		}
	}
}

int pim_kv_place(struct pim_dm *dm, const struct pim_kv_alloc *s,
		 struct pim_kv *kv)
{
	struct pim_kv_slot *slot;
	u32 l, gi, first, n;
	int ret;

	ret = pim_kv_check(dm, s, NULL);
	if (ret)
		return ret;
	memset(kv, 0, pim_kv_bytes(s));
	kv->shape = *s;
	kv->rowset_bytes = dm->rowset_bytes;
	kv->unit_bytes = 1ULL << dm->unit_shift;
	kv->nbanks = dm->nbanks;
	ret = pim_kv_layout(dm, s, &kv->lay);
	if (ret)
		return ret;
	first = s->rankset_hint == PIM_RANKSET_ANY ?
		pim_least_loaded_rankset(dm) : s->rankset_hint;
	for (l = 0; l < s->layers; l++) {
		kv->layer[l].rankset = (first + l) % dm->g.ranksets;
		for (gi = 0; gi < kv->lay.groups; gi++) {
			ret = pim_place_group(dm, kv->layer[l].rankset,
					      kv->lay.units,
					      pim_kv_slot(kv, l, gi));
			if (ret)
				goto undo;
		}
	}
	if (s->rankset_hint == PIM_RANKSET_ANY)
		dm->next_rankset = (first + 1) % dm->g.ranksets;
	return 0;
undo:
	n = l * kv->lay.groups + gi;
	for (l = 0; l < n; l++) {
		slot = pim_kv_slot(kv, l / kv->lay.groups, l % kv->lay.groups);
		pim_map_set(dm, slot->rank, slot->unit, kv->lay.units, false);
	}
	return ret;
}

void pim_kv_release(struct pim_dm *dm, struct pim_kv *kv)
{
	struct pim_kv_slot *slot;
	u32 l, gi;

	for (l = 0; l < kv->shape.layers; l++) {
		for (gi = 0; gi < kv->lay.groups; gi++) {
			slot = pim_kv_slot(kv, l, gi);
			pim_map_set(dm, slot->rank, slot->unit, kv->lay.units,
				    false);
		}
	}
	kv->lay.groups = 0;
}

void pim_kv_layer_place(const struct pim_kv *kv, u32 layer,
			struct pim_kv_place *p)
{
	u32 gi;

	memset(p, 0, sizeof(*p));
	if (layer >= kv->shape.layers)
		return;
	p->rankset = kv->layer[layer].rankset;
	for (gi = 0; gi < kv->lay.groups; gi++)
		p->rank_mask |= 1ULL << pim_kv_slot(kv, layer, gi)->rank;
	for (gi = 0; gi < PIM_MAX_RANKS; gi++)
		p->nr_ranks += p->rank_mask >> gi & 1;
}

u32 pim_kv_len(const struct pim_kv *kv, u32 layer)
{
	return layer < kv->shape.layers ? kv->layer[layer].len : 0;
}

u32 pim_kv_mode(const struct pim_kv *kv, u32 layer)
{
	return layer < kv->shape.layers ? kv->layer[layer].mode : 0;
}

const struct pim_kv_alloc *pim_kv_shape(const struct pim_kv *kv)
{
	return &kv->shape;
}

u32 pim_kv_groups(const struct pim_kv *kv)
{
	return kv->lay.groups;
}

u32 pim_kv_nhc(const struct pim_kv *kv)
{
	return kv->lay.nhc;
}

u32 pim_kv_group_heads(const struct pim_kv *kv, u32 group)
{
	if (group >= kv->lay.groups)
		return 0;
	return pim_min32(kv->lay.hpg,
			 kv->shape.kv_heads - group * kv->lay.hpg);
}

u32 pim_kv_group_rank(const struct pim_kv *kv, u32 layer, u32 group)
{
	if (layer >= kv->shape.layers || group >= kv->lay.groups)
		return PIM_MAX_RANKS;
	return pim_kv_slot(kv, layer, group)->rank;
}
