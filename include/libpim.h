/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libpim.h - application library for the emulated L3 DIMM-PIM devices.
 *
 * Object model (as in libndctl/libdaxctl):
 *   struct pim_ctx      library context: backend, devices, logging;
 *   struct pim_dev      one device (/dev/pimN, or the in-process device);
 *   struct pim_kvcache  a KV cache placed on a device;
 *   struct pim_batch    a batch of decode-attention jobs;
 *   struct pim_queue    an asynchronous submission queue (io_uring).
 *
 * Every call that can fail returns 0 (or a count) on success and a negative
 * errno value on failure; errno itself is not part of the contract.
 *
 * Threads: a context and its devices may be used from any number of threads
 * at once. A KV cache may be shared between threads, but appends to one
 * cache are serialized by the library (each append goes to the end of its
 * layer). A batch and a queue belong to one thread at a time, like an
 * io_uring ring. Caches, batches and queues hold a reference on their
 * context, so the context lives until the last of them is freed.
 */
#ifndef LIBPIM_H
#define LIBPIM_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/pim.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pim_ctx;
struct pim_dev;
struct pim_kvcache;
struct pim_batch;
struct pim_queue;

/* ---- context ---- */

/* pim_new_with_flags(): which backend serves the context. */
#define PIM_CTX_KERNEL		(1U << 0)	/* /dev/pimN, the module */
#define PIM_CTX_INPROC		(1U << 1)	/* model in this process */

enum pim_backend_type {
	PIM_BACKEND_KERNEL = 1,
	PIM_BACKEND_INPROC = 2,
};

/*
 * pim_new() uses $PIM_BACKEND ("kernel" or "inproc"), else the kernel
 * backend. The in-process backend is never chosen silently.
 */
int pim_new(struct pim_ctx **ctx);
int pim_new_with_flags(struct pim_ctx **ctx, unsigned int flags);
struct pim_ctx *pim_ref(struct pim_ctx *ctx);
struct pim_ctx *pim_unref(struct pim_ctx *ctx);
enum pim_backend_type pim_get_backend(struct pim_ctx *ctx);
const char *pim_get_backend_name(struct pim_ctx *ctx);

typedef void (*pim_log_fn)(struct pim_ctx *ctx, int priority,
			   const char *file, int line, const char *fn,
			   const char *format, va_list args);
/* priority: syslog's LOG_ERR, LOG_INFO, LOG_DEBUG; $PIM_LOG sets it too. */
void pim_set_log_fn(struct pim_ctx *ctx, pim_log_fn log_fn);
int pim_get_log_priority(struct pim_ctx *ctx);
void pim_set_log_priority(struct pim_ctx *ctx, int priority);
void pim_set_userdata(struct pim_ctx *ctx, void *userdata);
void *pim_get_userdata(struct pim_ctx *ctx);

/* ---- devices ---- */

struct pim_dev *pim_dev_get_first(struct pim_ctx *ctx);
struct pim_dev *pim_dev_get_next(struct pim_dev *dev);
#define pim_dev_foreach(ctx, dev) \
	for (dev = pim_dev_get_first(ctx); dev; dev = pim_dev_get_next(dev))
/* The device whose id is id (N of /dev/pimN), or NULL. */
struct pim_dev *pim_dev_get_by_id(struct pim_ctx *ctx, unsigned int id);

struct pim_ctx *pim_dev_get_ctx(struct pim_dev *dev);
unsigned int pim_dev_get_id(struct pim_dev *dev);
const char *pim_dev_get_devname(struct pim_dev *dev);	/* "pim0" */
const char *pim_dev_get_devnode(struct pim_dev *dev);	/* "/dev/pim0" */
/* "memmap", "ram" or "inproc" */
const char *pim_dev_get_backing(struct pim_dev *dev);
const struct pim_geometry *pim_dev_get_geometry(struct pim_dev *dev);
uint64_t pim_dev_get_capacity(struct pim_dev *dev);
uint64_t pim_dev_get_features(struct pim_dev *dev);	/* PIM_F_* */

/* Live counters, read when called (sysfs, or the in-process device). */
struct pim_dev_stats {
	uint64_t capacity;
	uint64_t free;
	uint64_t commands;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t device_ns;
};

int pim_dev_get_stats(struct pim_dev *dev, struct pim_dev_stats *stats);
/* PIM_IOC_GET_INFO (opens the device if needed). */
int pim_dev_get_info(struct pim_dev *dev, struct pim_info *info);

/*
 * Run one raw command synchronously (PIM_IOC_SUBMIT): the escape hatch for
 * tools and tests. Returns cqe->res (the handle for PIM_OP_KV_ALLOC).
 * Handles in commands belong to this context's open device.
 */
int pim_dev_cmd(struct pim_dev *dev, struct pim_cmd *cmd,
		struct pim_cqe *cqe);

/* ---- KV caches ---- */

struct pim_kv_shape {
	unsigned int layers;
	unsigned int q_heads;
	unsigned int kv_heads;		/* divides q_heads */
	unsigned int head_dim;		/* multiple of 16, 16..256 */
	unsigned int dtype;		/* PIM_DTYPE_FP16 or _BF16 */
	unsigned int max_tokens;	/* per layer */
};

/* Placement hints; NULL means "let the device choose". */
struct pim_kv_hints {
	unsigned int rankset;		/* PIM_RANKSET_ANY or a rankset */
	unsigned int chips_per_head;	/* 0 (auto), 1, 2, 4 or 8 */
};

int pim_kvcache_new(struct pim_dev *dev, const struct pim_kv_shape *shape,
		    const struct pim_kv_hints *hints,
		    struct pim_kvcache **kv);
/* Frees the device memory and the object; returns the device's verdict. */
int pim_kvcache_free(struct pim_kvcache *kv);
struct pim_dev *pim_kvcache_get_dev(struct pim_kvcache *kv);
const struct pim_kv_shape *pim_kvcache_get_shape(struct pim_kvcache *kv);
unsigned int pim_kvcache_get_handle(struct pim_kvcache *kv);
/* Bytes of one token of K (or of V) in one layer: kv_heads * head_dim * 2. */
size_t pim_kvcache_token_bytes(struct pim_kvcache *kv);
/* Tokens appended to layer so far, or 0 for a layer that does not exist. */
unsigned int pim_kvcache_get_len(struct pim_kvcache *kv, unsigned int layer);
int pim_kvcache_get_placement(struct pim_kvcache *kv, unsigned int layer,
			      struct pim_kv_place *place);

/*
 * Append ntok tokens (1 for a decode step, many for a prefill) to the end
 * of layer. k and v hold ntok x kv_heads x head_dim elements each, bytes is
 * the size of each buffer. flags: PIM_CMD_F_HOST_RELAYOUT or
 * PIM_CMD_F_NO_RELAYOUT. device_ns may be NULL.
 */
int pim_kvcache_append(struct pim_kvcache *kv, unsigned int layer,
		       unsigned int ntok, const void *k, const void *v,
		       size_t bytes, unsigned int flags, uint64_t *device_ns);
int pim_kvcache_read(struct pim_kvcache *kv, unsigned int layer,
		     unsigned int start, unsigned int ntok, void *k, void *v,
		     size_t bytes);

/* ---- decode attention ---- */

int pim_batch_new(struct pim_dev *dev, unsigned int max_jobs,
		  struct pim_batch **batch);
void pim_batch_free(struct pim_batch *batch);
/*
 * Add one job: attend q over the first ctx_len tokens (0: all) of layer and
 * write out. q and out hold nfloat floats each, at least q_heads x head_dim.
 * scale 0 means 1/sqrt(head_dim). The buffers must stay valid until the job
 * has completed.
 */
int pim_batch_add(struct pim_batch *batch, struct pim_kvcache *kv,
		  unsigned int layer, unsigned int ctx_len, float scale,
		  const float *q, float *out, size_t nfloat);
/* Empty the batch; -EBUSY while it is queued. */
int pim_batch_reset(struct pim_batch *batch);
unsigned int pim_batch_get_count(struct pim_batch *batch);
/* Run the batch synchronously (ioctl fallback). */
int pim_batch_run(struct pim_batch *batch, uint64_t *device_ns);

/* ---- asynchronous queues ---- */

struct pim_completion {
	void *user;		/* as given when the command was queued */
	int res;		/* >= 0 on success, -errno on failure */
	uint32_t rsvd;
	uint64_t device_ns;	/* modeled device time */
};

int pim_queue_new(struct pim_dev *dev, unsigned int depth,
		  struct pim_queue **queue);
/*
 * PIM_QUEUE_IOCTL: the module's ioctl-driven queue instead of io_uring
 * (no effect on the in-process backend). pim_queue_new() falls back to it
 * by itself where io_uring is not available.
 */
#define PIM_QUEUE_IOCTL		(1U << 0)
int pim_queue_new_with_flags(struct pim_dev *dev, unsigned int depth,
			     unsigned int flags, struct pim_queue **queue);
/* Waits for the commands still in flight, then frees the queue. */
void pim_queue_free(struct pim_queue *queue);
struct pim_dev *pim_queue_get_dev(struct pim_queue *queue);
/*
 * An fd (eventfd) that is readable (POLLIN) while completions wait to be
 * reaped, for sd-event, epoll and the like; -errno on failure. Created on
 * the first call; pim_queue_reap() clears it.
 */
int pim_queue_get_fd(struct pim_queue *queue);
/* "io_uring", "ioctl" or "inproc". */
const char *pim_queue_get_transport(struct pim_queue *queue);
unsigned int pim_queue_get_depth(struct pim_queue *queue);
unsigned int pim_queue_get_in_flight(struct pim_queue *queue);

/*
 * Stage commands; nothing reaches the device before pim_queue_submit().
 * -EBUSY when depth commands are already staged or in flight.
 */
int pim_queue_attn(struct pim_queue *queue, struct pim_batch *batch,
		   void *user);
int pim_queue_nop(struct pim_queue *queue, void *user);
/* Any command; the memory it points to must outlive its completion. */
int pim_queue_cmd(struct pim_queue *queue, const struct pim_cmd *cmd,
		  void *user);
/* Returns the number of commands handed to the device. */
int pim_queue_submit(struct pim_queue *queue);

/* Wait for at least one completion, unless nothing is in flight. */
#define PIM_QUEUE_WAIT		(1U << 0)
/* Returns the number of completions stored in c (0..nr). */
int pim_queue_reap(struct pim_queue *queue, struct pim_completion *c,
		   unsigned int nr, unsigned int flags);

#ifdef __cplusplus
}
#endif

#endif /* LIBPIM_H */
