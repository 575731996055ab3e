// SPDX-License-Identifier: GPL-2.0
/*
 * pim_isolation.c - what one client of /dev/pimN cannot do to another:
 * open the node without permission, reach KV caches or queues of another
 * open file by guessing handles and queue ids, drive a queue from another
 * address space, or read and write raw rank bytes without CAP_SYS_ADMIN
 * (unless the module was loaded with raw_access=1). Runs as root in the
 * guest and drops privileges in children.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>

#include "../kmod/pimt.h"
#include "../tap.h"

#define NOBODY		65534
#define GUESSES		1024
#define TOKENS		8

static bool raw_param(void)
{
	FILE *f = fopen("/sys/module/pim/parameters/raw_access", "r");
	int c = f ? fgetc(f) : 'N';

	if (f)
		fclose(f);
	return c == 'Y' || c == '1';
}

/* Run fn in a child; its exit status is the result (0 = as expected). */
static int in_child(int (*fn)(const struct pimt_dev *),
		    const struct pimt_dev *d)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn(d));
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int become_nobody(void)
{
	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		return -1;
	return 0;
}

/* Root, less CAP_SYS_ADMIN in every set. */
static int drop_sys_admin(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct c[2];

	if (syscall(SYS_capget, &h, c))
		return -1;
	c[CAP_SYS_ADMIN / 32].effective &= ~(1U << (CAP_SYS_ADMIN % 32));
	c[CAP_SYS_ADMIN / 32].permitted &= ~(1U << (CAP_SYS_ADMIN % 32));
	c[CAP_SYS_ADMIN / 32].inheritable &= ~(1U << (CAP_SYS_ADMIN % 32));
	return syscall(SYS_capset, &h, c) ? -1 : 0;
}

static int open_as_nobody(const struct pimt_dev *d)
{
	int fd;

	if (become_nobody())
		return 2;
	fd = open(d->path, O_RDWR);
	if (fd >= 0)
		return 1;
	return errno == EACCES ? 0 : 3;
}

static int raw_read(int fd, const struct pimt_dev *d)
{
	static uint8_t buf[4096];
	struct pim_cmd c = { .opcode = PIM_OP_RAW_READ };

	c.raw.rank = 0;
	c.raw.len = sizeof(buf);
	c.raw.offset = d->info.geom.rank_bytes - sizeof(buf);
	c.raw.addr = (uintptr_t)buf;
	return pimt_submit(fd, &c, NULL);
}

/* Exit 0 when the raw read got the answer the module parameter wants. */
static int raw_without_admin(const struct pimt_dev *d, bool nobody)
{
	int fd, ret, want = raw_param() ? 0 : -EPERM;

	if (nobody ? become_nobody() : drop_sys_admin())
		return 2;
	fd = open(d->path, O_RDWR);
	if (fd < 0)
		return 3;
	ret = raw_read(fd, d);
	close(fd);
	return ret == want ? 0 : 1;
}

static int raw_as_nobody(const struct pimt_dev *d)
{
	return raw_without_admin(d, true);
}

static int raw_as_root_without_admin(const struct pimt_dev *d)
{
	return raw_without_admin(d, false);
}

static void test_node_permissions(struct pimt_dev *d)
{
	struct stat st = { 0 };
	int ret = stat(d->path, &st);

	tap_ok(!ret && !(st.st_mode & 077) && st.st_uid == 0,
	       "%s is owner-only (mode %o) and root's", d->path,
	       st.st_mode & 0777);
	tap_ok(in_child(open_as_nobody, d) == 0,
	       "a process without access to %s gets EACCES from open",
	       d->path);
}

static void test_raw_access(struct pimt_dev *d)
{
	bool allowed = raw_param();
	char feat[32];
	long long f;

	tap_ok(raw_read(d->fd, d) == 0, "raw read with CAP_SYS_ADMIN works");
	/* Let nobody open the node: only the capability check stands. */
	chmod(d->path, 0666);
	tap_ok(in_child(raw_as_nobody, d) == 0,
	       "raw read without CAP_SYS_ADMIN, raw_access=%d: %s",
	       allowed, allowed ? "allowed" : "-EPERM");
	chmod(d->path, 0600);
	tap_ok(in_child(raw_as_root_without_admin, d) == 0,
	       "root less CAP_SYS_ADMIN, raw_access=%d: %s", allowed,
	       allowed ? "allowed" : "-EPERM");
	f = pimt_sysfs_str(d, "features", feat, sizeof(feat)) < 0 ? -1 :
	    strtoll(feat, NULL, 16);
	tap_ok(f >= 0 && !!(f & PIM_F_RAW) == allowed,
	       "sysfs features has PIM_F_RAW exactly when raw_access=1 (%s)",
	       feat);
}

/* Every handle and qid a guesser can try, on its own file. */
static void guess_all(int fd, const char *who)
{
	uint16_t k[64], v[64];
	int h, q, hits = 0;
	struct pim_attn_job job = { 0 };
	float qv[64], out[64];
	struct pim_queue_args qa = { 0 };
	struct pim_queue_io io = { 0 };
	struct pim_cqe cqe;

	for (h = 0; h < GUESSES; h++) {
		job.handle = h;
		job.ctx_len = 1;
		job.q_addr = (uintptr_t)qv;
		job.out_addr = (uintptr_t)out;
		hits += pimt_kv_read(fd, h, 0, 0, 1, k, v) != -ENOENT;
		hits += pimt_kv_append(fd, h, 0, 0, 1, k, v, 0) != -ENOENT;
		hits += pimt_attn(fd, &job, 1, NULL) != -ENOENT;
		hits += pimt_kv_free(fd, h) != -ENOENT;
	}
	for (q = 0; q < 64; q++) {
		qa.qid = q;
		io.qid = q;
		io.nr = 1;
		io.addr = (uintptr_t)&cqe;
		hits += pimt_ioctl(fd, PIM_IOC_QUEUE_REAP, &io) != -ENOENT;
		hits += pimt_ioctl(fd, PIM_IOC_QUEUE_DESTROY, &qa) != -ENOENT;
	}
	tap_ok(!hits, "%s: %d handles x 4 commands and 64 qids x 2 ioctls all -ENOENT (%d not)",
	       who, GUESSES, hits);
}

static int guess_in_child(const struct pimt_dev *d)
{
	int fd = pimt_reopen(d);

	guess_all(fd, "another process's file");
	close(fd);
	return tap_failed;
}

static void test_objects_per_file(struct pimt_dev *d)
{
	struct pim_kv_alloc s = pimt_shape(1, 2, 2, 16, PIM_DTYPE_FP16, 16);
	size_t n = pimt_kv_bytes(&s, TOKENS);
	uint16_t *k = malloc(n), *v = malloc(n), *kb = malloc(n),
		 *vb = malloc(n);
	uint64_t st = 0x3c6ef372fe94f82bULL;
	struct pim_queue_args qa = { .depth = 4 };
	long long before;
	int h[4], i, fd2;

	pimt_fill_kv(&st, s.dtype, k, n / 2);
	pimt_fill_kv(&st, s.dtype, v, n / 2);
	for (i = 0; i < 4; i++) {
		h[i] = pimt_kv_alloc(d->fd, &s);
		if (h[i] > 0)
			pimt_kv_append(d->fd, h[i], 0, 0, TOKENS, k, v, 0);
	}
	pimt_ioctl(d->fd, PIM_IOC_QUEUE_CREATE, &qa);
	before = pimt_sysfs_u64(d, "free");
	tap_ok(h[0] > 0 && h[3] > 0, "owner placed 4 caches (handles %d..%d)",
	       h[0], h[3]);

	fd2 = pimt_reopen(d);
	guess_all(fd2, "a second open file of the same process");
	close(fd2);
	tap_ok(in_child(guess_in_child, d) == 0,
	       "another process guessing handles and qids reaches nothing");
	tap_ok(pimt_sysfs_u64(d, "free") == before,
	       "the owner's placements are untouched (free unchanged)");
	for (i = 0; i < 4; i++)
		if (h[i] <= 0 ||
		    pimt_kv_read(d->fd, h[i], 0, 0, TOKENS, kb, vb) ||
		    memcmp(k, kb, n) || memcmp(v, vb, n))
			break;
	tap_ok(i == 4, "the owner's caches still hold their tokens");
	for (i = 0; i < 4; i++)
		pimt_kv_free(d->fd, h[i]);
	free(k);
	free(v);
	free(kb);
	free(vb);
}

/* A queue serves the address space that created it. */
static int queue_from_child(const struct pimt_dev *d)
{
	struct pim_cmd c;
	struct pim_queue_io io = { .nr = 1, .addr = (uintptr_t)&c };

	pimt_cmd_nop(&c, 1);
	io.qid = (uint32_t)d->info.rsvd0;
	return pimt_ioctl(d->fd, PIM_IOC_QUEUE_SUBMIT, &io) == -EXDEV ? 0 : 1;
}

static void test_queue_other_mm(struct pimt_dev *d)
{
	struct pim_queue_args qa = { .depth = 2 };
	struct pimt_dev child = *d;

	if (!tap_ok(pimt_ioctl(d->fd, PIM_IOC_QUEUE_CREATE, &qa) == 0,
		    "queue created"))
		return;
	child.info.rsvd0 = qa.qid;	/* hand the qid to the child */
	tap_ok(in_child(queue_from_child, &child) == 0,
	       "a forked child sharing the file gets -EXDEV on the parent's queue");
	qa.depth = 0;
	pimt_ioctl(d->fd, PIM_IOC_QUEUE_DESTROY, &qa);
}

int main(void)
{
	struct pimt_dev d;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(13);
	pimt_open(&d);
	test_node_permissions(&d);
	test_raw_access(&d);
	test_objects_per_file(&d);
	test_queue_other_mm(&d);
	tap_diag("pimd's privileged D-Bus methods and per-peer sessions: tests/daemon");
	pimt_close(&d);
	return tap_done();
}
