// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The scheduler's request table, iteration bookkeeping, predictor feedback
 * and statistics. Planning itself is in plan.c.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "sched_impl.h"

static const char *const policy_names[SCHED_NR_POLICIES] = {
	[SCHED_L3] = "l3",
	[SCHED_FILL_FIRST] = "fill-first",
	[SCHED_NO_SUBBATCH] = "no-subbatch",
	[SCHED_GPU_ONLY] = "gpu-only",
};

const char *sched_policy_name(enum sched_policy p)
{
	return (unsigned int)p < SCHED_NR_POLICIES ? policy_names[p] : "?";
}

int sched_policy_parse(const char *name, enum sched_policy *p)
{
	unsigned int i;

	for (i = 0; i < SCHED_NR_POLICIES; i++) {
		if (!strcasecmp(name, policy_names[i])) {
			*p = i;
			return 0;
		}
	}
	return -EINVAL;
}

void sched_config_default(struct sched_config *cfg, enum sched_policy policy,
			  uint32_t gqa_group)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->policy = policy;
	cfg->max_requests = 4096;
	cfg->max_batch = 4096;
	cfg->decode_step = gqa_group > 1 ? 16 : 1;
	cfg->chunk_min = 256;
	cfg->chunk_max = 8192;
	cfg->one_batch = true;
}

int sched_config_check(const struct sched_config *cfg, const char **why)
{
	const char *bad = NULL;

	if ((unsigned int)cfg->policy >= SCHED_NR_POLICIES)
		bad = "unknown policy";
	else if (!cfg->max_requests || cfg->max_requests > (1U << 20))
		bad = "max_requests must be 1..1048576";
	else if (!cfg->max_batch || cfg->max_batch > cfg->max_requests)
		bad = "max_batch must be 1..max_requests";
	else if (!cfg->decode_step || cfg->decode_step > 1024)
		bad = "decode_step must be 1..1024";
	else if (!cfg->chunk_min || cfg->chunk_min > cfg->chunk_max)
		bad = "chunk_min must be 1..chunk_max";
	else if (cfg->ranksets > SCHED_MAX_RANKSETS)
		bad = "ranksets must be 0..64";
	if (why)
		*why = bad;
	return bad ? -EINVAL : 0;
}

int sched_new(const struct sched_config *cfg, const struct sched_kv_ops *ops,
	      void *ctx, struct sched **out)
{
	struct sched *s;
	uint32_t i;

	if (sched_config_check(cfg, NULL) || !ops || !ops->alloc || !ops->done)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	s->ops = *ops;
	s->ctx = ctx;
	s->req = calloc(cfg->max_requests, sizeof(*s->req));
	s->run = calloc(cfg->max_batch, sizeof(*s->run));
	s->items = calloc(2 * (size_t)cfg->max_batch, sizeof(*s->items));
	s->pend = calloc(cfg->max_batch, sizeof(*s->pend));
	if (!s->req || !s->run || !s->items || !s->pend) {
		sched_free(s);
		return -ENOMEM;
	}
	for (i = 0; i < cfg->max_requests; i++)
		s->req[i].next = i + 1 < cfg->max_requests ? i + 1 : SLOT_NONE;
	s->free_head = 0;
	s->wait_head = s->wait_tail = SLOT_NONE;
	*out = s;
	return 0;
}

void sched_free(struct sched *s)
{
	if (!s)
		return;
	free(s->req);
	free(s->run);
	free(s->items);
	free(s->pend);
	free(s);
}

int sched_submit(struct sched *s, uint64_t id, uint32_t prompt,
		 uint32_t max_new)
{
	struct req *r;
	uint32_t slot;

	if (!prompt || !max_new || (uint64_t)prompt + max_new > UINT32_MAX)
		return -EINVAL;
	if (s->planned)
		return -EBUSY;
	slot = s->free_head;
	if (slot == SLOT_NONE)
		return -ENOSPC;
	r = &s->req[slot];
	s->free_head = r->next;
	*r = (struct req){
		.id = id,
		.prompt = prompt,
		.max_new = max_new,
		.state = REQ_WAITING,
		.next = SLOT_NONE,
	};
	if (s->wait_tail == SLOT_NONE)
		s->wait_head = slot;
	else
		s->req[s->wait_tail].next = slot;
	s->wait_tail = slot;
	s->nr_waiting++;
	return (int)slot;
}

/* The first rankset whose class holds the least context. */
static uint32_t pick_rankset(const struct sched *s)
{
	uint32_t c, best = 0;

	if (!s->cfg.ranksets)
		return SCHED_RANKSET_ANY;
	for (c = 1; c < s->cfg.ranksets; c++)
		if (s->class_tokens[c] < s->class_tokens[best] ||
		    (s->class_tokens[c] == s->class_tokens[best] &&
		     s->class_reqs[c] < s->class_reqs[best]))
			best = c;
	return best;
}

/* A running request leaves: its KV no longer loads its class. */
static void class_leave(struct sched *s, const struct req *r)
{
	if (r->rankset == SCHED_RANKSET_ANY)
		return;
	s->class_tokens[r->rankset] -= r->prefilled + r->generated;
	s->class_reqs[r->rankset]--;
}

static void slot_free(struct sched *s, uint32_t slot)
{
	s->req[slot].state = REQ_FREE;
	s->req[slot].next = s->free_head;
	s->free_head = slot;
}

static void wait_pop(struct sched *s)
{
	uint32_t slot = s->wait_head;

	s->wait_head = s->req[slot].next;
	if (s->wait_head == SLOT_NONE)
		s->wait_tail = SLOT_NONE;
	s->nr_waiting--;
}

uint32_t sched_wait_peek(const struct sched *s)
{
	return s->wait_head;
}

/*
 * Admit the head of the waiting queue: 0, -ENOSPC when PIM memory is full
 * for now, -ECANCELED when the request was rejected (it cannot be placed
 * even on an empty device) and the caller may try the next one.
 */
int sched_admit(struct sched *s, uint32_t slot)
{
	struct req *r = &s->req[slot];
	int ret;

	if (s->nr_run == s->cfg.max_batch)
		return -ENOSPC;
	r->rankset = pick_rankset(s);
	ret = s->ops.alloc(s->ctx, slot, r->id, r->prompt + r->max_new,
			   r->rankset);
	if (ret == -ENOSPC && s->nr_run)
		return -ENOSPC;
	wait_pop(s);
	if (ret) {
		s->rejected++;
		s->ops.done(s->ctx, slot, r->id, ret);
		slot_free(s, slot);
		return -ECANCELED;
	}
	r->state = REQ_RUNNING;
	r->next = SLOT_NONE;
	r->sub = SUB_NONE;
	s->run[s->nr_run++] = slot;
	if (r->rankset != SCHED_RANKSET_ANY)
		s->class_reqs[r->rankset]++;
	return 0;
}

int sched_drop(struct sched *s, uint32_t slot)
{
	struct req *r;
	uint32_t i, prev;

	if (slot >= s->cfg.max_requests || s->req[slot].state == REQ_FREE)
		return -ENOENT;
	if (s->planned)
		return -EBUSY;
	r = &s->req[slot];
	if (r->state == REQ_RUNNING) {
		for (i = 0; s->run[i] != slot; i++)
			;
		memmove(&s->run[i], &s->run[i + 1],
			(s->nr_run - i - 1) * sizeof(*s->run));
		s->nr_run--;
		class_leave(s, r);
	} else if (s->wait_head == slot) {
		wait_pop(s);
	} else {
		for (prev = s->wait_head; s->req[prev].next != slot;
		     prev = s->req[prev].next)
			;
		s->req[prev].next = r->next;
		if (s->wait_tail == slot)
			s->wait_tail = prev;
		s->nr_waiting--;
	}
	s->finished++;
	s->ops.done(s->ctx, slot, r->id, 0);
	slot_free(s, slot);
	return 0;
}

int sched_req(const struct sched *s, uint32_t slot,
	      struct sched_req_info *info)
{
	const struct req *r;

	if (slot >= s->cfg.max_requests || s->req[slot].state == REQ_FREE)
		return -ENOENT;
	r = &s->req[slot];
	*info = (struct sched_req_info){
		.id = r->id,
		.prompt = r->prompt,
		.max_new = r->max_new,
		.prefilled = r->prefilled,
		.generated = r->generated,
		.running = r->state == REQ_RUNNING,
	};
	return 0;
}

uint32_t sched_pending(const struct sched *s)
{
	return s->nr_waiting + s->nr_run;
}

const struct sched_plan *sched_plan(struct sched *s)
{
	if (s->planned)
		return NULL;
	plan_build(s);
	if (!s->plan.sub[0].nr_items && !s->plan.sub[1].nr_items)
		return NULL;
	s->planned = true;
	return &s->plan;
}

static void err_add(struct err_ring *e, double pred, uint64_t meas)
{
	if (!(pred > 0) || !meas)
		return;
	e->v[e->n++ % SCHED_ERR_WINDOW] = fabs(pred - (double)meas) / meas;
}

/* Advance every item of a sub-batch; returns output tokens made. */
static uint32_t sub_advance(struct sched *s, const struct sched_sub *sb)
{
	uint32_t i, made = 0;

	for (i = 0; i < sb->nr_items; i++) {
		const struct sched_item *it = &sb->items[i];
		struct req *r = &s->req[it->slot];
		uint32_t kv = 0;

		if (it->flags & SCHED_ITEM_PREFILL) {
			r->prefilled += it->ntok;
			kv = it->ntok;
		}
		if (!(it->flags & SCHED_ITEM_PREFILL) ||
		    (it->flags & SCHED_ITEM_LAST_CHUNK)) {
			r->generated++;
			made++;
			kv++;
		}
		if (r->rankset != SCHED_RANKSET_ANY)
			s->class_tokens[r->rankset] += kv;
	}
	return made;
}

static void observe_pim(struct sched *s, const struct sched_feat *f,
			enum pim_shape shape, uint64_t ns)
{
	double x[PRED_NFEAT];

	feat_pim(f, x);
	wls_add(&s->pim, x, (double)ns);
	if (shape < PIM_NR_SHAPES)
		wls_add(&s->pim_shape[shape], x, (double)ns);
	x[4] = x[5] = 0;
	wls_add(&s->pim_cost, x, (double)ns);
}

int sched_complete(struct sched *s, const struct sched_measure *m)
{
	uint32_t i, n;

	if (!s->planned || !m)
		return -EINVAL;
	for (i = 0; i < s->plan.nr_sub; i++) {
		const struct sched_sub *sb = &s->plan.sub[i];

		if (!sb->attn_on_gpu && (sb->f.nr_decode || sb->f.kv_in)) {
			err_add(&s->pim_err, sb->pred_pim_ns, m->pim_ns[i]);
			observe_pim(s, &sb->f, sub_shape(s->plan.nr_sub, i),
				    m->pim_ns[i]);
		}
		if (sb->f.prefill_tokens || sb->f.nr_decode) {
			err_add(&s->gpu_err, sb->pred_gpu_ns, m->gpu_ns[i]);
			sched_observe_gpu(s, &sb->f, sb->attn_on_gpu,
					  m->gpu_ns[i]);
		}
		s->tokens += sub_advance(s, sb);
	}
	/* Retire finished requests, keeping admission order. */
	for (i = 0, n = 0; i < s->nr_run; i++) {
		uint32_t slot = s->run[i];
		struct req *r = &s->req[slot];

		if (r->generated < r->max_new) {
			s->run[n++] = slot;
			continue;
		}
		s->finished++;
		class_leave(s, r);
		s->ops.done(s->ctx, slot, r->id, 0);
		slot_free(s, slot);
	}
	s->nr_run = n;
	s->iterations++;
	s->planned = false;
	return 0;
}

/* Profiled samples have no shape: they train the pooled model. */
void sched_observe_pim(struct sched *s, const struct sched_feat *f,
		       uint64_t ns)
{
	observe_pim(s, f, PIM_NR_SHAPES, ns);
}

void sched_observe_gpu(struct sched *s, const struct sched_feat *f,
		       bool attn_on_gpu, uint64_t ns)
{
	double x[PRED_NFEAT];

	feat_gpu(f, attn_on_gpu, x);
	pred_tree_add(&s->gpu, x, (double)ns);
}

uint64_t sched_predict_pim(const struct sched *s, const struct sched_feat *f)
{
	return (uint64_t)llround(predict_pim(s, f, PIM_NR_SHAPES));
}

uint64_t sched_predict_gpu(const struct sched *s, const struct sched_feat *f,
			   bool attn_on_gpu)
{
	return (uint64_t)llround(predict_gpu(s, f, attn_on_gpu));
}

bool sched_trained(const struct sched *s)
{
	return s->pim.fitted && s->gpu.root.fitted;
}

uint64_t sched_iter_ns(uint32_t nr_sub, const uint64_t gpu_ns[2],
		       const uint64_t pim_ns[2])
{
	uint64_t a, b;

	if (nr_sub < 2)
		return gpu_ns[0] + pim_ns[0];
	a = gpu_ns[1] > pim_ns[0] ? gpu_ns[1] : pim_ns[0];
	b = gpu_ns[0] > pim_ns[1] ? gpu_ns[0] : pim_ns[1];
	return a + b;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void err_quantiles(const struct err_ring *e, uint32_t *n, double *med,
			  double *p90)
{
	double *v;
	uint32_t k = e->n < SCHED_ERR_WINDOW ? e->n : SCHED_ERR_WINDOW;

	*n = k;
	*med = *p90 = 0;
	if (!k)
		return;
	v = malloc(k * sizeof(*v));
	if (!v)
		return;
	memcpy(v, e->v, k * sizeof(*v));
	qsort(v, k, sizeof(*v), cmp_double);
	*med = k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
	*p90 = v[(k - 1) * 9 / 10];
	free(v);
}

void sched_get_stats(const struct sched *s, struct sched_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->iterations = s->iterations;
	st->tokens = s->tokens;
	st->finished = s->finished;
	st->rejected = s->rejected;
	st->running = s->nr_run;
	st->waiting = s->nr_waiting;
	err_quantiles(&s->pim_err, &st->pim_samples, &st->pim_err_median,
		      &st->pim_err_p90);
	err_quantiles(&s->gpu_err, &st->gpu_samples, &st->gpu_err_median,
		      &st->gpu_err_p90);
}
