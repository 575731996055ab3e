// SPDX-License-Identifier: GPL-2.0
/*
 * test_queue.c - asynchronous queues driven by ioctl: create/destroy limits,
 * submit/reap arguments, in-order and unordered completion, FENCE, depth,
 * poll()/epoll readiness, and destroying a queue with commands in flight.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "pimt.h"
#include "../tap.h"

/* A command that takes a while: full attention over 1024 tokens. */
#define HEAVY_TOKENS	1024

static uint64_t seed = 0x853c49e6748fea9bULL;

struct heavy {
	struct pim_kv_alloc s;
	int h;
	uint16_t *k, *v;
	struct pim_attn_job job;
	float *q, *out;
};

static int heavy_init(int fd, struct heavy *hv)
{
	size_t bytes, qn;

	hv->s = pimt_shape(1, 8, 8, 128, PIM_DTYPE_BF16, HEAVY_TOKENS);
	bytes = pimt_kv_bytes(&hv->s, HEAVY_TOKENS);
	qn = (size_t)hv->s.q_heads * hv->s.head_dim;
	hv->k = malloc(bytes);
	hv->v = malloc(bytes);
	hv->q = malloc(qn * sizeof(float));
	hv->out = malloc(qn * sizeof(float));
	pimt_fill_kv(&seed, PIM_DTYPE_BF16, hv->k, bytes / 2);
	pimt_fill_kv(&seed, PIM_DTYPE_BF16, hv->v, bytes / 2);
	pimt_fill_q(&seed, hv->q, qn);
	hv->h = pimt_kv_alloc(fd, &hv->s);
	if (hv->h <= 0)
		return hv->h;
	memset(&hv->job, 0, sizeof(hv->job));
	hv->job.handle = hv->h;
	hv->job.ctx_len = HEAVY_TOKENS;
	hv->job.q_addr = (uintptr_t)hv->q;
	hv->job.out_addr = (uintptr_t)hv->out;
	return pimt_kv_append(fd, hv->h, 0, 0, HEAVY_TOKENS, hv->k, hv->v, 0);
}

static void heavy_fini(int fd, struct heavy *hv)
{
	if (hv->h > 0 && fd >= 0)
		pimt_kv_free(fd, hv->h);
	free(hv->k);
	free(hv->v);
	free(hv->q);
	free(hv->out);
}

static bool heavy_correct(struct heavy *hv)
{
	size_t qn = (size_t)hv->s.q_heads * hv->s.head_dim;
	double *ref = malloc(qn * sizeof(double)), err;

	pimt_attn_ref(&hv->s, hv->k, hv->v, HEAVY_TOKENS, hv->q, 0, ref);
	err = pimt_rel_err(hv->out, ref, qn);
	free(ref);
	return err <= PIMT_ATTN_TOL;
}

static int q_create(int fd, uint32_t depth, uint32_t flags)
{
	struct pim_queue_args a = { .depth = depth, .flags = flags };
	int ret = pimt_ioctl(fd, PIM_IOC_QUEUE_CREATE, &a);

	return ret < 0 ? ret : (int)a.qid;
}

static int q_destroy(int fd, uint32_t qid)
{
	struct pim_queue_args a = { .qid = qid };

	return pimt_ioctl(fd, PIM_IOC_QUEUE_DESTROY, &a);
}

static int q_submit(int fd, uint32_t qid, const struct pim_cmd *c, uint32_t nr)
{
	struct pim_queue_io io = { .qid = qid, .nr = nr,
				   .addr = (uintptr_t)c };

	return pimt_ioctl(fd, PIM_IOC_QUEUE_SUBMIT, &io);
}

static int q_reap(int fd, uint32_t qid, struct pim_cqe *cqe, uint32_t nr,
		  uint32_t flags)
{
	struct pim_queue_io io = { .qid = qid, .nr = nr,
				   .addr = (uintptr_t)cqe, .flags = flags };

	return pimt_ioctl(fd, PIM_IOC_QUEUE_REAP, &io);
}

/* Reap exactly nr completions, waiting; returns how many came. */
static uint32_t q_reap_all(int fd, uint32_t qid, struct pim_cqe *cqe,
			   uint32_t nr)
{
	uint32_t got = 0;
	int ret;

	alarm(60);	/* a lost completion fails the test, not the suite */
	while (got < nr) {
		ret = q_reap(fd, qid, cqe + got, nr - got, PIM_REAP_F_WAIT);
		if (ret <= 0)
			break;
		got += ret;
	}
	alarm(0);
	return got;
}

static void test_create_destroy(struct pimt_dev *d)
{
	struct pim_queue_args a;
	int q[17], i, ret;

	ret = q_create(d->fd, 0, 0);
	tap_ok(ret == -EINVAL, "QUEUE_CREATE depth 0: %d (want -EINVAL)", ret);
	ret = q_create(d->fd, 3, 0);
	tap_ok(ret == -EINVAL, "QUEUE_CREATE depth 3: %d (want -EINVAL)", ret);
	ret = q_create(d->fd, 2048, 0);
	tap_ok(ret == -EINVAL, "QUEUE_CREATE depth 2048 > 1024: %d (want -EINVAL)",
	       ret);
	ret = q_create(d->fd, 8, 2);
	tap_ok(ret == -EINVAL, "QUEUE_CREATE unknown flag: %d (want -EINVAL)",
	       ret);
	memset(&a, 0, sizeof(a));
	a.depth = 8;
	a.rsvd0 = 1;
	ret = pimt_ioctl(d->fd, PIM_IOC_QUEUE_CREATE, &a);
	tap_ok(ret == -EINVAL, "QUEUE_CREATE rsvd0 != 0: %d (want -EINVAL)",
	       ret);
	a.rsvd0 = 0;
	a.rsvd[1] = 1;
	ret = pimt_ioctl(d->fd, PIM_IOC_QUEUE_CREATE, &a);
	tap_ok(ret == -EINVAL, "QUEUE_CREATE rsvd[1] != 0: %d (want -EINVAL)",
	       ret);
	ret = pimt_ioctl(d->fd, PIM_IOC_QUEUE_CREATE, (void *)PIMT_BAD_ADDR);
	tap_ok(ret == -EFAULT, "QUEUE_CREATE from a bad pointer: %d (want -EFAULT)",
	       ret);

	for (i = 0; i < 16; i++) {
		q[i] = q_create(d->fd, i & 1 ? 1024 : 1,
				i & 2 ? PIM_QUEUE_F_UNORDERED : 0);
		if (q[i] < 0)
			break;
	}
	tap_ok(i == 16, "16 queues of depth 1 and 1024 (%d created)", i);
	q[16] = q_create(d->fd, 8, 0);
	tap_ok(q[16] == -ENOSPC, "the 17th queue: %d (want -ENOSPC)", q[16]);
	ret = 0;
	while (i-- > 0)
		ret |= q_destroy(d->fd, q[i]);
	tap_ok(ret == 0, "QUEUE_DESTROY of all 16");
	ret = q_destroy(d->fd, q[0]);
	tap_ok(ret == -ENOENT, "QUEUE_DESTROY twice: %d (want -ENOENT)", ret);
	ret = q_destroy(d->fd, 12345);
	tap_ok(ret == -ENOENT, "QUEUE_DESTROY never-created qid: %d (want -ENOENT)",
	       ret);
	memset(&a, 0, sizeof(a));
	a.qid = q_create(d->fd, 8, 0);
	a.rsvd[0] = 1;
	ret = pimt_ioctl(d->fd, PIM_IOC_QUEUE_DESTROY, &a);
	tap_ok(ret == -EINVAL, "QUEUE_DESTROY rsvd[0] != 0: %d (want -EINVAL)",
	       ret);
	tap_ok(q_destroy(d->fd, a.qid) == 0, "queue still there, destroyed");
}

static void test_io_args(struct pimt_dev *d)
{
	int qid = q_create(d->fd, 8, 0), fd2 = pimt_reopen(d), ret;
	struct pim_queue_io io;
	struct pim_cqe cqe[8];
	struct pim_cmd c[8];

	pimt_cmd_nop(&c[0], 1);
	ret = q_submit(d->fd, qid + 1000, c, 1);
	tap_ok(ret == -ENOENT, "QUEUE_SUBMIT to an unknown qid: %d (want -ENOENT)",
	       ret);
	ret = q_submit(fd2, qid, c, 1);
	tap_ok(ret == -ENOENT,
	       "QUEUE_SUBMIT to another file's qid: %d (want -ENOENT)", ret);
	ret = q_reap(d->fd, qid + 1000, cqe, 1, 0);
	tap_ok(ret == -ENOENT, "QUEUE_REAP from an unknown qid: %d (want -ENOENT)",
	       ret);
	ret = q_submit(d->fd, qid, (void *)PIMT_BAD_ADDR, 1);
	tap_ok(ret == -EFAULT, "QUEUE_SUBMIT from a bad pointer: %d (want -EFAULT)",
	       ret);
	memset(&io, 0, sizeof(io));
	io.qid = qid;
	io.nr = 1;
	io.addr = (uintptr_t)c;
	io.flags = PIM_REAP_F_WAIT;
	ret = pimt_ioctl(d->fd, PIM_IOC_QUEUE_SUBMIT, &io);
	tap_ok(ret == -EINVAL, "QUEUE_SUBMIT with flags: %d (want -EINVAL)",
	       ret);
	io.flags = 0;
	io.rsvd0 = 1;
	ret = pimt_ioctl(d->fd, PIM_IOC_QUEUE_SUBMIT, &io);
	tap_ok(ret == -EINVAL, "QUEUE_SUBMIT rsvd0 != 0: %d (want -EINVAL)",
	       ret);
	io.rsvd0 = 0;
	io.rsvd = 1;
	io.addr = (uintptr_t)cqe;
	ret = pimt_ioctl(d->fd, PIM_IOC_QUEUE_REAP, &io);
	tap_ok(ret == -EINVAL, "QUEUE_REAP rsvd != 0: %d (want -EINVAL)", ret);
	ret = q_reap(d->fd, qid, cqe, 1, 2);
	tap_ok(ret == -EINVAL, "QUEUE_REAP unknown flag: %d (want -EINVAL)",
	       ret);

	alarm(10);
	ret = q_reap(d->fd, qid, cqe, 8, PIM_REAP_F_WAIT);
	alarm(0);
	tap_ok(ret == 0, "QUEUE_REAP WAIT with nothing in flight returns 0 (%d)",
	       ret);

	/* A bad command is accepted and fails in its completion, or refused. */
	pimt_cmd_nop(&c[0], 77);
	c[0].opcode = 0xee;
	ret = q_submit(d->fd, qid, c, 1);
	if (ret == 1) {
		ret = q_reap_all(d->fd, qid, cqe, 1);
		tap_ok(ret == 1 && cqe[0].res == -EINVAL &&
		       cqe[0].user_data == 77,
		       "bad opcode through a queue: completion res %d (want -EINVAL)",
		       cqe[0].res);
	} else {
		tap_ok(ret == -EINVAL,
		       "bad opcode through a queue: QUEUE_SUBMIT %d (want -EINVAL)",
		       ret);
	}
	ret = q_submit(d->fd, qid, (void *)PIMT_BAD_ADDR, 0);
	tap_ok(ret == 0 || ret == -EINVAL,
	       "QUEUE_SUBMIT of 0 commands: %d (want 0/-EINVAL)", ret);
	q_destroy(d->fd, qid);
	close(fd2);
}

/* NOPs complete with res 0, device_ns 0, user_data and order kept. */
static void test_nops(struct pimt_dev *d)
{
	int qid = q_create(d->fd, 64, 0), ret, i, ok = 1;
	struct pim_cqe cqe[64];
	struct pim_cmd c[64];

	for (i = 0; i < 64; i++)
		pimt_cmd_nop(&c[i], 0x1000 + i);
	ret = q_submit(d->fd, qid, c, 64);
	tap_ok(ret == 64, "QUEUE_SUBMIT of 64 NOPs to depth 64: %d", ret);
	ret = q_reap_all(d->fd, qid, cqe, 64);
	for (i = 0; i < ret; i++)
		ok &= cqe[i].res == 0 && cqe[i].device_ns == 0 &&
		      cqe[i].user_data == 0x1000u + i;
	tap_ok(ret == 64 && ok, "64 NOP completions, in order, res 0 (%d)",
	       ret);
	q_destroy(d->fd, qid);
}

/* A mix of slow and instant commands; ordered queues keep the order. */
static void test_order(struct pimt_dev *d, struct heavy *hv, uint32_t flags)
{
	const char *what = flags ? "UNORDERED" : "ordered";
	int qid = q_create(d->fd, 16, flags), ret, i, ok = 1;
	struct pim_cqe cqe[16];
	struct pim_cmd c[16];
	bool seen[16] = { false };

	for (i = 0; i < 16; i++) {
		if (i % 4 == 0)
			pimt_cmd_attn(&c[i], &hv->job, 1, i);
		else
			pimt_cmd_nop(&c[i], i);
	}
	memset(hv->out, 0, sizeof(float) * hv->s.q_heads * hv->s.head_dim);
	ret = q_submit(d->fd, qid, c, 16);
	tap_ok(ret == 16, "%s queue: 4 attention + 12 NOP submitted (%d)",
	       what, ret);
	ret = q_reap_all(d->fd, qid, cqe, 16);
	for (i = 0; i < ret; i++) {
		uint64_t u = cqe[i].user_data;

		if (u >= 16 || seen[u] || cqe[i].res ||
		    (u % 4 == 0) != (cqe[i].device_ns > 0))
			ok = 0;
		else
			seen[u] = true;
		if (!flags && u != (uint64_t)i)
			ok = 0;
	}
	tap_ok(ret == 16 && ok,
	       "%s queue: each completion once, res 0, device_ns only for attention%s",
	       what, flags ? "" : ", in submission order");
	tap_ok(heavy_correct(hv), "%s queue: attention result correct", what);
	q_destroy(d->fd, qid);
}

/* FENCE completes after every earlier command, even on an unordered queue. */
static void test_fence(struct pimt_dev *d, struct heavy *hv)
{
	int qid = q_create(d->fd, 16, PIM_QUEUE_F_UNORDERED), ret, i;
	int fence_at = -1, last_attn = -1;
	struct pim_cqe cqe[8];
	struct pim_cmd c[8];

	for (i = 0; i < 3; i++)
		pimt_cmd_attn(&c[i], &hv->job, 1, i);
	memset(&c[3], 0, sizeof(c[3]));
	c[3].opcode = PIM_OP_FENCE;
	c[3].user_data = 3;
	for (i = 4; i < 8; i++)
		pimt_cmd_nop(&c[i], i);
	ret = q_submit(d->fd, qid, c, 8);
	ret = ret == 8 ? (int)q_reap_all(d->fd, qid, cqe, 8) : ret;
	for (i = 0; i < ret; i++) {
		if (cqe[i].user_data == 3 && cqe[i].res == 0)
			fence_at = i;
		if (cqe[i].user_data < 3)
			last_attn = i;
	}
	tap_ok(ret == 8 && fence_at > last_attn,
	       "FENCE completes after the 3 attention commands before it (at %d, last %d)",
	       fence_at, last_attn);
	memset(&c[0], 0, sizeof(c[0]));
	c[0].opcode = PIM_OP_FENCE;
	ret = pimt_submit(d->fd, &c[0], NULL);
	tap_ok(ret == 0, "FENCE on the synchronous path: %d", ret);
	c[0].args[0] = 1;
	ret = pimt_submit(d->fd, &c[0], NULL);
	tap_ok(ret == -EINVAL, "FENCE with nonzero arguments: %d (want -EINVAL)",
	       ret);
	q_destroy(d->fd, qid);
}

static void test_depth(struct pimt_dev *d)
{
	int qid = q_create(d->fd, 4, 0), ret, got;
	struct pim_cqe cqe[16];
	struct pim_cmd c[16];
	int i;

	for (i = 0; i < 16; i++)
		pimt_cmd_nop(&c[i], i);
	ret = q_submit(d->fd, qid, c, 16);
	tap_ok(ret >= 1 && ret <= 4,
	       "QUEUE_SUBMIT of 16 to depth 4 accepts 1..4 (%d)", ret);
	got = ret > 0 ? (int)q_reap_all(d->fd, qid, cqe, ret) : 0;
	tap_ok(got == ret && q_reap(d->fd, qid, cqe, 16, 0) == 0,
	       "exactly the accepted commands complete (%d)", got);
	q_destroy(d->fd, qid);
}

static void test_poll(struct pimt_dev *d, struct heavy *hv)
{
	int fd = d->fd, ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN };
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int q1 = q_create(fd, 8, 0), q2 = q_create(fd, 8, 0), ret;
	struct pim_cqe cqe[2];
	struct pim_cmd c;

	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	ret = poll(&pfd, 1, 0);
	tap_ok(ret == 0, "poll: nothing ready on idle queues (%d)", ret);
	pimt_cmd_attn(&c, &hv->job, 1, 5);
	ret = q_submit(fd, q2, &c, 1);
	ret = ret == 1 ? poll(&pfd, 1, 30000) : -1;
	tap_ok(ret == 1 && (pfd.revents & POLLIN),
	       "poll: POLLIN once the second queue's attention completes");
	ret = epoll_wait(ep, &ev, 1, 0);
	tap_ok(ret == 1 && (ev.events & EPOLLIN),
	       "epoll: EPOLLIN while a completion is ready");
	ret = q_reap(fd, q1, cqe, 2, 0);
	tap_ok(ret == 0, "REAP of the other queue finds nothing (%d)", ret);
	ret = q_reap(fd, q2, cqe, 2, 0);
	tap_ok(ret == 1 && cqe[0].user_data == 5 && cqe[0].res == 0,
	       "REAP without WAIT takes the ready completion (%d)", ret);
	ret = poll(&pfd, 1, 0);
	tap_ok(ret == 0, "poll: nothing ready after the reap (%d)", ret);
	ret = epoll_wait(ep, &ev, 1, 0);
	tap_ok(ret == 0, "epoll: nothing ready after the reap (%d)", ret);
	q_destroy(fd, q1);
	q_destroy(fd, q2);
	close(ep);
}

/* Destroying a busy queue and closing a busy file lose nothing. */
static void test_destroy_busy(struct pimt_dev *d)
{
	int fd = pimt_reopen(d), qid, ret, i;
	struct pim_cmd c[16];
	struct heavy hv;

	ret = heavy_init(fd, &hv);
	qid = q_create(fd, 16, 0);
	for (i = 0; i < 16; i++)
		pimt_cmd_attn(&c[i], &hv.job, 1, i);
	ret = ret ?: q_submit(fd, qid, c, 16);
	tap_ok(ret == 16, "16 attention commands in flight (%d)", ret);
	alarm(120);
	ret = q_destroy(fd, qid);
	alarm(0);
	tap_ok(ret == 0, "QUEUE_DESTROY with commands in flight: %d", ret);
	ret = q_submit(fd, qid, c, 1);
	tap_ok(ret == -ENOENT, "QUEUE_SUBMIT to the destroyed queue: %d (want -ENOENT)",
	       ret);
	qid = q_create(fd, 16, PIM_QUEUE_F_UNORDERED);
	ret = q_submit(fd, qid, c, 16);
	close(fd);
	tap_ok(ret == 16 && pimt_nop(d->fd) == 0,
	       "closing a file with 16 commands in flight (%d)", ret);
	heavy_fini(-1, &hv);
}

int main(void)
{
	struct pimt_dev d;
	struct heavy hv;
	int ret;

	pimt_open(&d);
	test_create_destroy(&d);
	test_io_args(&d);
	test_nops(&d);
	test_depth(&d);
	ret = heavy_init(d.fd, &hv);
	if (ret) {
		printf("Bail out! attention setup failed: %d\n", ret);
		return 1;
	}
	test_order(&d, &hv, 0);
	test_order(&d, &hv, PIM_QUEUE_F_UNORDERED);
	test_fence(&d, &hv);
	test_poll(&d, &hv);
	heavy_fini(d.fd, &hv);
	test_destroy_busy(&d);
	tap_ok(pimt_wait_all_free(&d, 60000), "free = capacity at the end");
	pimt_close(&d);
	return tap_done();
}
