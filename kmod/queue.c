// SPDX-License-Identifier: GPL-2.0
/*
 * queue.c - asynchronous command queues driven by ioctl.
 *
 * A queue holds at most depth commands between submit and reap. A command
 * that fails validation is still accepted and completes with its error, so
 * every accepted command yields exactly one completion. Results are copied
 * to user memory when the completion is reaped, in the reaping task; a
 * queue therefore only serves the address space that created it (-EXDEV
 * for others), and no worker ever touches user memory.
 */
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "pim_drv.h"

static void pim_queue_free(struct kref *ref)
{
	struct pim_queue *q = container_of(ref, struct pim_queue, ref);

	mmdrop(q->mm);
	kfree(q);
}

static void pim_queue_put(struct pim_queue *q)
{
	kref_put(&q->ref, pim_queue_free);
}

/* A live queue of this file, for this address space. */
static struct pim_queue *pim_queue_get(struct pim_file *pf, u32 qid, int *err)
{
	struct pim_queue *q = NULL;

	mutex_lock(&pf->lock);
	if (qid && qid <= INT_MAX)
		q = idr_find(&pf->queues, qid);
	if (q)
		kref_get(&q->ref);
	mutex_unlock(&pf->lock);
	*err = -ENOENT;
	if (q && q->mm != current->mm) {
		pim_queue_put(q);
		*err = -EXDEV;
		return NULL;
	}
	return q;
}

/* Wait for the queue's commands and drop what was never reaped. */
static void pim_queue_teardown(struct pim_file *pf, struct pim_queue *q)
{
	struct pim_req *req, *tmp;

	mutex_lock(&q->lock);
	q->dead = true;
	mutex_unlock(&q->lock);
	if (!atomic_dec_and_test(&q->inflight))
		wait_for_completion(&q->idle);
	list_for_each_entry_safe(req, tmp, &q->done, node) {
		list_del(&req->node);
		atomic_dec(&pf->nr_ready);
		pim_req_put(req);
	}
	wake_up_all(&pf->poll_wq);
	pim_queue_put(q);
}

static struct pim_queue *pim_queue_unlink(struct pim_file *pf, u32 qid)
{
	struct pim_queue *q = NULL;

	mutex_lock(&pf->lock);
	if (qid && qid <= INT_MAX)
		q = idr_remove(&pf->queues, qid);
	if (q)
		pf->nr_queues--;
	mutex_unlock(&pf->lock);
	return q;
}

static long pim_queue_create(struct pim_file *pf,
			     struct pim_queue_args __user *arg)
{
	struct pim_queue_args a;
	struct pim_queue *q;
	int id;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	if (a.rsvd0 || a.rsvd[0] || a.rsvd[1] || a.flags & ~PIM_QUEUE_F_ALL ||
	    !is_power_of_2(a.depth) || a.depth > PIM_MAX_QUEUE_DEPTH)
		return -EINVAL;
	q = kzalloc(sizeof(*q), GFP_KERNEL_ACCOUNT);
	if (!q)
		return -ENOMEM;
	kref_init(&q->ref);
	q->pf = pf;
	mutex_init(&q->lock);
	pim_stream_init(&q->st, !(a.flags & PIM_QUEUE_F_UNORDERED));
	q->depth = a.depth;
	spin_lock_init(&q->done_lock);
	INIT_LIST_HEAD(&q->done);
	atomic_set(&q->inflight, 1);
	init_completion(&q->idle);
	mmgrab(current->mm);
	q->mm = current->mm;

	mutex_lock(&pf->lock);
	id = -ENOSPC;
	if (pf->nr_queues < PIM_MAX_QUEUES)
		id = idr_alloc(&pf->queues, q, 1, 0, GFP_KERNEL);
	if (id > 0) {
		pf->nr_queues++;
		q->qid = id;
	}
	mutex_unlock(&pf->lock);
	if (id < 0) {
		pim_queue_put(q);
		return id;
	}
	if (put_user(id, &arg->qid)) {
		q = pim_queue_unlink(pf, id);
		if (q)
			pim_queue_teardown(pf, q);
		return -EFAULT;
	}
	return 0;
}

static long pim_queue_destroy(struct pim_file *pf,
			      struct pim_queue_args __user *arg)
{
	struct pim_queue_args a;
	struct pim_queue *q;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	if (a.depth || a.flags || a.rsvd0 || a.rsvd[0] || a.rsvd[1])
		return -EINVAL;
	q = pim_queue_unlink(pf, a.qid);
	if (!q)
		return -ENOENT;
	pim_queue_teardown(pf, q);
	return 0;
}

void pim_queues_release(struct pim_file *pf)
{
	struct pim_queue *q;
	int id;

	idr_for_each_entry(&pf->queues, q, id)
		pim_queue_teardown(pf, pim_queue_unlink(pf, id));
}

static long pim_queue_submit(struct pim_file *pf, struct pim_queue *q,
			     const struct pim_queue_io *io)
{
	struct pim_cmd __user *ucmds = u64_to_user_ptr(io->addr);
	u32 i, n = min(io->nr, q->depth - q->used);
	struct pim_cmd cmd;
	struct pim_req *req;

	for (i = 0; i < n; i++) {
		if (copy_from_user(&cmd, &ucmds[i], sizeof(cmd)))
			return i ? i : -EFAULT;
		req = pim_req_new(pf, &cmd, PIM_XPORT_QUEUE);
		if (!req)
			return i ? i : -ENOMEM;
		req->queue = q;
		q->used++;
		atomic_inc(&q->inflight);
		pim_req_submit(req, &q->st);
	}
	return n;
}

void pim_queue_deliver(struct pim_req *req)
{
	struct pim_queue *q = req->queue;
	struct pim_file *pf = req->pf;

	spin_lock(&q->done_lock);
	list_add_tail(&req->node, &q->done);
	spin_unlock(&q->done_lock);
	atomic_inc(&pf->nr_ready);
	/* Orders the list and count above before the check for sleepers. */
	if (wq_has_sleeper(&pf->poll_wq))
		wake_up_all(&pf->poll_wq);
}

static bool pim_queue_reapable(struct pim_queue *q)
{
	return !list_empty_careful(&q->done) || !READ_ONCE(q->used) ||
	       READ_ONCE(q->dead);
}

static long pim_queue_reap(struct pim_file *pf, struct pim_queue *q,
			   const struct pim_queue_io *io)
{
	struct pim_cqe __user *ucqes = u64_to_user_ptr(io->addr);
	struct pim_req *req;
	LIST_HEAD(batch);
	u32 i = 0;

	spin_lock(&q->done_lock);
	while (i < io->nr && !list_empty(&q->done)) {
		list_move_tail(q->done.next, &batch);
		i++;
	}
	spin_unlock(&q->done_lock);

	for (i = 0; !list_empty(&batch); i++) {
		req = list_first_entry(&batch, struct pim_req, node);
		pim_req_finish(req);
		if (copy_to_user(&ucqes[i], &req->cqe, sizeof(req->cqe))) {
			/* Nothing is lost: the rest goes back in order. */
			spin_lock(&q->done_lock);
			list_splice(&batch, &q->done);
			spin_unlock(&q->done_lock);
			return i ? i : -EFAULT;
		}
		list_del(&req->node);
		q->used--;
		atomic_dec(&pf->nr_ready);
		pim_req_put(req);
	}
	return i;
}

long pim_queue_ioctl(struct pim_file *pf, unsigned int nr, void __user *arg)
{
	struct pim_queue_io io;
	struct pim_queue *q;
	long ret;
	int err;

	if (nr == PIM_IOC_QUEUE_CREATE)
		return pim_queue_create(pf, arg);
	if (nr == PIM_IOC_QUEUE_DESTROY)
		return pim_queue_destroy(pf, arg);

	if (copy_from_user(&io, arg, sizeof(io)))
		return -EFAULT;
	if (io.rsvd0 || io.rsvd ||
	    io.flags & ~(nr == PIM_IOC_QUEUE_REAP ? PIM_REAP_F_WAIT : 0))
		return -EINVAL;
	q = pim_queue_get(pf, io.qid, &err);
	if (!q)
		return err;
	if (io.nr && io.flags & PIM_REAP_F_WAIT) {
		ret = wait_event_interruptible(pf->poll_wq,
					       pim_queue_reapable(q));
		if (ret)
			goto out;
	}
	mutex_lock(&q->lock);
	if (q->dead)
		ret = -ENOENT;
	else if (nr == PIM_IOC_QUEUE_SUBMIT)
		ret = pim_queue_submit(pf, q, &io);
	else
		ret = pim_queue_reap(pf, q, &io);
	mutex_unlock(&q->lock);
out:
	pim_queue_put(q);
	return ret;
}
