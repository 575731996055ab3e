// SPDX-License-Identifier: GPL-2.0
/*
 * pim_fault.c - fault injection against /dev/pimN:
 *   kill N      N clients SIGKILLed with attention in flight, the
 *               transports (sync ioctl, queue, io_uring) in turn; each time
 *               the child must be gone at once and free == capacity
 *   close       a thread waiting on a queue whose queue is destroyed, on a
 *               sync command whose fd is closed, on a ring whose fd is
 *               closed: each must get an answer, not silence
 *   rmmod       kill a client with work on every transport in flight and
 *               unload the module the moment its file is released
 *   failslab    failslab and fail_page_alloc (debugfs, task filter) on
 *               this task while it drives every transport: errors, no
 *               leak, no hang
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <liburing.h>

#include "../kmod/pimt.h"
#include "../tap.h"

#define TOKENS		256
#define JOBS		256
#define INFLIGHT	8
#define HANG_S		60

enum { T_SYNC, T_QUEUE, T_URING, T_NR };
static const char *const tname[T_NR] = { "sync", "queue", "io_uring" };

/* A client's cache and a long attention command over it. */
struct load {
	int fd;
	struct pim_kv_alloc shape;
	int handle;
	struct pim_attn_job *jobs;
	float *q, *out;
	struct pim_cmd attn;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int load_init(struct load *l, const struct pimt_dev *d)
{
	size_t n, nq;
	uint16_t *k, *v;
	uint64_t st = 0x510e527fade682d1ULL;
	int i, ret;

	l->fd = open(d->path, O_RDWR | O_CLOEXEC);
	if (l->fd < 0)
		return -errno;
	l->shape = pimt_shape(1, 8, 8, 128, PIM_DTYPE_BF16, TOKENS);
	n = pimt_kv_bytes(&l->shape, TOKENS);
	nq = (size_t)l->shape.q_heads * l->shape.head_dim;
	k = malloc(n);
	v = malloc(n);
	l->jobs = calloc(JOBS, sizeof(*l->jobs));
	l->q = malloc(nq * sizeof(float));
	l->out = calloc(JOBS * nq, sizeof(float));
	if (!k || !v || !l->jobs || !l->q || !l->out)
		return -ENOMEM;
	pimt_fill_kv(&st, l->shape.dtype, k, n / 2);
	pimt_fill_kv(&st, l->shape.dtype, v, n / 2);
	pimt_fill_q(&st, l->q, nq);
	l->handle = pimt_kv_alloc(l->fd, &l->shape);
	ret = l->handle < 0 ? l->handle :
	      pimt_kv_append(l->fd, l->handle, 0, 0, TOKENS, k, v, 0);
	free(k);
	free(v);
	for (i = 0; i < JOBS; i++) {
		l->jobs[i].handle = l->handle;
		l->jobs[i].ctx_len = TOKENS;
		l->jobs[i].q_addr = (uintptr_t)l->q;
		l->jobs[i].out_addr = (uintptr_t)(l->out + i * nq);
	}
	pimt_cmd_attn(&l->attn, l->jobs, JOBS, 0);
	return ret;
}

static int queue_new(int fd)
{
	struct pim_queue_args a = { .depth = INFLIGHT };

	return pimt_ioctl(fd, PIM_IOC_QUEUE_CREATE, &a) ? -1 : (int)a.qid;
}

static int queue_put(int fd, int qid, const struct pim_cmd *c, uint32_t nr)
{
	struct pim_cmd cmds[INFLIGHT];
	struct pim_queue_io io = { .qid = qid, .nr = nr,
				   .addr = (uintptr_t)cmds };
	uint32_t i;

	for (i = 0; i < nr; i++)
		cmds[i] = *c;
	return pimt_ioctl(fd, PIM_IOC_QUEUE_SUBMIT, &io);
}

static int queue_wait(int fd, int qid)
{
	struct pim_cqe cqe[INFLIGHT];
	struct pim_queue_io io = { .qid = qid, .nr = INFLIGHT,
				   .addr = (uintptr_t)cqe,
				   .flags = PIM_REAP_F_WAIT };

	return pimt_ioctl(fd, PIM_IOC_QUEUE_REAP, &io);
}

static void ring_prep(struct io_uring *r, int fd, const struct pim_cmd *c,
		      int nr)
{
	int i;

	for (i = 0; i < nr; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(r);

		io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
		sqe->cmd_op = PIM_URING_CMD_IO;
		memcpy((uint8_t *)sqe + offsetof(struct io_uring_sqe, cmd), c,
		       sizeof(*c));
	}
}

static int ring_put(struct io_uring *r, int fd, const struct pim_cmd *c,
		    int nr)
{
	ring_prep(r, fd, c, nr);
	return io_uring_submit(r);
}

static void load_free(struct load *l)
{
	free(l->jobs);
	free(l->q);
	free(l->out);
}

/* The child: work in flight on transport t (or all), then block. */
static void client(const struct pimt_dev *d, int t, int ready)
{
	struct io_uring ring;
	struct load l;
	int qid = -1;

	if (load_init(&l, d))
		_exit(2);
	if (t == T_QUEUE || t == T_NR) {
		qid = queue_new(l.fd);
		queue_put(l.fd, qid, &l.attn, INFLIGHT);
	}
	if (t == T_URING || t == T_NR) {
		if (io_uring_queue_init(INFLIGHT, &ring, IORING_SETUP_SQE128 |
					IORING_SETUP_CQE32))
			_exit(3);
		ring_put(&ring, l.fd, &l.attn, INFLIGHT);
	}
	if (write(ready, "r", 1) != 1)
		_exit(4);
	if (t == T_QUEUE)
		queue_wait(l.fd, qid);
	else if (t == T_URING)
		io_uring_submit_and_wait(&ring, INFLIGHT);
	else
		pimt_submit(l.fd, &l.attn, NULL);
	_exit(0);
}

/* Fork a client, wait until its work is in flight, SIGKILL it. */
static int kill_one(const struct pimt_dev *d, int t, uint64_t *rng)
{
	int p[2], status;
	char c;
	double t0;
	pid_t pid;

	if (pipe(p))
		return -errno;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		client(d, t, p[1]);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1) {
		close(p[0]);
		return -ECHILD;
	}
	close(p[0]);
	usleep(pimt_rand(rng) % 20000);
	kill(pid, SIGKILL);
	t0 = now();
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now() - t0 > HANG_S)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

static void do_kill(struct pimt_dev *d, int rounds)
{
	uint64_t rng = 0x9b05688c2b3e6c1fULL;
	int t, i, hung = 0, leaked = 0, other = 0;
	double t0 = now();

	for (t = 0; t < T_NR; t++) {
		for (i = 0; i < rounds; i++) {
			int ret = kill_one(d, t, &rng);

			hung += ret == -ETIMEDOUT;
			other += ret && ret != -ETIMEDOUT;
			leaked += !pimt_wait_all_free(d, 30000);
		}
		tap_ok(!hung && !leaked && !other,
		       "%d clients SIGKILLed with %s commands in flight: gone at once, capacity all free (hung %d, leaked %d, setup errors %d)",
		       rounds, tname[t], hung, leaked, other);
	}
	printf("bench fault-kills %d kills\n", rounds * T_NR);
	printf("bench fault-kill-round %.3f s\n",
	       (now() - t0) / (rounds * T_NR));
}

struct waiter {
	int what, fd, qid;
	struct io_uring *ring;
	struct load *l;
	int ret;
	volatile int done;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;

	if (w->what == T_QUEUE)
		w->ret = queue_wait(w->fd, w->qid);
	else if (w->what == T_SYNC)
		w->ret = pimt_submit(w->fd, &w->l->attn, NULL);
	else
		w->ret = io_uring_submit_and_wait(w->ring, INFLIGHT);
	w->done = 1;
	return NULL;
}

/* Start a waiter, pull the rug, and see that it returns. */
static bool waiter_returns(struct waiter *w, void (*rug)(struct waiter *))
{
	pthread_t th;
	double t0;

	if (pthread_create(&th, NULL, wait_thread, w))
		return false;
	usleep(20000);
	rug(w);
	for (t0 = now(); !w->done && now() - t0 < HANG_S;)
		usleep(1000);
	if (!w->done)
		return false;	/* the thread leaks: the test fails anyway */
	pthread_join(th, NULL);
	return true;
}

static void destroy_queue(struct waiter *w)
{
	struct pim_queue_args a = { .qid = w->qid };

	pimt_ioctl(w->fd, PIM_IOC_QUEUE_DESTROY, &a);
}

static void close_fd(struct waiter *w)
{
	close(w->fd);
}

static void do_close(struct pimt_dev *d)
{
	struct waiter w = { 0 };
	struct io_uring ring;
	struct load l;
	bool ok;

	load_init(&l, d);
	w.l = &l;
	w.what = T_QUEUE;
	w.fd = l.fd;
	w.qid = queue_new(l.fd);
	queue_put(l.fd, w.qid, &l.attn, INFLIGHT);
	ok = waiter_returns(&w, destroy_queue);
	tap_ok(ok, "REAP_F_WAIT sleeper returns when its queue is destroyed (%d)",
	       w.ret);

	w = (struct waiter){ .what = T_SYNC, .fd = l.fd, .l = &l };
	ok = waiter_returns(&w, close_fd);
	tap_ok(ok && (w.ret == 0 || w.ret == -ECANCELED),
	       "sync command whose fd is closed meanwhile completes (%d)",
	       w.ret);
	tap_ok(pimt_wait_all_free(d, 30000),
	       "the closed file's cache is freed");

	load_free(&l);
	load_init(&l, d);
	io_uring_queue_init(INFLIGHT, &ring, IORING_SETUP_SQE128 |
			    IORING_SETUP_CQE32);
	/* The waiter submits; the fd goes while the commands run. */
	ring_prep(&ring, l.fd, &l.attn, INFLIGHT);
	w = (struct waiter){ .what = T_URING, .fd = l.fd, .l = &l,
			     .ring = &ring };
	ok = waiter_returns(&w, close_fd);
	tap_ok(ok && w.ret == INFLIGHT,
	       "io_uring commands whose fd is closed meanwhile all complete (%d of %d)",
	       w.ret, INFLIGHT);
	io_uring_queue_exit(&ring);
	load_free(&l);
	tap_ok(pimt_wait_all_free(d, 30000),
	       "capacity all free once the ring is gone");
}

static void do_rmmod(struct pimt_dev *d)
{
	uint64_t rng = 0x1f83d9abfb41bd6bULL;
	double t0;
	int ret;

	pimt_close(d);
	ret = kill_one(d, T_NR, &rng);
	t0 = now();
	while (syscall(SYS_delete_module, "pim", O_NONBLOCK) &&
	       (errno == EBUSY || errno == EAGAIN || errno == EWOULDBLOCK) &&
	       now() - t0 < HANG_S)
		usleep(500);
	tap_ok(!ret && access("/sys/module/pim", F_OK),
	       "module unloaded %.0f ms after a client with work on every transport was killed",
	       (now() - t0) * 1e3);
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	close(fd);
	return ok ? 0 : -1;
}

/* Allocations of this task fail with probability pct percent. */
static int inject(const char *attr, const char *pct)
{
	static const char *const set[][2] = {
		{ "task-filter", "Y" }, { "interval", "1" },
		{ "times", "-1" }, { "verbose", "0" },
		{ "ignore-gfp-wait", "N" },
	};
	char path[128];
	size_t i;

	for (i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
		snprintf(path, sizeof(path), "/sys/kernel/debug/%s/%s", attr,
			 set[i][0]);
		if (write_str(path, set[i][1]))
			return -1;
	}
	snprintf(path, sizeof(path), "/sys/kernel/debug/%s/probability", attr);
	return write_str(path, pct);
}

/* One command on transport t, with whatever the transport needs. */
static int drive(struct load *l, int t)
{
	struct io_uring ring;
	int ret, qid;

	if (t == T_SYNC)
		return pimt_submit(l->fd, &l->attn, NULL);
	if (t == T_QUEUE) {
		qid = queue_new(l->fd);
		if (qid < 0)
			return -errno;
		ret = queue_put(l->fd, qid, &l->attn, 2);
		if (ret > 0)
			ret = queue_wait(l->fd, qid);
		return ret > 0 ? 0 : ret;
	}
	ret = io_uring_queue_init(4, &ring, IORING_SETUP_SQE128 |
				  IORING_SETUP_CQE32);
	if (ret)
		return ret;
	ret = ring_put(&ring, l->fd, &l->attn, 2);
	io_uring_queue_exit(&ring);
	return ret > 0 ? 0 : ret;
}

static void do_failslab(struct pimt_dev *d, int rounds)
{
	static const char *const attrs[] = { "failslab", "fail_page_alloc" };
	int a, i, t, nomem, ok, other, fail_fd;

	fail_fd = open("/proc/thread-self/make-it-fail", O_WRONLY);
	for (a = 0; a < 2; a++) {
		if (access("/sys/kernel/debug/failslab", F_OK) || fail_fd < 0) {
			tap_skip("%s: this kernel has no fault injection (CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC)",
				 attrs[a]);
			continue;
		}
		if (!tap_ok(!inject(attrs[a], "10"), "%s armed for this task",
			    attrs[a]))
			continue;
		nomem = 0;
		ok = 0;
		other = 0;
		for (i = 0; i < rounds; i++) {
			struct load l = { 0 };
			int ret = load_init(&l, d);

			/*
			 * Armed only around the commands: user memory is
			 * touched before, so no page fault of ours fails.
			 */
			if (pwrite(fail_fd, "1", 1, 0) != 1)
				ret = -errno;
			for (t = 0; t < T_NR && !ret; t++)
				ret = drive(&l, t);
			/* No allocation here: the file is open already. */
			if (pwrite(fail_fd, "0", 1, 0) != 1)
				ret = -errno;
			nomem += ret == -ENOMEM;
			ok += ret == 0;
			other += ret && ret != -ENOMEM;
			if (l.fd >= 0)
				close(l.fd);
			load_free(&l);
		}
		inject(attrs[a], "0");
		tap_ok(pimt_wait_all_free(d, 30000),
		       "%s: %d rounds (%d ok, %d -ENOMEM, %d other errors), capacity all free",
		       attrs[a], rounds, ok, nomem, other);
	}
	if (fail_fd >= 0)
		close(fail_fd);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	int n = argc > 2 ? atoi(argv[2]) : 10;
	struct pimt_dev d;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	printf("TAP version 13\n");
	pimt_open(&d);
	if (!strcmp(mode, "kill")) {
		do_kill(&d, n);
	} else if (!strcmp(mode, "close")) {
		do_close(&d);
	} else if (!strcmp(mode, "rmmod")) {
		do_rmmod(&d);
		return tap_done();
	} else if (!strcmp(mode, "failslab")) {
		do_failslab(&d, n);
	} else {
		fprintf(stderr, "usage: pim-fault kill|close|rmmod|failslab [N]\n");
		return 2;
	}
	pimt_close(&d);
	return tap_done();
}
