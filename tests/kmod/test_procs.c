// SPDX-License-Identifier: GPL-2.0
/*
 * test_procs.c - several processes with several queues at once, SIGKILL of
 * clients with commands in flight on every transport, and permissions:
 * node access for an unprivileged uid, raw access without CAP_SYS_ADMIN.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <liburing.h>

#include "pimt.h"
#include "../tap.h"

#define NR_PROCS	3
#define NR_QUEUES	2
#define NOBODY		65534

struct kvset {
	struct pim_kv_alloc s;
	int h;
	uint16_t *k, *v;
};

static int kvset_init(int fd, struct kvset *kv, uint64_t *seed,
		      uint32_t ntok)
{
	size_t bytes;

	kv->s = pimt_shape(1, 8, 4, 64, PIM_DTYPE_BF16, ntok);
	bytes = pimt_kv_bytes(&kv->s, ntok);
	kv->k = malloc(bytes);
	kv->v = malloc(bytes);
	pimt_fill_kv(seed, kv->s.dtype, kv->k, bytes / 2);
	pimt_fill_kv(seed, kv->s.dtype, kv->v, bytes / 2);
	kv->h = pimt_kv_alloc(fd, &kv->s);
	if (kv->h <= 0)
		return kv->h;
	return pimt_kv_append(fd, kv->h, 0, 0, ntok, kv->k, kv->v, 0);
}

/*
 * One client: its own KV cache, NR_QUEUES queues, 8 attention jobs per
 * queue at different context lengths, all verified. Exit status = errors.
 */
static int client(const struct pimt_dev *d, int id)
{
	uint64_t seed = 0x1234567ULL * (id + 1);
	int fd = pimt_reopen(d), errors = 0, q, i, ret;
	struct pim_attn_job jobs[NR_QUEUES][8];
	float q_in[NR_QUEUES][8][8 * 64], out[NR_QUEUES][8][8 * 64];
	struct pim_queue_args qa[NR_QUEUES];
	struct pim_cmd cmd[NR_QUEUES][8];
	struct pim_cqe cqe[8];
	struct pim_queue_io io;
	double ref[8 * 64];
	struct kvset kv;

	if (kvset_init(fd, &kv, &seed, 96))
		return 100;
	pimt_fill_q(&seed, &q_in[0][0][0], sizeof(q_in) / sizeof(float));
	for (q = 0; q < NR_QUEUES; q++) {
		memset(&qa[q], 0, sizeof(qa[q]));
		qa[q].depth = 8;
		qa[q].flags = q ? PIM_QUEUE_F_UNORDERED : 0;
		if (ioctl(fd, PIM_IOC_QUEUE_CREATE, &qa[q]))
			return 101;
		for (i = 0; i < 8; i++) {
			struct pim_attn_job *j = &jobs[q][i];

			memset(j, 0, sizeof(*j));
			j->handle = kv.h;
			j->ctx_len = 1 + (i * 13 + q * 7) % 96;
			j->q_addr = (uintptr_t)q_in[q][i];
			j->out_addr = (uintptr_t)out[q][i];
			pimt_cmd_attn(&cmd[q][i], j, 1, i);
		}
		memset(&io, 0, sizeof(io));
		io.qid = qa[q].qid;
		io.nr = 8;
		io.addr = (uintptr_t)cmd[q];
		if (ioctl(fd, PIM_IOC_QUEUE_SUBMIT, &io) != 8)
			return 102;
	}
	for (q = 0; q < NR_QUEUES; q++) {
		int got = 0;

		while (got < 8) {
			memset(&io, 0, sizeof(io));
			io.qid = qa[q].qid;
			io.nr = 8 - got;
			io.addr = (uintptr_t)(cqe + got);
			io.flags = PIM_REAP_F_WAIT;
			ret = ioctl(fd, PIM_IOC_QUEUE_REAP, &io);
			if (ret <= 0)
				return 103;
			got += ret;
		}
		for (i = 0; i < 8; i++)
			errors += cqe[i].res != 0 || cqe[i].device_ns == 0;
		for (i = 0; i < 8; i++) {
			pimt_attn_ref(&kv.s, kv.k, kv.v, jobs[q][i].ctx_len,
				      q_in[q][i], 0, ref);
			errors += pimt_rel_err(out[q][i], ref, 8 * 64) >
				  PIMT_ATTN_TOL;
		}
	}
	/* Its read-back is its own data, untouched by the other clients. */
	{
		size_t bytes = pimt_kv_bytes(&kv.s, 96);
		uint16_t *rk = malloc(bytes), *rv = malloc(bytes);

		if (pimt_kv_read(fd, kv.h, 0, 0, 96, rk, rv) ||
		    memcmp(rk, kv.k, bytes) || memcmp(rv, kv.v, bytes))
			errors++;
		free(rk);
		free(rv);
	}
	close(fd);
	return errors > 99 ? 99 : errors;
}

static void test_clients(struct pimt_dev *d)
{
	pid_t pid[NR_PROCS];
	int i, status;

	for (i = 0; i < NR_PROCS; i++) {
		pid[i] = fork();
		if (pid[i] == 0)
			_exit(client(d, i));
	}
	for (i = 0; i < NR_PROCS; i++) {
		if (pid[i] < 0 || waitpid(pid[i], &status, 0) != pid[i])
			status = -1;
		tap_ok(status >= 0 && WIFEXITED(status) &&
		       WEXITSTATUS(status) == 0,
		       "client %d of %d (2 queues x 8 attention jobs) verified: status 0x%x",
		       i, NR_PROCS, status);
	}
	tap_ok(pimt_wait_all_free(d, 10000),
	       "all clients' KV caches freed at exit");
}

/* A forked child shares the open file, and with it the parent's handles. */
static void test_inherited(struct pimt_dev *d)
{
	struct pim_kv_alloc s = pimt_shape(1, 2, 2, 32, PIM_DTYPE_FP16, 4);
	uint16_t k[2 * 32] = { 0 }, v[2 * 32] = { 0 };
	int h = pimt_kv_alloc(d->fd, &s), status = -1;
	pid_t pid;

	pid = fork();
	if (pid == 0)
		_exit(pimt_kv_append(d->fd, h, 0, 0, 1, k, v, 0) ? 1 : 0);
	if (pid > 0)
		waitpid(pid, &status, 0);
	tap_ok(h > 0 && status == 0 &&
	       pimt_kv_read(d->fd, h, 0, 0, 1, k, v) == 0,
	       "a forked child appends through the inherited file (status 0x%x)",
	       status);
	pimt_kv_free(d->fd, h);
}

enum transport { T_SYNC, T_QUEUE, T_URING };
static const char *const tname[] = { "sync ioctl", "ioctl queue",
				     "io_uring" };

/*
 * Queue slow work on one transport (64 commands of 4 jobs over 512 tokens;
 * the sync path one command of 64 jobs), then wait to be killed.
 */
static void victim(const struct pimt_dev *d, enum transport t, int ready)
{
	static struct pim_attn_job jobs[64];
	static float q[8 * 64], out[64][8 * 64];
	uint64_t seed = 99;
	int fd = pimt_reopen(d), i;
	struct pim_cmd cmd[64];
	struct kvset kv;

	if (kvset_init(fd, &kv, &seed, 512))
		_exit(1);
	pimt_fill_q(&seed, q, 8 * 64);
	for (i = 0; i < 64; i++) {
		jobs[i].handle = kv.h;
		jobs[i].ctx_len = 512;
		jobs[i].q_addr = (uintptr_t)q;
		jobs[i].out_addr = (uintptr_t)out[i];
		pimt_cmd_attn(&cmd[i], jobs + i / 16 * 16, 4, i);
	}
	if (t == T_QUEUE) {
		struct pim_queue_args qa = { .depth = 64 };
		struct pim_queue_io io = { .nr = 64, .addr = (uintptr_t)cmd };

		if (ioctl(fd, PIM_IOC_QUEUE_CREATE, &qa))
			_exit(2);
		io.qid = qa.qid;
		if (ioctl(fd, PIM_IOC_QUEUE_SUBMIT, &io) != 64)
			_exit(3);
	} else if (t == T_URING) {
		unsigned int big = IORING_SETUP_SQE128 | IORING_SETUP_CQE32;
		static struct io_uring r;

		if (io_uring_queue_init(64, &r, big))
			_exit(4);
		for (i = 0; i < 64; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&r);
			uint8_t *c = (uint8_t *)sqe +
				     offsetof(struct io_uring_sqe, cmd);

			io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0,
					 0);
			sqe->cmd_op = PIM_URING_CMD_IO;
			memcpy(c, &cmd[i], sizeof(cmd[i]));
		}
		if (io_uring_submit(&r) != 64)
			_exit(5);
	}
	if (write(ready, "r", 1) != 1)
		_exit(6);
	if (t == T_SYNC) {
		cmd[0].attn.nr_jobs = 64;
		pimt_submit(fd, &cmd[0], NULL);	/* killed in here */
	}
	for (;;)
		pause();
}

static void test_sigkill(struct pimt_dev *d, enum transport t)
{
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	int p[2], status = 0;
	char c = 0;
	pid_t pid;

	if (pipe(p)) {
		tap_ok(0, "pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		victim(d, t, p[1]);
	}
	close(p[1]);
	if (read(p[0], &c, 1) == 1)
		nanosleep(&ts, NULL);
	close(p[0]);
	kill(pid, SIGKILL);
	alarm(120);
	waitpid(pid, &status, 0);
	alarm(0);
	tap_ok(c == 'r' && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	       "%s: client killed with 64 attention commands in flight",
	       tname[t]);
	tap_ok(pimt_wait_all_free(d, 120000) && pimt_nop(d->fd) == 0,
	       "%s: its KV cache freed, the device still works", tname[t]);
}

/* An unprivileged uid cannot open the 0600 root node. */
static void test_node_access(struct pimt_dev *d)
{
	int p[2], err = 0, status;
	pid_t pid;

	if (pipe(p))
		return;
	pid = fork();
	if (pid == 0) {
		int fd;

		if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
		    setresuid(NOBODY, NOBODY, NOBODY))
			err = -1000;
		else if ((fd = open(d->path, O_RDWR)) >= 0)
			err = 0;
		else
			err = -errno;
		if (write(p[1], &err, sizeof(err)) != sizeof(err))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &err, sizeof(err)) != sizeof(err))
		err = -1001;
	close(p[0]);
	waitpid(pid, &status, 0);
	tap_ok(err == -EACCES, "uid %d opening %s: %d (want -EACCES)", NOBODY,
	       d->path, err);
}

/*
 * Raw access needs CAP_SYS_ADMIN (raw_access=0): a node made for uid
 * nobody lets it in, and then only raw commands are refused.
 */
static void test_raw_perm(struct pimt_dev *d)
{
	char dir[] = "/tmp/pimt-XXXXXX", node[64];
	int p[2], res[4] = { -1000, -1000, -1000, -1000 }, status;
	struct stat st;
	FILE *f;
	pid_t pid;

	f = fopen("/sys/module/pim/parameters/raw_access", "r");
	if (f && fgetc(f) == 'Y') {
		fclose(f);
		tap_skip("module loaded with raw_access=1");
		return;
	}
	if (f)
		fclose(f);
	if (stat(d->path, &st) || !mkdtemp(dir) || chmod(dir, 0755)) {
		tap_ok(0, "raw permission setup: %s", strerror(errno));
		return;
	}
	snprintf(node, sizeof(node), "%s/pim", dir);
	if (mknod(node, S_IFCHR | 0600, st.st_rdev) ||
	    chown(node, NOBODY, NOBODY) || pipe(p)) {
		tap_ok(0, "mknod %s: %s", node, strerror(errno));
		rmdir(dir);
		return;
	}
	pid = fork();
	if (pid == 0) {
		uint8_t buf[64] = { 0 };
		struct pim_info info;
		struct pim_cmd c;
		int fd;

		if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
		    setresuid(NOBODY, NOBODY, NOBODY) ||
		    (fd = open(node, O_RDWR)) < 0)
			_exit(1);
		res[0] = pimt_ioctl(fd, PIM_IOC_GET_INFO, &info) ?:
			 !!(info.features & PIM_F_RAW);
		memset(&c, 0, sizeof(c));
		c.opcode = PIM_OP_RAW_READ;
		c.raw.len = sizeof(buf);
		c.raw.addr = (uintptr_t)buf;
		res[1] = pimt_submit(fd, &c, NULL);
		c.opcode = PIM_OP_RAW_WRITE;
		res[2] = pimt_submit(fd, &c, NULL);
		res[3] = pimt_nop(fd);
		if (write(p[1], res, sizeof(res)) != sizeof(res))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], res, sizeof(res)) != sizeof(res))
		res[0] = -1001;
	close(p[0]);
	waitpid(pid, &status, 0);
	unlink(node);
	rmdir(dir);
	tap_ok(res[0] == 0, "uid %d opener: no PIM_F_RAW in features (%d)",
	       NOBODY, res[0]);
	tap_ok(res[1] == -EPERM, "uid %d RAW_READ: %d (want -EPERM)", NOBODY,
	       res[1]);
	tap_ok(res[2] == -EPERM, "uid %d RAW_WRITE: %d (want -EPERM)", NOBODY,
	       res[2]);
	tap_ok(res[3] == 0, "uid %d NOP is allowed: %d", NOBODY, res[3]);
}

int main(void)
{
	struct pimt_dev d;

	pimt_open(&d);
	test_clients(&d);
	test_inherited(&d);
	test_sigkill(&d, T_SYNC);
	test_sigkill(&d, T_QUEUE);
	test_sigkill(&d, T_URING);
	test_node_access(&d);
	test_raw_perm(&d);
	pimt_close(&d);
	return tap_done();
}
