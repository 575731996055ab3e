/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pim_drv.h - internal objects of the emulated DIMM-PIM driver.
 *
 * A pim_device is one /dev/pimN over one backing region. A pim_file is one
 * open of it and owns every KV cache and queue it creates. A pim_req is one
 * command from any transport; it runs on the device's per-rank lanes and is
 * handed back to its transport when the last of its rank tasks is done.
 */
#ifndef PIM_DRV_H
#define PIM_DRV_H

#include <linux/cdev.h>
#include <linux/completion.h>
#include <linux/device.h>
#include <linux/idr.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/pim.h>

#include "pim_dm.h"

#define PIM_MAX_DEVS		8
#define PIM_MAX_QUEUES		16	/* per open file */
#define PIM_MAX_QUEUE_DEPTH	1024
/* Bytes of user data one command may move (KV data, raw, attention q). */
#define PIM_MAX_XFER		(16U << 20)
/* Tokens per kernel_fpu_begin/end section. */
#define PIM_FPU_TOKENS		256

struct io_uring_cmd;

enum pim_backing_kind {
	PIM_BACKING_RAM,
	PIM_BACKING_MEMMAP,
};

struct pim_backing {
	enum pim_backing_kind kind;
	phys_addr_t base;		/* memmap only */
	u64 size;
	void *mem;
	struct resource *res;		/* memmap only */
};

/* One rank's worker: tasks of that rank run in order, ranks in parallel. */
struct pim_lane {
	struct pim_device *pdev;
	u32 rank;
	spinlock_t lock;		/* tasks */
	struct list_head tasks;
	struct work_struct work;
	void *scratch;			/* attention unit state */
	size_t scratch_len;
};

/* Counters since load, per CPU so that submitters and lanes never share. */
struct pim_stats {
	u64 commands;
	u64 bytes_in;
	u64 bytes_out;
	u64 device_ns;
};

struct pim_device {
	struct device dev;
	struct cdev cdev;
	int id;
	struct pim_backing bk;
	struct pim_geometry geom;
	u32 nr_ranks;
	size_t tl_bytes;		/* pim_timeline_bytes() */

	struct mutex dm_lock;		/* placement state of dm */
	struct pim_dm *dm;
	void *dm_state;

	struct workqueue_struct *wq;
	struct pim_lane *lanes;

	struct pim_stats __percpu *stats;
};

/*
 * Dispatch order of a stream of requests. An ordered stream runs one
 * request at a time, so completions follow submission order and later
 * commands see the effect of earlier ones. An unordered stream dispatches at
 * once; a fence waits for everything before it.
 */
struct pim_stream {
	spinlock_t lock;		/* all of the stream */
	struct list_head pending;
	u32 running;
	bool ordered;
	bool kicking;
};

struct pim_file {
	struct pim_device *pdev;
	struct mutex lock;		/* kvs, queues */
	struct idr kvs;
	struct idr queues;
	u32 nr_queues;
	struct pim_stream ustream;	/* io_uring commands */
	wait_queue_head_t poll_wq;	/* queue completions, reap */
	atomic_t nr_ready;		/* completions waiting to be reaped */
	atomic_t inflight;		/* 1 + requests not yet completed */
	struct completion idle;		/* inflight reached 0 */
	bool dying;
};

/* A KV cache: the file's handle for a dm placement. */
struct pim_kvobj {
	struct kref ref;
	struct pim_device *pdev;
	struct mutex io_lock;		/* appends of this cache */
	u32 handle;
	bool placed;			/* holds device capacity */
	bool dead;			/* freed by its owner */
	struct pim_kv *kv;		/* points at kv_mem */
	unsigned long kv_mem[];		/* pim_kv_bytes() */
};

struct pim_queue {
	struct kref ref;
	struct pim_file *pf;
	struct mutex lock;		/* submit, reap, destroy */
	struct pim_stream st;
	struct mm_struct *mm;		/* user addresses belong here */
	u32 qid;
	u32 depth;
	u32 used;			/* in flight + not yet reaped */
	bool dead;
	spinlock_t done_lock;		/* done */
	struct list_head done;
	atomic_t inflight;		/* 1 + requests not yet completed */
	struct completion idle;
};

enum pim_xport {
	PIM_XPORT_SYNC,
	PIM_XPORT_QUEUE,
	PIM_XPORT_URING,
};

struct pim_req;

/* The part of a request that runs on one rank. */
struct pim_task {
	struct list_head node;
	struct pim_req *req;
	u32 rank;
};

struct pim_attn_kjob {
	struct pim_kvobj *kvo;
	u32 layer;
	u32 ctx_len;
	u32 scale;
	u32 qoff;			/* in the q and out arrays, u32 units */
	u64 out_addr;
};

struct pim_req {
	struct pim_file *pf;
	struct pim_stream *st;		/* NULL: dispatch at once */
	struct list_head node;		/* stream pending or queue done */
	enum pim_xport xport;
	union {
		struct completion done;		/* sync */
		struct pim_queue *queue;	/* queue */
		struct io_uring_cmd *ioucmd;	/* uring */
	};
	refcount_t ref;
	struct task_struct *owner;	/* sync and uring: who waits */
	struct pim_cmd cmd;
	struct pim_cqe cqe;
	bool early;			/* cqe.res set at submit */
	atomic_t pending;		/* rank tasks not yet done */
	int err;			/* first task error */

	struct pim_kvobj *kvo;		/* KV commands */
	void *buf;			/* bounce: KV data, raw, placement */
	size_t buf_len;

	struct pim_attn_kjob *jobs;	/* attention */
	u32 *q;
	u32 *out;
	u32 q_words;

	struct pim_timeline *tl;
	u32 nr_tasks;
	struct pim_task tasks[];
};

/* main.c */
extern bool pim_raw_access;

/* backing.c */
int pim_backing_memmap(struct pim_backing *bk, phys_addr_t base, u64 size);
int pim_backing_ram(struct pim_backing *bk, u64 size);
void pim_backing_release(struct pim_backing *bk);

/* dev.c */
extern struct class pim_class;
struct pim_device *pim_device_create(int id, const struct pim_backing *bk,
				     const struct pim_geometry *g, dev_t devt);
void pim_device_destroy(struct pim_device *pdev);
u64 pim_device_free_bytes(struct pim_device *pdev);
u64 pim_device_features(bool raw);

/* file.c */
extern const struct file_operations pim_fops;
struct pim_kvobj *pim_kv_get(struct pim_file *pf, u32 handle);
void pim_kv_put(struct pim_kvobj *kvo);
int pim_kv_publish(struct pim_file *pf, struct pim_kvobj *kvo);
int pim_kv_unpublish(struct pim_file *pf, struct pim_kvobj *kvo);
void pim_kv_drop(struct pim_file *pf, u32 handle);

/* prep.c */
int pim_req_prep(struct pim_req *req);
bool pim_cmd_is_nop(const struct pim_cmd *c);
bool pim_raw_allowed(void);

/* cmd.c: the one submit path */
struct pim_req *pim_req_new(struct pim_file *pf, const struct pim_cmd *cmd,
			    enum pim_xport xport);
bool pim_cmd_nop(struct pim_file *pf, const struct pim_cmd *cmd,
		 enum pim_xport xport, struct pim_cqe *cqe);
bool pim_req_is_inline(const struct pim_req *req);
void pim_req_run_inline(struct pim_req *req, struct pim_cqe *cqe);
void pim_req_submit(struct pim_req *req, struct pim_stream *st);
void pim_req_finish(struct pim_req *req);
void pim_req_put(struct pim_req *req);
void pim_req_task_done(struct pim_req *req, int err);
bool pim_req_cancelled(const struct pim_req *req);
void pim_stream_init(struct pim_stream *st, bool ordered);

/* exec.c */
int pim_lanes_init(struct pim_device *pdev);
void pim_lanes_destroy(struct pim_device *pdev);
void pim_exec_select_isa(void);
int pim_exec_start(struct pim_req *req);

/* queue.c */
long pim_queue_ioctl(struct pim_file *pf, unsigned int nr, void __user *arg);
void pim_queue_deliver(struct pim_req *req);
void pim_queues_release(struct pim_file *pf);

/* uring.c */
int pim_uring_cmd(struct io_uring_cmd *ioucmd, unsigned int issue_flags);
void pim_uring_deliver(struct pim_req *req);

#endif /* PIM_DRV_H */
