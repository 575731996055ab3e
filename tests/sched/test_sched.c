// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Scheduler behaviour: conservation of tokens, PIM capacity, determinism,
 * chunking, the baseline policies, predictor error and bad input.
 */
#include <stdio.h>
#include "../tap.h"
#include "harness.h"

#define NREQ	300

struct run_result {
	uint64_t time_ns, iters, tokens, hash, one_iters;
	uint32_t max_chunk, chunked;
	uint32_t rs_min, rs_max;	/* requests per first rankset */
	bool conserved, cap_ok, one_done, subs_ok;
	struct sched_stats st;
};

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * NREQ requests of prompt_min..2 prompt_min tokens; request 7 may be long.
 * one_batch: L3 may fall back to one batch (the config's default).
 */
static int run(enum sched_policy pol, uint64_t cap, uint32_t prompt_min,
	       uint32_t long_prompt, bool one_batch, struct run_result *res)
{
	struct sched_config cfg;
	struct world w;
	struct sched *s;
	const struct sched_plan *p;
	uint64_t x = 42, want[NREQ];
	uint32_t i, k;

	memset(res, 0, sizeof(*res));
	sched_config_default(&cfg, pol, 1);
	cfg.ranksets = 4;
	cfg.one_batch = one_batch;
	cfg.max_requests = cfg.max_batch = 512;
	if (world_init(&w, cap, cfg.max_requests, NREQ) ||
	    sched_new(&cfg, &world_ops, &w, &s))
		return -1;
	world_profile(&w, s, 256, pol == SCHED_GPU_ONLY);
	for (i = 0; i < NREQ; i++) {
		uint32_t in = prompt_min + rnd(&x) % prompt_min;
		uint32_t out = 1 + rnd(&x) % 600;

		if (i == 7 && long_prompt)
			in = long_prompt;
		want[i] = out;
		if (sched_submit(s, i, in, out) < 0)
			return -1;
	}
	res->cap_ok = res->subs_ok = true;
	while ((p = sched_plan(s))) {
		/* L3 may fall back to one batch; fill-first never does. */
		if ((pol == SCHED_FILL_FIRST && p->nr_sub != 2) ||
		    (pol != SCHED_L3 && pol != SCHED_FILL_FIRST &&
		     p->nr_sub != 1))
			res->subs_ok = false;
		res->one_iters += p->nr_sub == 1;
		for (i = 0; i < p->nr_sub; i++) {
			const struct sched_sub *sb = &p->sub[i];

			if (sb->attn_on_gpu != (pol == SCHED_GPU_ONLY))
				res->subs_ok = false;
			for (k = 0; k < sb->nr_items; k++) {
				const struct sched_item *it = &sb->items[k];

				res->hash = res->hash * 1000003 ^
					    (it->slot * 131 + it->ntok);
				if (!(it->flags & SCHED_ITEM_PREFILL))
					continue;
				if (it->ntok > res->max_chunk)
					res->max_chunk = it->ntok;
				if (!(it->flags & SCHED_ITEM_LAST_CHUNK))
					res->chunked++;
			}
		}
		res->time_ns += world_step(&w, s, p);
		res->iters++;
		if (w.used > w.cap)
			res->cap_ok = false;
	}
	res->conserved = true;
	res->one_done = w.nr_done == NREQ;
	for (i = 0; i < NREQ; i++) {
		if (w.status[i] == 0 && w.made[i] != want[i])
			res->conserved = false;
		res->tokens += w.made[i];
	}
	sched_get_stats(s, &res->st);
	if (res->st.rejected || w.bad_rankset)
		res->conserved = false;
	res->rs_min = UINT32_MAX;
	for (i = 0; i < 4; i++) {
		if (w.per_rankset[i] < res->rs_min)
			res->rs_min = w.per_rankset[i];
		if (w.per_rankset[i] > res->rs_max)
			res->rs_max = w.per_rankset[i];
	}
	sched_free(s);
	world_fini(&w);
	return 0;
}

static void test_policies(void)
{
	static const enum sched_policy pols[] = {
		SCHED_L3, SCHED_FILL_FIRST, SCHED_NO_SUBBATCH, SCHED_GPU_ONLY,
	};
	struct run_result a, b;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		const char *n = sched_policy_name(pols[i]);

		if (run(pols[i], 60000, 16, 0, true, &a) ||
		    run(pols[i], 60000, 16, 0, true, &b)) {
			tap_ok(0, "%s: run", n);
			continue;
		}
		tap_ok(a.conserved && a.one_done,
		       "%s: every request made exactly its tokens", n);
		tap_ok(a.cap_ok, "%s: PIM capacity never exceeded", n);
		tap_ok(a.subs_ok, "%s: sub-batch shape matches the policy", n);
		tap_ok(a.hash == b.hash && a.time_ns == b.time_ns,
		       "%s: deterministic (%llu iterations)", n,
		       (unsigned long long)a.iters);
		tap_diag("%s: %.3f s, %llu tokens, pim err med %.4f gpu err med %.4f",
			 n, a.time_ns / 1e9, (unsigned long long)a.tokens,
			 a.st.pim_err_median, a.st.gpu_err_median);
	}
}

/* Short contexts: the weights, read once per sub-batch, dominate. */
static void test_one_batch(void)
{
	struct run_result l3, nosub, ff, off;

	if (run(SCHED_L3, 60000, 16, 0, true, &l3) ||
	    run(SCHED_NO_SUBBATCH, 60000, 16, 0, true, &nosub) ||
	    run(SCHED_FILL_FIRST, 60000, 16, 0, true, &ff) ||
	    run(SCHED_L3, 60000, 16, 0, false, &off)) {
		tap_ok(0, "short-context runs: one batch");
		tap_ok(0, "short-context runs: against no-subbatch");
		tap_ok(0, "short-context runs: one_batch off");
		return;
	}
	tap_ok(!off.one_iters && off.tokens == l3.tokens &&
	       off.time_ns > l3.time_ns * 1.2,
	       "one_batch off: two sub-batches throughout (%llu of %llu iterations one batch), %.1f s",
	       (unsigned long long)off.one_iters,
	       (unsigned long long)off.iters, off.time_ns / 1e9);
	tap_ok(l3.one_iters * 2 > l3.iters,
	       "l3 on short contexts runs one batch (%llu of %llu iterations)",
	       (unsigned long long)l3.one_iters,
	       (unsigned long long)l3.iters);
	tap_ok(l3.time_ns <= nosub.time_ns * 1.01 &&
	       l3.time_ns * 1.2 < ff.time_ns,
	       "so it matches no-subbatch (%.1f vs %.1f s) and beats two sub-batches (%.1f s)",
	       l3.time_ns / 1e9, nosub.time_ns / 1e9, ff.time_ns / 1e9);
}

static void test_adaptive(void)
{
	struct run_result l3, ff;

	/* Long prompts, PIM memory for about 120 requests: PIM-bound. */
	if (run(SCHED_L3, 600000, 3000, 30000, true, &l3) ||
	    run(SCHED_FILL_FIRST, 600000, 3000, 30000, true, &ff)) {
		tap_ok(0, "adaptive runs");
		return;
	}
	tap_ok(l3.conserved, "l3 with a 30,000-token prompt conserves tokens");
	tap_ok(l3.one_iters * 5 < l3.iters,
	       "PIM-bound: mostly two sub-batches (one batch in %llu of %llu iterations)",
	       (unsigned long long)l3.one_iters,
	       (unsigned long long)l3.iters);
	tap_ok(l3.rs_min * 3 > l3.rs_max,
	       "first ranksets balanced (%u..%u requests each)", l3.rs_min,
	       l3.rs_max);
	tap_ok(l3.chunked > 0 && l3.max_chunk <= 8192,
	       "l3 chunks long prompts (%u partial chunks, largest %u)",
	       l3.chunked, l3.max_chunk);
	tap_ok(l3.st.pim_samples > 100 && l3.st.pim_err_median < 0.02,
	       "pim predictor median error %.4f < 2%% (%u samples)",
	       l3.st.pim_err_median, l3.st.pim_samples);
	tap_ok(l3.st.gpu_samples > 100 && l3.st.gpu_err_median < 0.02,
	       "gpu predictor median error %.4f < 2%% (%u samples)",
	       l3.st.gpu_err_median, l3.st.gpu_samples);
	tap_ok(l3.time_ns * 1.05 < ff.time_ns,
	       "l3 beats fill-first by > 5%% with PIM memory full (%.1f vs %.1f s)",
	       l3.time_ns / 1e9, ff.time_ns / 1e9);
}

static void test_bad_input(void)
{
	struct sched_config cfg;
	struct sched_req_info ri;
	struct sched_measure m = { { 0 }, { 0 } };
	struct world w;
	struct sched *s;
	const char *why = NULL;
	int slot, big, ret;

	sched_config_default(&cfg, SCHED_L3, 1);
	cfg.ranksets = 4;
	cfg.chunk_min = cfg.chunk_max + 1;
	ret = sched_config_check(&cfg, &why);
	tap_ok(ret == -EINVAL && why, "bad config rejected: %s",
	       why ? why : "(no reason)");
	cfg.chunk_min = 256;
	cfg.max_requests = cfg.max_batch = 4;
	tap_ok(sched_new(&cfg, &(struct sched_kv_ops){ 0 }, NULL, &s) ==
	       -EINVAL, "sched_new without kv ops is -EINVAL");
	if (world_init(&w, 1000, 4, 8) || sched_new(&cfg, &world_ops, &w, &s)) {
		tap_ok(0, "setup");
		return;
	}
	tap_ok(sched_submit(s, 0, 0, 5) == -EINVAL &&
	       sched_submit(s, 0, 5, 0) == -EINVAL,
	       "zero prompt or zero output is -EINVAL");
	tap_ok(sched_drop(s, 3) == -ENOENT && sched_drop(s, 99) == -ENOENT &&
	       sched_req(s, 99, &ri) == -ENOENT,
	       "unknown slots are -ENOENT");
	tap_ok(sched_complete(s, &m) == -EINVAL,
	       "complete without a plan is -EINVAL");
	big = sched_submit(s, 1, 900, 200);
	slot = sched_submit(s, 2, 10, 10);
	tap_ok(big >= 0 && slot >= 0 && sched_plan(s),
	       "plan with a request larger than PIM");
	tap_ok(w.status[1] == -ENOSPC && sched_submit(s, 3, 1, 1) == -EBUSY &&
	       !sched_plan(s), "oversized request rejected, -EBUSY while planned");
	tap_ok(sched_complete(s, &m) == 0 && sched_drop(s, slot) == 0 &&
	       w.status[2] == 0 && !sched_pending(s) && w.used == 0,
	       "drop ends a running request and frees its KV");
	sched_free(s);
	world_fini(&w);
}

int main(void)
{
	tap_plan(4 * 4 + 3 + 7 + 8);
	test_policies();
	test_one_batch();
	test_adaptive();
	test_bad_input();
	return tap_done();
}
