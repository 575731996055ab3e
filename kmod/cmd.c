// SPDX-License-Identifier: GPL-2.0
/*
 * cmd.c - the one submit path every transport calls.
 *
 * pim_req_new() validates a command and copies everything it reads from user
 * memory into the request, in the submitting task (prep.c).
 * pim_req_submit() orders it on a stream and starts it on the rank lanes.
 * When the last lane is done the request goes back to its transport, which
 * copies results out in the task that owns the user addresses
 * (pim_req_finish()).
 */
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "pim_drv.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

/* Commands with device work, and so a modeled time. */
static bool pim_op_has_timeline(u8 opcode)
{
	switch (opcode) {
	case PIM_OP_KV_APPEND:
	case PIM_OP_KV_READ:
	case PIM_OP_ATTN:
	case PIM_OP_RAW_READ:
	case PIM_OP_RAW_WRITE:
		return true;
	}
	return false;
}

/*
 * A request for cmd, or NULL without memory. A command that fails
 * validation still gets a request, already completed with the error, so
 * that queues report it in order like any other completion.
 */
struct pim_req *pim_req_new(struct pim_file *pf, const struct pim_cmd *cmd,
			    enum pim_xport xport)
{
	struct pim_device *pdev = pf->pdev;
	u32 nr_tasks = cmd->opcode == PIM_OP_ATTN ? pdev->nr_ranks : 1;
	struct pim_req *req;
	int ret;

	/* Fixed size and bounded by queue depths: not charged to memcg. */
	req = kzalloc(struct_size(req, tasks, nr_tasks), GFP_KERNEL);
	if (!req)
		return NULL;
	req->pf = pf;
	req->xport = xport;
	req->cmd = *cmd;
	req->cqe.user_data = cmd->user_data;
	req->nr_tasks = nr_tasks;
	refcount_set(&req->ref, 1);
	INIT_LIST_HEAD(&req->node);
	if (xport != PIM_XPORT_QUEUE)
		req->owner = get_task_struct(current);
	trace_pim_submit(pdev->id, xport, cmd->opcode, cmd->user_data);

	ret = pim_req_prep(req);
	if (!ret && pim_op_has_timeline(cmd->opcode)) {
		req->tl = kmalloc(pdev->tl_bytes, GFP_KERNEL_ACCOUNT);
		if (!req->tl)
			ret = -ENOMEM;
	}
	if (ret) {
		req->cqe.res = ret;
		req->early = true;
	}
	return req;
}

void pim_req_put(struct pim_req *req)
{
	u32 i;

	if (!refcount_dec_and_test(&req->ref))
		return;
	if (req->jobs) {
		for (i = 0; i < req->cmd.attn.nr_jobs; i++)
			if (req->jobs[i].kvo)
				pim_kv_put(req->jobs[i].kvo);
		kvfree(req->jobs);
	}
	if (req->kvo)
		pim_kv_put(req->kvo);
	kvfree(req->q);
	kvfree(req->out);
	kvfree(req->buf);
	kfree(req->tl);
	if (req->owner)
		put_task_struct(req->owner);
	kfree(req);
}

/* complete() is the last touch, so the waiter may free pf at once. */
static void pim_file_idle_put(struct pim_file *pf)
{
	if (atomic_dec_and_test(&pf->inflight))
		complete(&pf->idle);
}

void pim_stream_init(struct pim_stream *st, bool ordered)
{
	spin_lock_init(&st->lock);
	INIT_LIST_HEAD(&st->pending);
	st->ordered = ordered;
}

static bool pim_stream_may_start(struct pim_stream *st)
{
	struct pim_req *next;

	next = list_first_entry_or_null(&st->pending, struct pim_req, node);
	if (!next)
		return false;
	if (st->ordered || next->cmd.opcode == PIM_OP_FENCE)
		return !st->running;
	return true;
}

static void pim_req_start(struct pim_req *req);

/*
 * Start what the stream's order allows, after one of its requests completed
 * if done. Requests that complete at once call back into here; the kicking
 * flag turns that recursion into the loop below.
 */
static void pim_stream_run(struct pim_stream *st, bool done)
{
	struct pim_req *req;

	spin_lock(&st->lock);
	if (done)
		st->running--;
	if (st->kicking) {
		spin_unlock(&st->lock);
		return;
	}
	st->kicking = true;
	while (pim_stream_may_start(st)) {
		req = list_first_entry(&st->pending, struct pim_req, node);
		list_del_init(&req->node);
		st->running++;
		spin_unlock(&st->lock);
		pim_req_start(req);
		spin_lock(&st->lock);
	}
	st->kicking = false;
	spin_unlock(&st->lock);
}

static void pim_req_account(struct pim_req *req)
{
	struct pim_device *pdev = req->pf->pdev;

	this_cpu_add(pdev->stats->commands, 1);
	this_cpu_add(pdev->stats->device_ns, req->cqe.device_ns);
	trace_pim_complete(pdev->id, req->cmd.opcode, req->cqe.user_data,
			   req->cqe.res, req->cqe.device_ns);
}

/* Commands rejected at submit complete there. */
bool pim_req_is_inline(const struct pim_req *req)
{
	return req->early;
}

/*
 * A well-formed NOP has nothing to run or order: sync and io_uring callers
 * complete it at once, without a request. Queues keep their order and take
 * the normal path.
 */
bool pim_cmd_nop(struct pim_file *pf, const struct pim_cmd *cmd,
		 enum pim_xport xport, struct pim_cqe *cqe)
{
	struct pim_device *pdev = pf->pdev;

	if (!pim_cmd_is_nop(cmd))
		return false;
	memset(cqe, 0, sizeof(*cqe));
	cqe->user_data = cmd->user_data;
	this_cpu_add(pdev->stats->commands, 1);
	trace_pim_submit(pdev->id, xport, PIM_OP_NOP, cmd->user_data);
	trace_pim_complete(pdev->id, PIM_OP_NOP, cmd->user_data, 0, 0);
	return true;
}

void pim_req_run_inline(struct pim_req *req, struct pim_cqe *cqe)
{
	pim_req_account(req);
	*cqe = req->cqe;
	pim_req_put(req);
}

/* Called once per request, when it has a result. */
static void pim_req_complete(struct pim_req *req)
{
	struct pim_stream *st = req->st;
	struct pim_file *pf = req->pf;
	struct pim_queue *q = req->xport == PIM_XPORT_QUEUE ? req->queue : NULL;

	if (!req->early) {
		req->cqe.res = req->err;
		if (!req->err && req->cmd.opcode == PIM_OP_KV_ALLOC)
			req->cqe.res = req->kvo->handle;
	}
	if (req->cqe.res >= 0 && req->tl)
		req->cqe.device_ns = pim_tl_end_ns(req->tl);
	if (req->cqe.res >= 0 && req->cmd.opcode == PIM_OP_ATTN) {
		u64 bytes = req->q_words * sizeof(u32);

		this_cpu_add(pf->pdev->stats->bytes_in, bytes);
		this_cpu_add(pf->pdev->stats->bytes_out, bytes);
	}
	pim_req_account(req);

	switch (req->xport) {
	case PIM_XPORT_SYNC:
		complete(&req->done);
		pim_req_put(req);
		break;
	case PIM_XPORT_QUEUE:
		pim_queue_deliver(req);
		break;
	case PIM_XPORT_URING:
		pim_uring_deliver(req);
		break;
	}
	/* req may be gone; what it pointed at is pinned until the puts. */
	if (st)
		pim_stream_run(st, true);
	if (q && atomic_dec_and_test(&q->inflight))
		complete(&q->idle);
	pim_file_idle_put(pf);
}

/*
 * Nobody will take the result: the file is being released, its queue is
 * being destroyed, or the task that waits for it (sync caller, io_uring
 * submitter) is dying.
 */
bool pim_req_cancelled(const struct pim_req *req)
{
	struct task_struct *p = req->owner;

	if (READ_ONCE(req->pf->dying))
		return true;
	if (req->xport == PIM_XPORT_QUEUE)
		return READ_ONCE(req->queue->dead);
	/* A killed io_uring SQPOLL thread waits for us before it exits. */
	return READ_ONCE(p->flags) & PF_EXITING || fatal_signal_pending(p) ||
	       READ_ONCE(p->signal->flags) & SIGNAL_GROUP_EXIT;
}

/* Lanes call this as each rank task ends. */
void pim_req_task_done(struct pim_req *req, int err)
{
	if (err)
		cmpxchg(&req->err, 0, err);
	if (atomic_dec_and_test(&req->pending))
		pim_req_complete(req);
}

static void pim_req_start(struct pim_req *req)
{
	int ret;

	if (req->early)
		goto done;
	if (pim_req_cancelled(req)) {
		req->cqe.res = -ECANCELED;
		req->early = true;
		goto done;
	}
	/* One extra count so lanes cannot complete it while it starts. */
	atomic_set(&req->pending, 1);
	ret = pim_exec_start(req);
	pim_req_task_done(req, ret);
	return;
done:
	pim_req_complete(req);
}

/*
 * Start req now (st == NULL) or in the order of st. The caller's reference
 * passes to the execution; sync callers take their own first.
 */
void pim_req_submit(struct pim_req *req, struct pim_stream *st)
{
	atomic_inc(&req->pf->inflight);
	req->st = st;
	if (!st) {
		pim_req_start(req);
		return;
	}
	spin_lock(&st->lock);
	list_add_tail(&req->node, &st->pending);
	spin_unlock(&st->lock);
	pim_stream_run(st, false);
}

static int pim_copy_out(void *src, u64 uaddr, size_t len)
{
	return copy_to_user(u64_to_user_ptr(uaddr), src, len) ? -EFAULT : 0;
}

static int pim_finish_attn(struct pim_req *req)
{
	u32 i, nr = req->cmd.attn.nr_jobs;
	int ret = 0;

	for (i = 0; !ret && i < nr; i++) {
		u32 end = i + 1 < nr ? req->jobs[i + 1].qoff : req->q_words;

		ret = pim_copy_out(req->out + req->jobs[i].qoff,
				   req->jobs[i].out_addr,
				   (end - req->jobs[i].qoff) * sizeof(u32));
	}
	return ret;
}

/*
 * Copy a completed request's results to user memory. Runs in a task of the
 * address space that submitted it; a fault fails the command with -EFAULT
 * (a KV cache whose placement cannot be written back is freed again).
 */
void pim_req_finish(struct pim_req *req)
{
	const struct pim_cmd *c = &req->cmd;
	size_t half = req->buf_len / 2;
	int ret = 0;

	if (req->cqe.res < 0)
		return;
	switch (c->opcode) {
	case PIM_OP_KV_ALLOC:
		if (req->buf && pim_copy_out(req->buf, c->kv_alloc.placement,
					     req->buf_len)) {
			pim_kv_drop(req->pf, req->cqe.res);
			ret = -EFAULT;
		}
		break;
	case PIM_OP_KV_READ:
		ret = pim_copy_out(req->buf, c->kv_io.k_addr, half) ?:
		      pim_copy_out(req->buf + half, c->kv_io.v_addr, half);
		break;
	case PIM_OP_ATTN:
		ret = pim_finish_attn(req);
		break;
	case PIM_OP_RAW_READ:
		ret = pim_copy_out(req->buf, c->raw.addr, req->buf_len);
		break;
	}
	if (ret) {
		req->cqe.res = ret;
		req->cqe.device_ns = 0;
	}
}
