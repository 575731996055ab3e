/* SPDX-License-Identifier: GPL-2.0 */
/*
 * serve.h - the parts of the serving loop: options and model set-up
 * (serve_model.c), and the run of one sub-batch (serve_step.c).
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
	char compute[16];		/* "cpu" or "none" */
	uint64_t seed;
};

struct serve_model {
	struct gpu_model model;
	const struct gpu_spec *spec;
	struct gpu_backend *timing;	/* roofline: the GPU's time */
	struct gpu_backend *compute;	/* computes the layers, or NULL */
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

/* Scratch space of a sub-batch run, grown on demand. */
struct serve_buf {
	uint32_t rows;			/* capacity in tokens */
	uint32_t *tok, *pos, *row0, *next;
	float *x, *q, *k, *v, *attn, *xo;
	uint16_t *k16, *v16;
	uint32_t kv_cap;		/* tokens of kh/vh */
	uint16_t *kh, *vh;
	double *score;			/* kv_cap tokens */
	double *attn_row;		/* one row of host attention */
	struct pim_batch *batch;
	uint32_t batch_cap;
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

void serve_buf_free(struct serve_buf *b);
/* Run sub-batch sub: its GPU time (modeled) and PIM time (device). */
int serve_run_sub(const struct serve_model *sm, struct serve_buf *b,
		  struct pim_dev *dev, struct serve_req **slot,
		  const struct sched_sub *sub, uint64_t iter,
		  uint64_t *gpu_ns, uint64_t *pim_ns);

#endif /* PIMD_SERVE_H */
