// SPDX-License-Identifier: GPL-2.0
/*
 * bench_transport.c - round trip of a minimal command (PIM_OP_NOP) on each
 * transport of /dev/pimN, against IORING_OP_NOP on the same ring and a
 * no-op ioctl (PIM_IOC_GET_INFO), plus batched submission of 64 commands
 * per io_uring_enter against one-by-one ioctls.
 *
 * Prints `bench <name> <value> <unit>` lines. Each round measures every
 * figure over BENCH_ITERS commands, one after the other; a figure is the
 * median over BENCH_REPS rounds (environment, defaults 1000 and 9), and a
 * ratio the median of its per-round ratios, so load drift on a shared
 * host cancels out.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <liburing.h>

#include "pimt.h"

#define BATCH		64
#define MAX_REPS	15

struct ctx {
	struct pimt_dev d;
	struct io_uring ring;
	int qid;
	struct pim_cmd nop[BATCH];
	struct pim_cqe cqe[BATCH];
};

/* One operation of a measured loop; returns commands done or -errno. */
typedef int (*op_fn)(struct ctx *c);

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_transport: %s: %s\n", what, strerror(-err));
	exit(1);
}

static int op_getinfo(struct ctx *c)
{
	struct pim_info info;

	return ioctl(c->d.fd, PIM_IOC_GET_INFO, &info) ? -errno : 1;
}

static int op_ioctl_nop(struct ctx *c)
{
	return pimt_submit(c->d.fd, &c->nop[0], NULL) ?: 1;
}

static int queue_roundtrip(struct ctx *c, uint32_t nr)
{
	struct pim_queue_io io = { .qid = c->qid, .nr = nr,
				   .addr = (uintptr_t)c->nop };
	uint32_t got = 0;
	int ret;

	ret = ioctl(c->d.fd, PIM_IOC_QUEUE_SUBMIT, &io);
	if (ret != (int)nr)
		return ret < 0 ? -errno : -EAGAIN;
	while (got < nr) {
		io.nr = nr - got;
		io.addr = (uintptr_t)(c->cqe + got);
		io.flags = PIM_REAP_F_WAIT;
		ret = ioctl(c->d.fd, PIM_IOC_QUEUE_REAP, &io);
		if (ret <= 0)
			return ret < 0 ? -errno : -EIO;
		got += ret;
	}
	return nr;
}

static int op_queue_nop(struct ctx *c)
{
	return queue_roundtrip(c, 1);
}

static int op_queue_batch(struct ctx *c)
{
	return queue_roundtrip(c, BATCH);
}

static void prep_pim_nop(struct ctx *c, struct io_uring_sqe *sqe)
{
	uint8_t *cmd = (uint8_t *)sqe + offsetof(struct io_uring_sqe, cmd);

	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, c->d.fd, NULL, 0, 0);
	sqe->cmd_op = PIM_URING_CMD_IO;
	memcpy(cmd, &c->nop[0], sizeof(c->nop[0]));
}

/* Submit what is prepared, wait for n completions, check them. */
static int ring_reap(struct ctx *c, unsigned int n)
{
	struct io_uring_cqe *cqe;
	unsigned int head, seen = 0, batch;
	int ret, bad = 0;

	ret = io_uring_submit_and_wait(&c->ring, n);
	if (ret != (int)n)
		return ret < 0 ? ret : -EAGAIN;
	while (seen < n) {
		ret = io_uring_wait_cqe(&c->ring, &cqe);
		if (ret)
			return ret;
		batch = 0;
		io_uring_for_each_cqe(&c->ring, head, cqe) {
			bad |= cqe->res;
			batch++;
		}
		io_uring_cq_advance(&c->ring, batch);
		seen += batch;
	}
	return bad ? bad : (int)n;
}

static int op_uring_nop(struct ctx *c)
{
	io_uring_prep_nop(io_uring_get_sqe(&c->ring));
	return ring_reap(c, 1);
}

static int op_uring_cmd(struct ctx *c)
{
	prep_pim_nop(c, io_uring_get_sqe(&c->ring));
	return ring_reap(c, 1);
}

static int op_uring_batch(struct ctx *c)
{
	int i;

	for (i = 0; i < BATCH; i++)
		prep_pim_nop(c, io_uring_get_sqe(&c->ring));
	return ring_reap(c, BATCH);
}

static int op_uring_nop_batch(struct ctx *c)
{
	int i;

	for (i = 0; i < BATCH; i++)
		io_uring_prep_nop(io_uring_get_sqe(&c->ring));
	return ring_reap(c, BATCH);
}

/* The figures, in the order each round measures them. */
enum {
	F_GETINFO, F_IOCTL, F_QUEUE, F_QUEUE64, F_UNOP, F_UNOP64, F_UCMD,
	F_UCMD64, NR_FIG
};

static const struct figure {
	const char *name;
	op_fn op;
	bool batch;
} fig[NR_FIG] = {
	[F_GETINFO]	= { "ioctl-getinfo", op_getinfo, false },
	[F_IOCTL]	= { "ioctl-nop", op_ioctl_nop, false },
	[F_QUEUE]	= { "queue-nop", op_queue_nop, false },
	[F_QUEUE64]	= { "queue-batch64-nop", op_queue_batch, true },
	[F_UNOP]	= { "uring-nop", op_uring_nop, false },
	[F_UNOP64]	= { "uring-batch64-nop", op_uring_nop_batch, true },
	[F_UCMD]	= { "uring-cmd-nop", op_uring_cmd, false },
	[F_UCMD64]	= { "uring-cmd-batch64-nop", op_uring_batch, true },
};

/* Ratios, each taken within one round so that load drift cancels. */
static const struct ratio {
	const char *name;
	int num, den;
} ratio[] = {
	{ "ioctl-nop-vs-getinfo", F_IOCTL, F_GETINFO },
	{ "queue-nop-vs-ioctl", F_QUEUE, F_IOCTL },
	{ "uring-cmd-vs-nop", F_UCMD, F_UNOP },
	{ "uring-cmd-batch64-vs-nop-batch64", F_UCMD64, F_UNOP64 },
	/* throughput ratios: one-by-one time over batched time */
	{ "uring-batch64-vs-ioctl", F_IOCTL, F_UCMD64 },
	{ "queue-batch64-vs-ioctl", F_IOCTL, F_QUEUE64 },
};

#define NR_RATIO	(sizeof(ratio) / sizeof(ratio[0]))

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Wall time per command over iters operations, in ns. */
static double measure(struct ctx *c, const struct figure *f, int iters)
{
	int i, n, done = 0;
	double t0;

	if (f->batch)
		iters = (iters + BATCH - 1) / BATCH;
	t0 = now_ns();
	for (i = 0; i < iters; i++) {
		n = f->op(c);
		if (n < 0)
			die(f->name, n);
		done += n;
	}
	return (now_ns() - t0) / done;
}

static int env_int(const char *name, int def, int max)
{
	const char *s = getenv(name);
	int v = s ? atoi(s) : def;

	return v < 1 ? def : v > max ? max : v;
}

int main(void)
{
	int iters = env_int("BENCH_ITERS", 1000, 1000000);
	int reps = env_int("BENCH_REPS", 9, MAX_REPS);
	struct pim_queue_args qa = { .depth = BATCH };
	double t[NR_FIG][MAX_REPS], r[NR_RATIO][MAX_REPS];
	static struct ctx c;
	int i, f, rep, ret;

	pimt_open(&c.d);
	for (i = 0; i < BATCH; i++)
		pimt_cmd_nop(&c.nop[i], i);
	ret = io_uring_queue_init(2 * BATCH, &c.ring,
				  IORING_SETUP_SQE128 | IORING_SETUP_CQE32);
	if (ret)
		die("io_uring_queue_init", ret);
	if (ioctl(c.d.fd, PIM_IOC_QUEUE_CREATE, &qa))
		die("PIM_IOC_QUEUE_CREATE", -errno);
	c.qid = qa.qid;

	for (f = 0; f < NR_FIG; f++)	/* warm-up */
		measure(&c, &fig[f], iters / 10 + 1);
	for (rep = 0; rep < reps; rep++) {
		for (f = 0; f < NR_FIG; f++)
			t[f][rep] = measure(&c, &fig[f], iters);
		for (i = 0; i < (int)NR_RATIO; i++)
			r[i][rep] = t[ratio[i].num][rep] / t[ratio[i].den][rep];
	}

	printf("# %d rounds of %d commands per figure, all figures per round; median\n",
	       reps, iters);
	for (f = 0; f < NR_FIG; f++)
		printf("bench %s %.0f ns\n", fig[f].name, median(t[f], reps));
	for (i = 0; i < (int)NR_RATIO; i++)
		printf("bench %s %.2f x\n", ratio[i].name, median(r[i], reps));

	io_uring_queue_exit(&c.ring);
	pimt_close(&c.d);
	return 0;
}
