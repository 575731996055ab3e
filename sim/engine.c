// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The virtual-time loop. Each data-parallel replica (tp GPUs and 1/dp of
 * the attention memory) serves every dp-th request with its own scheduler;
 * the run ends when the slowest replica ends.
 *
 * One iteration: the scheduler plans two sub-batches, the GPU roofline
 * times each sub-batch's GPU work (G), the attention device times each
 * sub-batch's PIM work (P), the iteration takes max(G1, P0) + max(G0, P1)
 * (G + P without sub-batching), and the measured G and P go back to the
 * scheduler, which refits its predictors.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "dev.h"

#define TBT_BINS_PER_OCTAVE	32
#define TBT_BINS		(48 * TBT_BINS_PER_OCTAVE)
#define PROFILE_REQS		64
#define MEMO_SPAN		64

/*
 * Between admissions and completions a sub-batch keeps its requests, and
 * each decode's context grows by one token per iteration. The device
 * model's time is then affine in the iteration number (up to DRAM row
 * rounding), so it is computed exactly at the start of such a run and
 * MEMO_SPAN iterations ahead, and interpolated in between. Any change of
 * the sub-batch (a request in or out, a prefill chunk) starts over.
 * cfg->pim_exact turns this off; tests/sim compares both.
 */
struct memo {
	uint64_t key;
	uint64_t iter0;
	uint64_t t0, tk;
	bool valid;
};

struct replica {
	const struct sim_config *cfg;
	const struct sim_workload *w;
	uint32_t index;
	struct sim_dev *dev;
	struct sched *s;
	uint32_t *made;		/* per request: tokens made */
	double *last_tok;	/* per request: time of its last token */
	uint32_t mismatched;
	uint32_t rejected;
	struct memo memo[2];
	struct sched_item *shadow;	/* items MEMO_SPAN iterations ahead */
};

struct totals {
	double time, gpu, pim, overlap, batch, batch_peak;
	double tbt_sum;
	uint64_t tbt_n, iterations, tokens;
	uint64_t tbt_hist[TBT_BINS];
	double err_pim, err_gpu;
	uint32_t err_n;
};

static int rep_alloc(void *ctx, uint32_t slot, uint64_t id, uint32_t tokens,
		     uint32_t rankset)
{
	struct replica *r = ctx;

	(void)id;
	return r->dev->ops->alloc(r->dev, slot, tokens, rankset);
}

static void rep_done(void *ctx, uint32_t slot, uint64_t id, int status)
{
	struct replica *r = ctx;

	if (status) {
		r->rejected++;
		return;
	}
	r->dev->ops->release(r->dev, slot);
	if (r->made[id] != r->w->req[id].out)
		r->mismatched++;
}

static const struct sched_kv_ops rep_ops = {
	.alloc = rep_alloc,
	.done = rep_done,
};

static uint64_t gpu_ns(const struct sim_config *cfg, const struct sched_sub *sb)
{
	struct gpu_work gw = {
		.tokens = sb->f.prefill_tokens + sb->f.nr_decode,
		.out_tokens = sb->f.out_tokens,
		.prefill_pairs = sb->f.prefill_pairs,
		.prefill_kv = sb->f.prefill_kv,
		.decode_ctx = sb->attn_on_gpu ? sb->f.decode_ctx : 0,
	};

	if (!gw.tokens)
		return 0;
	if (cfg->gpu_calib)
		return (uint64_t)(gpu_calib_time(cfg->gpu_calib, &cfg->sys.gpu,
						 &cfg->model, &gw) * 1e9);
	return (uint64_t)(gpu_roofline_time(&cfg->sys.gpu, &cfg->model, &gw) *
			  1e9);
}

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * Offline profiling, as the paper does before serving: place synthetic
 * requests on the device, time random sub-batches of them on the device
 * model and the GPU roofline, and feed both predictors.
 */
static int profile(struct replica *r, uint32_t first_slot)
{
	const struct sim_config *cfg = r->cfg;
	struct sched_item items[PROFILE_REQS + 1];
	uint32_t len[PROFILE_REQS], n = 0, i, k;
	double kv_tok = (double)gpu_model_kv_token_bytes(&cfg->model);
	double room = r->dev->capacity / 2 / PROFILE_REQS / kv_tok;
	uint64_t x = 0x2545f4914f6cdd1dULL;
	bool gpu_attn = cfg->sys.policy == SCHED_GPU_ONLY;

	for (i = 0; i < PROFILE_REQS && room >= 2; i++) {
		len[n] = 2 + rnd(&x) % (uint32_t)(room < 32768 ? room - 1 : 32767);
		if (r->dev->ops->alloc(r->dev, first_slot + n, len[n],
				       n % (r->dev->ranksets ? r->dev->ranksets : 1)))
			break;
		n++;
	}
	for (k = 0; k < cfg->profile_samples; k++) {
		struct sched_sub sb = { .items = items };
		struct sched_sub kv = { .items = items };
		uint32_t want = n ? 1 + rnd(&x) % n : 0;
		uint64_t c = rnd(&x) % 2 ? rnd(&x) % 4096 : 0;

		for (i = 0; i < want; i++) {
			uint32_t j = rnd(&x) % n;
			uint32_t ctx = 1 + rnd(&x) % (len[j] - 1);

			items[sb.nr_items++] = (struct sched_item){
				.slot = first_slot + j, .ctx = ctx, .ntok = 1 };
			sb.f.decode_ctx += ctx + 1;
			sb.f.nr_decode++;
			sb.f.out_tokens++;
		}
		if (!sb.f.nr_decode && !c)
			c = 1;
		sb.f.prefill_tokens = c;
		sb.f.prefill_pairs = c * (c + 1) / 2;
		sb.f.prefill_kv = c;
		sb.f.out_tokens += c > 0;
		sb.attn_on_gpu = gpu_attn;
		sched_observe_gpu(r->s, &sb.f, gpu_attn, gpu_ns(cfg, &sb));
		if (gpu_attn || !n)
			continue;
		/* Prefill KV moving in: a chunk for one of the requests. */
		sb.f.kv_in = 0;
		if (c && sb.nr_items) {
			uint32_t j = items[0].slot - first_slot;

			kv.items = &items[sb.nr_items];
			kv.items[0] = (struct sched_item){
				.slot = items[0].slot, .ntok = c < len[j] ? c : len[j],
				.flags = SCHED_ITEM_PREFILL };
			kv.nr_items = kv.nr_prefill = 1;
			sb.f.kv_in = kv.items[0].ntok;
		}
		sched_observe_pim(r->s, &sb.f,
				  r->dev->ops->time(r->dev, &sb, &kv));
	}
	for (i = 0; i < n; i++)
		r->dev->ops->release(r->dev, first_slot + i);
	r->dev->used = 0;
	r->dev->peak = 0;
	return 0;
}

static void tbt_add(struct totals *t, double dt)
{
	int e;
	double m = frexp(dt * 1e9, &e);
	long bin;

	t->tbt_sum += dt;
	t->tbt_n++;
	if (dt <= 0)
		return;
	bin = (long)(e - 1) * TBT_BINS_PER_OCTAVE +
	      (long)(log2(2 * m) * TBT_BINS_PER_OCTAVE);
	if (bin < 0)
		bin = 0;
	if (bin >= TBT_BINS)
		bin = TBT_BINS - 1;
	t->tbt_hist[bin]++;
}

static double tbt_quantile(const struct totals *t, double q)
{
	uint64_t want = (uint64_t)ceil(q * t->tbt_n), seen = 0;
	int b;

	for (b = 0; b < TBT_BINS; b++) {
		seen += t->tbt_hist[b];
		if (want && seen >= want)	/* geometric middle of the bin */
			return exp2((b + 0.5) / TBT_BINS_PER_OCTAVE) * 1e-9;
	}
	return 0;
}

static void timeline_row(const struct replica *r, const struct sched_plan *p,
			 double now, const struct sched_measure *m,
			 uint64_t iter_ns)
{
	FILE *f = r->cfg->timeline;
	uint32_t dec = 0, pre = 0, ptok = 0, i;

	for (i = 0; i < p->nr_sub; i++) {
		dec += p->sub[i].f.nr_decode;
		pre += p->sub[i].nr_prefill;
		ptok += p->sub[i].f.prefill_tokens;
	}
	fprintf(f, "%u,%llu,%.6f,%.1f,%.1f,%.1f,%.1f,%.1f,%u,%u,%u,%.1f,%.1f,%.1f,%.1f\n",
		r->index, (unsigned long long)p->iter, now,
		m->gpu_ns[0] / 1e3, m->gpu_ns[1] / 1e3, m->pim_ns[0] / 1e3,
		m->pim_ns[1] / 1e3, iter_ns / 1e3, dec, pre, ptok,
		p->sub[0].pred_gpu_ns / 1e3, p->sub[1].pred_gpu_ns / 1e3,
		p->sub[0].pred_pim_ns / 1e3, p->sub[1].pred_pim_ns / 1e3);
}

static void account(struct replica *r, struct totals *t,
		    const struct sched_plan *p, const struct sched_measure *m,
		    double end)
{
	uint32_t i, k, items = 0;

	for (i = 0; i < p->nr_sub; i++) {
		const struct sched_sub *sb = &p->sub[i];

		t->gpu += m->gpu_ns[i] * 1e-9;
		t->pim += m->pim_ns[i] * 1e-9;
		items += sb->nr_items;
		for (k = 0; k < sb->nr_items; k++) {
			const struct sched_item *it = &sb->items[k];
			struct sched_req_info ri;

			if ((it->flags & SCHED_ITEM_PREFILL) &&
			    !(it->flags & SCHED_ITEM_LAST_CHUNK))
				continue;
			sched_req(r->s, it->slot, &ri);
			if (!(it->flags & SCHED_ITEM_PREFILL))
				tbt_add(t, end - r->last_tok[ri.id]);
			r->last_tok[ri.id] = end;
			r->made[ri.id]++;
		}
	}
	if (p->nr_sub == 2) {
		double a = m->gpu_ns[1] < m->pim_ns[0] ? m->gpu_ns[1] : m->pim_ns[0];
		double b = m->gpu_ns[0] < m->pim_ns[1] ? m->gpu_ns[0] : m->pim_ns[1];

		t->overlap += (a + b) * 1e-9;
	}
	t->batch += items;
	if (items > t->batch_peak)
		t->batch_peak = items;
	t->iterations++;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdULL;
}

/* Everything that decides the device time, but the iteration's offset. */
static uint64_t memo_key(const struct sched_plan *p, const struct sched_sub *sb,
			 const struct sched_sub *kv)
{
	uint64_t h = mix(sb->nr_items, kv->nr_items);
	uint32_t i;

	for (i = 0; i < sb->nr_items; i++) {
		const struct sched_item *it = &sb->items[i];

		h = mix(h, it->slot);
		h = mix(h, it->flags & SCHED_ITEM_PREFILL ? it->ntok :
			it->ctx - p->iter);
	}
	for (i = 0; i < kv->nr_items; i++)
		if (kv->items[i].flags & SCHED_ITEM_PREFILL)
			h = mix(mix(h, kv->items[i].slot), kv->items[i].ntok);
	return h;
}

static uint64_t ahead_ns(struct replica *r, const struct sched_sub *sb,
			 const struct sched_sub *kv)
{
	struct sched_sub a = *sb;
	uint32_t i;

	memcpy(r->shadow, sb->items, sb->nr_items * sizeof(*sb->items));
	for (i = 0; i < sb->nr_items; i++)
		if (!(r->shadow[i].flags & SCHED_ITEM_PREFILL))
			r->shadow[i].ctx += MEMO_SPAN;
	a.items = r->shadow;
	a.f.decode_ctx += (uint64_t)MEMO_SPAN * sb->f.nr_decode;
	return r->dev->ops->time(r->dev, &a, kv);
}

static uint64_t pim_ns(struct replica *r, const struct sched_plan *p,
		       uint32_t i)
{
	const struct sched_sub *sb = &p->sub[i];
	const struct sched_sub *kv = &p->sub[p->nr_sub == 2 ? 1 - i : i];
	struct memo *m = &r->memo[i];
	uint64_t key, d;

	if (!r->dev->costly || r->cfg->pim_exact)
		return r->dev->ops->time(r->dev, sb, kv);
	key = memo_key(p, sb, kv);
	if (!m->valid || m->key != key || p->iter - m->iter0 >= MEMO_SPAN) {
		/* A new run, or the next span of this one. */
		if (m->valid && m->key == key) {
			m->t0 = m->tk;
			m->iter0 += MEMO_SPAN;
		} else {
			m->t0 = r->dev->ops->time(r->dev, sb, kv);
			m->iter0 = p->iter;
			m->key = key;
			m->valid = true;
		}
		m->tk = ahead_ns(r, sb, kv);
		if (p->iter != m->iter0) {	/* skipped past a span */
			m->t0 = r->dev->ops->time(r->dev, sb, kv);
			m->iter0 = p->iter;
			m->tk = ahead_ns(r, sb, kv);
		}
	}
	d = p->iter - m->iter0;
	return m->t0 + (uint64_t)(((double)m->tk - (double)m->t0) * d /
				  MEMO_SPAN);
}

static int replica_run(struct replica *r, struct totals *t)
{
	const struct sim_config *cfg = r->cfg;
	const struct sim_workload *w = r->w;
	uint32_t dp = cfg->model.dp, next = r->index, i;
	const struct sched_plan *p;
	struct sched_stats st;
	double now = 0;
	int ret;

	for (;;) {
		struct sched_measure m = { { 0 }, { 0 } };
		uint64_t ns;

		for (; next < w->nr && w->req[next].arrival <= now; next += dp) {
			ret = sched_submit(r->s, next, w->req[next].in,
					   w->req[next].out);
			if (ret < 0)
				return ret;
		}
		p = sched_plan(r->s);
		if (!p) {
			if (next >= w->nr)
				break;
			now = w->req[next].arrival;
			continue;
		}
		for (i = 0; i < p->nr_sub; i++) {
			m.gpu_ns[i] = gpu_ns(cfg, &p->sub[i]);
			m.pim_ns[i] = pim_ns(r, p, i);
		}
		ns = sched_iter_ns(p->nr_sub, m.gpu_ns, m.pim_ns);
		if (cfg->timeline && r->index == 0)
			timeline_row(r, p, now, &m, ns);
		account(r, t, p, &m, now + ns * 1e-9);
		ret = sched_complete(r->s, &m);
		if (ret)
			return ret;
		now += ns * 1e-9;
	}
	if (sched_pending(r->s))
		return -EDEADLK;
	sched_get_stats(r->s, &st);
	t->tokens += st.tokens;
	t->time = now > t->time ? now : t->time;
	t->err_pim += st.pim_err_median;
	t->err_gpu += st.gpu_err_median;
	t->err_n++;
	return 0;
}

static int replica_setup(struct replica *r, uint32_t slots)
{
	const struct sim_config *cfg = r->cfg;
	struct sched_config sc;
	int ret;

	sched_config_default(&sc, cfg->sys.policy,
			     cfg->model.heads / cfg->model.kv_heads);
	sc.max_requests = sc.max_batch = slots;
	sc.one_batch = cfg->one_batch;
	ret = sim_dev_new(cfg, slots + PROFILE_REQS, &r->dev);
	if (ret)
		return ret;
	sc.ranksets = r->dev->ranksets;
	r->shadow = calloc(slots, sizeof(*r->shadow));
	if (!r->shadow)
		return -ENOMEM;
	ret = sched_new(&sc, &rep_ops, r, &r->s);
	if (ret)
		return ret;
	return profile(r, slots);
}

static void replica_free(struct replica *r)
{
	free(r->shadow);
	sched_free(r->s);
	if (r->dev)
		r->dev->ops->destroy(r->dev);
}

int sim_run(const struct sim_config *cfg, const struct sim_workload *w,
	    struct sim_result *res)
{
	struct totals *t = calloc(1, sizeof(*t));
	uint32_t *made = calloc(w->nr, sizeof(*made));
	double *last = calloc(w->nr, sizeof(*last));
	uint32_t dp = cfg->model.dp, i, slots = w->nr / dp + 1;
	struct timespec t0, t1;
	const char *why;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	if (sim_config_check(cfg, &why) || !w->nr) {
		ret = -EINVAL;
		goto out;
	}
	if (!t || !made || !last) {
		ret = -ENOMEM;
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (cfg->timeline)
		fprintf(cfg->timeline, "replica,iter,start_s,gpu0_us,gpu1_us,pim0_us,pim1_us,iter_us,decodes,prefills,prefill_tokens,pred_gpu0_us,pred_gpu1_us,pred_pim0_us,pred_pim1_us\n");
	for (i = 0; i < dp && !ret; i++) {
		struct replica r = {
			.cfg = cfg, .w = w, .index = i, .made = made,
			.last_tok = last,
		};

		ret = replica_setup(&r, slots);
		if (!ret)
			ret = replica_run(&r, t);
		res->kv_capacity += r.dev ? r.dev->capacity : 0;
		res->kv_peak += r.dev ? r.dev->peak : 0;
		res->rejected += r.rejected;
		res->mismatched += r.mismatched;
		replica_free(&r);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (ret)
		goto out;
	snprintf(res->system, sizeof(res->system), "%s", cfg->sys.name);
	snprintf(res->model, sizeof(res->model), "%s", cfg->model.name);
	snprintf(res->trace, sizeof(res->trace), "%s", w->name);
	snprintf(res->policy, sizeof(res->policy), "%s",
		 sched_policy_name(cfg->sys.policy));
	res->requests = w->nr;
	res->tokens = t->tokens;
	res->iterations = t->iterations;
	res->time_s = t->time;
	res->throughput = t->time > 0 ? t->tokens / t->time : 0;
	res->batch_avg = t->iterations ? t->batch / t->iterations : 0;
	res->batch_peak = t->batch_peak;
	res->tbt_mean = t->tbt_n ? t->tbt_sum / t->tbt_n : 0;
	res->tbt_p50 = tbt_quantile(t, 0.5);
	res->tbt_p99 = tbt_quantile(t, 0.99);
	/* Busy fractions over the replicas' summed time. */
	res->gpu_busy = t->time > 0 ? t->gpu / (t->time * dp) : 0;
	res->pim_busy = t->time > 0 ? t->pim / (t->time * dp) : 0;
	res->overlap = t->time > 0 ? t->overlap / (t->time * dp) : 0;
	res->pim_err_med = t->err_n ? t->err_pim / t->err_n : 0;
	res->gpu_err_med = t->err_n ? t->err_gpu / t->err_n : 0;
	res->wall_s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
out:
	free(t);
	free(made);
	free(last);
	return ret;
}
