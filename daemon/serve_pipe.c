// SPDX-License-Identifier: GPL-2.0
/*
 * serve_pipe.c - the paper's ping-pong, for real: a compute thread owns
 * the compute backend (backends are one-thread-at-a-time) and runs the
 * compute stages of both sub-batches in the order they become ready,
 * while the serving loop's thread runs the PIM stages (libpim) on the
 * other sub-batch. Per sub-batch the order is exact:
 *
 *	qkv(l) -> attn(l) [PIM] -> post(l) -> qkv(l + 1) ... -> head
 *
 * so while sub-batch A attends on the device, B's layers run on the
 * compute side, and the other way round. Without a pipe (overlap off)
 * the same stages run on the caller, one sub-batch after the other.
 * Every stage's start and end go to the iteration's timeline.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve.h"

/* Jobs in a queue at once: two per sub-batch (post, then qkv or head). */
#define PIPE_SLOTS	8

struct pipe_job {
	uint8_t sub, stage;
	uint32_t layer;
	int ret;
	uint64_t start, end;		/* CLOCK_MONOTONIC ns */
};

struct job_ring {
	struct pipe_job job[PIPE_SLOTS];
	uint32_t head, len;
};

struct serve_pipe {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work;		/* a job was queued, or stop */
	pthread_cond_t done;		/* a job completed */
	struct job_ring todo, fin;
	struct serve_run *run;
	bool failed;			/* skip the iteration's other jobs */
	bool stop;
};

/* The iteration's driver, on the PIM side's thread. */
struct drive {
	struct serve_pipe *p;		/* NULL: compute stages run here */
	struct serve_run *r;
	struct job_ring ready;		/* ATTN stages whose inputs are done */
	uint32_t outstanding;		/* on the compute thread */
	int err;
};

uint64_t serve_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void ring_push(struct job_ring *q, const struct pipe_job *j)
{
	q->job[(q->head + q->len++) % PIPE_SLOTS] = *j;
}

static struct pipe_job ring_pop(struct job_ring *q)
{
	struct pipe_job j = q->job[q->head];

	q->head = (q->head + 1) % PIPE_SLOTS;
	q->len--;
	return j;
}

static int run_compute(struct serve_run *r, const struct pipe_job *j)
{
	switch (j->stage) {
	case SERVE_QKV:
		return serve_stage_qkv(r, j->sub, j->layer);
	case SERVE_POST:
		return serve_stage_post(r, j->sub, j->layer);
	case SERVE_HEAD:
		return serve_stage_head(r, j->sub);
	}
	return -EINVAL;
}

static void *worker(void *arg)
{
	struct serve_pipe *p = arg;
	struct pipe_job j;
	bool skip;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->todo.len && !p->stop)
			pthread_cond_wait(&p->work, &p->lock);
		if (!p->todo.len)
			break;
		j = ring_pop(&p->todo);
		skip = p->failed;
		pthread_mutex_unlock(&p->lock);
		j.start = serve_now_ns();
		j.ret = skip ? -ECANCELED : run_compute(p->run, &j);
		j.end = serve_now_ns();
		pthread_mutex_lock(&p->lock);
		if (j.ret)
			p->failed = true;
		ring_push(&p->fin, &j);
		pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int serve_pipe_new(struct serve_pipe **out)
{
	struct serve_pipe *p = calloc(1, sizeof(*p));
	int ret;

	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	ret = -pthread_create(&p->thread, NULL, worker, p);
	if (ret) {
		pthread_cond_destroy(&p->done);
		pthread_cond_destroy(&p->work);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return ret;
	}
	*out = p;
	return 0;
}

/* Only between iterations: the thread is idle then. */
void serve_pipe_free(struct serve_pipe *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static int record(struct serve_run *r, const struct pipe_job *j)
{
	struct serve_event *e;

	if (r->nev == r->ev_cap) {
		uint32_t cap = r->ev_cap ? 2 * r->ev_cap : 64;

		e = realloc(r->ev, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		r->ev = e;
		r->ev_cap = cap;
	}
	e = &r->ev[r->nev++];
	e->start_ns = j->start - r->t0;
	e->end_ns = j->end - r->t0;
	e->layer = j->layer;
	e->side = serve_stage_side(j->stage);
	e->sub = j->sub;
	e->stage = j->stage;
	return 0;
}

static void fail(struct drive *d, int err)
{
	if (d->err)
		return;
	d->err = err;
	if (d->p) {
		pthread_mutex_lock(&d->p->lock);
		d->p->failed = true;
		pthread_mutex_unlock(&d->p->lock);
	}
}

static void complete(struct drive *d, const struct pipe_job *j)
{
	struct pipe_job attn = *j;
	int ret = record(d->r, j);

	if (j->ret || ret)
		fail(d, j->ret ?: ret);
	if (d->err || j->stage != SERVE_QKV)
		return;
	attn.stage = SERVE_ATTN;
	ring_push(&d->ready, &attn);
}

static void submit(struct drive *d, uint32_t s, enum serve_stage stage,
		   uint32_t layer)
{
	struct pipe_job j = { .sub = s, .stage = stage, .layer = layer };

	if (d->err)
		return;
	if (!d->p) {
		j.start = serve_now_ns();
		j.ret = run_compute(d->r, &j);
		j.end = serve_now_ns();
		complete(d, &j);
		return;
	}
	pthread_mutex_lock(&d->p->lock);
	ring_push(&d->p->todo, &j);
	pthread_cond_signal(&d->p->work);
	pthread_mutex_unlock(&d->p->lock);
	d->outstanding++;
}

/* The PIM stage, here; then what depends on it goes to the compute side. */
static void run_attn(struct drive *d)
{
	struct pipe_job j = ring_pop(&d->ready);
	uint32_t layers = d->r->sm->model.layers;
	int ret;

	j.start = serve_now_ns();
	j.ret = serve_stage_attn(d->r, j.sub, j.layer);
	j.end = serve_now_ns();
	ret = record(d->r, &j);
	if (j.ret || ret) {
		fail(d, j.ret ?: ret);
		return;
	}
	submit(d, j.sub, SERVE_POST, j.layer);
	if (j.layer + 1 < layers)
		submit(d, j.sub, SERVE_QKV, j.layer + 1);
	else
		submit(d, j.sub, SERVE_HEAD, j.layer);
}

static struct pipe_job wait_done(struct serve_pipe *p)
{
	struct pipe_job j;

	pthread_mutex_lock(&p->lock);
	while (!p->fin.len)
		pthread_cond_wait(&p->done, &p->lock);
	j = ring_pop(&p->fin);
	pthread_mutex_unlock(&p->lock);
	return j;
}

/* Drive the sub-batches in mask to their ends; 0 or the first error. */
static int drive(struct drive *d, unsigned int mask)
{
	const struct sched_plan *plan = d->r->plan;
	struct pipe_job j;
	uint32_t s;
	int ret;

	for (s = 0; s < plan->nr_sub; s++) {
		if (!(mask & (1U << s)) || !plan->sub[s].nr_items)
			continue;
		ret = serve_sub_begin(d->r, s);
		if (ret)
			fail(d, ret);
		submit(d, s, SERVE_QKV, 0);
	}
	while (d->outstanding || d->ready.len) {
		if (d->ready.len) {
			if (d->err)
				ring_pop(&d->ready);
			else
				run_attn(d);
			continue;
		}
		j = wait_done(d->p);
		d->outstanding--;
		complete(d, &j);
	}
	return d->err;
}

int serve_pipe_run(struct serve_pipe *p, struct serve_run *r,
		   struct sched_measure *m)
{
	struct drive d = { .p = p, .r = r };
	uint32_t s;
	int ret = 0;

	r->nev = 0;
	r->t0 = serve_now_ns();
	memset(m, 0, sizeof(*m));
	if (p) {
		pthread_mutex_lock(&p->lock);
		p->run = r;
		p->failed = false;
		pthread_mutex_unlock(&p->lock);
		ret = drive(&d, (1U << r->plan->nr_sub) - 1);
	} else {
		for (s = 0; s < r->plan->nr_sub && !ret; s++)
			ret = drive(&d, 1U << s);
	}
	for (s = 0; s < r->plan->nr_sub && !ret; s++) {
		serve_sub_end(r, s, &m->gpu_ns[s]);
		m->pim_ns[s] = r->buf[s].pim_ns;
	}
	return ret;
}
