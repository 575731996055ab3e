// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ioctlq.c - kernel queues driven by ioctl (PIM_IOC_QUEUE_*): for systems
 * where io_uring is not available, or on request (PIM_QUEUE_IOCTL).
 * Completions are signalled by poll() on the device file, which is
 * readable while any queue of the file has one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kqueue.h"

struct ioctl_queue {
	unsigned int qid;
	unsigned int staged;
	struct pim_cmd *cmds;		/* staged, not yet accepted */
};

static int ioctlq_init(struct pim_queue *q)
{
	struct pim_queue_args args = { .depth = q->depth };
	struct ioctl_queue *iq;

	iq = calloc(1, sizeof(*iq));
	if (!iq)
		return -ENOMEM;
	iq->cmds = calloc(q->depth, sizeof(*iq->cmds));
	if (!iq->cmds) {
		free(iq);
		return -ENOMEM;
	}
	if (ioctl(q->dev->fd, PIM_IOC_QUEUE_CREATE, &args) < 0) {
		int ret = -errno;

		err(q->dev->ctx, "%s: QUEUE_CREATE: %s\n", q->dev->devname,
		    strerror(-ret));
		free(iq->cmds);
		free(iq);
		return ret;
	}
	iq->qid = args.qid;
	q->priv = iq;
	return 0;
}

static void ioctlq_exit(struct pim_queue *q)
{
	struct ioctl_queue *iq = q->priv;
	struct pim_queue_args args = { .qid = iq->qid };

	if (ioctl(q->dev->fd, PIM_IOC_QUEUE_DESTROY, &args) < 0)
		err(q->dev->ctx, "%s: QUEUE_DESTROY %u: %s\n",
		    q->dev->devname, iq->qid, strerror(errno));
	free(iq->cmds);
	free(iq);
}

static int ioctlq_fd(struct pim_queue *q)
{
	return q->dev->fd;
}

static int ioctlq_stage(struct pim_queue *q, const struct pim_cmd *cmd,
			uint64_t tag)
{
	struct ioctl_queue *iq = q->priv;
	struct pim_cmd *c = &iq->cmds[iq->staged++];

	*c = *cmd;
	c->user_data = tag;	/* the module echoes it in the completion */
	return 0;
}

static int ioctlq_submit(struct pim_queue *q)
{
	struct ioctl_queue *iq = q->priv;
	struct pim_queue_io io = {
		.qid = iq->qid,
		.nr = iq->staged,
		.addr = pim_ptr(iq->cmds),
	};
	int n;

	n = ioctl(q->dev->fd, PIM_IOC_QUEUE_SUBMIT, &io);
	if (n < 0)
		return -errno;
	/* Keep what the module did not take for the next submit. */
	iq->staged -= n;
	memmove(iq->cmds, iq->cmds + n, iq->staged * sizeof(*iq->cmds));
	return n;
}

static int ioctlq_reap(struct pim_queue *q, struct pim_cqe *cqe,
		       unsigned int nr, bool wait)
{
	struct ioctl_queue *iq = q->priv;
	struct pim_queue_io io = {
		.qid = iq->qid,
		.nr = nr,
		.addr = pim_ptr(cqe),
		.flags = wait ? PIM_REAP_F_WAIT : 0,
	};
	int n;

	n = ioctl(q->dev->fd, PIM_IOC_QUEUE_REAP, &io);
	return n < 0 ? -errno : n;
}

const struct pim_queue_ops pim_ioctlq_ops = {
	.name	= "ioctl",
	.init	= ioctlq_init,
	.exit	= ioctlq_exit,
	.fd	= ioctlq_fd,
	.stage	= ioctlq_stage,
	.submit	= ioctlq_submit,
	.reap	= ioctlq_reap,
};
