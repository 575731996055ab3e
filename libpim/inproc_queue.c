// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * inproc_queue.c - queues of the in-process device: a submission ring
 * drained in order by one thread per queue, a completion ring, and an
 * eventfd that is readable while completions wait, like the io_uring
 * queues of the kernel backend.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "inproc.h"

struct inproc_queue {
	struct pim_dev *dev;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t sq_cond;		/* work to do, or stop */
	pthread_cond_t cq_cond;		/* a completion was posted */
	unsigned int mask;		/* depth - 1 */
	struct pim_cmd *sq;
	uint64_t *tags;
	unsigned int sq_head;		/* next to run */
	unsigned int sq_ready;		/* submitted up to here */
	unsigned int sq_tail;		/* staged up to here */
	struct pim_cqe *cq;
	unsigned int cq_head, cq_tail;
	int efd;
	bool stop;
};

static void *queue_thread(void *arg)
{
	struct inproc_queue *iq = arg;
	struct pim_cqe cqe;
	struct pim_cmd cmd;
	uint64_t tag;

	pthread_mutex_lock(&iq->lock);
	for (;;) {
		while (!iq->stop && iq->sq_head == iq->sq_ready)
			pthread_cond_wait(&iq->sq_cond, &iq->lock);
		if (iq->sq_head == iq->sq_ready)
			break;		/* stopped and drained */
		cmd = iq->sq[iq->sq_head & iq->mask];
		tag = iq->tags[iq->sq_head & iq->mask];
		pthread_mutex_unlock(&iq->lock);

		pim_inproc_exec(iq->dev, &cmd, &cqe);
		cqe.user_data = tag;

		pthread_mutex_lock(&iq->lock);
		iq->sq_head++;
		iq->cq[iq->cq_tail++ & iq->mask] = cqe;
		pthread_cond_signal(&iq->cq_cond);
		eventfd_write(iq->efd, 1);
	}
	pthread_mutex_unlock(&iq->lock);
	return NULL;
}

static void iq_free(struct inproc_queue *iq)
{
	if (iq->efd >= 0)
		close(iq->efd);
	pthread_cond_destroy(&iq->cq_cond);
	pthread_cond_destroy(&iq->sq_cond);
	pthread_mutex_destroy(&iq->lock);
	free(iq->cq);
	free(iq->tags);
	free(iq->sq);
	free(iq);
}

static int iq_init(struct pim_queue *q)
{
	struct inproc_queue *iq;
	int ret = -ENOMEM;

	iq = calloc(1, sizeof(*iq));
	if (!iq)
		return -ENOMEM;
	iq->dev = q->dev;
	iq->mask = q->depth - 1;
	pthread_mutex_init(&iq->lock, NULL);
	pthread_cond_init(&iq->sq_cond, NULL);
	pthread_cond_init(&iq->cq_cond, NULL);
	iq->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	iq->sq = calloc(q->depth, sizeof(*iq->sq));
	iq->tags = calloc(q->depth, sizeof(*iq->tags));
	iq->cq = calloc(q->depth, sizeof(*iq->cq));
	if (iq->efd < 0)
		ret = -errno;
	else if (iq->sq && iq->tags && iq->cq)
		ret = -pthread_create(&iq->thread, NULL, queue_thread, iq);
	if (ret) {
		iq_free(iq);
		return ret;
	}
	q->priv = iq;
	return 0;
}

static void iq_exit(struct pim_queue *q)
{
	struct inproc_queue *iq = q->priv;

	pthread_mutex_lock(&iq->lock);
	iq->stop = true;
	pthread_cond_signal(&iq->sq_cond);
	pthread_mutex_unlock(&iq->lock);
	pthread_join(iq->thread, NULL);
	iq_free(iq);
}

static int iq_fd(struct pim_queue *q)
{
	struct inproc_queue *iq = q->priv;

	return iq->efd;
}

/* Only this thread writes staged entries; the worker reads to sq_ready. */
static int iq_stage(struct pim_queue *q, const struct pim_cmd *cmd,
		    uint64_t tag)
{
	struct inproc_queue *iq = q->priv;

	iq->sq[iq->sq_tail & iq->mask] = *cmd;
	iq->tags[iq->sq_tail & iq->mask] = tag;
	iq->sq_tail++;
	return 0;
}

static int iq_submit(struct pim_queue *q)
{
	struct inproc_queue *iq = q->priv;
	unsigned int n;

	pthread_mutex_lock(&iq->lock);
	n = iq->sq_tail - iq->sq_ready;
	iq->sq_ready = iq->sq_tail;
	pthread_cond_signal(&iq->sq_cond);
	pthread_mutex_unlock(&iq->lock);
	return n;
}

static int iq_reap(struct pim_queue *q, struct pim_cqe *out, unsigned int nr,
		   bool wait)
{
	struct inproc_queue *iq = q->priv;
	unsigned int n = 0;
	eventfd_t cnt;

	pthread_mutex_lock(&iq->lock);
	while (wait && iq->cq_head == iq->cq_tail)
		pthread_cond_wait(&iq->cq_cond, &iq->lock);
	while (n < nr && iq->cq_head != iq->cq_tail)
		out[n++] = iq->cq[iq->cq_head++ & iq->mask];
	/* Completions are posted under the lock: the fd can be exact. */
	if (iq->cq_head == iq->cq_tail)
		eventfd_read(iq->efd, &cnt);
	else
		eventfd_write(iq->efd, 1);
	pthread_mutex_unlock(&iq->lock);
	return n;
}

const struct pim_queue_ops pim_inproc_queue_ops = {
	.name	= "inproc",
	.init	= iq_init,
	.exit	= iq_exit,
	.fd	= iq_fd,
	.stage	= iq_stage,
	.submit	= iq_submit,
	.reap	= iq_reap,
};
