// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_queue.c - asynchronous queues: depth limits, completion order and
 * user pointers, the pollable fd, batches held while queued, freeing a
 * queue with commands in flight, and queues used from several threads.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>

#include "helpers.h"

#define DEPTH		8
#define THREADS		4
#define ROUNDS		200
#define SENTINEL	12345.0f

static int poll_in(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* The transport a queue made with flags must use on this backend. */
static const char *want_transport(struct pim_dev *dev, unsigned int flags)
{
	if (pim_get_backend(pim_dev_get_ctx(dev)) == PIM_BACKEND_INPROC)
		return "inproc";
	return flags & PIM_QUEUE_IOCTL ? "ioctl" : "io_uring";
}

static void test_basics(struct pim_dev *dev, unsigned int flags)
{
	const char *tr = want_transport(dev, flags);
	struct pim_completion c[DEPTH];
	struct pim_queue *q;
	int tags[DEPTH], i, n, ret, ordered;

	tap_ok(pim_queue_new_with_flags(dev, 3, flags, &q) == -EINVAL &&
	       pim_queue_new_with_flags(dev, 0, flags, &q) == -EINVAL &&
	       pim_queue_new_with_flags(dev, 2048, flags, &q) == -EINVAL &&
	       pim_queue_new_with_flags(dev, 4, 1U << 9, &q) == -EINVAL,
	       "%s: depths 3, 0 and 2048, unknown flag: -EINVAL", tr);
	ret = pim_queue_new_with_flags(dev, DEPTH, flags, &q);
	if (!tap_ok(ret == 0, "%s: queue of depth %d: %d", tr, DEPTH, ret))
		return;
	tap_ok(pim_queue_get_depth(q) == DEPTH && pim_queue_get_dev(q) == dev &&
	       !strcmp(pim_queue_get_transport(q), tr),
	       "%s: getters (transport %s)", tr, pim_queue_get_transport(q));
	tap_ok(pim_queue_reap(q, c, DEPTH, PIM_QUEUE_WAIT) == 0,
	       "reap with nothing in flight returns 0 at once");
	for (i = 0, ret = 0; i < DEPTH && !ret; i++)
		ret = pim_queue_nop(q, &tags[i]);
	tap_ok(ret == 0 && pim_queue_nop(q, NULL) == -EBUSY,
	       "depth commands staged, one more: -EBUSY");
	tap_ok(pim_queue_reap(q, c, DEPTH, 0) == 0,
	       "staged commands do not complete before submit");
	tap_ok(pim_queue_submit(q) == DEPTH && pim_queue_submit(q) == 0,
	       "submit hands over all staged commands once");
	tap_ok(poll_in(pim_queue_get_fd(q), 5000),
	       "the queue's fd becomes readable");
	for (n = 0; n < DEPTH;) {
		ret = pim_queue_reap(q, c + n, DEPTH - n, PIM_QUEUE_WAIT);
		if (ret <= 0)
			break;
		n += ret;
	}
	for (i = 0, ordered = 1; i < n; i++)
		ordered &= c[i].user == &tags[i] && c[i].res == 0 &&
			   c[i].device_ns == 0;
	tap_ok(n == DEPTH && ordered,
	       "NOPs complete in order, res 0, device_ns 0 (%d)", n);
	tap_ok(pim_queue_get_in_flight(q) == 0 &&
	       !poll_in(pim_queue_get_fd(q), 0),
	       "nothing in flight, fd no longer readable");
	tap_ok(pim_queue_reap(q, c, 1, 1U << 4) == -EINVAL &&
	       pim_queue_reap(q, NULL, 1, 0) == -EINVAL,
	       "reap: unknown flag or NULL array: -EINVAL");

	/* Reaping one of three must not lose the wakeup for the others. */
	for (i = 0; i < 3; i++)
		pim_queue_nop(q, &tags[i]);
	pim_queue_submit(q);
	n = pim_queue_reap(q, c, 1, PIM_QUEUE_WAIT);
	tap_ok(n == 1 && poll_in(pim_queue_get_fd(q), 5000),
	       "fd readable again while completions wait");
	while (pim_queue_get_in_flight(q) &&
	       pim_queue_reap(q, c, DEPTH, PIM_QUEUE_WAIT) > 0)
		;
	pim_queue_free(q);
}

static void test_batch_busy(struct pim_dev *dev)
{
	static const struct pim_kv_shape s = {
		1, 4, 4, 64, PIM_DTYPE_FP16, 16,
	};
	struct pim_completion c;
	struct pim_kvcache *kv;
	struct pim_queue *q;
	struct pim_batch *b;
	struct data {
		uint16_t k[16 * 4 * 64], v[16 * 4 * 64];
		float q[4 * 64], out[4 * 64];
	} *d = calloc(1, sizeof(*d));
	uint64_t seed = 5;
	int ret;

	fill_elems(d->k, 16 * 4 * 64, s.dtype, &seed);
	fill_elems(d->v, 16 * 4 * 64, s.dtype, &seed);
	ret = pim_kvcache_new(dev, &s, NULL, &kv);
	ret = ret ?: pim_kvcache_append(kv, 0, 16, d->k, d->v, sizeof(d->k),
					0, NULL);
	ret = ret ?: pim_batch_new(dev, 1, &b);
	ret = ret ?: pim_batch_add(b, kv, 0, 0, 0.0f, d->q, d->out, 4 * 64);
	ret = ret ?: pim_queue_new(dev, 2, &q);
	if (!tap_ok(ret == 0, "batch setup: %d", ret))
		return;
	ret = pim_queue_attn(q, b, b);
	tap_ok(ret == 0 && pim_batch_reset(b) == -EBUSY &&
	       pim_queue_attn(q, b, b) == -EBUSY &&
	       pim_batch_run(b, NULL) == -EBUSY,
	       "a queued batch cannot be changed, queued again or run");
	pim_queue_submit(q);
	ret = pim_queue_reap(q, &c, 1, PIM_QUEUE_WAIT);
	tap_ok(ret == 1 && c.user == b && c.res == 0 && c.device_ns > 0 &&
	       pim_batch_reset(b) == 0,
	       "reaped: result %d, %llu ns, batch free again", c.res,
	       (unsigned long long)c.device_ns);

	/* Freed with the batch in flight: the free waits for it. */
	d->out[0] = SENTINEL;
	ret = pim_batch_add(b, kv, 0, 0, 0.0f, d->q, d->out, 4 * 64);
	ret = ret ?: pim_queue_attn(q, b, b);
	pim_queue_submit(q);
	pim_queue_free(q);
	tap_ok(ret == 0 && d->out[0] != SENTINEL && pim_batch_reset(b) == 0,
	       "queue freed with a batch in flight: it ran, batch released");
	pim_batch_free(b);
	pim_kvcache_free(kv);
	free(d);
}

struct worker {
	struct pim_dev *dev;
	int errors;
};

/* Each thread drives its own queue; the device is shared. */
static void *worker(void *arg)
{
	struct pim_completion c[DEPTH];
	struct worker *w = arg;
	struct pim_queue *q;
	int round, i, n;

	if (pim_queue_new(w->dev, DEPTH, &q)) {
		w->errors++;
		return NULL;
	}
	for (round = 0; round < ROUNDS; round++) {
		for (i = 0; i < DEPTH; i++)
			w->errors += pim_queue_nop(q, c + i) != 0;
		w->errors += pim_queue_submit(q) != DEPTH;
		for (n = 0; n < DEPTH;) {
			i = pim_queue_reap(q, c + n, DEPTH - n,
					   PIM_QUEUE_WAIT);
			if (i <= 0) {
				w->errors++;
				break;
			}
			n += i;
		}
	}
	pim_queue_free(q);
	return NULL;
}

static void test_threads(struct pim_dev *dev)
{
	struct worker w[THREADS];
	pthread_t t[THREADS];
	int i, errors = 0;

	for (i = 0; i < THREADS; i++) {
		w[i].dev = dev;
		w[i].errors = 0;
		pthread_create(&t[i], NULL, worker, &w[i]);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		errors += w[i].errors;
	}
	tap_ok(!errors, "%d threads x %d rounds of %d NOPs: %d errors",
	       THREADS, ROUNDS, DEPTH, errors);
}

int main(void)
{
	struct pim_ctx *ctx;
	struct pim_dev *dev;

	if (test_ctx_new(&ctx))
		return 1;
	dev = test_dev(ctx);
	if (!dev)
		return pim_unref(ctx) != NULL;
	tap_plan(29);
	test_basics(dev, 0);
	test_basics(dev, PIM_QUEUE_IOCTL);
	test_batch_busy(dev);
	test_threads(dev);
	pim_unref(ctx);
	return tap_done();
}
