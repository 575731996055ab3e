/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inproc.h - the in-process backend: the device model on process memory,
 * with the module's command semantics and errno rules.
 */
#ifndef LIBPIM_INPROC_H
#define LIBPIM_INPROC_H

#include "private.h"

struct pim_attn_unit;

/* Runs attention units on worker threads, one rank's units per thread. */
struct rank_pool {
	pthread_mutex_t lock;
	pthread_cond_t work;
	pthread_cond_t done;
	unsigned int nthreads;
	pthread_t *threads;
	unsigned int gen;		/* bumped for every run */
	unsigned int active;		/* workers inside the current run */
	bool stop;
	struct attn_run *run;		/* NULL between runs */
};

/* The units of one command, grouped by rank into buckets. */
struct attn_run {
	struct pim_attn_unit **units;	/* sorted by rank */
	uint32_t **outs;		/* out buffer of each unit */
	unsigned int *bucket;		/* bucket i: [bucket[i], bucket[i+1]) */
	unsigned int nbuckets;
	unsigned int next;		/* next bucket to take (atomic) */
};

void rank_pool_init(struct rank_pool *p);
void rank_pool_exit(struct rank_pool *p);
/* Runs every bucket of run, on the caller and the pool's threads. */
void rank_pool_run(struct rank_pool *p, struct attn_run *run,
		   unsigned int max_threads);

/* Execute one command on an in-process device (any thread). */
int pim_inproc_exec(struct pim_dev *dev, const struct pim_cmd *cmd,
		    struct pim_cqe *cqe);

/* inproc_queue.c */
extern const struct pim_queue_ops pim_inproc_queue_ops;

#endif /* LIBPIM_INPROC_H */
