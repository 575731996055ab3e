// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_worker.c - one fuzzing round of one worker: commands through
 * PIM_IOC_SUBMIT, ioctl queues and IORING_OP_URING_CMD, raw ioctls with
 * random arguments on a second open file, files closed and rings torn
 * down with work in flight. Every command handed to a queue or a ring must
 * complete exactly once (none lost, none twice, ordered queues in order),
 * and the few commands with a known answer must get it.
 */
#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <liburing.h>

#include "fuzz.h"

#define FZ_QUEUES	4
#define FZ_RING		32
#define FZ_BATCH	16
#define FZ_TAGS		4096	/* > FZ_QUEUES * 256 + FZ_RING in flight */
#define FZ_DRAIN_MS	60000

struct fz_queue {
	uint32_t qid;
	bool live;
	bool ordered;
	uint64_t accepted, reaped;
	uint64_t last_seq;
};

/* A command in flight: what was sent, and what its completion must say. */
enum { FZ_VIA_QUEUE, FZ_VIA_RING };

struct fz_tag {
	struct pim_cmd cmd;
	uint8_t expect;
	uint8_t via;
	bool busy;
};

struct fz_round {
	struct fz_ctx *c;
	const char *dev;
	int fd2;		/* raw ioctls: objects there are not ours */
	struct fz_queue q[FZ_QUEUES];
	struct io_uring ring;
	bool ring_ok;
	uint32_t ring_inflight;
	bool after_close;	/* completions may be cancellations */
	uint64_t seq;
	struct fz_tag tags[FZ_TAGS];
};

__attribute__((format(printf, 2, 3)))
static int fail(struct fz_round *r, const char *fmt, ...)
{
	struct fz_slot *s = r->c->slot;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	s->failed = 1;
	return -1;
}

static const char *op_name(uint8_t op)
{
	static const char *const n[] = {
		"NOP", "KV_ALLOC", "KV_FREE", "KV_APPEND", "KV_READ", "ATTN",
		"FENCE", "RAW_READ", "RAW_WRITE",
	};

	return op <= PIM_OP_LAST ? n[op] : "opcode?";
}

/* Check a result against what the generator promised. */
static int judge(struct fz_round *r, const struct pim_cmd *cmd,
		 enum fz_expect e, int res, const char *how)
{
	struct fz_slot *s = r->c->slot;

	if (res >= 0)
		s->ok++;
	else
		s->err++;
	if (e == FZ_EINVAL && res != -EINVAL)
		return fail(r, "%s %s with reserved header bits gave %d, not -EINVAL",
			    how, op_name(cmd->opcode), res);
	if (e == FZ_SUCCESS && res != 0 &&
	    !(r->after_close && res == -ECANCELED))
		return fail(r, "%s well-formed NOP gave %d", how, res);
	fz_learn(r->c, cmd, res);
	return 0;
}

/* Tag a command: user_data carries its slot and sequence number. */
static uint64_t tag_cmd(struct fz_round *r, struct pim_cmd *cmd,
			enum fz_expect e, int via)
{
	uint64_t seq = ++r->seq;
	struct fz_tag *t = &r->tags[seq % FZ_TAGS];

	cmd->user_data = seq;
	t->cmd = *cmd;
	t->expect = e;
	t->via = via;
	t->busy = true;
	return seq;
}

static int complete_tag(struct fz_round *r, uint64_t seq, int res,
			const char *how)
{
	struct fz_tag *t = &r->tags[seq % FZ_TAGS];

	if (!seq || seq > r->seq || !t->busy || t->cmd.user_data != seq)
		return fail(r, "%s completion with unknown or repeated user_data 0x%llx",
			    how, (unsigned long long)seq);
	t->busy = false;
	return judge(r, &t->cmd, t->expect, res, how);
}

static int do_sync(struct fz_round *r)
{
	struct fz_ctx *c = r->c;
	struct pim_sync s;
	enum fz_expect e = fz_gen(c, &s.cmd);
	void *arg = &s;
	int ret;

	memset(&s.cqe, 0, sizeof(s.cqe));
	if (fz_chance(c, 32))
		arg = (void *)(uintptr_t)fz_bad_addr(c);
	c->slot->cmds++;
	ret = ioctl(c->fd, PIM_IOC_SUBMIT, arg);
	if (ret < 0)
		ret = -errno;
	if (arg != &s) {
		c->slot->err++;
		return 0;
	}
	if (ret >= 0 && s.cqe.user_data != s.cmd.user_data)
		return fail(r, "sync %s: cqe.user_data not echoed",
			    op_name(s.cmd.opcode));
	return judge(r, &s.cmd, e, ret, "sync");
}

static int queue_create(struct fz_round *r)
{
	struct fz_ctx *c = r->c;
	struct pim_queue_args a = { 0 };
	int i, ret;

	for (i = 0; i < FZ_QUEUES && r->q[i].live; i++)
		;
	a.depth = 1U << fz_below(c, 9);
	a.flags = fz_chance(c, 2) ? PIM_QUEUE_F_UNORDERED : 0;
	if (fz_chance(c, 8)) {
		uint32_t *w = (uint32_t *)&a;

		w[fz_below(c, sizeof(a) / 4)] = (uint32_t)fz_rand(c);
	}
	ret = ioctl(c->fd, PIM_IOC_QUEUE_CREATE, &a);
	if (ret < 0 || i == FZ_QUEUES) {
		/* A 17th queue, or one we cannot track: keep it idle. */
		return 0;
	}
	r->q[i] = (struct fz_queue){ .qid = a.qid, .live = true,
		.ordered = !(a.flags & PIM_QUEUE_F_UNORDERED) };
	return 0;
}

static int queue_reap(struct fz_round *r, struct fz_queue *q, bool wait)
{
	struct fz_ctx *c = r->c;
	struct pim_cqe cqe[32];
	struct pim_queue_io io = { .qid = q->qid, .addr = (uintptr_t)cqe };
	int i, ret;

	io.nr = 1 + fz_below(c, 32);
	io.flags = wait && q->accepted > q->reaped ? PIM_REAP_F_WAIT : 0;
	ret = ioctl(c->fd, PIM_IOC_QUEUE_REAP, &io);
	if (ret < 0)
		return fail(r, "QUEUE_REAP on a live queue: %s", strerror(errno));
	if ((uint32_t)ret > io.nr || q->reaped + ret > q->accepted)
		return fail(r, "QUEUE_REAP returned %d of %u, %llu outstanding",
			    ret, io.nr,
			    (unsigned long long)(q->accepted - q->reaped));
	for (i = 0; i < ret; i++) {
		if (q->ordered && cqe[i].user_data <= q->last_seq)
			return fail(r, "ordered queue completed %llu after %llu",
				    (unsigned long long)cqe[i].user_data,
				    (unsigned long long)q->last_seq);
		q->last_seq = cqe[i].user_data;
		if (complete_tag(r, cqe[i].user_data, cqe[i].res, "queue"))
			return -1;
	}
	q->reaped += ret;
	return ret;
}

static uint64_t in_flight(struct fz_round *r)
{
	uint64_t n = r->ring_inflight;
	int i;

	for (i = 0; i < FZ_QUEUES; i++)
		n += r->q[i].accepted - r->q[i].reaped;
	return n;
}

static int queue_submit(struct fz_round *r, struct fz_queue *q)
{
	struct fz_ctx *c = r->c;
	struct pim_cmd cmds[FZ_BATCH];
	struct pim_queue_io io = { .qid = q->qid, .addr = (uintptr_t)cmds };
	uint64_t first = r->seq + 1;
	uint32_t i;
	int ret;

	if (in_flight(r) > FZ_TAGS - 2 * FZ_BATCH - FZ_RING)
		return queue_reap(r, q, true) < 0 ? -1 : 0;
	io.nr = 1 + fz_below(c, FZ_BATCH);
	for (i = 0; i < io.nr; i++) {
		enum fz_expect e = fz_gen(c, &cmds[i]);

		tag_cmd(r, &cmds[i], e, FZ_VIA_QUEUE);
	}
	ret = ioctl(c->fd, PIM_IOC_QUEUE_SUBMIT, &io);
	if (ret < 0)
		return fail(r, "QUEUE_SUBMIT of %u: %s", io.nr, strerror(errno));
	if ((uint32_t)ret > io.nr)
		return fail(r, "QUEUE_SUBMIT accepted %d of %u", ret, io.nr);
	/* The ones not accepted will never complete: untag them. */
	for (i = ret; i < io.nr; i++)
		r->tags[(first + i) % FZ_TAGS].busy = false;
	c->slot->cmds += ret;
	q->accepted += ret;
	return 0;
}

/* Queue ioctls with one field wrong: must fail, and change nothing. */
static int queue_misuse(struct fz_round *r, struct fz_queue *q)
{
	struct fz_ctx *c = r->c;
	struct pim_queue_io io = { .qid = q->qid };
	unsigned long req = fz_chance(c, 2) ? PIM_IOC_QUEUE_SUBMIT :
					      PIM_IOC_QUEUE_REAP;
	int how = fz_below(c, 3), ret;

	io.nr = 1;
	switch (how) {
	case 0:
		io.addr = fz_bad_addr(c);
		/*
		 * Readable memory is a fine source of commands; a CQE must
		 * straddle the read-only page to fault.
		 */
		if (io.addr >= (uintptr_t)c->buf &&
		    io.addr < (uintptr_t)c->hole)
			io.addr = req == PIM_IOC_QUEUE_SUBMIT ? 0 :
				  (uintptr_t)c->ro - 8;
		break;
	case 1:
		io.flags = 1U << (1 + fz_below(c, 31));
		io.addr = (uintptr_t)c->buf;
		break;
	default:
		io.rsvd = 1 + fz_below(c, 1000);
		io.addr = (uintptr_t)c->buf;
		break;
	}
	memset(c->buf, 0, sizeof(struct pim_cmd));
	ret = ioctl(c->fd, req, &io);
	c->slot->err++;
	if (ret > 0)
		return fail(r, "%s with a bad %s moved %d entries",
			    req == PIM_IOC_QUEUE_SUBMIT ? "QUEUE_SUBMIT" :
			    "QUEUE_REAP", how == 0 ? "address" :
			    how == 1 ? "flag" : "rsvd", ret);
	return 0;
}

static int do_queue(struct fz_round *r)
{
	struct fz_ctx *c = r->c;
	struct fz_queue *q = &r->q[fz_below(c, FZ_QUEUES)];

	if (!q->live)
		return queue_create(r);
	switch (fz_below(c, 8)) {
	case 0:
	case 1:
	case 2:
		return queue_submit(r, q);
	case 3:
	case 4:
		return queue_reap(r, q, fz_chance(c, 2)) < 0 ? -1 : 0;
	case 5:
		return queue_misuse(r, q);
	case 6: {	/* destroy with commands in flight */
		struct pim_queue_args a = { .qid = q->qid };

		if (ioctl(c->fd, PIM_IOC_QUEUE_DESTROY, &a))
			return fail(r, "QUEUE_DESTROY: %s", strerror(errno));
		/* Its unreaped completions are dropped with it. */
		q->live = false;
		q->reaped = q->accepted;
		return 0;
	}
	default:
		return queue_submit(r, q);
	}
}

static void prep_uring(struct fz_round *r, struct io_uring_sqe *sqe,
		       const struct pim_cmd *cmd)
{
	uint8_t *body = (uint8_t *)sqe + offsetof(struct io_uring_sqe, cmd);

	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, r->c->fd, NULL, 0, 0);
	sqe->cmd_op = PIM_URING_CMD_IO;
	memcpy(body, cmd, sizeof(*cmd));
	sqe->user_data = cmd->user_data;
}

static int ring_reap(struct fz_round *r, bool wait)
{
	struct io_uring_cqe *cqe;
	int ret;

	while (r->ring_inflight) {
		if (wait) {
			struct __kernel_timespec ts = {
				.tv_sec = FZ_DRAIN_MS / 1000 };

			ret = io_uring_wait_cqe_timeout(&r->ring, &cqe, &ts);
			if (ret == -EINTR)
				continue;
			if (ret == -ETIME)
				return fail(r, "io_uring: no completion in %d s, %u in flight",
					    FZ_DRAIN_MS / 1000, r->ring_inflight);
		} else {
			ret = io_uring_peek_cqe(&r->ring, &cqe);
			if (ret == -EAGAIN)
				return 0;
		}
		if (ret < 0)
			return fail(r, "io_uring wait: %s", strerror(-ret));
		ret = complete_tag(r, cqe->user_data, cqe->res, "io_uring");
		io_uring_cqe_seen(&r->ring, cqe);
		if (ret)
			return -1;
		r->ring_inflight--;
		wait = false;
	}
	return 0;
}

static int do_uring(struct fz_round *r)
{
	struct fz_ctx *c = r->c;
	uint32_t i, n = 1 + fz_below(c, 8);
	int ret;

	if (!r->ring_ok)
		return 0;
	if (r->ring_inflight + n > FZ_RING)
		return ring_reap(r, true);
	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
		struct pim_cmd cmd;
		enum fz_expect e = fz_gen(c, &cmd);

		tag_cmd(r, &cmd, e, FZ_VIA_RING);
		prep_uring(r, sqe, &cmd);
		if (fz_chance(c, 64)) {
			sqe->cmd_op = (uint32_t)fz_rand(c);
			r->tags[cmd.user_data % FZ_TAGS].expect = FZ_ANY;
		}
	}
	ret = io_uring_submit(&r->ring);
	if (ret < 0)
		return fail(r, "io_uring_submit: %s", strerror(-ret));
	if ((uint32_t)ret != n)
		return fail(r, "io_uring_submit took %d of %u", ret, n);
	c->slot->cmds += n;
	r->ring_inflight += n;
	return ring_reap(r, fz_chance(c, 4));
}

/* Any PIM ioctl number, any size and direction, random argument bytes. */
static int do_raw_ioctl(struct fz_round *r)
{
	struct fz_ctx *c = r->c;
	static const unsigned int nrs[] = { 0, 1, 2, 3, 4, 5, 6, 0x80, 0xff };
	unsigned int size = fz_chance(c, 2) ? fz_below(c, 129) :
			    (unsigned int)fz_below(c, 1U << 14);
	unsigned long req = _IOC(fz_below(c, 4), PIM_IOC_MAGIC,
				 nrs[fz_below(c, sizeof(nrs) / 4)], size);
	void *arg = c->buf + FZ_BUF_BYTES - 4096;

	fz_fill(c, arg, 4096);
	if (fz_chance(c, 4))
		arg = (void *)(uintptr_t)fz_bad_addr(c);
	ioctl(r->fd2, req, arg);
	c->slot->cmds++;
	c->slot->raw++;
	return 0;
}

static void untag(struct fz_round *r, int via)
{
	int i;

	for (i = 0; i < FZ_TAGS; i++)
		if (r->tags[i].via == via)
			r->tags[i].busy = false;
}

static int drain_queues(struct fz_round *r)
{
	struct fz_ctx *c = r->c;
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	int i, got;

	for (;;) {
		bool left = false;

		got = 0;
		for (i = 0; i < FZ_QUEUES; i++) {
			struct fz_queue *q = &r->q[i];
			int ret;

			if (!q->live || q->reaped == q->accepted)
				continue;
			ret = queue_reap(r, q, false);
			if (ret < 0)
				return -1;
			got += ret;
			left |= q->reaped < q->accepted;
		}
		if (!left)
			return 0;
		if (!got && poll(&p, 1, FZ_DRAIN_MS) == 0)
			return fail(r, "queues: no completion in %d s, %llu in flight",
				    FZ_DRAIN_MS / 1000,
				    (unsigned long long)in_flight(r));
	}
}

static int open_files(struct fz_round *r)
{
	struct fz_ctx *c = r->c;

	c->fd = open(r->dev, O_RDWR | O_CLOEXEC);
	if (c->fd < 0)
		return fail(r, "open %s: %s", r->dev, strerror(errno));
	if (ioctl(c->fd, PIM_IOC_GET_INFO, &c->info))
		return fail(r, "GET_INFO: %s", strerror(errno));
	c->nkv = 0;
	memset(r->q, 0, sizeof(r->q));
	return 0;
}

/* Close the file with queue and ring commands in flight; open again. */
static int close_in_flight(struct fz_round *r)
{
	struct fz_ctx *c = r->c;

	if (fz_chance(c, 2)) {	/* the dup keeps the file: objects survive */
		int fd = dup(c->fd);

		if (fd < 0)
			return fail(r, "dup: %s", strerror(errno));
		close(c->fd);
		c->fd = fd;
		return 0;
	}
	if (in_flight(r))
		c->slot->closes++;
	close(c->fd);
	/* Queued commands went with the file. */
	untag(r, FZ_VIA_QUEUE);
	r->after_close = true;
	/* io_uring holds the file: its commands still complete. */
	if (ring_reap(r, true))
		return -1;
	return open_files(r);
}

/* A ring without SQE128 | CQE32 must refuse every command. */
static int small_ring(struct fz_round *r)
{
	struct fz_ctx *c = r->c;
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int ret;

	if (io_uring_queue_init(2, &ring, 0))
		return 0;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, c->fd, NULL, 0, 0);
	sqe->cmd_op = PIM_URING_CMD_IO;
	ret = io_uring_submit_and_wait(&ring, 1);
	if (ret >= 0)
		ret = io_uring_wait_cqe(&ring, &cqe);
	if (ret < 0) {
		io_uring_queue_exit(&ring);
		return fail(r, "small ring: %s", strerror(-ret));
	}
	ret = cqe->res;
	io_uring_queue_exit(&ring);
	c->slot->cmds++;
	c->slot->err++;
	if (ret != -EOPNOTSUPP)
		return fail(r, "uring_cmd on a 64-byte SQE ring gave %d", ret);
	return 0;
}

static int rare(struct fz_round *r)
{
	struct fz_ctx *c = r->c;

	switch (fz_below(c, 3)) {
	case 0:
		return close_in_flight(r);
	case 1:
		return small_ring(r);
	default:	/* tear the ring down with commands in flight */
		if (!r->ring_ok)
			return 0;
		if (r->ring_inflight)
			c->slot->closes++;
		io_uring_queue_exit(&r->ring);
		untag(r, FZ_VIA_RING);
		r->ring_inflight = 0;
		r->ring_ok = !io_uring_queue_init(FZ_RING, &r->ring,
						  IORING_SETUP_SQE128 |
						  IORING_SETUP_CQE32);
		return 0;
	}
}

static int step(struct fz_round *r)
{
	switch (fz_below(r->c, 64)) {
	case 0 ... 19:
		return do_sync(r);
	case 20 ... 39:
		return do_queue(r);
	case 40 ... 59:
		return do_uring(r);
	case 60 ... 62:
		return do_raw_ioctl(r);
	default:
		return rare(r);
	}
}

int fz_round(struct fz_ctx *c, const char *dev, uint32_t ops)
{
	static struct fz_round round;
	struct fz_round *r = &round;
	int ret = -1;

	memset(r, 0, sizeof(*r));
	r->c = c;
	r->dev = dev;
	c->fd = -1;
	r->fd2 = open(dev, O_RDWR | O_CLOEXEC);
	if (r->fd2 < 0)
		return fail(r, "open %s: %s", dev, strerror(errno));
	if (open_files(r))
		goto out;
	r->ring_ok = !io_uring_queue_init(FZ_RING, &r->ring,
					  IORING_SETUP_SQE128 |
					  IORING_SETUP_CQE32);
	while (ops--)
		if (step(r))
			goto out;
	/* Everything handed over must come back. */
	if (drain_queues(r) || (r->ring_ok && ring_reap(r, true)))
		goto out;
	ret = 0;
out:
	if (r->ring_ok)
		io_uring_queue_exit(&r->ring);
	if (c->fd >= 0)
		close(c->fd);
	close(r->fd2);
	return ret;
}
