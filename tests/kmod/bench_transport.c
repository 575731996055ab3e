// SPDX-License-Identifier: GPL-2.0
/*
 * bench_transport.c - round trip of a minimal command (PIM_OP_NOP) on each
 * transport of /dev/pimN, against IORING_OP_NOP on the same ring and a
 * no-op ioctl (PIM_IOC_GET_INFO), plus batched submission of 64 commands
 * per io_uring_enter against one-by-one ioctls.
 *
 * Prints `bench <name> <value> <unit>` lines. Each figure is the median of
 * BENCH_REPS runs of BENCH_ITERS operations (environment, defaults 5 and
 * 2000) after a warm-up run.
 */
#include <errno.h>
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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median over reps of the wall time per command, in ns. */
static double measure(struct ctx *c, op_fn op, int iters, int reps,
		      const char *name)
{
	double t[MAX_REPS], t0;
	int r, i, n, done;

	for (r = -1; r < reps; r++) {	/* r = -1 warms up */
		done = 0;
		t0 = now_ns();
		for (i = 0; i < iters; i++) {
			n = op(c);
			if (n < 0)
				die(name, n);
			done += n;
		}
		if (r >= 0)
			t[r] = (now_ns() - t0) / done;
	}
	qsort(t, reps, sizeof(t[0]), cmp_double);
	return t[reps / 2];
}

static int env_int(const char *name, int def, int max)
{
	const char *s = getenv(name);
	int v = s ? atoi(s) : def;

	return v < 1 ? def : v > max ? max : v;
}

int main(void)
{
	int iters = env_int("BENCH_ITERS", 2000, 1000000);
	int reps = env_int("BENCH_REPS", 5, MAX_REPS);
	struct pim_queue_args qa = { .depth = BATCH };
	double getinfo, sync, queue, queue64, unop, ucmd, ubatch;
	static struct ctx c;
	int i, ret;

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

	getinfo = measure(&c, op_getinfo, iters, reps, "GET_INFO");
	sync = measure(&c, op_ioctl_nop, iters, reps, "SUBMIT NOP");
	queue = measure(&c, op_queue_nop, iters, reps, "queue NOP");
	queue64 = measure(&c, op_queue_batch, iters / BATCH + 1, reps,
			  "queue 64 NOPs");
	unop = measure(&c, op_uring_nop, iters, reps, "IORING_OP_NOP");
	ucmd = measure(&c, op_uring_cmd, iters, reps, "uring_cmd NOP");
	ubatch = measure(&c, op_uring_batch, iters / BATCH + 1, reps,
			 "uring_cmd 64 NOPs");

	printf("# %d x %d round trips per figure, median; wall time per command\n",
	       reps, iters);
	printf("bench ioctl-getinfo %.0f ns\n", getinfo);
	printf("bench ioctl-nop %.0f ns\n", sync);
	printf("bench queue-nop %.0f ns\n", queue);
	printf("bench queue-batch64-nop %.0f ns\n", queue64);
	printf("bench uring-nop %.0f ns\n", unop);
	printf("bench uring-cmd-nop %.0f ns\n", ucmd);
	printf("bench uring-cmd-batch64-nop %.0f ns\n", ubatch);
	printf("bench ioctl-nop-vs-getinfo %.2f x\n", sync / getinfo);
	printf("bench queue-nop-vs-ioctl %.2f x\n", queue / sync);
	printf("bench uring-cmd-vs-nop %.2f x\n", ucmd / unop);
	printf("bench uring-batch64-vs-ioctl %.2f x\n", sync / ubatch);
	printf("bench queue-batch64-vs-ioctl %.2f x\n", sync / queue64);

	io_uring_queue_exit(&c.ring);
	pimt_close(&c.d);
	return 0;
}
