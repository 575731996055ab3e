// SPDX-License-Identifier: GPL-2.0
/*
 * test_uring.c - the IORING_OP_URING_CMD transport of /dev/pimN: ring
 * setup checks, every command with good and bad arguments, results and
 * modeled time in the big CQE, many commands in flight, registered files,
 * and tearing a ring down with commands in flight.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <liburing.h>

#include "pimt.h"
#include "../tap.h"

#define BIG_RING	(IORING_SETUP_SQE128 | IORING_SETUP_CQE32)

static uint64_t seed = 0xda942042e4dd58b5ULL;

/* liburing 2.3 has no uring_cmd helper; bytes > room are not copied. */
static void prep_cmd(struct io_uring_sqe *sqe, int fd, uint32_t cmd_op,
		     const struct pim_cmd *c, size_t room, uint64_t ud)
{
	/* sqe->cmd is declared as a zero-length array: address it by offset. */
	uint8_t *cmd = (uint8_t *)sqe + offsetof(struct io_uring_sqe, cmd);

	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = cmd_op;
	memcpy(cmd, c, sizeof(*c) < room ? sizeof(*c) : room);
	sqe->user_data = ud;
}

/* Run one command; returns cqe->res, or a negative liburing error. */
static int ring_cmd(struct io_uring *r, int fd, uint32_t cmd_op,
		    const struct pim_cmd *c, size_t room, uint64_t *ns)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(r);
	struct io_uring_cqe *cqe;
	int ret;

	prep_cmd(sqe, fd, cmd_op, c, room, 0x51);
	ret = io_uring_submit_and_wait(r, 1);
	if (ret < 0)
		return ret;
	ret = io_uring_wait_cqe(r, &cqe);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	if (ns)
		*ns = (r->flags & IORING_SETUP_CQE32) ? cqe->big_cqe[0] : 0;
	if (cqe->user_data != 0x51)
		ret = -EPROTO;
	io_uring_cqe_seen(r, cqe);
	return ret;
}

static int run(struct io_uring *r, int fd, const struct pim_cmd *c,
	       uint64_t *ns)
{
	return ring_cmd(r, fd, PIM_URING_CMD_IO, c, 80, ns);
}

static void test_ring_setup(struct pimt_dev *d)
{
	static const struct {
		unsigned int flags;
		size_t room;
		const char *what;
	} bad[] = {
		{ 0, 16, "64-byte SQE, 16-byte CQE" },
		{ IORING_SETUP_SQE128, 80, "SQE128 without CQE32" },
		{ IORING_SETUP_CQE32, 16, "CQE32 without SQE128" },
	};
	struct io_uring r;
	struct pim_cmd c;
	size_t i;
	int ret;

	pimt_cmd_nop(&c, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ret = io_uring_queue_init(4, &r, bad[i].flags);
		if (ret) {
			tap_skip("io_uring_queue_init(%s): %s", bad[i].what,
				 strerror(-ret));
			continue;
		}
		ret = ring_cmd(&r, d->fd, PIM_URING_CMD_IO, &c, bad[i].room,
			       NULL);
		tap_ok(ret == -EOPNOTSUPP, "ring with %s: %d (want -EOPNOTSUPP)",
		       bad[i].what, ret);
		io_uring_queue_exit(&r);
	}
}

static void test_basic(struct pimt_dev *d, struct io_uring *r)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct pim_cmd c;
	uint64_t ns = 1;
	int ret;

	pimt_cmd_nop(&c, 0);
	ret = run(r, d->fd, &c, &ns);
	tap_ok(ret == 0 && ns == 0, "NOP: res %d, big_cqe[0] %llu", ret,
	       (unsigned long long)ns);
	ret = ring_cmd(r, d->fd, PIM_URING_CMD_IO + 1, &c, 80, NULL);
	tap_ok(ret == -ENOTTY, "unknown cmd_op: %d (want -ENOTTY)", ret);
	ret = ring_cmd(r, d->fd, PIM_IOC_SUBMIT, &c, 80, NULL);
	tap_ok(ret == -ENOTTY, "ioctl number as cmd_op: %d (want -ENOTTY)",
	       ret);
	c.opcode = PIM_OP_LAST + 1;
	ret = run(r, d->fd, &c, NULL);
	tap_ok(ret == -EINVAL, "unknown opcode: %d (want -EINVAL)", ret);
	pimt_cmd_nop(&c, 0);
	c.flags = 0x40;
	ret = run(r, d->fd, &c, NULL);
	tap_ok(ret == -EINVAL, "unknown flag: %d (want -EINVAL)", ret);
	pimt_cmd_nop(&c, 0);
	c.rsvd1 = 9;
	ret = run(r, d->fd, &c, NULL);
	tap_ok(ret == -EINVAL, "cmd.rsvd1 != 0: %d (want -EINVAL)", ret);
	memset(&c, 0, sizeof(c));
	c.opcode = PIM_OP_FENCE;
	ret = run(r, d->fd, &c, NULL);
	tap_ok(ret == 0, "FENCE: %d", ret);

	sqe = io_uring_get_sqe(r);
	io_uring_prep_nop(sqe);
	sqe->user_data = 0xabc;
	ret = io_uring_submit_and_wait(r, 1);
	ret = ret == 1 ? io_uring_wait_cqe(r, &cqe) : -1;
	tap_ok(ret == 0 && cqe->res == 0 && cqe->user_data == 0xabc,
	       "IORING_OP_NOP on the same ring");
	if (!ret)
		io_uring_cqe_seen(r, cqe);
}

static void test_kv(struct pimt_dev *d, struct io_uring *r)
{
	struct pim_kv_alloc s = pimt_shape(2, 8, 2, 64, PIM_DTYPE_FP16, 200);
	size_t bytes = pimt_kv_bytes(&s, 200), qn = 8 * 64;
	uint16_t *k = malloc(bytes), *v = malloc(bytes);
	uint16_t *rk = malloc(bytes), *rv = malloc(bytes);
	float *q = malloc(qn * sizeof(float)), *out = malloc(qn * 4);
	double *ref = malloc(qn * sizeof(double)), err;
	struct pim_attn_job job = { 0 };
	int fd2 = pimt_reopen(d), h, h2, ret, i;
	struct pim_cmd c;
	uint64_t ns = 0;

	pimt_fill_kv(&seed, s.dtype, k, bytes / 2);
	pimt_fill_kv(&seed, s.dtype, v, bytes / 2);
	pimt_fill_q(&seed, q, qn);

	memset(&c, 0, sizeof(c));
	c.opcode = PIM_OP_KV_ALLOC;
	c.kv_alloc = s;
	h = run(r, d->fd, &c, &ns);
	tap_ok(h > 0 && ns == 0, "KV_ALLOC: handle %d", h);

	pimt_cmd_kv_io(&c, PIM_OP_KV_APPEND, h, 0, 0, 150, k, v);
	ret = run(r, d->fd, &c, &ns);
	tap_ok(ret == 0 && ns > 0, "KV_APPEND 150 tokens: %d, big_cqe[0] %llu",
	       ret, (unsigned long long)ns);
	/* Handles are the file's, whichever transport made them. */
	ret = pimt_kv_append(d->fd, h, 0, 150, 50, k + 150 * 2 * 64,
			     v + 150 * 2 * 64, 0);
	tap_ok(ret == 0, "the ioctl path appends to the same handle: %d", ret);
	c.kv_io.start = 150;
	ret = run(r, d->fd, &c, NULL);
	tap_ok(ret == -ERANGE, "KV_APPEND at a stale start: %d (want -ERANGE)",
	       ret);
	c.kv_io.start = 200;
	c.kv_io.count = 1;
	ret = run(r, d->fd, &c, NULL);
	tap_ok(ret == -ENOSPC, "KV_APPEND past max_tokens: %d (want -ENOSPC)",
	       ret);
	c.kv_io.k_addr = PIMT_BAD_ADDR;
	c.kv_io.layer = 1;
	c.kv_io.start = 0;
	ret = run(r, d->fd, &c, NULL);
	tap_ok(ret == -EFAULT, "KV_APPEND from a bad pointer: %d (want -EFAULT)",
	       ret);

	c.opcode = PIM_OP_KV_READ;
	c.kv_io.layer = 0;
	c.kv_io.start = 0;
	c.kv_io.count = 200;
	c.kv_io.k_addr = (uintptr_t)rk;
	c.kv_io.v_addr = (uintptr_t)rv;
	ret = run(r, d->fd, &c, &ns);
	tap_ok(ret == 0 && ns > 0 && !memcmp(k, rk, bytes) &&
	       !memcmp(v, rv, bytes),
	       "KV_READ returns the 200 appended tokens (%d)", ret);
	c.kv_io.count = 201;
	ret = run(r, d->fd, &c, NULL);
	tap_ok(ret == -ERANGE, "KV_READ past the length: %d (want -ERANGE)",
	       ret);

	job.handle = h;
	job.ctx_len = 200;
	job.q_addr = (uintptr_t)q;
	job.out_addr = (uintptr_t)out;
	pimt_cmd_attn(&c, &job, 1, 0);
	ret = run(r, d->fd, &c, &ns);
	pimt_attn_ref(&s, k, v, 200, q, 0, ref);
	err = pimt_rel_err(out, ref, qn);
	tap_ok(ret == 0 && ns > 0 && err <= PIMT_ATTN_TOL,
	       "ATTN: res %d, rel err %.2e, big_cqe[0] %llu", ret, err,
	       (unsigned long long)ns);

	/* Several in fd2, so its last handle differs from h. */
	for (i = 0; i < 3; i++)
		h2 = pimt_kv_alloc(fd2, &s);
	job.handle = h2;
	if (h2 == h) {
		tap_skip("handle %d is live in both files", h);
	} else {
		ret = run(r, d->fd, &c, NULL);
		tap_ok(ret == -ENOENT,
		       "ATTN on another file's handle: %d (want -ENOENT)", ret);
	}
	close(fd2);

	memset(&c, 0, sizeof(c));
	c.opcode = PIM_OP_KV_FREE;
	c.kv_free.handle = h;
	ret = run(r, d->fd, &c, &ns);
	tap_ok(ret == 0, "KV_FREE: %d", ret);
	ret = run(r, d->fd, &c, NULL);
	tap_ok(ret == -ENOENT, "KV_FREE again: %d (want -ENOENT)", ret);

	free(k);
	free(v);
	free(rk);
	free(rv);
	free(q);
	free(out);
	free(ref);
}

/* A KV cache and an attention job that takes a while. */
struct heavy {
	int h;
	struct pim_attn_job job;
	float q[8 * 128], out[8 * 128];
};

static int heavy_init(int fd, struct heavy *hv)
{
	struct pim_kv_alloc s = pimt_shape(1, 8, 8, 128, PIM_DTYPE_BF16, 512);
	size_t bytes = pimt_kv_bytes(&s, 512);
	uint16_t *k = malloc(bytes), *v = malloc(bytes);
	int ret;

	pimt_fill_kv(&seed, s.dtype, k, bytes / 2);
	pimt_fill_kv(&seed, s.dtype, v, bytes / 2);
	pimt_fill_q(&seed, hv->q, 8 * 128);
	hv->h = pimt_kv_alloc(fd, &s);
	ret = hv->h > 0 ? pimt_kv_append(fd, hv->h, 0, 0, 512, k, v, 0) : hv->h;
	memset(&hv->job, 0, sizeof(hv->job));
	hv->job.handle = hv->h;
	hv->job.ctx_len = 512;
	hv->job.q_addr = (uintptr_t)hv->q;
	hv->job.out_addr = (uintptr_t)hv->out;
	free(k);
	free(v);
	return ret;
}

static void test_many(struct pimt_dev *d, struct io_uring *r)
{
	bool seen[32] = { false };
	struct io_uring_cqe *cqe;
	struct pim_cmd c;
	struct heavy hv;
	int i, ret, ok = 1, got = 0;

	ret = heavy_init(d->fd, &hv);
	for (i = 0; i < 32 && !ret; i++) {
		if (i % 8 == 0)
			pimt_cmd_attn(&c, &hv.job, 1, 0);
		else
			pimt_cmd_nop(&c, 0);
		prep_cmd(io_uring_get_sqe(r), d->fd, PIM_URING_CMD_IO, &c, 80,
			 i);
	}
	ret = ret ?: io_uring_submit(r);
	tap_ok(ret == 32, "32 commands in one io_uring_enter (%d)", ret);
	while (ret == 32 && got < 32) {
		if (io_uring_wait_cqe(r, &cqe))
			break;
		if (cqe->user_data >= 32 || seen[cqe->user_data] || cqe->res ||
		    (cqe->user_data % 8 == 0) != (cqe->big_cqe[0] > 0))
			ok = 0;
		else
			seen[cqe->user_data] = true;
		io_uring_cqe_seen(r, cqe);
		got++;
	}
	tap_ok(got == 32 && ok,
	       "32 completions, each once, res 0, modeled time for attention (%d)",
	       got);
	pimt_kv_free(d->fd, hv.h);
}

static void test_fixed_file(struct pimt_dev *d, struct io_uring *r)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct pim_cmd c;
	int ret;

	ret = io_uring_register_files(r, &d->fd, 1);
	if (ret) {
		tap_skip("io_uring_register_files: %s", strerror(-ret));
		return;
	}
	pimt_cmd_nop(&c, 0);
	sqe = io_uring_get_sqe(r);
	prep_cmd(sqe, 0, PIM_URING_CMD_IO, &c, 80, 7);
	sqe->flags |= IOSQE_FIXED_FILE;
	ret = io_uring_submit_and_wait(r, 1);
	ret = ret == 1 ? io_uring_wait_cqe(r, &cqe) : -1;
	tap_ok(ret == 0 && cqe->res == 0 && cqe->user_data == 7,
	       "NOP through a registered file (%d)", ret ? ret : cqe->res);
	if (!ret)
		io_uring_cqe_seen(r, cqe);
	io_uring_unregister_files(r);
}

/* Ring and file torn down with attention in flight: nothing hangs or leaks. */
static void test_teardown(struct pimt_dev *d)
{
	/* Static: the kernel may still write out after the ring is gone. */
	static struct heavy hv;
	int fd = pimt_reopen(d), i, ret;
	struct io_uring r;
	struct pim_cmd c;

	ret = io_uring_queue_init(32, &r, BIG_RING);
	ret = ret ?: heavy_init(fd, &hv);
	for (i = 0; i < 16 && !ret; i++) {
		pimt_cmd_attn(&c, &hv.job, 1, 0);
		prep_cmd(io_uring_get_sqe(&r), fd, PIM_URING_CMD_IO, &c, 80, i);
	}
	ret = ret ?: io_uring_submit(&r);
	tap_ok(ret == 16, "16 attention commands in flight on a ring (%d)",
	       ret);
	close(fd);
	io_uring_queue_exit(&r);
	tap_ok(pimt_wait_all_free(d, 60000) && pimt_nop(d->fd) == 0,
	       "closing file and ring with commands in flight frees the KV cache");
}

int main(void)
{
	struct pimt_dev d;
	struct io_uring r;
	int ret;

	pimt_open(&d);
	tap_ok(d.info.features & PIM_F_URING_CMD, "PIM_F_URING_CMD advertised");
	test_ring_setup(&d);
	ret = io_uring_queue_init(64, &r, BIG_RING);
	if (ret) {
		printf("Bail out! io_uring_queue_init(SQE128|CQE32): %s\n",
		       strerror(-ret));
		return 1;
	}
	test_basic(&d, &r);
	test_kv(&d, &r);
	test_many(&d, &r);
	test_fixed_file(&d, &r);
	io_uring_queue_exit(&r);
	test_teardown(&d);
	tap_ok(pimt_wait_all_free(&d, 1000), "free = capacity at the end");
	pimt_close(&d);
	return tap_done();
}
