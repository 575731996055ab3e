// SPDX-License-Identifier: GPL-2.0
/*
 * pim_soak.c - concurrency soak: P processes, each with M ioctl queues
 * (ordered and unordered) and one io_uring ring on its own open file, keep
 * attention commands in flight on all of them for a time budget. Every
 * result is checked against the double-precision reference, and the
 * completion accounting must be exact: each submitted command completes
 * once, none twice, none lost (submitted == completed).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <liburing.h>

#include "../kmod/pimt.h"
#include "../tap.h"

#define MAX_Q		8
#define QDEPTH		8
#define RDEPTH		16
#define SLOTS		(MAX_Q * QDEPTH + RDEPTH)
#define JOBS		4
#define TOKENS		64
#define NCTX		5
#define HANG_MS		60000

static const uint32_t ctx_lens[NCTX] = { 1, 7, 16, 33, TOKENS };

struct stats {
	uint64_t submitted, completed, bad_result, bad_data, dup;
	int failed;
	char why[160];
};

/* One command in flight: its jobs' context lengths and its outputs. */
struct slot {
	bool busy;
	uint64_t seq;
	uint32_t nr;
	uint8_t ctx[JOBS];
	struct pim_attn_job jobs[JOBS];
	float *out;
};

struct proc {
	struct pimt_dev d;
	struct pim_kv_alloc s;
	size_t nq;
	float *q;
	double *ref[NCTX];
	int handle;
	uint32_t qid[MAX_Q];
	int nqueues;
	struct io_uring ring;
	uint32_t ring_inflight;
	uint32_t q_inflight[MAX_Q];
	struct slot slot[SLOTS];
	uint64_t seq, rng;
	bool stop;		/* draining: submit nothing more */
	struct stats *st;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int setup(struct proc *p, int queues)
{
	size_t n;
	uint16_t *k, *v;
	int i;

	pimt_open(&p->d);
	p->s = pimt_shape(1, 4, 2, 64, PIM_DTYPE_FP16, TOKENS);
	n = pimt_kv_bytes(&p->s, TOKENS);
	p->nq = (size_t)p->s.q_heads * p->s.head_dim;
	k = malloc(n);
	v = malloc(n);
	p->q = malloc(p->nq * sizeof(float));
	if (!k || !v || !p->q)
		return -ENOMEM;
	pimt_fill_kv(&p->rng, p->s.dtype, k, n / 2);
	pimt_fill_kv(&p->rng, p->s.dtype, v, n / 2);
	pimt_fill_q(&p->rng, p->q, p->nq);
	p->handle = pimt_kv_alloc(p->d.fd, &p->s);
	if (p->handle <= 0 ||
	    pimt_kv_append(p->d.fd, p->handle, 0, 0, TOKENS, k, v, 0))
		return -EIO;
	for (i = 0; i < NCTX; i++) {
		p->ref[i] = malloc(p->nq * sizeof(double));
		if (!p->ref[i])
			return -ENOMEM;
		pimt_attn_ref(&p->s, k, v, ctx_lens[i], p->q, 0, p->ref[i]);
	}
	free(k);
	free(v);
	for (i = 0; i < SLOTS; i++) {
		p->slot[i].out = malloc(JOBS * p->nq * sizeof(float));
		if (!p->slot[i].out)
			return -ENOMEM;
	}
	for (i = 0; i < queues; i++) {
		struct pim_queue_args a = { .depth = QDEPTH };

		a.flags = i % 2 ? PIM_QUEUE_F_UNORDERED : 0;
		if (pimt_ioctl(p->d.fd, PIM_IOC_QUEUE_CREATE, &a))
			return -EIO;
		p->qid[i] = a.qid;
	}
	p->nqueues = queues;
	return io_uring_queue_init(RDEPTH, &p->ring, IORING_SETUP_SQE128 |
				   IORING_SETUP_CQE32);
}

static __attribute__((format(printf, 2, 3)))
int fail(struct proc *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->st->why, sizeof(p->st->why), fmt, ap);
	va_end(ap);
	p->st->failed = 1;
	return -1;
}

/* Fill a free slot with a random attention command. */
static struct slot *prep(struct proc *p, int base, int count,
			 struct pim_cmd *c)
{
	struct slot *s = NULL;
	uint32_t i;
	int j;

	if (p->stop)
		return NULL;
	for (j = base; j < base + count; j++)
		if (!p->slot[j].busy) {
			s = &p->slot[j];
			break;
		}
	if (!s)
		return NULL;
	s->busy = true;
	s->seq = ++p->seq;
	s->nr = 1 + pimt_rand(&p->rng) % JOBS;
	for (i = 0; i < s->nr; i++) {
		s->ctx[i] = pimt_rand(&p->rng) % NCTX;
		s->jobs[i] = (struct pim_attn_job){
			.handle = p->handle, .ctx_len = ctx_lens[s->ctx[i]],
			.q_addr = (uintptr_t)p->q,
			.out_addr = (uintptr_t)(s->out + i * p->nq) };
	}
	memset(s->out, 0xff, s->nr * p->nq * sizeof(float));
	pimt_cmd_attn(c, s->jobs, s->nr, (uint64_t)j << 32 | s->seq);
	return s;
}

static int complete(struct proc *p, uint64_t user_data, int res)
{
	uint32_t j = user_data >> 32, i;
	struct slot *s = j < SLOTS ? &p->slot[j] : NULL;

	if (!s || !s->busy || s->seq != (uint32_t)user_data) {
		p->st->dup++;
		return fail(p, "completion 0x%" PRIx64 " unknown or repeated",
			    user_data);
	}
	s->busy = false;
	p->st->completed++;
	if (res) {
		p->st->bad_result++;
		return fail(p, "attention command %" PRIu64 " failed: %d",
			    s->seq, res);
	}
	for (i = 0; i < s->nr; i++)
		if (pimt_rel_err(s->out + i * p->nq, p->ref[s->ctx[i]],
				 p->nq) > PIMT_ATTN_TOL) {
			p->st->bad_data++;
			return fail(p, "command %" PRIu64 " job %u (ctx %u) differs from the reference",
				    s->seq, i, ctx_lens[s->ctx[i]]);
		}
	return 0;
}

static int queue_round(struct proc *p, int qi)
{
	struct pim_cmd c[QDEPTH];
	struct pim_cqe cqe[QDEPTH];
	struct pim_queue_io io = { .qid = p->qid[qi] };
	int n = 0, ret, i;

	while (p->q_inflight[qi] + n < QDEPTH &&
	       prep(p, qi * QDEPTH, QDEPTH, &c[n]))
		n++;
	if (n) {
		io.nr = n;
		io.addr = (uintptr_t)c;
		ret = pimt_ioctl(p->d.fd, PIM_IOC_QUEUE_SUBMIT, &io);
		if (ret != n)
			return fail(p, "QUEUE_SUBMIT took %d of %d", ret, n);
		p->q_inflight[qi] += n;
		p->st->submitted += n;
	}
	io.nr = QDEPTH;
	io.addr = (uintptr_t)cqe;
	io.flags = 0;
	ret = pimt_ioctl(p->d.fd, PIM_IOC_QUEUE_REAP, &io);
	if (ret < 0)
		return fail(p, "QUEUE_REAP: %d", ret);
	for (i = 0; i < ret; i++)
		if (complete(p, cqe[i].user_data, cqe[i].res))
			return -1;
	p->q_inflight[qi] -= ret;
	return ret;
}

static int ring_round(struct proc *p, bool wait)
{
	struct io_uring_cqe *cqe;
	struct pim_cmd c;
	int n = 0, ret;

	while (p->ring_inflight + n < RDEPTH &&
	       prep(p, MAX_Q * QDEPTH, RDEPTH, &c)) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&p->ring);

		io_uring_prep_rw(IORING_OP_URING_CMD, sqe, p->d.fd, NULL, 0, 0);
		sqe->cmd_op = PIM_URING_CMD_IO;
		memcpy((uint8_t *)sqe + offsetof(struct io_uring_sqe, cmd), &c,
		       sizeof(c));
		sqe->user_data = c.user_data;
		n++;
	}
	if (n) {
		ret = io_uring_submit(&p->ring);
		if (ret != n)
			return fail(p, "io_uring_submit took %d of %d", ret, n);
		p->ring_inflight += n;
		p->st->submitted += n;
	}
	n = 0;
	while (p->ring_inflight) {
		if (wait) {
			struct __kernel_timespec ts = { .tv_sec = HANG_MS / 1000 };

			ret = io_uring_wait_cqe_timeout(&p->ring, &cqe, &ts);
			if (ret == -ETIME)
				return fail(p, "io_uring: %u commands silent for %d s",
					    p->ring_inflight, HANG_MS / 1000);
		} else {
			ret = io_uring_peek_cqe(&p->ring, &cqe);
		}
		if (ret == -EAGAIN || ret == -EINTR)
			break;
		if (ret < 0)
			return fail(p, "io_uring wait: %d", ret);
		ret = complete(p, cqe->user_data, cqe->res);
		io_uring_cqe_seen(&p->ring, cqe);
		if (ret)
			return -1;
		p->ring_inflight--;
		n++;
		wait = false;
	}
	return n;
}

static int drain(struct proc *p)
{
	struct pollfd pfd = { .fd = p->d.fd, .events = POLLIN };
	double t0 = now();
	int i, left;

	for (;;) {
		left = 0;
		for (i = 0; i < p->nqueues; i++) {
			if (queue_round(p, i) < 0)
				return -1;
			left += p->q_inflight[i];
		}
		if (!left)
			break;
		if (now() - t0 > HANG_MS / 1000) {
			char per[64] = "";

			for (i = 0; i < p->nqueues; i++)
				snprintf(per + strlen(per),
					 sizeof(per) - strlen(per), " q%u:%s%u",
					 p->qid[i], i % 2 ? "unordered " : "",
					 p->q_inflight[i]);
			return fail(p, "queues: %d commands silent for %d s (%s)",
				    left, HANG_MS / 1000, per);
		}
		poll(&pfd, 1, 100);
	}
	while (p->ring_inflight)
		if (ring_round(p, true) < 0)
			return -1;
	return 0;
}

static void soak_proc(struct stats *st, int idx, int queues, double secs)
{
	static struct proc p;
	double end = now() + secs;
	int i;

	p.st = st;
	p.rng = 0x428a2f98d728ae22ULL + idx;
	if (setup(&p, queues)) {
		fail(&p, "setup failed");
		_exit(1);
	}
	while (now() < end) {
		for (i = 0; i < p.nqueues; i++)
			if (queue_round(&p, i) < 0)
				_exit(1);
		if (ring_round(&p, false) < 0)
			_exit(1);
	}
	p.stop = true;
	if (drain(&p))
		_exit(1);
	_exit(0);
}

int main(int argc, char **argv)
{
	int procs = 4, queues = 2, i, status, bad = 0;
	double secs = 5, t0;
	struct stats *st, sum = { 0 };
	struct pimt_dev d;
	int ch;

	while ((ch = getopt(argc, argv, "p:q:s:")) != -1) {
		switch (ch) {
		case 'p':
			procs = atoi(optarg);
			break;
		case 'q':
			queues = atoi(optarg);
			break;
		case 's':
			secs = atof(optarg);
			break;
		default:
			fprintf(stderr, "usage: pim-soak [-p PROCS] [-q QUEUES (1..%d)] [-s SECONDS]\n",
				MAX_Q);
			return 2;
		}
	}
	if (procs < 1 || procs > 64 || queues < 1 || queues > MAX_Q ||
	    secs <= 0) {
		fprintf(stderr, "pim-soak: bad -p, -q or -s\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(3);
	st = mmap(NULL, procs * sizeof(*st), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED)
		return 1;
	memset(st, 0, procs * sizeof(*st));
	t0 = now();
	for (i = 0; i < procs; i++)
		if (fork() == 0)
			soak_proc(&st[i], i, queues, secs);
	while (wait(&status) > 0) {
		if (WIFSIGNALED(status))
			tap_diag("a soak process died of signal %d",
				 WTERMSIG(status));
		bad += !WIFEXITED(status) || WEXITSTATUS(status);
	}
	for (i = 0; i < procs; i++) {
		if (st[i].failed)
			tap_diag("process %d: %s", i, st[i].why);
		sum.submitted += st[i].submitted;
		sum.completed += st[i].completed;
		sum.bad_result += st[i].bad_result;
		sum.bad_data += st[i].bad_data;
		sum.dup += st[i].dup;
	}
	tap_ok(!bad && sum.submitted && sum.submitted == sum.completed &&
	       !sum.dup,
	       "%d procs x %d queues + a ring, %.0f s: submitted %" PRIu64
	       " = completed %" PRIu64 ", none twice (%" PRIu64 ")",
	       procs, queues, now() - t0, sum.submitted, sum.completed,
	       sum.dup);
	tap_ok(!sum.bad_result && !sum.bad_data,
	       "every result matches the reference (%" PRIu64 " failed, %"
	       PRIu64 " wrong)", sum.bad_result, sum.bad_data);
	pimt_open(&d);
	tap_ok(pimt_wait_all_free(&d, 30000),
	       "free equals capacity once the soak processes exited");
	pimt_close(&d);
	printf("bench soak-commands %.0f cmds/s\n",
	       sum.completed / (now() - t0));
	return tap_done();
}
