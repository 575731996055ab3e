/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * pim.h - user ABI of the emulated L3 DIMM-PIM devices (/dev/pimN).
 *
 * One command body (struct pim_cmd) serves every transport:
 *  - PIM_IOC_SUBMIT: synchronous ioctl, completion written back in place;
 *  - PIM_IOC_QUEUE_{CREATE,SUBMIT,REAP,DESTROY}: asynchronous queues driven by
 *    ioctl, completions signalled by poll() (POLLIN) on the file;
 *  - IORING_OP_URING_CMD with cmd_op PIM_URING_CMD_IO: the command sits in
 *    sqe->cmd (needs IORING_SETUP_SQE128), cqe->res carries the result and
 *    cqe->big_cqe[0] the modeled device time in ns (needs IORING_SETUP_CQE32).
 *
 * Every completion carries a result (>= 0 on success, -errno on failure) and
 * the device time the modeled L3 hardware would have taken, in nanoseconds.
 *
 * All structures hold only fixed-size fields with explicit padding; reserved
 * fields and unknown flag bits must be zero (-EINVAL otherwise).
 */
#ifndef _UAPI_LINUX_PIM_H
#define _UAPI_LINUX_PIM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define PIM_ABI_VERSION		1
#define PIM_IOC_MAGIC		0xB9

/* Features reported in pim_info.features. */
#define PIM_F_URING_CMD		(1ULL << 0)	/* IORING_OP_URING_CMD transport */
#define PIM_F_QUEUES		(1ULL << 1)	/* ioctl-driven asynchronous queues */
#define PIM_F_INFLIGHT_RELAYOUT	(1ULL << 2)	/* rank-PU re-layout on KV append */
#define PIM_F_HOST_RELAYOUT	(1ULL << 3)	/* host-software re-layout baseline */
#define PIM_F_FP16		(1ULL << 4)	/* FP16 KV caches */
#define PIM_F_BF16		(1ULL << 5)	/* BF16 KV caches */
#define PIM_F_GQA		(1ULL << 6)	/* kv_heads < q_heads */
#define PIM_F_RAW		(1ULL << 7)	/* raw rank access allowed to this opener */
#define PIM_F_UNORDERED		(1ULL << 8)	/* PIM_QUEUE_F_UNORDERED queues */

/* KV element types. */
#define PIM_DTYPE_FP16		1
#define PIM_DTYPE_BF16		2

/* Limits. */
#define PIM_MAX_HEAD_DIM	256
#define PIM_MIN_HEAD_DIM	16
#define PIM_MAX_GQA_GROUP	16
#define PIM_MAX_RANKS		64
#define PIM_MAX_ATTN_JOBS	4096

/*
 * Device geometry: channel -> DIMM -> rank -> 8 x8 chips -> bank groups ->
 * banks. A rankset is rank r of every channel (ranksets = dimms * ranks).
 */
struct pim_geometry {
	__u32	channels;
	__u32	dimms_per_channel;
	__u32	ranks_per_dimm;
	__u32	chips_per_rank;		/* 8 (x8 chips on a 64-bit bus) */
	__u32	bank_groups;
	__u32	banks_per_group;
	__u32	row_bytes;		/* DRAM page size of one chip */
	__u32	ranksets;		/* dimms_per_channel * ranks_per_dimm */
	__u64	rank_bytes;		/* capacity of one rank */
};

/* PIM_IOC_GET_INFO */
struct pim_info {
	__u32	abi_version;		/* PIM_ABI_VERSION */
	__u32	dev_id;			/* N of /dev/pimN */
	__u64	features;		/* PIM_F_* */
	__u64	capacity;		/* bytes usable for KV caches */
	__u64	free;			/* bytes not yet placed */
	struct pim_geometry geom;
	__u32	max_queues;		/* per open file */
	__u32	max_queue_depth;
	__u32	max_attn_jobs;		/* per PIM_OP_ATTN command */
	__u32	rsvd0;
	__u64	rsvd[4];
};

/* Commands (pim_cmd.opcode). */
enum {
	PIM_OP_NOP		= 0,	/* completes at once; for benchmarks */
	PIM_OP_KV_ALLOC		= 1,	/* place a KV cache; res = handle */
	PIM_OP_KV_FREE		= 2,
	PIM_OP_KV_APPEND	= 3,	/* append tokens to one layer */
	PIM_OP_KV_READ		= 4,	/* read tokens of one layer back */
	PIM_OP_ATTN		= 5,	/* batched decode attention */
	PIM_OP_FENCE		= 6,	/* completes after all earlier commands */
	PIM_OP_RAW_READ		= 7,	/* rank bytes as the chips hold them */
	PIM_OP_RAW_WRITE	= 8,
	PIM_OP_LAST		= PIM_OP_RAW_WRITE,
};

/*
 * pim_cmd.flags for KV_APPEND and KV_READ. Data is always in host order
 * (token, head, element). By default the rank PU re-lays it out in flight.
 * HOST_RELAYOUT stores the same bytes but charges the UPMEM-style host
 * software transpose (an extra pass over the data) in device_ns.
 * NO_RELAYOUT writes each burst as the host bus stripes it, so every
 * element is split across two chips and attention over it is wrong, as on
 * the hardware; read-back stays exact. A layer holds one kind of data:
 * appending NO_RELAYOUT data to a re-laid-out layer, or the reverse, fails
 * with -EINVAL.
 */
#define PIM_CMD_F_HOST_RELAYOUT	(1U << 0)
#define PIM_CMD_F_NO_RELAYOUT	(1U << 1)
#define PIM_CMD_F_ALL		(PIM_CMD_F_HOST_RELAYOUT | PIM_CMD_F_NO_RELAYOUT)

/*
 * PIM_OP_KV_ALLOC: place a KV cache for a model shape. Every layer of the
 * cache gets room for max_tokens tokens. Layers are interleaved across
 * ranksets starting at rankset_hint (PIM_RANKSET_ANY lets the device pick the
 * least loaded one); within a rankset, head groups go to the least loaded
 * ranks. heads_per_chip_hint 0 picks N_hc from the bubble-free condition.
 * On success the completion result is the handle (> 0), valid for the file
 * that allocated it.
 */
#define PIM_RANKSET_ANY		0xffff

struct pim_kv_alloc {
	__u32	layers;
	__u16	q_heads;
	__u16	kv_heads;		/* divides q_heads; group <= PIM_MAX_GQA_GROUP */
	__u16	head_dim;		/* multiple of 16, PIM_MIN..PIM_MAX_HEAD_DIM */
	__u8	dtype;			/* PIM_DTYPE_* */
	__u8	chips_per_head;		/* N_hc: 0 = auto, else 1, 2, 4 or 8 */
	__u32	max_tokens;
	__u16	rankset_hint;		/* PIM_RANKSET_ANY or a rankset */
	__u16	rsvd0;
	__u32	rsvd1;
	__u64	placement;		/* optional: user array of layers x struct pim_kv_place */
	__u64	rsvd2[2];
};

/* Where one layer of a KV cache lives (written back by KV_ALLOC if asked). */
struct pim_kv_place {
	__u32	rankset;
	__u32	nr_ranks;		/* ranks holding this layer's heads */
	__u64	rank_mask;		/* bit r: global rank r */
};

/* PIM_OP_KV_APPEND / PIM_OP_KV_READ */
struct pim_kv_io {
	__u32	handle;
	__u32	layer;
	__u32	start;			/* READ: first token; APPEND: the layer's length */
	__u32	count;			/* tokens */
	__u64	k_addr;			/* count x kv_heads x head_dim elements */
	__u64	v_addr;			/* same shape */
	__u64	rsvd[2];
};

/*
 * PIM_OP_ATTN: one decode-attention job per (sequence, layer). q and out are
 * q_heads x head_dim FP32 values; scale is an FP32 bit pattern (0 means
 * 1/sqrt(head_dim)). All jobs are validated before any runs.
 */
struct pim_attn_job {
	__u32	handle;
	__u32	layer;
	__u32	ctx_len;		/* tokens attended, 1..layer length */
	__u32	scale;
	__u64	q_addr;
	__u64	out_addr;
};

struct pim_attn_batch {
	__u64	jobs;			/* user array of struct pim_attn_job */
	__u32	nr_jobs;		/* 1..PIM_MAX_ATTN_JOBS */
	__u32	rsvd0;
	__u64	rsvd[4];
};

/* PIM_OP_KV_FREE */
struct pim_kv_free {
	__u32	handle;
	__u32	rsvd0;
	__u64	rsvd[5];
};

/* PIM_OP_RAW_READ / PIM_OP_RAW_WRITE: CAP_SYS_ADMIN or raw_access=1. */
struct pim_raw_io {
	__u32	rank;			/* global rank index */
	__u32	len;			/* bytes, <= rank_bytes - offset */
	__u64	offset;			/* byte offset inside the rank */
	__u64	addr;			/* user buffer */
	__u64	rsvd[3];
};

/* The command body shared by all transports: 64 bytes. */
struct pim_cmd {
	__u8	opcode;			/* PIM_OP_* */
	__u8	flags;			/* PIM_CMD_F_* */
	__u16	rsvd0;
	__u32	rsvd1;
	__u64	user_data;		/* echoed in struct pim_cqe */
	union {
		struct pim_kv_alloc	kv_alloc;
		struct pim_kv_free	kv_free;
		struct pim_kv_io	kv_io;
		struct pim_attn_batch	attn;
		struct pim_raw_io	raw;
		__u64			args[6];
	};
};

/* A completion: 32 bytes. */
struct pim_cqe {
	__u64	user_data;
	__s32	res;			/* >= 0 on success, -errno on failure */
	__u32	flags;
	__u64	device_ns;		/* modeled L3 device time */
	__u64	rsvd;
};

/* PIM_IOC_SUBMIT: run one command and wait for it. */
struct pim_sync {
	struct pim_cmd	cmd;		/* in */
	struct pim_cqe	cqe;		/* out */
};

/* PIM_IOC_QUEUE_CREATE / PIM_IOC_QUEUE_DESTROY */
#define PIM_QUEUE_F_UNORDERED	(1U << 0)	/* completions may overtake each other */
#define PIM_QUEUE_F_ALL		PIM_QUEUE_F_UNORDERED

struct pim_queue_args {
	__u32	qid;			/* out for CREATE, in for DESTROY */
	__u32	depth;			/* commands in flight, power of two */
	__u32	flags;			/* PIM_QUEUE_F_* */
	__u32	rsvd0;
	__u64	rsvd[2];
};

/*
 * PIM_IOC_QUEUE_SUBMIT: queue nr commands from the user array at addr;
 * returns how many were accepted (fewer when the queue is full).
 * PIM_IOC_QUEUE_REAP: copy up to nr completions to the array at addr; returns
 * how many. With PIM_REAP_F_WAIT it sleeps (interruptibly) for at least one.
 */
#define PIM_REAP_F_WAIT		(1U << 0)

struct pim_queue_io {
	__u32	qid;
	__u32	nr;
	__u64	addr;
	__u32	flags;
	__u32	rsvd0;
	__u64	rsvd;
};

#define PIM_IOC_GET_INFO	_IOR(PIM_IOC_MAGIC, 0x00, struct pim_info)
#define PIM_IOC_SUBMIT		_IOWR(PIM_IOC_MAGIC, 0x01, struct pim_sync)
#define PIM_IOC_QUEUE_CREATE	_IOWR(PIM_IOC_MAGIC, 0x02, struct pim_queue_args)
#define PIM_IOC_QUEUE_DESTROY	_IOW(PIM_IOC_MAGIC, 0x03, struct pim_queue_args)
#define PIM_IOC_QUEUE_SUBMIT	_IOW(PIM_IOC_MAGIC, 0x04, struct pim_queue_io)
#define PIM_IOC_QUEUE_REAP	_IOWR(PIM_IOC_MAGIC, 0x05, struct pim_queue_io)

/* io_uring passthrough: sqe->cmd_op; sqe->cmd holds struct pim_cmd. */
#define PIM_URING_CMD_IO	_IOWR(PIM_IOC_MAGIC, 0x80, struct pim_cmd)

#endif /* _UAPI_LINUX_PIM_H */
