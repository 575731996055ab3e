/* SPDX-License-Identifier: GPL-2.0 */
/*
 * session.h - a session's state, shared by session.c (buffer, caches,
 * attention jobs) and serve.c (the serving loop run for the session).
 */
#ifndef PIMD_SESSION_H
#define PIMD_SESSION_H

#include "pimd.h"

#define PIMD_IFACE_SERVING	"org.l3pim.Pim1.Serving"

struct session {
	struct pimd *d;
	struct session *next;
	uint64_t id;
	char path[64];
	char *owner;			/* unique bus name of the creator */
	sd_bus_track *track;
	struct pim_ctx *ctx;
	struct pim_dev *dev;
	uint8_t *buf;			/* the client's memfd, mapped */
	size_t buf_size;
	struct pim_kvcache *caches[PIMD_MAX_CACHES];	/* handle - 1 */
	struct pim_queue *queue;
	sd_event_source *queue_src;
	unsigned int in_flight;		/* Attend calls unanswered */
	bool closed;			/* off the bus, maybe not freed */
	struct serve *serve;
};

int session_check_owner(struct session *s, sd_bus_message *m,
			sd_bus_error *error);
int session_range(struct session *s, uint64_t off, uint64_t len,
		  unsigned int align, sd_bus_error *error);

/* serve.c */
extern const sd_bus_vtable serve_vtable[];
/* Stop iterating (the session is closing); serve_free() frees. */
void serve_stop(struct serve *sv);
void serve_free(struct serve *sv);

#endif /* PIMD_SESSION_H */
