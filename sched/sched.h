/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * sched.h - the adaptive GPU-PIM scheduler of L3 (build/libpimsched.a).
 *
 * pimd and pimsim run this same code. The caller owns time: it asks for a
 * plan, runs (or models) the plan's work, and reports the measured times.
 *
 *	s = sched_new(&cfg, &kv_ops, ctx);
 *	sched_submit(s, id, prompt, max_new);	   any time between iterations
 *	while (sched_pending(s)) {
 *		p = sched_plan(s);		   two ping-ponged sub-batches
 *		... run p->sub[i] on GPU and PIM, measure ...
 *		sched_complete(s, &measured);	   advances requests, refits
 *	}
 *
 * A sub-batch holds decodes first, then prefill chunks. Within an
 * iteration, the GPU work of sub-batch 1 overlaps the PIM decode attention
 * of sub-batch 0 and vice versa, so the iteration takes
 * max(G1, P0) + max(G0, P1) (sched_iter_ns()).
 *
 * Functions return 0 or a negative errno. The scheduler never blocks;
 * planning and completing an iteration allocate nothing.
 */
#ifndef PIM_SCHED_H
#define PIM_SCHED_H

#include <stdbool.h>
#include <stdint.h>

enum sched_policy {
	SCHED_L3,		/* adaptive: admit and chunk to balance G and P */
	SCHED_FILL_FIRST,	/* admit while PIM memory lasts, whole prompts */
	SCHED_NO_SUBBATCH,	/* adaptive admission, one batch, no overlap */
	SCHED_GPU_ONLY,		/* one batch, decode attention on the GPU */
	SCHED_NR_POLICIES,
};

struct sched_config {
	enum sched_policy policy;
	uint32_t max_requests;	/* request table size, 1..1M */
	uint32_t max_batch;	/* running requests at most, 1..max_requests */
	uint32_t decode_step;	/* N: decodes placed at a time (1 MHA, 16 GQA) */
	uint32_t chunk_min;	/* prefill chunk bounds, tokens */
	uint32_t chunk_max;
	uint32_t ranksets;	/* PIM ranksets to balance, 0..64 (0: none) */
	bool one_batch;		/* L3: one batch while predicted 10% faster */
};

/* Defaults for a policy; decode_step from the model's GQA group. */
void sched_config_default(struct sched_config *cfg, enum sched_policy policy,
			  uint32_t gqa_group);
/* 0, or -EINVAL with *why naming the field at fault. */
int sched_config_check(const struct sched_config *cfg, const char **why);
const char *sched_policy_name(enum sched_policy p);
/* -EINVAL for an unknown name. */
int sched_policy_parse(const char *name, enum sched_policy *p);

/*
 * KV memory, provided by the caller. alloc reserves room for max_tokens
 * tokens of a request: its layer l goes to rankset (rankset + l) mod
 * ranksets, head groups to the least loaded ranks of that rankset (what
 * PIM_OP_KV_ALLOC does with rankset_hint = rankset). The scheduler picks
 * rankset so that every layer's decode attention finds the same context
 * on every rankset; it is SCHED_RANKSET_ANY when cfg.ranksets is 0.
 * -ENOSPC stops admission for this iteration. done is called once per
 * request when it ends: status 0 after its last token (free its KV), or
 * -errno when it was rejected (it can never be placed).
 */
#define SCHED_RANKSET_ANY	0xffff	/* == PIM_RANKSET_ANY */
#define SCHED_MAX_RANKSETS	64

struct sched_kv_ops {
	int (*alloc)(void *ctx, uint32_t slot, uint64_t id, uint32_t max_tokens,
		     uint32_t rankset);
	void (*done)(void *ctx, uint32_t slot, uint64_t id, int status);
};

/* The features both predictors see, per sub-batch. */
struct sched_feat {
	uint64_t prefill_tokens;	/* sum c_p: prefill chunk tokens */
	uint64_t prefill_pairs;		/* sum c_p (f_p + (c_p + 1) / 2) */
	uint64_t prefill_kv;		/* sum (f_p + c_p) */
	uint64_t decode_ctx;		/* sum of tokens decodes attend to */
	uint64_t kv_in;			/* prefill KV tokens written to PIM meanwhile */
	uint32_t nr_decode;
	uint32_t out_tokens;		/* items that produce a token */
	/*
	 * A layer's decode attention takes as long as its busiest rankset,
	 * which holds one first-rankset class: ranksets x that class's
	 * decode context and decodes (== decode_ctx and nr_decode when
	 * balanced, or without ranksets). The planner fills them; 0 in a
	 * sample given to sched_observe_pim() means balanced.
	 */
	uint64_t peak_ctx;
	uint32_t peak_decode;
};

#define SCHED_ITEM_PREFILL	(1U << 0)
#define SCHED_ITEM_LAST_CHUNK	(1U << 1)	/* prefill that yields token 1 */

struct sched_item {
	uint32_t slot;
	uint32_t ctx;		/* tokens already in KV before this step */
	uint32_t ntok;		/* prefill chunk tokens, or 1 */
	uint32_t flags;		/* SCHED_ITEM_* */
};

struct sched_sub {
	struct sched_item *items;	/* decodes, then nr_prefill prefills */
	uint32_t nr_items;
	uint32_t nr_prefill;
	struct sched_feat f;
	uint64_t pred_gpu_ns;
	uint64_t pred_pim_ns;
	bool attn_on_gpu;		/* SCHED_GPU_ONLY: decodes run on the GPU */
};

struct sched_plan {
	uint64_t iter;
	uint32_t nr_sub;		/* 2, or 1 without sub-batching */
	struct sched_sub sub[2];
	uint64_t pred_iter_ns;
};

struct sched_measure {
	uint64_t gpu_ns[2];
	uint64_t pim_ns[2];
};

struct sched_req_info {
	uint64_t id;
	uint32_t prompt;
	uint32_t max_new;
	uint32_t prefilled;	/* prompt tokens whose KV is in PIM */
	uint32_t generated;	/* output tokens so far */
	bool running;		/* admitted (KV placed) */
};

struct sched_stats {
	uint64_t iterations;
	uint64_t tokens;		/* output tokens */
	uint64_t finished;
	uint64_t rejected;
	uint32_t running;
	uint32_t waiting;
	uint32_t pim_samples;		/* predictor errors over the last */
	uint32_t gpu_samples;		/* SCHED_ERR_WINDOW iterations */
	double pim_err_median;		/* relative errors, 0.01 = 1% */
	double pim_err_p90;
	double gpu_err_median;
	double gpu_err_p90;
};

#define SCHED_ERR_WINDOW	4096

struct sched;

int sched_new(const struct sched_config *cfg, const struct sched_kv_ops *ops,
	      void *ctx, struct sched **out);
void sched_free(struct sched *s);

/*
 * Queue a request: prompt >= 1 tokens, then max_new >= 1 output tokens.
 * Returns its slot (>= 0), -EINVAL, -ENOSPC (table full) or -EBUSY (a plan
 * is outstanding).
 */
int sched_submit(struct sched *s, uint64_t id, uint32_t prompt,
		 uint32_t max_new);
/* End a request early (EOS): 0, -ENOENT, or -EBUSY during a plan. */
int sched_drop(struct sched *s, uint32_t slot);
int sched_req(const struct sched *s, uint32_t slot,
	      struct sched_req_info *info);
/* Requests waiting or running. */
uint32_t sched_pending(const struct sched *s);

/*
 * Plan the next iteration. The plan stays valid until sched_complete().
 * Returns NULL with nothing runnable, or when a plan is outstanding.
 */
const struct sched_plan *sched_plan(struct sched *s);
/* Apply the outstanding plan with its measured times: 0 or -EINVAL. */
int sched_complete(struct sched *s, const struct sched_measure *m);

/* Feed the predictors one profiled sample (offline profiling, warm-up). */
void sched_observe_pim(struct sched *s, const struct sched_feat *f,
		       uint64_t ns);
void sched_observe_gpu(struct sched *s, const struct sched_feat *f,
		       bool attn_on_gpu, uint64_t ns);
/* Current predictions; 0 until the predictor has enough samples. */
uint64_t sched_predict_pim(const struct sched *s, const struct sched_feat *f);
uint64_t sched_predict_gpu(const struct sched *s, const struct sched_feat *f,
			   bool attn_on_gpu);
bool sched_trained(const struct sched *s);

/* The iteration time of a plan with these per-sub-batch times. */
uint64_t sched_iter_ns(uint32_t nr_sub, const uint64_t gpu_ns[2],
		       const uint64_t pim_ns[2]);

void sched_get_stats(const struct sched *s, struct sched_stats *st);

#endif /* PIM_SCHED_H */
