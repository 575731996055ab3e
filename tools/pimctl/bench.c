// SPDX-License-Identifier: GPL-2.0
/*
 * bench.c - pimctl bench: submission rate and latency of NOPs through
 * libpim, and through a raw io_uring ring of the same shape on the same
 * device (kernel backend), and batched decode attention. One line per
 * figure: "bench NAME VALUE UNIT".
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <liburing.h>
#include <pim/half.h>
#include <pim/prng.h>

#include "pimctl.h"

struct bench_opts {
	unsigned int depth;	/* queue depth = commands per submit */
	unsigned int ops;	/* NOPs per rate run */
	unsigned int lat_ops;	/* round trips per latency run */
	unsigned int jobs;	/* attention jobs per batch */
	unsigned int tokens;	/* context of each job */
	unsigned int batches;	/* attention batches */
};

/* The best of every trial: the least disturbed by the rest of the host. */
struct figures {
	double rate;		/* ops/s */
	double lat_ns;		/* one command, submit to reap */
};

#define TRIALS		5

static void keep_best(struct figures *f, double rate, double lat_ns)
{
	if (rate > f->rate)
		f->rate = rate;
	if (!f->lat_ns || lat_ns < f->lat_ns)
		f->lat_ns = lat_ns;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void figure(struct pimctl *pc, const char *name, double v,
		   const char *unit)
{
	if (pc->json) {
		json_obj(&pc->j, NULL);
		json_str(&pc->j, "name", name);
		json_f64(&pc->j, "value", v);
		json_str(&pc->j, "unit", unit);
		json_end(&pc->j, '}');
	} else {
		printf("bench %s %.4g %s\n", name, v, unit);
	}
}

/* Submit n staged NOPs and reap all n; -errno on any failure. */
static int libpim_round(struct pim_queue *q, unsigned int n)
{
	struct pim_completion c[64];
	unsigned int i, got = 0;
	int ret;

	for (i = 0; i < n; i++) {
		ret = pim_queue_nop(q, NULL);
		if (ret)
			return ret;
	}
	ret = pim_queue_submit(q);
	if (ret != (int)n)
		return ret < 0 ? ret : -EIO;
	while (got < n) {
		ret = pim_queue_reap(q, c, n - got < 64 ? n - got : 64,
				     PIM_QUEUE_WAIT);
		if (ret <= 0)
			return ret ? ret : -EIO;
		for (i = 0; i < (unsigned int)ret; i++)
			if (c[i].res)
				return c[i].res;
		got += ret;
	}
	return 0;
}

static int bench_libpim_nop(struct pimctl *pc, const struct bench_opts *o,
			    unsigned int flags, struct figures *f)
{
	struct pim_queue *q;
	unsigned int done;
	double t0, rate;
	int ret;

	ret = pim_queue_new_with_flags(pc->dev, o->depth, flags, &q);
	if (ret)
		return ret;
	ret = libpim_round(q, o->depth);	/* warm up */
	t0 = now_ns();
	for (done = 0; done < o->ops && !ret; done += o->depth)
		ret = libpim_round(q, o->depth);
	rate = done / ((now_ns() - t0) / 1e9);
	t0 = now_ns();
	for (done = 0; done < o->lat_ops && !ret; done++)
		ret = libpim_round(q, 1);
	keep_best(f, rate, (now_ns() - t0) / done);
	pim_queue_free(q);
	return ret;
}

/* The same work on a ring of our own: what an application could do. */
static int raw_round(struct io_uring *ring, int fd, unsigned int n)
{
	static const struct pim_cmd nop = { .opcode = PIM_OP_NOP };
	struct io_uring_cqe *cqe;
	unsigned int i, head, seen = 0;
	int ret;

	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

		if (!sqe)
			return -EBUSY;
		io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
		sqe->cmd_op = PIM_URING_CMD_IO;
		memcpy(sqe->cmd, &nop, sizeof(nop));
	}
	/* The same system calls libpim makes: submit, then wait if needed. */
	ret = io_uring_submit(ring);
	if (ret != (int)n)
		return ret < 0 ? ret : -EIO;
	while (seen < n) {
		unsigned int got = 0;

		if (!io_uring_cq_ready(ring)) {
			ret = io_uring_wait_cqe(ring, &cqe);
			if (ret)
				return ret;
		}
		ret = 0;
		io_uring_for_each_cqe(ring, head, cqe) {
			if (cqe->res)
				ret = cqe->res;
			got++;
		}
		io_uring_cq_advance(ring, got);
		seen += got;
		if (ret)
			return ret;
	}
	return 0;
}

static int bench_raw_nop(struct pimctl *pc, const struct bench_opts *o,
			 struct figures *f)
{
	struct io_uring ring;
	unsigned int done;
	double t0, rate;
	int fd, ret;

	fd = open(pim_dev_get_devnode(pc->dev), O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = io_uring_queue_init(o->depth, &ring,
				  IORING_SETUP_SQE128 | IORING_SETUP_CQE32);
	if (ret) {
		close(fd);
		return ret;
	}
	ret = raw_round(&ring, fd, o->depth);	/* warm up */
	t0 = now_ns();
	for (done = 0; done < o->ops && !ret; done += o->depth)
		ret = raw_round(&ring, fd, o->depth);
	rate = done / ((now_ns() - t0) / 1e9);
	t0 = now_ns();
	for (done = 0; done < o->lat_ops && !ret; done++)
		ret = raw_round(&ring, fd, 1);
	keep_best(f, rate, (now_ns() - t0) / done);
	io_uring_queue_exit(&ring);
	close(fd);
	return ret;
}

/* Batches of decode-attention jobs over one FP16 GQA cache. */
static int bench_attn(struct pimctl *pc, const struct bench_opts *o)
{
	const struct pim_kv_shape s = {
		1, 8, 2, 128, PIM_DTYPE_FP16, o->tokens,
	};
	size_t tb = (size_t)s.kv_heads * s.head_dim * 2;
	size_t nq = (size_t)s.q_heads * s.head_dim, i;
	struct pim_completion c;
	struct pim_kvcache *kv;
	struct pim_queue *q = NULL;
	struct pim_batch *b = NULL;
	uint16_t *k = malloc(o->tokens * tb), *v = malloc(o->tokens * tb);
	float *qv = malloc(nq * sizeof(float));
	float *out = malloc(o->jobs * nq * sizeof(float));
	uint64_t seed = 3, device_ns = 0;
	unsigned int n;
	double t0, t;
	int ret = -ENOMEM;

	if (!k || !v || !qv || !out)
		goto free_mem;
	for (i = 0; i < o->tokens * tb / 2; i++) {
		k[i] = elem_from_f32(s.dtype, prng_uniform(&seed));
		v[i] = elem_from_f32(s.dtype, prng_uniform(&seed));
	}
	for (i = 0; i < nq; i++)
		qv[i] = prng_uniform(&seed);
	ret = pim_kvcache_new(pc->dev, &s, NULL, &kv);
	if (ret)
		goto free_mem;
	ret = pim_kvcache_append(kv, 0, o->tokens, k, v, o->tokens * tb, 0,
				 NULL);
	ret = ret ?: pim_batch_new(pc->dev, o->jobs, &b);
	for (n = 0; n < o->jobs && !ret; n++)
		ret = pim_batch_add(b, kv, 0, 0, 0.0f, qv, out + n * nq, nq);
	ret = ret ?: pim_queue_new(pc->dev, 1, &q);
	t0 = now_ns();
	for (n = 0; n < o->batches && !ret; n++) {
		ret = pim_queue_attn(q, b, NULL);
		if (!ret && pim_queue_submit(q) != 1)
			ret = -EIO;
		if (!ret && pim_queue_reap(q, &c, 1, PIM_QUEUE_WAIT) != 1)
			ret = -EIO;
		ret = ret ?: c.res;
		if (!ret)
			device_ns += c.device_ns;
	}
	t = now_ns() - t0;
	if (!ret) {
		figure(pc, "attn-jobs-rate", o->jobs * n / (t / 1e9),
		       "jobs/s");
		figure(pc, "attn-batch-latency", t / n / 1e3, "us");
		figure(pc, "attn-batch-device-time", device_ns / n / 1e3,
		       "us");
	}
	pim_queue_free(q);
	pim_batch_free(b);
	pim_kvcache_free(kv);
free_mem:
	free(k);
	free(v);
	free(qv);
	free(out);
	return ret;
}

static const char bench_usage[] =
	"usage: pimctl [-j] [-d N] bench [OPTIONS]\n"
	"  NOP submission through libpim and, on the kernel backend, through a\n"
	"  raw io_uring ring of the same shape; then batched decode attention.\n"
	"  --depth N     queue depth and NOPs per submit (1..64, default 32)\n"
	"  --ops N       NOPs per rate trial (default 10000; best of 5 trials)\n"
	"  --lat-ops N   single-NOP round trips per trial (default 1000)\n"
	"  --jobs N      attention jobs per batch (default 16)\n"
	"  --tokens N    context tokens per job (default 256)\n"
	"  --batches N   attention batches (default 20)\n";

int cmd_bench(struct pimctl *pc, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "depth", required_argument, NULL, 'D' },
		{ "ops", required_argument, NULL, 'o' },
		{ "lat-ops", required_argument, NULL, 'l' },
		{ "jobs", required_argument, NULL, 'J' },
		{ "tokens", required_argument, NULL, 't' },
		{ "batches", required_argument, NULL, 'B' },
		PIMCTL_COMMON_OPTS,
		{ }
	};
	struct bench_opts o = { 32, 10000, 1000, 16, 256, 20 };
	struct figures lib = { 0 }, raw = { 0 }, ioq = { 0 };
	unsigned int i;
	bool kernel;
	int c, ret;

	while ((c = pimctl_getopt(pc, argc, argv, opts, bench_usage)) != -1) {
		switch (c) {
		case 'D':
			o.depth = pimctl_num("--depth", optarg, 1, 64);
			if (o.depth & (o.depth - 1)) {
				fprintf(stderr, "pimctl: --depth: a power of two\n");
				return EX_USAGE;
			}
			break;
		case 'o':
			o.ops = pimctl_num("--ops", optarg, 1, 1UL << 30);
			break;
		case 'l':
			o.lat_ops = pimctl_num("--lat-ops", optarg, 1,
					       1UL << 30);
			break;
		case 'J':
			o.jobs = pimctl_num("--jobs", optarg, 1,
					    PIM_MAX_ATTN_JOBS);
			break;
		case 't':
			o.tokens = pimctl_num("--tokens", optarg, 1, 1 << 20);
			break;
		case 'B':
			o.batches = pimctl_num("--batches", optarg, 1,
					       1UL << 30);
			break;
		}
	}
	ret = pimctl_no_operands(argc, argv);
	ret = ret ?: pimctl_open_dev(pc);
	if (ret)
		return ret;
	if (pc->json)
		json_arr(&pc->j, NULL);
	/* Alternate the paths, so both see the same host. */
	kernel = pim_get_backend(pc->ctx) == PIM_BACKEND_KERNEL;
	for (i = 0; i < TRIALS && !ret; i++) {
		ret = bench_libpim_nop(pc, &o, 0, &lib);
		if (!ret && kernel)
			ret = bench_raw_nop(pc, &o, &raw);
		if (!ret && kernel)
			ret = bench_libpim_nop(pc, &o, PIM_QUEUE_IOCTL, &ioq);
	}
	if (ret)
		goto fail;
	figure(pc, "libpim-nop-rate", lib.rate, "ops/s");
	figure(pc, "libpim-nop-latency", lib.lat_ns / 1e3, "us");
	if (kernel) {
		figure(pc, "raw-uring-nop-rate", raw.rate, "ops/s");
		figure(pc, "raw-uring-nop-latency", raw.lat_ns / 1e3, "us");
		/* Overhead of libpim over the raw path: 0.2 means 20%. */
		figure(pc, "libpim-nop-time-overhead",
		       raw.rate / lib.rate - 1, "x");
		figure(pc, "libpim-nop-latency-overhead",
		       lib.lat_ns / raw.lat_ns - 1, "x");
		/* The module's ioctl queues, the fallback transport. */
		figure(pc, "libpim-ioctlq-nop-rate", ioq.rate, "ops/s");
		figure(pc, "libpim-ioctlq-nop-latency", ioq.lat_ns / 1e3,
		       "us");
	}
	ret = bench_attn(pc, &o);
	if (ret)
		goto fail;
	if (pc->json)
		json_end(&pc->j, ']');
	return 0;
fail:
	if (pc->json)
		json_end(&pc->j, ']');
	return pimctl_fail(pc, "benchmark", ret);
}
