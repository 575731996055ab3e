// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * rank_pool.c - worker threads for the in-process device: the units of
 * one rank run in order on one thread, ranks run in parallel, as the
 * bank PUs of different ranks do.
 */
#include <stdlib.h>
#include <unistd.h>

#include "inproc.h"
#include "pim_dm.h"

/* Tokens per step: the same chunking as the module's FPU sections. */
#define ATTN_STEP_TOKENS	256

static void run_buckets(struct attn_run *run)
{
	unsigned int b, i;

	while ((b = __atomic_fetch_add(&run->next, 1, __ATOMIC_RELAXED)) <
	       run->nbuckets) {
		for (i = run->bucket[b]; i < run->bucket[b + 1]; i++) {
			while (!pim_attn_unit_step_fpu(run->units[i],
						       ATTN_STEP_TOKENS))
				;
			pim_attn_unit_finish_fpu(run->units[i], run->outs[i]);
		}
	}
}

static void *worker(void *arg)
{
	struct rank_pool *p = arg;
	struct attn_run *run;
	unsigned int seen = 0;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && p->gen == seen)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stop)
			break;
		seen = p->gen;
		run = p->run;
		if (!run)
			continue;	/* woke after that run ended */
		p->active++;
		pthread_mutex_unlock(&p->lock);
		run_buckets(run);
		pthread_mutex_lock(&p->lock);
		if (!--p->active)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

void rank_pool_init(struct rank_pool *p)
{
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->threads = NULL;
	p->nthreads = 0;
	p->gen = 0;
	p->active = 0;
	p->stop = false;
	p->run = NULL;
}

void rank_pool_exit(struct rank_pool *p)
{
	unsigned int i;

	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
}

/* Threads start with the first run that has work for them. */
static void grow(struct rank_pool *p, unsigned int want)
{
	pthread_t *t;

	if (want <= p->nthreads)
		return;
	t = realloc(p->threads, want * sizeof(*t));
	if (!t)
		return;
	p->threads = t;
	while (p->nthreads < want &&
	       !pthread_create(&t[p->nthreads], NULL, worker, p))
		p->nthreads++;
}

void rank_pool_run(struct rank_pool *p, struct attn_run *run,
		   unsigned int max_threads)
{
	unsigned int helpers;

	run->next = 0;
	/* The caller is one of the threads. */
	helpers = run->nbuckets < max_threads ? run->nbuckets : max_threads;
	helpers = helpers ? helpers - 1 : 0;
	if (!helpers) {
		run_buckets(run);
		return;
	}
	pthread_mutex_lock(&p->lock);
	grow(p, helpers);
	p->run = run;
	p->gen++;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);

	run_buckets(run);

	pthread_mutex_lock(&p->lock);
	p->run = NULL;
	while (p->active)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
}
