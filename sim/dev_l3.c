// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The L3 DIMM-PIM of one replica: the device model of dm/, timing-only
 * (no backing memory). KV is placed by pim_kv_place() (layers interleaved
 * across ranksets, head groups on the least loaded ranks), and a
 * sub-batch's device time is the sum over layers of one command timeline
 * per layer: each decode's new K/V appended and its attention, plus the
 * prefill KV of the other sub-batch arriving, ranks in parallel, one rank
 * per channel on the host bus, a layer ending with its slowest rank.
 *
 * Layer l of a request sits on rankset (first + l) mod R, so layers l and
 * l + R have the same placement; when R divides the layer count, R
 * consecutive layers are timed and scaled by layers / R, which is exact.
 */
#include <errno.h>
#include <stdlib.h>
#include "dev.h"
#include "pim_dm.h"
#include "dm_state.h"

struct l3_dev {
	struct sim_dev base;
	const struct sim_config *cfg;
	struct pim_dm dm;
	void *state;
	struct pim_timeline *tl;
	struct pim_kv_alloc shape;
	size_t kv_bytes;
	uint8_t *kv;		/* max_slots KV descriptors */
	bool *placed;
	/*
	 * A request refused since the last release: placement is
	 * deterministic, so as large a one fails again. When the ranksets
	 * divide the layers, every first rankset asks each rankset for the
	 * same room, so the hint does not matter.
	 */
	uint32_t refused, refused_rankset;
	bool hint_free;
	uint32_t timed_layers;
	double layer_scale;
};

static struct pim_kv *l3_kv(struct l3_dev *ld, uint32_t slot)
{
	return (struct pim_kv *)(ld->kv + (size_t)slot * ld->kv_bytes);
}

static void l3_books(struct l3_dev *ld)
{
	ld->base.used = (double)(pim_dm_capacity(&ld->dm) -
				 pim_dm_free(&ld->dm));
	if (ld->base.used > ld->base.peak)
		ld->base.peak = ld->base.used;
}

static int l3_alloc(struct sim_dev *d, uint32_t slot, uint32_t max_tokens,
		    uint32_t rankset)
{
	struct l3_dev *ld = (struct l3_dev *)d;
	struct pim_kv_alloc s = ld->shape;
	double need, free;
	int ret;

	s.max_tokens = max_tokens;
	s.rankset_hint = rankset;
	if (pim_kv_check(&ld->dm, &s, NULL))
		return -E2BIG;
	need = (double)max_tokens * gpu_model_kv_token_bytes(&ld->cfg->model);
	free = (double)pim_dm_free(&ld->dm);
	if (ld->refused && max_tokens >= ld->refused &&
	    (ld->hint_free || rankset == ld->refused_rankset))
		return -ENOSPC;
	if (need > free)	/* not even the raw bytes are free */
		return -ENOSPC;
	ret = pim_kv_place(&ld->dm, &s, l3_kv(ld, slot));
	if (ret == -ENOSPC) {
		ld->refused = max_tokens;
		ld->refused_rankset = rankset;
	}
	if (ret)
		return ret == -ENOSPC ? -ENOSPC : -E2BIG;
	ld->placed[slot] = true;
	l3_books(ld);
	return 0;
}

static void l3_release(struct sim_dev *d, uint32_t slot)
{
	struct l3_dev *ld = (struct l3_dev *)d;

	if (!ld->placed[slot])
		return;
	pim_kv_release(&ld->dm, l3_kv(ld, slot));
	ld->placed[slot] = false;
	ld->refused = 0;
	l3_books(ld);
}

static uint64_t l3_time(struct sim_dev *d, const struct sched_sub *sub,
			const struct sched_sub *kv_sub)
{
	struct l3_dev *ld = (struct l3_dev *)d;
	uint32_t l, i;
	uint64_t ns = 0;
	double t, kv;

	if (!sub->f.nr_decode && !sub->f.kv_in)
		return 0;
	for (l = 0; l < ld->timed_layers; l++) {
		pim_tl_reset(ld->tl, &ld->dm);
		for (i = 0; i < sub->nr_items; i++) {
			const struct sched_item *it = &sub->items[i];
			struct pim_kv *k = l3_kv(ld, it->slot);

			if (it->flags & SCHED_ITEM_PREFILL)
				continue;
			pim_tl_append(ld->tl, k, l, 1, 0);
			pim_tl_attn(ld->tl, k, l, it->ctx + 1);
		}
		for (i = 0; kv_sub && i < kv_sub->nr_items; i++) {
			const struct sched_item *it = &kv_sub->items[i];

			if (it->flags & SCHED_ITEM_PREFILL)
				pim_tl_append(ld->tl, l3_kv(ld, it->slot), l,
					      it->ntok, 0);
		}
		ns += pim_tl_end_ns(ld->tl);
	}
	t = ns * ld->layer_scale * 1e-9 + sim_link_decode_s(ld->cfg, sub);
	kv = sim_link_kv_s(ld->cfg, sub->f.kv_in);
	return (uint64_t)((t > kv ? t : kv) * 1e9);
}

static void l3_destroy(struct sim_dev *d)
{
	struct l3_dev *ld = (struct l3_dev *)d;

	free(ld->state);
	free(ld->tl);
	free(ld->kv);
	free(ld->placed);
	free(ld);
}

static const struct sim_dev_ops l3_ops = {
	.alloc = l3_alloc,
	.release = l3_release,
	.time = l3_time,
	.destroy = l3_destroy,
};

/*
 * The replica's share of the DIMMs: 1/dp of the channels, every rankset.
 * Capacity scales with bigger ranks, bandwidth with a faster DRAM clock
 * (every DDR timing is in clocks, so all device times shrink alike).
 */
static int l3_geometry(const struct sim_config *cfg, struct pim_geometry *g)
{
	const struct sim_system *sys = &cfg->sys;
	uint32_t dp = cfg->model.dp;

	pim_geom_default(g, (uint64_t)sys->dev_bytes);
	if (g->channels % dp)
		return -EINVAL;
	g->channels /= dp;
	g->rank_bytes = (uint64_t)(g->rank_bytes * sys->cap_scale);
	g->rank_bytes -= g->rank_bytes % ((uint64_t)g->row_bytes *
					  g->chips_per_rank * g->bank_groups *
					  g->banks_per_group);
	return pim_geom_check(g, NULL);
}

static int l3_setup(struct l3_dev *ld, const struct sim_config *cfg,
		    uint32_t max_slots)
{
	const struct gpu_model *m = &cfg->model;
	struct pim_geometry g;
	struct pim_timing t;
	int ret;

	ret = l3_geometry(cfg, &g);
	if (ret)
		return ret;
	ld->state = calloc(1, pim_dm_state_bytes(&g));
	ld->tl = calloc(1, pim_timeline_bytes(&g));
	if (!ld->state || !ld->tl)
		return -ENOMEM;
	ret = pim_dm_init(&ld->dm, &g, NULL, ld->state);
	if (ret)
		return ret;
	pim_dm_set_features(&ld->dm, cfg->sys.features);
	if (cfg->sys.bw_scale != 1) {
		pim_timing_ddr4_3200(&t);
		t.tck_ps = (uint32_t)(t.tck_ps / cfg->sys.bw_scale + 0.5);
		ret = pim_dm_set_timing(&ld->dm, &t);
		if (ret)
			return ret;
	}
	ld->shape = (struct pim_kv_alloc){
		.layers = m->layers,
		.q_heads = m->heads,
		.kv_heads = m->kv_heads,
		.head_dim = m->head_dim,
		.dtype = PIM_DTYPE_FP16,
		.max_tokens = 1,
		.rankset_hint = PIM_RANKSET_ANY,
	};
	ret = pim_kv_check(&ld->dm, &ld->shape, NULL);
	if (ret)
		return ret;
	ld->kv_bytes = pim_kv_bytes(&ld->shape);
	ld->kv = calloc(max_slots, ld->kv_bytes);
	ld->placed = calloc(max_slots, sizeof(*ld->placed));
	if (!ld->kv || !ld->placed)
		return -ENOMEM;
	ld->timed_layers = m->layers;
	ld->layer_scale = 1;
	if (m->layers % g.ranksets == 0) {
		ld->hint_free = true;
		ld->timed_layers = g.ranksets;
		ld->layer_scale = (double)m->layers / g.ranksets;
	}
	ld->base.capacity = (double)pim_dm_capacity(&ld->dm);
	ld->base.ranksets = g.ranksets;
	ld->base.costly = true;
	return 0;
}

int sim_dev_l3_new(const struct sim_config *cfg, uint32_t max_slots,
		   struct sim_dev **out)
{
	struct l3_dev *ld = calloc(1, sizeof(*ld));
	int ret;

	if (!ld)
		return -ENOMEM;
	ld->base.ops = &l3_ops;
	ld->cfg = cfg;
	ret = l3_setup(ld, cfg, max_slots);
	if (ret) {
		l3_destroy(&ld->base);
		return ret;
	}
	*out = &ld->base;
	return 0;
}
