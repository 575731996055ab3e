/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * private.h - libpim's internal objects and the backend interface.
 */
#ifndef LIBPIM_PRIVATE_H
#define LIBPIM_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <syslog.h>
#include <libpim.h>

#define PIM_EXPORT __attribute__((visibility("default")))

struct pim_backend;

struct pim_ctx {
	int refcount;			/* atomic */
	int log_priority;
	pim_log_fn log_fn;
	void *userdata;
	const struct pim_backend *be;
	struct pim_dev *devs;		/* immutable after pim_new() */
};

struct pim_dev {
	struct pim_ctx *ctx;
	struct pim_dev *next;
	unsigned int id;
	char devname[32];
	char devnode[64];
	char syspath[256];
	char backing[16];
	struct pim_geometry geom;
	uint64_t capacity;
	uint64_t features;

	pthread_mutex_t lock;		/* opening and closing */
	bool opened;
	int fd;				/* kernel: -1 until first use */
	void *priv;			/* backend state */
};

struct pim_kvcache {
	struct pim_dev *dev;
	struct pim_kv_shape shape;
	unsigned int handle;
	size_t token_bytes;
	pthread_mutex_t lock;		/* appends and lengths */
	unsigned int *len;		/* tokens per layer */
	struct pim_kv_place *place;	/* per layer, from KV_ALLOC */
};

struct pim_batch {
	struct pim_dev *dev;
	unsigned int max_jobs;
	unsigned int count;
	bool busy;			/* queued, not yet reaped */
	struct pim_attn_job jobs[];
};

/* A staged or in-flight command of a queue. */
struct pim_slot {
	void *user;
	struct pim_batch *batch;	/* marked busy while queued */
	unsigned int next_free;
};

struct pim_queue_ops;

struct pim_queue {
	struct pim_dev *dev;
	const struct pim_queue_ops *ops;
	unsigned int depth;
	unsigned int staged;
	unsigned int in_flight;		/* staged ones included */
	unsigned int free_slot;
	struct pim_slot *slots;
	void *priv;			/* backend state */
};

/*
 * A queue transport. Commands carry tags (slot numbers) that come back in
 * cqe->user_data.
 */
struct pim_queue_ops {
	const char *name;
	int (*init)(struct pim_queue *q);
	void (*exit)(struct pim_queue *q);
	int (*fd)(struct pim_queue *q);
	int (*stage)(struct pim_queue *q, const struct pim_cmd *cmd,
		     uint64_t tag);
	int (*submit)(struct pim_queue *q);
	int (*reap)(struct pim_queue *q, struct pim_cqe *cqe, unsigned int nr,
		    bool wait);
};

/* What a backend provides. */
struct pim_backend {
	enum pim_backend_type type;
	const char *name;
	int (*scan)(struct pim_ctx *ctx);
	int (*dev_open)(struct pim_dev *dev);
	void (*dev_release)(struct pim_dev *dev);
	int (*dev_cmd)(struct pim_dev *dev, struct pim_cmd *cmd,
		       struct pim_cqe *cqe);
	int (*dev_info)(struct pim_dev *dev, struct pim_info *info);
	int (*dev_stats)(struct pim_dev *dev, struct pim_dev_stats *st);
	const struct pim_queue_ops *queue_ops;
	/* Module queues driven by ioctl (PIM_QUEUE_IOCTL); NULL if none. */
	const struct pim_queue_ops *ioctl_queue_ops;
};

extern const struct pim_backend pim_kernel_backend;
extern const struct pim_backend pim_inproc_backend;

/* ctx.c */
void pim_log(struct pim_ctx *ctx, int priority, const char *file, int line,
	     const char *fn, const char *format, ...)
	__attribute__((format(printf, 6, 7)));

#define pim_log_cond(ctx, prio, ...)					\
	do {								\
		if ((ctx)->log_priority >= (prio))			\
			pim_log(ctx, prio, __FILE__, __LINE__,		\
				__func__, __VA_ARGS__);			\
	} while (0)

#define err(ctx, ...)	pim_log_cond(ctx, LOG_ERR, __VA_ARGS__)
#define info(ctx, ...)	pim_log_cond(ctx, LOG_INFO, __VA_ARGS__)
#define dbg(ctx, ...)	pim_log_cond(ctx, LOG_DEBUG, __VA_ARGS__)

/* device.c */
struct pim_dev *pim_dev_alloc(struct pim_ctx *ctx, unsigned int id);
void pim_dev_add(struct pim_ctx *ctx, struct pim_dev *dev);
void pim_dev_free_all(struct pim_ctx *ctx);
int pim_dev_open(struct pim_dev *dev);

/* batch.c */
void pim_batch_prep(struct pim_batch *b, struct pim_cmd *cmd);

static inline uint64_t pim_ptr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

#endif /* LIBPIM_PRIVATE_H */
