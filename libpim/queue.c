// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * queue.c - asynchronous queues: slots for staged and in-flight commands,
 * whatever transport the backend uses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

#define SLOT_NONE	UINT32_MAX
#define REAP_CHUNK	64

/* io_uring missing from the kernel, or forbidden to this process. */
static bool no_uring(int err)
{
	return err == -ENOSYS || err == -EPERM || err == -EACCES;
}

PIM_EXPORT int pim_queue_new_with_flags(struct pim_dev *dev,
					unsigned int depth,
					unsigned int flags,
					struct pim_queue **out)
{
	const struct pim_backend *be;
	struct pim_queue *q;
	unsigned int i;
	int ret;

	if (!dev || !out || !depth || depth > 1024 || (depth & (depth - 1)) ||
	    (flags & ~PIM_QUEUE_IOCTL))
		return -EINVAL;
	*out = NULL;
	ret = pim_dev_open(dev);
	if (ret)
		return ret;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->slots = calloc(depth, sizeof(*q->slots));
	if (!q->slots) {
		free(q);
		return -ENOMEM;
	}
	q->dev = dev;
	q->depth = depth;
	for (i = 0; i < depth; i++)
		q->slots[i].next_free = i + 1 < depth ? i + 1 : SLOT_NONE;
	be = dev->ctx->be;
	q->ops = flags & PIM_QUEUE_IOCTL && be->ioctl_queue_ops ?
		 be->ioctl_queue_ops : be->queue_ops;
	ret = q->ops->init(q);
	if (no_uring(ret) && q->ops != be->ioctl_queue_ops &&
	    be->ioctl_queue_ops) {
		info(dev->ctx, "%s: no io_uring (%s): ioctl queue instead\n",
		     dev->devname, strerror(-ret));
		q->ops = be->ioctl_queue_ops;
		ret = q->ops->init(q);
	}
	if (ret) {
		free(q->slots);
		free(q);
		return ret;
	}
	pim_ref(dev->ctx);
	*out = q;
	return 0;
}

PIM_EXPORT int pim_queue_new(struct pim_dev *dev, unsigned int depth,
			     struct pim_queue **out)
{
	return pim_queue_new_with_flags(dev, depth, 0, out);
}

PIM_EXPORT void pim_queue_free(struct pim_queue *q)
{
	struct pim_completion c[REAP_CHUNK];
	struct pim_ctx *ctx;
	int ret;

	if (!q)
		return;
	ctx = q->dev->ctx;
	if (q->staged && pim_queue_submit(q) < 0)
		err(ctx, "%s: queue freed with unsubmittable commands\n",
		    q->dev->devname);
	while (q->in_flight > q->staged) {
		ret = pim_queue_reap(q, c, REAP_CHUNK, PIM_QUEUE_WAIT);
		if (ret < 0 && ret != -EINTR)
			break;
	}
	q->ops->exit(q);
	free(q->slots);
	free(q);
	pim_unref(ctx);
}

PIM_EXPORT struct pim_dev *pim_queue_get_dev(struct pim_queue *q)
{
	return q->dev;
}

PIM_EXPORT int pim_queue_get_fd(struct pim_queue *q)
{
	return q->ops->fd(q);
}

PIM_EXPORT const char *pim_queue_get_transport(struct pim_queue *q)
{
	return q->ops->name;
}

PIM_EXPORT unsigned int pim_queue_get_depth(struct pim_queue *q)
{
	return q->depth;
}

PIM_EXPORT unsigned int pim_queue_get_in_flight(struct pim_queue *q)
{
	return q->in_flight;
}

static int stage(struct pim_queue *q, const struct pim_cmd *cmd, void *user,
		 struct pim_batch *batch)
{
	unsigned int tag = q->free_slot;
	struct pim_slot *slot;
	int ret;

	if (q->in_flight == q->depth)
		return -EBUSY;
	slot = &q->slots[tag];
	ret = q->ops->stage(q, cmd, tag);
	if (ret)
		return ret;
	q->free_slot = slot->next_free;
	slot->user = user;
	slot->batch = batch;
	q->staged++;
	q->in_flight++;
	return 0;
}

PIM_EXPORT int pim_queue_cmd(struct pim_queue *q, const struct pim_cmd *cmd,
			     void *user)
{
	if (!q || !cmd)
		return -EINVAL;
	return stage(q, cmd, user, NULL);
}

PIM_EXPORT int pim_queue_nop(struct pim_queue *q, void *user)
{
	static const struct pim_cmd nop = { .opcode = PIM_OP_NOP };

	if (!q)
		return -EINVAL;
	return stage(q, &nop, user, NULL);
}

PIM_EXPORT int pim_queue_attn(struct pim_queue *q, struct pim_batch *b,
			      void *user)
{
	struct pim_cmd cmd;
	int ret;

	if (!q || !b || !b->count)
		return -EINVAL;
	if (b->dev != q->dev)
		return -EXDEV;
	if (b->busy)
		return -EBUSY;
	pim_batch_prep(b, &cmd);
	ret = stage(q, &cmd, user, b);
	if (!ret)
		b->busy = true;
	return ret;
}

PIM_EXPORT int pim_queue_submit(struct pim_queue *q)
{
	int ret;

	if (!q)
		return -EINVAL;
	if (!q->staged)
		return 0;
	ret = q->ops->submit(q);
	if (ret > 0)
		q->staged -= (unsigned int)ret < q->staged ?
			     (unsigned int)ret : q->staged;
	return ret;
}

PIM_EXPORT int pim_queue_reap(struct pim_queue *q, struct pim_completion *c,
			      unsigned int nr, unsigned int flags)
{
	struct pim_cqe cqe[REAP_CHUNK];
	bool wait;
	unsigned int done = 0;
	int i, n;

	if (!q || (nr && !c) || (flags & ~PIM_QUEUE_WAIT))
		return -EINVAL;
	wait = flags & PIM_QUEUE_WAIT;
	while (done < nr && q->in_flight > q->staged) {
		n = q->ops->reap(q, cqe,
				nr - done < REAP_CHUNK ? nr - done : REAP_CHUNK,
				wait && !done);
		if (n < 0)
			return done ? (int)done : n;
		if (!n)
			break;
		for (i = 0; i < n; i++) {
			uint64_t tag = cqe[i].user_data;
			struct pim_slot *slot;

			if (tag >= q->depth) {
				err(q->dev->ctx, "%s: stray completion %llu\n",
				    q->dev->devname,
				    (unsigned long long)tag);
				continue;
			}
			slot = &q->slots[tag];
			c[done].user = slot->user;
			c[done].res = cqe[i].res;
			c[done].rsvd = 0;
			c[done].device_ns = cqe[i].device_ns;
			done++;
			if (slot->batch)
				slot->batch->busy = false;
			slot->next_free = q->free_slot;
			q->free_slot = tag;
			q->in_flight--;
		}
	}
	return done;
}
