/* SPDX-License-Identifier: GPL-2.0 */
/*
 * serve.h - the parts of the serving loop: options and model set-up
 * (serve_model.c), the stages of one sub-batch (serve_step.c), the
 * ping-pong of two sub-batches over a compute thread and the PIM side
 * (serve_pipe.c), and the timelines it records (serve_timeline.c).
 */
#ifndef PIMD_SERVE_H
#define PIMD_SERVE_H

#include <stdbool.h>
#include <stdint.h>
#include "gpu/gpu.h"
#include "sched/sched.h"

#include "pimd.h"

struct serve_opts {
	struct sched_config cfg;
	bool cfg_step_set;		/* decode_step given, not derived */
	char model[32];			/* "tiny" or a gpu/ preset */
	char gpu[32];			/* gpu/ spec for the GPU time */
	char compute[16];		/* "cpu", "cuda" or "none" */
	char gpu_clock[16];		/* "model", "measured" or "" */
	bool overlap;			/* ping-pong on a compute thread */
	uint64_t seed;
};

struct serve_model {
	struct gpu_model model;
	const struct gpu_spec *spec;
	struct gpu_backend *timing;	/* roofline: the GPU's time */
	struct gpu_backend *compute;	/* computes the layers, or NULL */
	const char *compute_name;	/* "cpu", "cuda" or "none" */
	bool clock_measured;		/* GPU time: compute's clock */
	bool overlap;
	enum sched_policy policy;
	uint64_t seed;
};

struct serve_req {
	uint64_t id;
	uint32_t *prompt;
	uint32_t prompt_len;
	uint32_t max_new;
	uint32_t generated;		/* output tokens so far */
	uint32_t *out;			/* tokens, with a compute backend */
	uint32_t nout;
	struct pim_kvcache *kv;
	bool finished;
	int status;
};

/*
 * Scratch space of a sub-batch run, grown on demand; one per sub-batch,
 * so the compute thread works in one while the PIM side uses the other.
 */
struct serve_buf {
	uint32_t rows;			/* capacity in tokens and items */
	uint32_t n;			/* tokens of this run */
	uint32_t *tok, *pos, *row0, *next, *kvoff;
	float *x, *q, *k, *v, *attn, *xo;
	uint16_t *k16, *v16;
	uint32_t nout;			/* rows that yield a token */
	uint32_t *out_item;		/* item of each of them */
	uint32_t kv_cap;		/* tokens of kh/vh */
	uint32_t score_cap;		/* tokens of score */
	uint16_t *kh, *vh;		/* KV read back for host attention */
	double *score;
	double *attn_row;		/* one row of host attention */
	struct pim_batch *batch;
	uint32_t batch_cap;
	double gpu_s;			/* measured compute seconds */
	uint64_t pim_ns;		/* modeled device time */
};

/* The stages of one sub-batch, in dependency order per layer. */
enum serve_stage {
	SERVE_QKV,	/* compute: (embedding,) norm, Q/K/V, FP16 rounding */
	SERVE_ATTN,	/* PIM: KV appends, decode attention, KV read-back */
	SERVE_POST,	/* compute: prefill attention, projection, FFN */
	SERVE_HEAD,	/* compute: final norm and LM head (last layer) */
	SERVE_NR_STAGES,
};

enum serve_side {
	SERVE_SIDE_COMPUTE,
	SERVE_SIDE_PIM,
};

/* One stage as it ran; times are ns from the iteration's start. */
struct serve_event {
	uint64_t start_ns, end_ns;
	uint32_t layer;
	uint8_t side, sub, stage;
};

/* An iteration in flight: what both sides of the ping-pong work on. */
struct serve_run {
	const struct serve_model *sm;
	struct serve_buf *buf;		/* [2], by sub-batch */
	struct pim_dev *dev;
	struct serve_req **slot;
	const struct sched_plan *plan;
	uint64_t t0;			/* CLOCK_MONOTONIC ns at the start */
	struct serve_event *ev;
	uint32_t nev, ev_cap;
};

/* Measured figures of one iteration, from its timeline. */
struct serve_walls {
	uint64_t iter;
	uint64_t start_ns;		/* from the serving loop's start */
	uint64_t wall_ns;
	uint64_t compute_ns;		/* busy time of each side */
	uint64_t pim_ns;
	uint64_t both_ns;		/* both sides busy at once */
};

void serve_opts_default(struct serve_opts *o);
/* One a{sv} entry; the reader is at the variant. */
int serve_opt_set(struct serve_opts *o, sd_bus_message *m, const char *key,
		  const char *sig, sd_bus_error *error);
int serve_model_new(struct serve_model *sm, struct serve_opts *o,
		    sd_bus_error *error);
void serve_model_free(struct serve_model *sm);

struct serve_req *serve_req_new(uint64_t id, const uint32_t *prompt,
				uint32_t n, uint32_t max_new);
void serve_req_free(struct serve_req *r);

uint64_t serve_now_ns(void);

/* serve_step.c: the stages; each takes the run and a sub-batch index. */
void serve_buf_free(struct serve_buf *b);
/* Rows, positions and tokens of the sub-batch (the PIM side's thread). */
int serve_sub_begin(struct serve_run *r, uint32_t s);
int serve_stage_qkv(struct serve_run *r, uint32_t s, uint32_t layer);
int serve_stage_attn(struct serve_run *r, uint32_t s, uint32_t layer);
int serve_stage_post(struct serve_run *r, uint32_t s, uint32_t layer);
int serve_stage_head(struct serve_run *r, uint32_t s);
/* Hand out the tokens; the sub-batch's GPU time (modeled or measured). */
void serve_sub_end(struct serve_run *r, uint32_t s, uint64_t *gpu_ns);
uint8_t serve_stage_side(enum serve_stage stage);

/* serve_pipe.c: the compute thread and the iteration's driver. */
struct serve_pipe;
int serve_pipe_new(struct serve_pipe **out);
void serve_pipe_free(struct serve_pipe *p);
/*
 * Run the plan's sub-batches: ping-ponged over the compute thread and
 * the caller (the PIM side) with a pipe, one after the other on the
 * caller without. Records the timeline in r->ev.
 */
int serve_pipe_run(struct serve_pipe *p, struct serve_run *r,
		   struct sched_measure *m);

/* serve_timeline.c: the timelines of the last SERVE_TIMELINES iterations */
#define SERVE_TIMELINES		1024
struct serve_timeline;
struct serve_timeline *serve_timeline_new(void);
void serve_timeline_free(struct serve_timeline *tl);
/* Keep run r's events as iteration iter; fills w from them. */
int serve_timeline_store(struct serve_timeline *tl, uint64_t iter,
			 uint64_t start_ns, const struct serve_run *r,
			 struct serve_walls *w);
void serve_walls_of(const struct serve_event *ev, uint32_t n,
		    struct serve_walls *w);
/* Reply to GetTimeline(iter). */
int serve_timeline_reply(struct serve_timeline *tl, sd_bus_message *m,
			 uint64_t iter, sd_bus_error *error);

#endif /* PIMD_SERVE_H */
