/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * harness.h - a small virtual-time world for scheduler tests: PIM memory
 * counted in tokens, PIM time linear in the scheduler's features (what the
 * device model's bandwidth-bound attention gives), GPU time from the
 * roofline of GPT-175B on 8 x A100.
 */
#ifndef PIM_TESTS_SCHED_HARNESS_H
#define PIM_TESTS_SCHED_HARNESS_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "gpu.h"
#include "sched.h"

struct world {
	uint64_t cap, used, peak;	/* PIM tokens */
	uint32_t *resv;			/* per slot */
	uint32_t *made;			/* per request id: tokens made */
	int *status;			/* per request id: done status, 1 = open */
	uint32_t nr_done, max_slots;
	uint32_t per_rankset[4];	/* requests placed by first rankset */
	bool bad_rankset;
	const struct gpu_model *m;
	const struct gpu_spec *hw;
};

static int world_alloc(void *ctx, uint32_t slot, uint64_t id, uint32_t tok,
		       uint32_t rankset)
{
	struct world *w = ctx;

	(void)id;
	if (rankset >= 4) {		/* the world has 4 ranksets */
		w->bad_rankset = true;
		return -EINVAL;
	}
	w->per_rankset[rankset]++;
	if (w->used + tok > w->cap)
		return -ENOSPC;
	w->used += tok;
	if (w->used > w->peak)
		w->peak = w->used;
	w->resv[slot] = tok;
	return 0;
}

static void world_done(void *ctx, uint32_t slot, uint64_t id, int status)
{
	struct world *w = ctx;

	w->used -= w->resv[slot];
	w->resv[slot] = 0;
	w->status[id] = status;
	w->nr_done++;
}

static const struct sched_kv_ops world_ops = {
	.alloc = world_alloc,
	.done = world_done,
};

static inline int world_init(struct world *w, uint64_t cap, uint32_t slots,
			     uint32_t nreq)
{
	uint32_t i;

	memset(w, 0, sizeof(*w));
	w->cap = cap;
	w->max_slots = slots;
	w->resv = calloc(slots, sizeof(*w->resv));
	w->made = calloc(nreq, sizeof(*w->made));
	w->status = calloc(nreq, sizeof(*w->status));
	w->m = gpu_model_find("GPT-175B");
	w->hw = gpu_spec_find("A100");
	if (!w->resv || !w->made || !w->status || !w->m || !w->hw)
		return -ENOMEM;
	for (i = 0; i < nreq; i++)
		w->status[i] = 1;
	return 0;
}

static inline void world_fini(struct world *w)
{
	free(w->resv);
	free(w->made);
	free(w->status);
}

/* 13 TB/s of bank-PU bandwidth over 4.7 MB of KV per token, plus costs. */
static inline uint64_t world_pim_ns(const struct sched_feat *f)
{
	return 363 * f->decode_ctx + 20000 * f->nr_decode +
	       12000 * f->kv_in + 50000;
}

static inline uint64_t world_gpu_ns(const struct world *w,
				    const struct sched_sub *sb)
{
	struct gpu_work gw = {
		.tokens = sb->f.prefill_tokens + sb->f.nr_decode,
		.out_tokens = sb->f.out_tokens,
		.prefill_pairs = sb->f.prefill_pairs,
		.prefill_kv = sb->f.prefill_kv,
		.decode_ctx = sb->attn_on_gpu ? sb->f.decode_ctx : 0,
	};

	return (uint64_t)(gpu_roofline_time(w->hw, w->m, &gw) * 1e9);
}

/* Warm the predictors with random batches, as an offline profile would. */
static inline void world_profile(struct world *w, struct sched *s,
				 unsigned int n, bool attn_on_gpu)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct sched_sub sb = { .attn_on_gpu = attn_on_gpu };
		uint64_t c;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		sb.f.nr_decode = 1 + x % 512;
		sb.f.decode_ctx = sb.f.nr_decode * (1 + (x >> 12) % 16000);
		c = (x >> 30) % 4096;
		sb.f.prefill_tokens = c;
		sb.f.prefill_pairs = c * (c + 1) / 2;
		sb.f.prefill_kv = c;
		sb.f.kv_in = (x >> 44) % 4096;
		sb.f.out_tokens = sb.f.nr_decode + (c > 0);
		sched_observe_pim(s, &sb.f, world_pim_ns(&sb.f));
		sched_observe_gpu(s, &sb.f, attn_on_gpu, world_gpu_ns(w, &sb));
	}
}

/* Run one planned iteration against the world; returns its time. */
static inline uint64_t world_step(struct world *w, struct sched *s,
				  const struct sched_plan *p)
{
	struct sched_measure m = { { 0 }, { 0 } };
	uint32_t i, k;

	for (i = 0; i < p->nr_sub; i++) {
		const struct sched_sub *sb = &p->sub[i];

		m.gpu_ns[i] = world_gpu_ns(w, sb);
		m.pim_ns[i] = sb->attn_on_gpu ? 0 : world_pim_ns(&sb->f);
		for (k = 0; k < sb->nr_items; k++) {
			struct sched_req_info ri;
			const struct sched_item *it = &sb->items[k];

			if (!sched_req(s, it->slot, &ri) &&
			    (!(it->flags & SCHED_ITEM_PREFILL) ||
			     (it->flags & SCHED_ITEM_LAST_CHUNK)))
				w->made[ri.id]++;
		}
	}
	sched_complete(s, &m);
	return sched_iter_ns(p->nr_sub, m.gpu_ns, m.pim_ns);
}

#endif /* PIM_TESTS_SCHED_HARNESS_H */
