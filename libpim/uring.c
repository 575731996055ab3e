// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * uring.c - kernel queues over io_uring: every command is an
 * IORING_OP_URING_CMD whose 128-byte SQE carries struct pim_cmd; the 32-byte
 * CQE returns the result and the modeled device time. An eventfd registered
 * with the ring makes completions visible to external event loops.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <liburing.h>

#include "kqueue.h"

/* With IORING_SETUP_SQE128, sqe->cmd has 80 bytes: pim_cmd uses 64. */
#define SQE128_CMD_BYTES	80
_Static_assert(sizeof(struct pim_cmd) <= SQE128_CMD_BYTES,
	       "struct pim_cmd must fit a 128-byte SQE");

struct uring_queue {
	struct io_uring ring;
	int efd;
};

static int uring_init(struct pim_queue *q)
{
	struct uring_queue *u;
	int ret;

	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	ret = io_uring_queue_init(q->depth, &u->ring,
				  IORING_SETUP_SQE128 | IORING_SETUP_CQE32);
	if (ret) {
		err(q->dev->ctx, "%s: io_uring setup: %s\n", q->dev->devname,
		    strerror(-ret));
		free(u);
		return ret;
	}
	u->efd = -1;
	q->priv = u;
	return 0;
}

static void uring_exit(struct pim_queue *q)
{
	struct uring_queue *u = q->priv;

	io_uring_queue_exit(&u->ring);
	if (u->efd >= 0)
		close(u->efd);
	free(u);
}

/*
 * The eventfd exists once someone asks for it: without one, reaping costs
 * no extra system call and completions no eventfd signal.
 */
static int uring_fd(struct pim_queue *q)
{
	struct uring_queue *u = q->priv;
	int efd, ret;

	if (u->efd >= 0)
		return u->efd;
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return -errno;
	ret = io_uring_register_eventfd(&u->ring, efd);
	if (ret) {
		close(efd);
		return ret;
	}
	u->efd = efd;
	/* Completions posted before the registration signalled nothing. */
	if (io_uring_cq_ready(&u->ring))
		eventfd_write(efd, 1);
	return efd;
}

static int uring_stage(struct pim_queue *q, const struct pim_cmd *cmd,
		       uint64_t tag)
{
	struct uring_queue *u = q->priv;
	struct io_uring_sqe *sqe;

	/* The caller keeps staged + in flight <= depth = SQ entries. */
	sqe = io_uring_get_sqe(&u->ring);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, q->dev->fd, NULL, 0, 0);
	sqe->cmd_op = PIM_URING_CMD_IO;
	memcpy(sqe->cmd, cmd, sizeof(*cmd));
	memset(sqe->cmd + sizeof(*cmd), 0, SQE128_CMD_BYTES - sizeof(*cmd));
	sqe->user_data = tag;
	return 0;
}

static int uring_submit(struct pim_queue *q)
{
	struct uring_queue *u = q->priv;

	return io_uring_submit(&u->ring);
}

static int uring_reap(struct pim_queue *q, struct pim_cqe *out,
		      unsigned int nr, bool wait)
{
	struct uring_queue *u = q->priv;
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;
	eventfd_t cnt;

	if (wait && !io_uring_cq_ready(&u->ring)) {
		int ret = io_uring_wait_cqe(&u->ring, &cqe);

		if (ret)
			return ret;
	}
	io_uring_for_each_cqe(&u->ring, head, cqe) {
		if (n == nr)
			break;
		out[n].user_data = cqe->user_data;
		out[n].res = cqe->res;
		out[n].flags = 0;
		out[n].device_ns = cqe->big_cqe[0];
		out[n].rsvd = 0;
		n++;
	}
	io_uring_cq_advance(&u->ring, n);
	/*
	 * Readable exactly while completions wait: clear it when none do,
	 * then look again, for one posted while it was being cleared.
	 */
	if (u->efd >= 0) {
		if (!io_uring_cq_ready(&u->ring))
			eventfd_read(u->efd, &cnt);
		if (io_uring_cq_ready(&u->ring))
			eventfd_write(u->efd, 1);
	}
	return n;
}

const struct pim_queue_ops pim_uring_ops = {
	.name	= "io_uring",
	.init	= uring_init,
	.exit	= uring_exit,
	.fd	= uring_fd,
	.stage	= uring_stage,
	.submit	= uring_submit,
	.reap	= uring_reap,
};
