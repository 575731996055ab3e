// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_kv.c - KV shapes, N_hc from Eq. 1, placement across ranksets and
 * ranks, capacity accounting, -ENOSPC rollback and the timing-only model.
 */
#include <stdlib.h>

#include "../tap.h"
#include "dm_test.h"
#include "kv.h"

static struct pim_kv_alloc shape(u32 layers, u32 qh, u32 kvh, u32 d, u32 tok)
{
	return (struct pim_kv_alloc){
		.layers = layers, .q_heads = qh, .kv_heads = kvh,
		.head_dim = d, .dtype = PIM_DTYPE_FP16, .max_tokens = tok,
		.rankset_hint = PIM_RANKSET_ANY,
	};
}

static void eq1(const struct pim_dm *dm)
{
	tap_ok(pim_model_nhc(dm, 128, 1) == 8, "Eq. 1: MHA, d 128 -> N_hc 8");
	tap_ok(pim_model_nhc(dm, 128, 8) == 1, "Eq. 1: GQA-8, d 128 -> N_hc 1");
	tap_ok(pim_model_nhc(dm, 128, 2) == 4 && pim_model_nhc(dm, 128, 4) == 2,
	       "Eq. 1: GQA-2 -> 4, GQA-4 -> 2");
	tap_ok(pim_model_nhc(dm, 64, 1) == 4 && pim_model_nhc(dm, 256, 1) == 8 &&
	       pim_model_nhc(dm, 16, 1) == 1,
	       "Eq. 1: MHA d 64 -> 4, d 256 -> 8 (capped), d 16 -> 1");
}

static void bad_shapes(const struct pim_dm *dm)
{
	struct pim_kv_alloc good = shape(4, 32, 8, 128, 1024), s;
	const char *why;
	int i;

	tap_ok(!pim_kv_check(dm, &good, NULL), "a sane shape passes");
	for (i = 0; i < 15; i++) {
		s = good;
		switch (i) {
		case 0: s.layers = 0; break;
		case 1: s.layers = 5000; break;
		case 2: s.kv_heads = 0; break;
		case 3: s.kv_heads = 7; break;
		case 4: s.q_heads = 64; s.kv_heads = 2; break;	/* GQA-32 */
		case 5: s.head_dim = 120; break;
		case 6: s.head_dim = 272; break;
		case 7: s.dtype = 3; break;
		case 8: s.chips_per_head = 3; break;
		case 9: s.chips_per_head = 16; break;
		case 10: s.head_dim = 16; s.chips_per_head = 8; break;
		case 11: s.max_tokens = 0; break;
		case 12: s.rankset_hint = 4; break;
		case 13: s.rsvd1 = 1; break;
		case 14: s.rsvd2[1] = 1; break;
		}
		why = NULL;
		tap_ok(pim_kv_check(dm, &s, &why) == -EINVAL && why,
		       "bad shape %d rejected: %s", i, why ? why : "-");
	}
}

static void placement(struct dmt *t)
{
	struct pim_dm *dm = &t->dm;
	struct pim_kv_alloc s = shape(8, 32, 32, 128, 2000);
	struct pim_kv_place p;
	struct pim_kv *kv, *kv2, *kv3;
	u64 free0 = pim_dm_free(dm), per[PIM_MAX_RANKS] = { 0 };
	bool inter = true, inset = true, even = true;
	u32 l, gi, r, first;
	int ret;

	kv = dmt_kv(t, &s, &ret);
	tap_ok(kv && pim_kv_nhc(kv) == 8 && pim_kv_groups(kv) == 32,
	       "MHA 32 heads: N_hc 8, 32 groups of one head");
	if (!kv)
		return;
	first = kv->layer[0].rankset;
	for (l = 0; l < s.layers; l++) {
		pim_kv_layer_place(kv, l, &p);
		inter = inter && p.rankset == (first + l) % dm->g.ranksets;
		for (gi = 0; gi < 32; gi++) {
			r = pim_kv_group_rank(kv, l, gi);
			inset = inset && r % dm->g.ranksets == p.rankset &&
				(p.rank_mask >> r & 1);
			per[r]++;
		}
		inset = inset && p.nr_ranks == dm->g.channels;
	}
	tap_ok(inter, "layers interleave across ranksets");
	tap_ok(inset, "every group sits on a rank of its layer's rankset");
	for (r = 0; r < dm->nranks; r++)
		even = even && per[r] == per[0];
	tap_ok(even, "least-loaded placement: %llu groups on every rank",
	       (unsigned long long)per[0]);
	tap_ok(free0 - pim_dm_free(dm) ==
	       (u64)s.layers * 32 * kv->lay.units * kv->unit_bytes,
	       "free space drops by exactly the units placed");
	s.rankset_hint = 2;
	s.layers = 1;
	kv2 = dmt_kv(t, &s, &ret);
	tap_ok(kv2 && kv2->layer[0].rankset == 2, "rankset_hint is honoured");
	s.rankset_hint = PIM_RANKSET_ANY;
	kv3 = dmt_kv(t, &s, &ret);
	tap_ok(kv2 && kv3 && kv3->layer[0].rankset != 2,
	       "PIM_RANKSET_ANY starts on a less loaded rankset");
	if (kv2)
		pim_kv_release(dm, kv2);
	if (kv3)
		pim_kv_release(dm, kv3);
	free(kv2);
	free(kv3);
	pim_kv_layer_place(kv, 99, &p);
	tap_ok(!p.rank_mask && !p.nr_ranks, "no placement for a layer past the end");
	pim_kv_release(dm, kv);
	free(kv);
	tap_ok(pim_dm_free(dm) == free0 && pim_dm_free(dm) == pim_dm_capacity(dm),
	       "release returns every unit");
}

static void enospc(struct dmt *t)
{
	struct pim_dm *dm = &t->dm;
	struct pim_kv_alloc s = shape(16, 8, 8, 128, 1000);
	size_t sb = pim_dm_state_bytes(&dm->g);
	struct pim_kv *kv[64];
	void *snap = malloc(sb);
	u64 used[PIM_MAX_RANKS], free1;
	int n = 0, ret = 0, i;

	while (n < 64) {
		kv[n] = dmt_kv(t, &s, &ret);
		if (!kv[n])
			break;
		n++;
	}
	tap_ok(ret == -ENOSPC && n > 0 && n < 64,
	       "placing until full ends with -ENOSPC after %d caches", n);
	free1 = pim_dm_free(dm);
	memcpy(snap, t->state, sb);
	memcpy(used, dm->used, sizeof(dm->used));
	ret = dmt_kv(t, &s, &ret) ? 0 : ret;
	tap_ok(ret == -ENOSPC && pim_dm_free(dm) == free1 &&
	       !memcmp(snap, t->state, sb) &&
	       !memcmp(used, dm->used, sizeof(dm->used)),
	       "a failed placement leaves the allocator exactly as it was");
	s.max_tokens = PIM_DM_MAX_TOKENS;
	tap_ok(!dmt_kv(t, &s, &ret) && ret == -ENOSPC,
	       "a group larger than a rank: -ENOSPC");
	for (i = 0; i < n; i++) {
		pim_kv_release(dm, kv[i]);
		free(kv[i]);
	}
	tap_ok(pim_dm_free(dm) == pim_dm_capacity(dm), "all capacity back");
	free(snap);
}

/* The reference first fit: the lowest run of n clear bits, or -1. */
static int ref_first_fit(const u64 *map, u32 units, u32 n)
{
	u32 i, run = 0;

	for (i = 0; i < units; i++) {
		run = map[i / 64] >> (i % 64) & 1 ? 0 : run + 1;
		if (run == n)
			return i + 1 - n;
	}
	return -1;
}

/*
 * Fragment the maps with caches of random sizes coming and going, and
 * check every single-group placement against a bit-by-bit first fit on
 * the least used rank of its rankset that has room.
 */
static void first_fit(void)
{
	struct pim_geometry g;
	struct dmt tt, *t = &tt;
	struct pim_dm *dm = &t->dm;
	size_t sb;
	u64 *snap, *map;
	struct pim_kv *kv[48] = { NULL };
	struct pim_kv_alloc s = shape(1, 1, 1, 128, 1);
	u32 used[PIM_MAX_RANKS], i, r, ch, want, n, tpu;
	u32 placed = 0, refused = 0;
	bool same = true, exact = true;
	struct pim_kv_slot *slot;
	struct pim_kv_lay lay;
	int ret, ref, fit;

	/*
	 * Two ranks per rankset of 700 row-sets: a map of 11 words, the last
	 * one partly past the end, under a tree of 16 leaves.
	 */
	pim_geom_default(&g, 8ULL << 30);
	g.channels = 2;
	g.rank_bytes = 700ULL * g.row_bytes * g.chips_per_rank *
		       g.bank_groups * g.banks_per_group;
	if (dmt_init(t, &g, false)) {
		tap_ok(0, "8 GiB timing-only device");
		return;
	}
	sb = pim_dm_state_bytes(&dm->g);
	snap = malloc(sb);
	pim_kv_layout(dm, &s, &lay);
	tpu = (u32)((1ULL << dm->unit_shift) / dm->rowset_bytes) * lay.tpr / 2;
	dmt_seed(42);
	for (i = 0; i < 2000 && snap; i++) {
		n = dmt_rand() % 48;
		if (kv[n]) {
			pim_kv_release(dm, kv[n]);
			free(kv[n]);
			kv[n] = NULL;
			continue;
		}
		/* Up to a quarter of a rank, or a whole one for every third. */
		s.max_tokens = 1 + dmt_rand() % (tpu * dm->units /
						 (n % 3 ? 4 : 1));
		s.rankset_hint = dmt_rand() % dm->g.ranksets;
		if (pim_kv_layout(dm, &s, &lay))
			continue;
		memcpy(snap, t->state, sb);
		memcpy(used, dm->used, sizeof(used));
		kv[n] = dmt_kv(t, &s, &ret);
		/* The reference: least used rank with a run, lowest on ties. */
		want = dm->nranks;
		fit = -1;
		for (ch = 0; ch < dm->g.channels; ch++) {
			r = ch * dm->g.ranksets + s.rankset_hint;
			map = snap + (size_t)r * dm->map_words;
			ref = ref_first_fit(map, dm->units, lay.units);
			if (ref >= 0 && (want == dm->nranks ||
					 used[r] < used[want])) {
				want = r;
				fit = ref;
			}
		}
		if (!kv[n]) {
			refused++;
			same = same && ret == -ENOSPC && want == dm->nranks &&
			       !memcmp(snap, t->state, sb);
			continue;
		}
		placed++;
		slot = pim_kv_slot(kv[n], 0, 0);
		same = same && slot->rank == want && (int)slot->unit == fit;
		map = (u64 *)t->state + (size_t)slot->rank * dm->map_words;
		for (r = 0; r < dm->units; r++) {
			bool in = r >= slot->unit &&
				  r < slot->unit + kv[n]->lay.units;
			bool was = snap[(size_t)slot->rank * dm->map_words +
					r / 64] >> (r % 64) & 1;

			exact = exact && (map[r / 64] >> (r % 64) & 1) ==
					 (was || in);
		}
	}
	tap_ok(same && placed > 100 && refused > 0 && dm->units % 64,
	       "fragmented maps of %u units: %u placements and %u refusals match a bit-by-bit first fit",
	       dm->units, placed, refused);
	tap_ok(exact, "a placement sets exactly its run of units");
	for (i = 0; i < 48; i++) {
		if (kv[i])
			pim_kv_release(dm, kv[i]);
		free(kv[i]);
	}
	tap_ok(pim_dm_free(dm) == pim_dm_capacity(dm), "all capacity back");
	free(snap);
	dmt_fini(t);
}

/* Equal loads (layers a multiple of the ranksets): ANY rotates. */
static void rotation(struct dmt *t)
{
	struct pim_dm *dm = &t->dm;
	struct pim_kv_alloc s = shape(dm->g.ranksets * 2, 8, 8, 128, 100);
	struct pim_kv *kv[2 * PIM_MAX_RANKS] = { NULL };
	u32 i, n = 2 * dm->g.ranksets, first[2 * PIM_MAX_RANKS] = { 0 };
	bool rr = true;
	int ret;

	for (i = 0; i < n; i++) {
		kv[i] = dmt_kv(t, &s, &ret);
		first[i] = kv[i] ? kv[i]->layer[0].rankset : ~0U;
		rr = rr && kv[i] && (!i || first[i] ==
				     (first[i - 1] + 1) % dm->g.ranksets);
	}
	tap_ok(rr, "PIM_RANKSET_ANY on equal loads: first rankset goes round-robin (%u, %u, ...)",
	       first[0], first[1]);
	for (i = 0; i < n; i++) {
		if (kv[i])
			pim_kv_release(dm, kv[i]);
		free(kv[i]);
	}
}

static void paper_scale(void)
{
	struct pim_geometry g;
	struct pim_kv_alloc s = shape(96, 96, 96, 128, 16384);
	struct pim_kv *kv;
	struct dmt t;
	u16 buf[8];
	int ret;

	pim_geom_default(&g, 2ULL << 40);
	tap_ok(pim_dm_state_bytes(&g) <= 768 << 10,
	       "2 TiB model needs %zu bytes of allocator state",
	       pim_dm_state_bytes(&g));
	tap_ok(!dmt_init(&t, &g, false) &&
	       pim_dm_capacity(&t.dm) == 2ULL << 40,
	       "timing-only 2 TiB device: 2 TiB capacity");
	kv = dmt_kv(&t, &s, &ret);
	tap_ok(kv && pim_kv_append(&t.dm, kv, 0, 1000, NULL, NULL, 0) == 0 &&
	       pim_kv_len(kv, 0) == 1000,
	       "GPT-175B 16K-token cache places; timing-only append counts tokens");
	if (kv) {
		tap_ok(pim_kv_read(&t.dm, kv, 0, 0, 1, buf, buf) == -ENODEV,
		       "timing-only read: -ENODEV");
		pim_kv_release(&t.dm, kv);
		free(kv);
	} else {
		tap_ok(0, "timing-only read: no cache");
	}
	dmt_fini(&t);
}

int main(void)
{
	struct pim_geometry g;
	struct dmt t;

	tap_plan(4 + 16 + 9 + 4 + 3 + 1 + 4);
	pim_geom_default(&g, 512 << 20);
	if (dmt_init(&t, &g, false))
		return 1;
	eq1(&t.dm);
	bad_shapes(&t.dm);
	placement(&t);
	enospc(&t);
	rotation(&t);
	dmt_fini(&t);
	first_fit();
	paper_scale();
	return tap_done();
}
