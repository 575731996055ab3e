// SPDX-License-Identifier: GPL-2.0
/*
 * test_basic.c - GET_INFO, NOP, ioctl numbers, reserved fields and flags,
 * bad pointers, sysfs attributes and counters of /dev/pimN.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "pimt.h"
#include "../tap.h"

static void test_info(struct pimt_dev *d)
{
	const struct pim_info *in = &d->info;
	const struct pim_geometry *g = &in->geom;
	uint64_t ranks = (uint64_t)g->channels * g->dimms_per_channel *
			 g->ranks_per_dimm;
	uint64_t need = PIM_F_URING_CMD | PIM_F_QUEUES |
			PIM_F_INFLIGHT_RELAYOUT | PIM_F_HOST_RELAYOUT |
			PIM_F_FP16 | PIM_F_BF16 | PIM_F_GQA | PIM_F_UNORDERED;

	tap_ok(in->abi_version == PIM_ABI_VERSION, "info: abi_version %u",
	       in->abi_version);
	tap_ok((in->features & need) == need,
	       "info: features 0x%llx include every spec feature",
	       (unsigned long long)in->features);
	tap_ok(in->features & PIM_F_RAW,
	       "info: root opener gets PIM_F_RAW");
	tap_ok(in->capacity > 0 && in->free <= in->capacity,
	       "info: capacity %llu, free %llu",
	       (unsigned long long)in->capacity,
	       (unsigned long long)in->free);
	tap_ok(in->free == in->capacity, "info: nothing placed at start");
	tap_ok(g->chips_per_rank == 8 && g->channels && g->dimms_per_channel &&
	       g->ranks_per_dimm && g->bank_groups && g->banks_per_group &&
	       g->row_bytes,
	       "info: geometry %ux%ux%u ranks, %u chips, %ux%u banks, row %u",
	       g->channels, g->dimms_per_channel, g->ranks_per_dimm,
	       g->chips_per_rank, g->bank_groups, g->banks_per_group,
	       g->row_bytes);
	tap_ok(g->ranksets == g->dimms_per_channel * g->ranks_per_dimm,
	       "info: ranksets %u = dimms x ranks", g->ranksets);
	tap_ok(ranks <= PIM_MAX_RANKS && g->rank_bytes &&
	       ranks * g->rank_bytes >= in->capacity,
	       "info: %llu ranks of %llu bytes hold the capacity",
	       (unsigned long long)ranks,
	       (unsigned long long)g->rank_bytes);
	tap_ok(in->max_queues == 16 && in->max_queue_depth == 1024 &&
	       in->max_attn_jobs >= 1 &&
	       in->max_attn_jobs <= PIM_MAX_ATTN_JOBS,
	       "info: limits queues %u, depth %u, attn jobs %u",
	       in->max_queues, in->max_queue_depth, in->max_attn_jobs);
	tap_ok(!in->rsvd0 && !in->rsvd[0] && !in->rsvd[1] && !in->rsvd[2] &&
	       !in->rsvd[3], "info: reserved fields are zero");
}

static void test_nop(struct pimt_dev *d)
{
	struct pim_cqe cqe;
	struct pim_cmd c;
	int ret;

	pimt_cmd_nop(&c, 0x1234567890abcdefULL);
	memset(&cqe, 0xa5, sizeof(cqe));
	ret = pimt_submit(d->fd, &c, &cqe);
	tap_ok(ret == 0 && cqe.res == 0 && cqe.device_ns == 0 &&
	       cqe.user_data == 0x1234567890abcdefULL,
	       "NOP: ret %d res %d device_ns %llu, user_data echoed", ret,
	       cqe.res, (unsigned long long)cqe.device_ns);
}

static void test_ioctl_numbers(struct pimt_dev *d)
{
	struct pim_info info;
	char buf[256];
	int ret;

	ret = pimt_ioctl(d->fd, _IO(PIM_IOC_MAGIC, 0x7f), NULL);
	tap_ok(ret == -ENOTTY, "unknown ioctl nr: %d (want -ENOTTY)", ret);
	ret = pimt_ioctl(d->fd, _IOR(PIM_IOC_MAGIC, 0x00, __u32), buf);
	tap_ok(ret == -ENOTTY, "GET_INFO with wrong size: %d (want -ENOTTY)",
	       ret);
	ret = pimt_ioctl(d->fd, _IOWR(PIM_IOC_MAGIC + 1, 0x01,
				      struct pim_sync), buf);
	tap_ok(ret == -ENOTTY, "foreign ioctl magic: %d (want -ENOTTY)", ret);
	ret = pimt_ioctl(d->fd, _IOWR(PIM_IOC_MAGIC, 0x80, struct pim_cmd),
			 buf);
	tap_ok(ret == -ENOTTY, "uring cmd_op as ioctl: %d (want -ENOTTY)",
	       ret);
	ret = pimt_ioctl(d->fd, PIM_IOC_GET_INFO, (void *)PIMT_BAD_ADDR);
	tap_ok(ret == -EFAULT, "GET_INFO to bad pointer: %d (want -EFAULT)",
	       ret);
	ret = pimt_ioctl(d->fd, PIM_IOC_SUBMIT, (void *)PIMT_BAD_ADDR);
	tap_ok(ret == -EFAULT, "SUBMIT from bad pointer: %d (want -EFAULT)",
	       ret);
	ret = pimt_ioctl(d->fd, PIM_IOC_GET_INFO, &info);
	tap_ok(ret == 0 && !memcmp(&info.geom, &d->info.geom,
				   sizeof(info.geom)),
	       "GET_INFO again: same geometry");
}

/* One command that must fail with want, and the cqe must say so too. */
static void expect(struct pimt_dev *d, const struct pim_cmd *c, int want,
		   const char *what)
{
	struct pim_cqe cqe;
	int ret;

	memset(&cqe, 0, sizeof(cqe));
	ret = pimt_submit(d->fd, c, &cqe);
	tap_ok(ret == want && cqe.res == want,
	       "%s: ret %d res %d (want %d)", what, ret, cqe.res, want);
}

static void test_bad_commands(struct pimt_dev *d)
{
	struct pim_cmd c;

	pimt_cmd_nop(&c, 0);
	c.opcode = PIM_OP_LAST + 1;
	expect(d, &c, -EINVAL, "opcode PIM_OP_LAST+1");
	c.opcode = 0xff;
	expect(d, &c, -EINVAL, "opcode 0xff");

	pimt_cmd_nop(&c, 0);
	c.flags = 0x80;
	expect(d, &c, -EINVAL, "unknown flag bit 0x80");
	pimt_cmd_nop(&c, 0);
	c.flags = (uint8_t)~PIM_CMD_F_ALL;
	expect(d, &c, -EINVAL, "every unknown flag bit");

	pimt_cmd_nop(&c, 0);
	c.rsvd0 = 1;
	expect(d, &c, -EINVAL, "cmd.rsvd0 != 0");
	pimt_cmd_nop(&c, 0);
	c.rsvd1 = 1u << 31;
	expect(d, &c, -EINVAL, "cmd.rsvd1 != 0");

	memset(&c, 0, sizeof(c));
	c.opcode = PIM_OP_KV_FREE;
	c.kv_free.handle = 1;
	c.kv_free.rsvd0 = 1;
	expect(d, &c, -EINVAL, "KV_FREE rsvd0 != 0");
	c.kv_free.rsvd0 = 0;
	c.kv_free.rsvd[4] = 1;
	expect(d, &c, -EINVAL, "KV_FREE rsvd[4] != 0");

	memset(&c, 0, sizeof(c));
	c.opcode = PIM_OP_ATTN;
	c.attn.nr_jobs = 1;
	c.attn.jobs = PIMT_BAD_ADDR;
	c.attn.rsvd0 = 1;
	expect(d, &c, -EINVAL, "ATTN rsvd0 != 0");
	c.attn.rsvd0 = 0;
	c.attn.rsvd[3] = 1;
	expect(d, &c, -EINVAL, "ATTN rsvd[3] != 0");
	c.attn.rsvd[3] = 0;
	expect(d, &c, -EFAULT, "ATTN jobs at bad pointer");

	memset(&c, 0, sizeof(c));
	c.opcode = PIM_OP_RAW_READ;
	c.raw.len = 64;
	c.raw.addr = PIMT_BAD_ADDR;
	c.raw.rsvd[2] = 1;
	expect(d, &c, -EINVAL, "RAW_READ rsvd[2] != 0");
}

/* The spec allows one attribute per geometry field or one `geometry` file. */
static void test_sysfs_geometry(struct pimt_dev *d)
{
	const struct pim_geometry *g = &d->info.geom;
	char buf[256];
	const struct {
		const char *name;
		unsigned long long want;
	} f[] = {
		{ "channels", g->channels },
		{ "dimms_per_channel", g->dimms_per_channel },
		{ "ranks_per_dimm", g->ranks_per_dimm },
		{ "chips_per_rank", g->chips_per_rank },
		{ "bank_groups", g->bank_groups },
		{ "banks_per_group", g->banks_per_group },
		{ "row_bytes", g->row_bytes },
		{ "ranksets", g->ranksets },
		{ "rank_bytes", g->rank_bytes },
	};
	size_t i;

	if (!pimt_sysfs_str(d, "geometry", buf, sizeof(buf))) {
		tap_ok(buf[0] != '\0', "sysfs geometry: \"%s\"", buf);
		return;
	}
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		long long v = pimt_sysfs_u64(d, f[i].name);

		tap_ok(v >= 0 && (unsigned long long)v == f[i].want,
		       "sysfs %s = %lld (info %llu)", f[i].name, v,
		       f[i].want);
	}
}

static void test_sysfs(struct pimt_dev *d)
{
	const char *backing = getenv("PIM_BACKING");
	long long cap = pimt_sysfs_u64(d, "capacity");
	long long feat = pimt_sysfs_u64(d, "features");
	char buf[1024];

	tap_ok(cap >= 0 && (unsigned long long)cap == d->info.capacity,
	       "sysfs capacity %lld = info", cap);
	tap_ok(pimt_sysfs_u64(d, "free") == cap, "sysfs free = capacity");
	tap_ok(feat >= 0 && ((unsigned long long)feat & ~PIM_F_RAW) ==
			    (d->info.features & ~PIM_F_RAW),
	       "sysfs features 0x%llx = info (PIM_F_RAW aside)", feat);
	if (!pimt_sysfs_str(d, "backing", buf, sizeof(buf)) && backing &&
	    *backing)
		tap_ok(!strcmp(buf, backing), "sysfs backing \"%s\" (want %s)",
		       buf, backing);
	else
		tap_ok(!pimt_sysfs_str(d, "backing", buf, sizeof(buf)) &&
		       (!strcmp(buf, "ram") || !strcmp(buf, "memmap")),
		       "sysfs backing \"%s\"", buf);
	test_sysfs_geometry(d);
	tap_ok(!pimt_sysfs_str(d, "uevent", buf, sizeof(buf)) &&
	       strstr(buf, "PIM_CAPACITY="),
	       "uevent carries PIM_CAPACITY=");
}

static void test_counters(struct pimt_dev *d)
{
	long long cmds = pimt_sysfs_u64(d, "commands");
	long long in = pimt_sysfs_u64(d, "bytes_in");
	long long out = pimt_sysfs_u64(d, "bytes_out");
	long long ns = pimt_sysfs_u64(d, "device_ns");
	struct pim_kv_alloc s = pimt_shape(1, 2, 2, 64, PIM_DTYPE_FP16, 64);
	size_t bytes = pimt_kv_bytes(&s, 16);
	uint16_t *k = calloc(1, bytes), *v = calloc(1, bytes);
	int h, i, ok = 1;

	tap_ok(cmds >= 0 && in >= 0 && out >= 0 && ns >= 0,
	       "sysfs counters readable: commands %lld bytes_in %lld bytes_out %lld device_ns %lld",
	       cmds, in, out, ns);
	for (i = 0; i < 5; i++)
		ok &= pimt_nop(d->fd) == 0;
	tap_ok(ok && pimt_sysfs_u64(d, "commands") >= cmds + 5,
	       "commands counter counts 5 NOPs");

	h = pimt_kv_alloc(d->fd, &s);
	ok = h > 0 && !pimt_kv_append(d->fd, h, 0, 0, 16, k, v, 0);
	tap_ok(ok && pimt_sysfs_u64(d, "bytes_in") >= in + 2 * (long long)bytes,
	       "bytes_in counts an append of %zu bytes", 2 * bytes);
	tap_ok(ok && pimt_sysfs_u64(d, "device_ns") > ns,
	       "device_ns grows with real work");
	ok = ok && !pimt_kv_read(d->fd, h, 0, 0, 16, k, v);
	tap_ok(ok && pimt_sysfs_u64(d, "bytes_out") >=
		     out + 2 * (long long)bytes,
	       "bytes_out counts a read of %zu bytes", 2 * bytes);
	tap_ok(h > 0 && pimt_kv_free(d->fd, h) == 0 &&
	       pimt_sysfs_u64(d, "free") == pimt_sysfs_u64(d, "capacity"),
	       "free returns to capacity");
	free(k);
	free(v);
}

int main(void)
{
	struct pimt_dev d;

	pimt_open(&d);
	tap_diag("device %s, sysfs %s", d.path, d.sysfs);
	test_info(&d);
	test_nop(&d);
	test_ioctl_numbers(&d);
	test_bad_commands(&d);
	test_sysfs(&d);
	test_counters(&d);
	pimt_close(&d);
	return tap_done();
}
