// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Planning one iteration (paper VI-C, digest 6.3).
 *
 * 1. Every running request in its decode phase is scheduled: all KV lives
 *    on PIM, and skipping a request would only stretch its time between
 *    tokens. New decodes go to the two sub-batches N at a time, each group
 *    to the sub-batch with less predicted PIM work, so P0 and P1 stay
 *    equal; a request then stays in its sub-batch (see plan_decodes()).
 * 2. Prefill work fills the GPU side. Sub-batch j's GPU time G_j overlaps
 *    the other sub-batch's PIM time P_(1-j); while G_j < P_(1-j) the GPU
 *    would idle, so a prefill (a partly prefilled request first, then the
 *    next waiting one, whose KV is placed on admission) is added to j with
 *    the largest chunk that keeps G_j <= P_(1-j). Its KV moves into PIM
 *    during sub-batch 1-j's attention, which raises P_(1-j) as well. Each
 *    sub-batch gets at least one prefill when one is waiting, so a GPU-bound
 *    system still admits work. While the next iteration's PIM time
 *    (counting requests whose prefill ends now as decodes) stays below the
 *    GPU time, the GPU is the bottleneck and more requests cost it little,
 *    so whole prompts are admitted. Admission stops when PIM memory is
 *    full.
 *
 * 3. Between the two, L3 runs one batch instead of two while the decodes'
 *    predicted time says one is 10% faster (see choose_batches()).
 *
 * The baselines change only these steps: fill-first admits every
 * request that fits with whole prompts (up to chunk_max per iteration);
 * no-subbatch runs one batch whose GPU and PIM work take turns; gpu-only
 * runs one batch with decode attention on the GPU.
 */
#include <errno.h>
#include <string.h>
#include "sched_impl.h"

void feat_pim(const struct sched_feat *f, double x[PRED_NFEAT])
{
	x[0] = 1;
	x[1] = (double)f->decode_ctx;
	x[2] = f->nr_decode;
	x[3] = (double)f->kv_in;
	/* No busiest class given (profiled samples): take it as balanced. */
	x[4] = 0;
	x[5] = 0;
	if (f->peak_decode) {
		x[4] = (double)f->peak_ctx - (double)f->decode_ctx;
		x[5] = (double)f->peak_decode - (double)f->nr_decode;
	}
}

void feat_gpu(const struct sched_feat *f, bool attn_on_gpu,
	      double x[PRED_NFEAT])
{
	x[0] = 1;
	x[1] = (double)(f->prefill_tokens + f->nr_decode);
	x[2] = (double)f->prefill_pairs;
	x[3] = f->out_tokens;
	x[4] = attn_on_gpu ? (double)f->decode_ctx : 0;
	x[5] = 0;
}

/* A shape's own model once it has enough samples, else the pooled one. */
double predict_pim(const struct sched *s, const struct sched_feat *f,
		   enum pim_shape shape)
{
	const struct wls *w = &s->pim;
	double x[PRED_NFEAT];

	if (shape < PIM_NR_SHAPES && s->pim_shape[shape].fitted)
		w = &s->pim_shape[shape];
	if (!w->fitted || (!f->nr_decode && !f->kv_in))
		return 0;
	feat_pim(f, x);
	return wls_eval(w, x);
}

double predict_gpu(const struct sched *s, const struct sched_feat *f,
		   bool attn_on_gpu)
{
	double x[PRED_NFEAT];

	if (!s->gpu.root.fitted || (!f->prefill_tokens && !f->nr_decode))
		return 0;
	feat_gpu(f, attn_on_gpu, x);
	return pred_tree_eval(&s->gpu, x);
}

struct planner {
	struct sched *s;
	struct sched_plan *p;
	bool adaptive;		/* predictions drive admission and chunks */
	double gpu[2], pim[2];
	double grow;		/* PIM time of requests becoming decodes */
	double ctx_cost, req_cost;	/* PIM model: per token, per decode */
	uint32_t nr_pend, next_pend;
	bool admit_closed;
	/* Decode context and decodes per sub-batch and first rankset. */
	uint64_t cls_ctx[2][SCHED_MAX_RANKSETS];
	uint32_t cls_dec[2][SCHED_MAX_RANKSETS];
};

static void add_decode(struct sched_sub *sb, uint32_t slot,
		       const struct req *r)
{
	struct sched_item *it = &sb->items[sb->nr_items++];
	uint32_t ctx = r->prompt + r->generated - 1;

	*it = (struct sched_item){ .slot = slot, .ctx = ctx, .ntok = 1 };
	sb->f.decode_ctx += ctx + 1;
	sb->f.nr_decode++;
	sb->f.out_tokens++;
}

/* The feature change of a prefill chunk of c tokens after f done. */
static void chunk_feat(struct sched_feat *f, uint32_t done, uint32_t c,
		       bool last)
{
	f->prefill_tokens += c;
	f->prefill_pairs += (uint64_t)c * done + (uint64_t)c * (c + 1) / 2;
	f->prefill_kv += done + c;
	f->out_tokens += last;
}

/* Where a sub-batch's prefill KV is written: the other one's PIM slot. */
static uint32_t kv_sink(const struct planner *pl, uint32_t j)
{
	return pl->p->nr_sub == 2 ? 1 - j : j;
}

static void refresh(struct planner *pl, uint32_t j)
{
	struct sched_sub *sb = &pl->p->sub[j];

	pl->gpu[j] = predict_gpu(pl->s, &sb->f, sb->attn_on_gpu);
	pl->pim[j] = sb->attn_on_gpu ? 0 :
		     predict_pim(pl->s, &sb->f, sub_shape(pl->p->nr_sub, j));
}

static void add_prefill(struct planner *pl, uint32_t j, uint32_t slot,
			const struct req *r, uint32_t c)
{
	struct sched_sub *sb = &pl->p->sub[j];
	struct sched_item *it = &sb->items[sb->nr_items++];
	bool last = r->prefilled + c == r->prompt;
	uint32_t k = kv_sink(pl, j);

	*it = (struct sched_item){
		.slot = slot,
		.ctx = r->prefilled,
		.ntok = c,
		.flags = SCHED_ITEM_PREFILL | (last ? SCHED_ITEM_LAST_CHUNK : 0),
	};
	sb->nr_prefill++;
	chunk_feat(&sb->f, r->prefilled, c, last);
	pl->p->sub[k].f.kv_in += c;
	refresh(pl, j);
	if (k != j)
		refresh(pl, k);
}

/* GPU idle time of sub-batch j, as predicted, with c more prefill tokens. */
static double slack_with(const struct planner *pl, uint32_t j,
			 const struct req *r, uint32_t c)
{
	const struct sched_sub *sb = &pl->p->sub[j];
	uint32_t k = kv_sink(pl, j);
	struct sched_feat fg = sb->f, fp = pl->p->sub[k].f;

	chunk_feat(&fg, r->prefilled, c, r->prefilled + c == r->prompt);
	if (k == j)
		fp = fg;
	fp.kv_in += c;
	return predict_pim(pl->s, &fp, sub_shape(pl->p->nr_sub, k)) -
	       predict_gpu(pl->s, &fg, sb->attn_on_gpu);
}

/* Largest chunk in [1, hi] that keeps sub-batch j's GPU from overrunning. */
static uint32_t fit_chunk(const struct planner *pl, uint32_t j,
			  const struct req *r, uint32_t hi)
{
	uint32_t lo = 0;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;

		if (slack_with(pl, j, r, mid) >= 0)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/*
 * GPU-bound: the next iteration's PIM time, counting requests whose prefill
 * ends now as decodes, is still below this iteration's GPU time. More
 * requests then cost the GPU little (its time is mostly weight reads) and
 * fill the PIM side, so whole prompts are admitted (paper step 2: add
 * decodes until T_PIM reaches T_GPU).
 */
static bool growing(const struct planner *pl)
{
	uint32_t j;
	double p = pl->grow, g = 0;

	for (j = 0; j < pl->p->nr_sub; j++) {
		p += pl->pim[j];
		g += pl->gpu[j];
	}
	return p < g;
}

/* Next prefill candidate: a partly prefilled request, then a waiting one. */
static uint32_t next_candidate(struct planner *pl, bool *admitted)
{
	*admitted = true;
	if (pl->next_pend < pl->nr_pend)
		return pl->s->pend[pl->next_pend];
	*admitted = false;
	return pl->admit_closed ? SLOT_NONE : sched_wait_peek(pl->s);
}

/* Take the candidate: admit it if needed. false if it cannot run now. */
static bool take_candidate(struct planner *pl, uint32_t slot, bool admitted)
{
	int ret;

	if (admitted) {
		pl->next_pend++;
		return true;
	}
	ret = sched_admit(pl->s, slot);
	if (ret == -ENOSPC)
		pl->admit_closed = true;
	return !ret;
}

static uint32_t pick_sub(const struct planner *pl)
{
	uint32_t j;

	if (pl->p->nr_sub == 1)
		return 0;
	/* A sub-batch without prefill first, then the one idling longest. */
	for (j = 0; j < 2; j++)
		if (!pl->p->sub[j].nr_prefill &&
		    pl->p->sub[1 - j].nr_prefill)
			return j;
	if (pl->adaptive)
		return pl->pim[1] - pl->gpu[0] >= pl->pim[0] - pl->gpu[1] ?
		       0 : 1;
	return pl->p->sub[0].f.prefill_tokens <=
	       pl->p->sub[1].f.prefill_tokens ? 0 : 1;
}

static void plan_prefills(struct planner *pl)
{
	struct sched *s = pl->s;

	for (;;) {
		uint32_t j = pick_sub(pl), slot, hi, c, rest;
		bool admitted, first = !pl->p->sub[j].nr_prefill;
		struct req *r;

		slot = next_candidate(pl, &admitted);
		if (slot == SLOT_NONE)
			return;
		r = &s->req[slot];
		rest = r->prompt - r->prefilled;
		hi = rest < s->cfg.chunk_max ? rest : s->cfg.chunk_max;
		c = hi;
		if (pl->adaptive) {
			uint32_t lo = rest < s->cfg.chunk_min ?
				      rest : s->cfg.chunk_min;

			c = fit_chunk(pl, j, r, hi);
			if (c < lo && growing(pl))
				c = hi;
			else if (c < lo && first)
				c = lo;
			else if (c < lo)
				return;
		}
		if (!take_candidate(pl, slot, admitted))
			continue;
		add_prefill(pl, j, slot, r, c);
		if (c == rest)	/* a decode from the next iteration on */
			pl->grow += pl->ctx_cost * (r->prompt + 1) +
				    pl->req_cost;
	}
}

static double decode_weight(const struct planner *pl, const struct req *r)
{
	return pl->ctx_cost * (r->prompt + r->generated) + pl->req_cost;
}

/*
 * The busiest first-rankset class of sub-batches j..k's decodes, by the
 * three-feature PIM model's costs: every layer's attention waits for its
 * rankset.
 */
static void set_peak(const struct planner *pl, struct sched_feat *f,
		     uint32_t j, uint32_t k)
{
	uint32_t c, r = pl->s->cfg.ranksets;
	double best = -1;

	f->peak_ctx = f->decode_ctx;
	f->peak_decode = f->nr_decode;
	for (c = 0; c < r; c++) {
		uint64_t ctx = pl->cls_ctx[j][c];
		uint32_t dec = pl->cls_dec[j][c];
		double w;

		if (k != j) {
			ctx += pl->cls_ctx[k][c];
			dec += pl->cls_dec[k][c];
		}
		w = pl->ctx_cost * ctx + pl->req_cost * dec;
		if (w > best) {
			best = w;
			f->peak_ctx = ctx * r;
			f->peak_decode = dec * r;
		}
	}
}

/*
 * Step 1: all decodes. A request keeps its sub-batch from one iteration to
 * the next, so the sub-batches change only when requests come and go (and
 * a caller's per-sub-batch state stays valid). New decodes go N at a time
 * to the sub-batch with less predicted PIM work; when drift still leaves
 * the two more than 1% apart, the latest admitted requests of the heavier
 * one move over while that narrows the gap.
 */
static void plan_decodes(struct planner *pl)
{
	struct sched *s = pl->s;
	uint32_t i, j = 0, in_group = 0, n = pl->p->nr_sub;
	double w[2] = { 0, 0 }, gap;
	struct req *r;

	for (i = 0; i < s->nr_run; i++) {
		r = &s->req[s->run[i]];
		if (r->prefilled < r->prompt)
			s->pend[pl->nr_pend++] = s->run[i];
		else if (r->sub < n)
			w[r->sub] += decode_weight(pl, r);
	}
	for (i = 0; i < s->nr_run; i++) {
		r = &s->req[s->run[i]];
		if (r->prefilled < r->prompt || r->sub < n)
			continue;
		if (in_group == 0)
			j = n == 2 && w[1] < w[0] ? 1 : 0;
		r->sub = j;
		w[j] += decode_weight(pl, r);
		if (++in_group == s->cfg.decode_step)
			in_group = 0;
	}
	for (i = s->nr_run; n == 2 && i-- > 0;) {
		uint32_t heavy = w[1] > w[0];
		double x;

		gap = w[heavy] - w[!heavy];
		if (gap <= 0.01 * (w[0] + w[1]))
			break;
		r = &s->req[s->run[i]];
		x = decode_weight(pl, r);
		if (r->prefilled < r->prompt || r->sub != heavy || x >= gap)
			continue;
		r->sub = !heavy;
		w[heavy] -= x;
		w[!heavy] += x;
	}
	for (i = 0; i < s->nr_run; i++) {
		r = &s->req[s->run[i]];
		if (r->prefilled != r->prompt)
			continue;
		add_decode(&pl->p->sub[r->sub], s->run[i], r);
		if (r->rankset < s->cfg.ranksets) {
			pl->cls_ctx[r->sub][r->rankset] += r->prompt +
							   r->generated;
			pl->cls_dec[r->sub][r->rankset]++;
		}
	}
	for (j = 0; j < n; j++)
		set_peak(pl, &pl->p->sub[j].f, j, j);
}

/*
 * One batch or two (L3 policy). Two sub-batches hide PIM time behind GPU
 * time but read the weights once each; when the decodes' PIM work is
 * small (short contexts) one batch whose GPU and PIM work take turns is
 * faster. Decided on the decodes' predicted times, switching only when the
 * other shape is 10% faster so the shape does not flap; requests keep
 * their sub-batch for when two come back.
 */
static void choose_batches(struct planner *pl)
{
	struct sched_plan *p = pl->p;
	struct sched_sub *a = &p->sub[0], *b = &p->sub[1];
	struct sched_feat f = a->f;
	double one, two;

	f.decode_ctx += b->f.decode_ctx;
	f.nr_decode += b->f.nr_decode;
	f.out_tokens += b->f.out_tokens;
	set_peak(pl, &f, 0, 1);
	two = (double)sched_iter_ns(2,
		(uint64_t[2]){ (uint64_t)pl->gpu[0], (uint64_t)pl->gpu[1] },
		(uint64_t[2]){ (uint64_t)pl->pim[0], (uint64_t)pl->pim[1] });
	one = predict_gpu(pl->s, &f, false) +
	      predict_pim(pl->s, &f, PIM_ONE);
	if (pl->s->one_batch ? two < 0.9 * one : one < 0.9 * two)
		pl->s->one_batch = !pl->s->one_batch;
	if (!pl->s->one_batch)
		return;
	memcpy(a->items + a->nr_items, b->items,
	       b->nr_items * sizeof(*b->items));
	a->nr_items += b->nr_items;
	a->f = f;
	b->nr_items = 0;
	memset(&b->f, 0, sizeof(b->f));
	p->nr_sub = 1;
	refresh(pl, 0);
	pl->gpu[1] = 0;
	pl->pim[1] = 0;
}

void plan_build(struct sched *s)
{
	struct sched_plan *p = &s->plan;
	enum sched_policy pol = s->cfg.policy;
	struct planner pl = { .s = s, .p = p };
	uint32_t j;

	memset(p, 0, sizeof(*p));
	p->iter = s->iterations;
	p->nr_sub = pol == SCHED_L3 || pol == SCHED_FILL_FIRST ? 2 : 1;
	for (j = 0; j < 2; j++) {
		p->sub[j].items = s->items + (size_t)j * s->cfg.max_batch;
		p->sub[j].attn_on_gpu = pol == SCHED_GPU_ONLY;
	}
	pl.adaptive = (pol == SCHED_L3 || pol == SCHED_NO_SUBBATCH) &&
		      sched_trained(s);
	pl.ctx_cost = 1;
	if (s->pim_cost.fitted) {
		pl.ctx_cost = s->pim_cost.beta[1];
		pl.req_cost = s->pim_cost.beta[2];
	}
	plan_decodes(&pl);
	for (j = 0; j < p->nr_sub; j++)
		refresh(&pl, j);
	if (pol == SCHED_L3 && pl.adaptive && s->cfg.one_batch)
		choose_batches(&pl);
	plan_prefills(&pl);
	for (j = 0; j < p->nr_sub; j++) {
		p->sub[j].pred_gpu_ns = (uint64_t)pl.gpu[j];
		p->sub[j].pred_pim_ns = (uint64_t)pl.pim[j];
	}
	p->pred_iter_ns = sched_iter_ns(p->nr_sub,
		(uint64_t[2]){ p->sub[0].pred_gpu_ns, p->sub[1].pred_gpu_ns },
		(uint64_t[2]){ p->sub[0].pred_pim_ns, p->sub[1].pred_pim_ns });
}
