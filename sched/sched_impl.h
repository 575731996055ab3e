/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* sched_impl.h - the scheduler's private state, shared by its files. */
#ifndef PIM_SCHED_IMPL_H
#define PIM_SCHED_IMPL_H

#include "sched.h"
#include "predict.h"

enum req_state { REQ_FREE, REQ_WAITING, REQ_RUNNING };

struct req {
	uint64_t id;
	uint32_t prompt;
	uint32_t max_new;
	uint32_t prefilled;
	uint32_t generated;
	uint32_t state;		/* enum req_state */
	uint32_t next;		/* free list or waiting FIFO */
	uint32_t rankset;	/* of layer 0 */
	uint32_t sub;		/* decode sub-batch, SUB_NONE before the first */
};

#define SUB_NONE	2

#define SLOT_NONE	UINT32_MAX

/*
 * Batch shapes with a PIM model of their own: a sub-batch's device time is
 * max over ranks per layer plus per-command costs, which a linear model
 * fits well only for batches of one shape (one batch of all decodes is not
 * twice a sub-batch of half of them).
 */
enum pim_shape { PIM_ONE, PIM_SUB0, PIM_SUB1, PIM_NR_SHAPES };

static inline enum pim_shape sub_shape(uint32_t nr_sub, uint32_t j)
{
	return nr_sub == 2 ? PIM_SUB0 + j : PIM_ONE;
}

struct err_ring {
	double v[SCHED_ERR_WINDOW];
	uint32_t n;		/* samples ever */
};

struct sched {
	struct sched_config cfg;
	struct sched_kv_ops ops;
	void *ctx;

	struct req *req;
	uint32_t free_head;
	uint32_t wait_head, wait_tail, nr_waiting;
	uint32_t *run;		/* running slots, admission order */
	uint32_t nr_run;
	/* KV tokens and requests by first rankset: layer l of every request
	 * in class c sits on rankset (c + l) mod ranksets. */
	uint64_t class_tokens[SCHED_MAX_RANKSETS];
	uint32_t class_reqs[SCHED_MAX_RANKSETS];

	struct sched_plan plan;
	bool planned;
	bool one_batch;		/* L3: short contexts run as one batch */
	struct sched_item *items;	/* 2 x max_batch, for both subs */
	uint32_t *pend;			/* partial prefills, while planning */

	struct wls pim;			/* every sample, any shape */
	struct wls pim_shape[PIM_NR_SHAPES];
	/*
	 * The paper's three features alone: its per-token and per-decode
	 * costs weigh requests when balancing sub-batches and picking the
	 * busiest class, so they must not trade off against that class.
	 */
	struct wls pim_cost;
	struct pred_tree gpu;
	struct err_ring pim_err, gpu_err;

	uint64_t iterations, tokens, finished, rejected;
};

/* plan.c */
void plan_build(struct sched *s);
double predict_pim(const struct sched *s, const struct sched_feat *f,
		   enum pim_shape shape);
double predict_gpu(const struct sched *s, const struct sched_feat *f,
		   bool attn_on_gpu);
void feat_pim(const struct sched_feat *f, double x[PRED_NFEAT]);
void feat_gpu(const struct sched_feat *f, bool attn_on_gpu,
	      double x[PRED_NFEAT]);

/* sched.c */
int sched_admit(struct sched *s, uint32_t slot);
uint32_t sched_wait_peek(const struct sched *s);

#endif /* PIM_SCHED_IMPL_H */
