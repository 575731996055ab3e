// SPDX-License-Identifier: GPL-2.0
/*
 * pimt.c - helpers shared by the /dev/pimN driver tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <pim/prng.h>
#include <pim/ref_attn.h>

#include "pimt.h"

const char *pimt_dev_path(void)
{
	const char *p = getenv("PIM_DEV");

	return p && *p ? p : "/dev/pim0";
}

void pimt_open(struct pimt_dev *d)
{
	const char *path = pimt_dev_path();

	memset(d, 0, sizeof(*d));
	snprintf(d->path, sizeof(d->path), "%s", path);
	d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0) {
		printf("Bail out! open %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (ioctl(d->fd, PIM_IOC_GET_INFO, &d->info)) {
		printf("Bail out! PIM_IOC_GET_INFO on %s: %s\n", path,
		       strerror(errno));
		exit(1);
	}
	snprintf(d->sysfs, sizeof(d->sysfs), "/sys/class/pim/pim%u",
		 d->info.dev_id);
}

int pimt_reopen(const struct pimt_dev *d)
{
	int fd = open(d->path, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("Bail out! reopen %s: %s\n", d->path, strerror(errno));
		exit(1);
	}
	return fd;
}

void pimt_close(struct pimt_dev *d)
{
	close(d->fd);
	d->fd = -1;
}

int pimt_ioctl(int fd, unsigned long req, void *arg)
{
	int ret = ioctl(fd, req, arg);

	return ret < 0 ? -errno : ret;
}

int pimt_submit(int fd, const struct pim_cmd *cmd, struct pim_cqe *cqe)
{
	struct pim_sync s;
	int ret;

	memset(&s, 0, sizeof(s));
	s.cmd = *cmd;
	ret = pimt_ioctl(fd, PIM_IOC_SUBMIT, &s);
	if (cqe)
		*cqe = s.cqe;
	return ret;
}

int pimt_nop(int fd)
{
	struct pim_cmd c;

	pimt_cmd_nop(&c, 0);
	return pimt_submit(fd, &c, NULL);
}

int pimt_kv_alloc(int fd, const struct pim_kv_alloc *shape)
{
	struct pim_cmd c = { .opcode = PIM_OP_KV_ALLOC };

	c.kv_alloc = *shape;
	return pimt_submit(fd, &c, NULL);
}

int pimt_kv_free(int fd, uint32_t handle)
{
	struct pim_cmd c = { .opcode = PIM_OP_KV_FREE };

	c.kv_free.handle = handle;
	return pimt_submit(fd, &c, NULL);
}

int pimt_kv_append(int fd, uint32_t handle, uint32_t layer, uint32_t start,
		   uint32_t count, const void *k, const void *v, uint8_t flags)
{
	struct pim_cmd c;

	pimt_cmd_kv_io(&c, PIM_OP_KV_APPEND, handle, layer, start, count, k,
		       v);
	c.flags = flags;
	return pimt_submit(fd, &c, NULL);
}

int pimt_kv_read(int fd, uint32_t handle, uint32_t layer, uint32_t start,
		 uint32_t count, void *k, void *v)
{
	struct pim_cmd c;

	pimt_cmd_kv_io(&c, PIM_OP_KV_READ, handle, layer, start, count, k, v);
	return pimt_submit(fd, &c, NULL);
}

void pimt_cmd_nop(struct pim_cmd *c, uint64_t user_data)
{
	memset(c, 0, sizeof(*c));
	c->opcode = PIM_OP_NOP;
	c->user_data = user_data;
}

void pimt_cmd_kv_io(struct pim_cmd *c, uint8_t opcode, uint32_t handle,
		    uint32_t layer, uint32_t start, uint32_t count,
		    const void *k, const void *v)
{
	memset(c, 0, sizeof(*c));
	c->opcode = opcode;
	c->kv_io.handle = handle;
	c->kv_io.layer = layer;
	c->kv_io.start = start;
	c->kv_io.count = count;
	c->kv_io.k_addr = (uintptr_t)k;
	c->kv_io.v_addr = (uintptr_t)v;
}

void pimt_cmd_attn(struct pim_cmd *c, const struct pim_attn_job *jobs,
		   uint32_t nr, uint64_t user_data)
{
	memset(c, 0, sizeof(*c));
	c->opcode = PIM_OP_ATTN;
	c->user_data = user_data;
	c->attn.jobs = (uintptr_t)jobs;
	c->attn.nr_jobs = nr;
}

int pimt_attn(int fd, const struct pim_attn_job *jobs, uint32_t nr,
	      uint64_t *device_ns)
{
	struct pim_cqe cqe;
	struct pim_cmd c;
	int ret;

	pimt_cmd_attn(&c, jobs, nr, 0);
	ret = pimt_submit(fd, &c, &cqe);
	if (device_ns)
		*device_ns = cqe.device_ns;
	return ret;
}

struct pim_kv_alloc pimt_shape(uint32_t layers, uint16_t q_heads,
			       uint16_t kv_heads, uint16_t head_dim,
			       uint8_t dtype, uint32_t max_tokens)
{
	struct pim_kv_alloc s;

	memset(&s, 0, sizeof(s));
	s.layers = layers;
	s.q_heads = q_heads;
	s.kv_heads = kv_heads;
	s.head_dim = head_dim;
	s.dtype = dtype;
	s.max_tokens = max_tokens;
	s.rankset_hint = PIM_RANKSET_ANY;
	return s;
}

size_t pimt_kv_bytes(const struct pim_kv_alloc *s, uint32_t ntok)
{
	return (size_t)ntok * s->kv_heads * s->head_dim * 2;
}

int pimt_sysfs_str(const struct pimt_dev *d, const char *attr, char *buf,
		   size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", d->sysfs, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

long long pimt_sysfs_u64(const struct pimt_dev *d, const char *attr)
{
	char buf[64], *end;
	unsigned long long v;

	if (pimt_sysfs_str(d, attr, buf, sizeof(buf)))
		return -1;
	errno = 0;
	v = strtoull(buf, &end, 0);
	if (errno || end == buf || *end)
		return -1;
	return (long long)v;
}

bool pimt_wait_all_free(const struct pimt_dev *d, int timeout_ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	long long cap = pimt_sysfs_u64(d, "capacity");
	int waited;

	for (waited = 0; waited <= timeout_ms; waited += 10) {
		if (cap >= 0 && pimt_sysfs_u64(d, "free") == cap)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

uint64_t pimt_rand(uint64_t *state)
{
	return prng_next(state);
}

/*
 * Exponents are drawn so values lie in [1/64, 2): every element is a normal
 * number of either type and the reference sees exactly what was stored.
 */
void pimt_fill_kv(uint64_t *state, uint8_t dtype, uint16_t *dst, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t r = pimt_rand(state);
		uint16_t sign = (r & 1) << 15;
		uint16_t e = (r >> 1) % 7;		/* 2^-6 .. 2^0 */
		uint16_t m = r >> 8;

		if (dtype == PIM_DTYPE_BF16)
			dst[i] = sign | (121 + e) << 7 | (m & 0x7f);
		else
			dst[i] = sign | (9 + e) << 10 | (m & 0x3ff);
	}
}

void pimt_fill_q(uint64_t *state, float *dst, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = (float)((int)(pimt_rand(state) % 2001) - 1000) / 1000;
}

void pimt_attn_ref(const struct pim_kv_alloc *s, const uint16_t *k,
		   const uint16_t *v, uint32_t ctx_len, const float *q,
		   float scale, double *out)
{
	const struct ref_attn_shape rs = {
		.q_heads = s->q_heads, .kv_heads = s->kv_heads,
		.head_dim = s->head_dim, .dtype = s->dtype,
	};

	ref_attn(&rs, k, v, ctx_len, q,
		 scale != 0 ? scale : 1.0 / sqrt(s->head_dim), out);
}

double pimt_rel_err(const float *got, const double *ref, size_t n)
{
	return ref_rel_err(got, ref, n);
}
