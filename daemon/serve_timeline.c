// SPDX-License-Identifier: GPL-2.0
/*
 * serve_timeline.c - what each iteration's stages really did, and when:
 * the last SERVE_TIMELINES timelines (GetTimeline), and the measured
 * figures derived from one (wall time, each side's busy time, and the
 * time both sides were busy at once).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

#define EVENT_SIG	"(yyuutt)"

struct timeline_rec {
	bool valid;
	uint64_t iter;
	struct serve_event *ev;
	uint32_t nev, cap;
};

struct serve_timeline {
	struct timeline_rec rec[SERVE_TIMELINES];
	uint64_t next;			/* iterations stored */
};

struct serve_timeline *serve_timeline_new(void)
{
	return calloc(1, sizeof(struct serve_timeline));
}

void serve_timeline_free(struct serve_timeline *tl)
{
	uint32_t i;

	if (!tl)
		return;
	for (i = 0; i < SERVE_TIMELINES; i++)
		free(tl->rec[i].ev);
	free(tl);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/*
 * Each side runs one stage at a time, so its busy time is the sum of its
 * stages, and the time both were busy the sum of pairwise intersections.
 */
void serve_walls_of(const struct serve_event *ev, uint32_t n,
		    struct serve_walls *w)
{
	uint32_t i, j;

	w->wall_ns = w->compute_ns = w->pim_ns = w->both_ns = 0;
	for (i = 0; i < n; i++) {
		uint64_t len = ev[i].end_ns - ev[i].start_ns;

		w->wall_ns = max_u64(w->wall_ns, ev[i].end_ns);
		if (ev[i].side == SERVE_SIDE_PIM) {
			w->pim_ns += len;
			continue;
		}
		w->compute_ns += len;
		for (j = 0; j < n; j++) {
			uint64_t a, b;

			if (ev[j].side != SERVE_SIDE_PIM)
				continue;
			a = max_u64(ev[i].start_ns, ev[j].start_ns);
			b = min_u64(ev[i].end_ns, ev[j].end_ns);
			w->both_ns += b > a ? b - a : 0;
		}
	}
}

int serve_timeline_store(struct serve_timeline *tl, uint64_t iter,
			 uint64_t start_ns, const struct serve_run *r,
			 struct serve_walls *w)
{
	struct timeline_rec *rec = &tl->rec[iter % SERVE_TIMELINES];

	w->iter = iter;
	w->start_ns = start_ns;
	serve_walls_of(r->ev, r->nev, w);
	rec->valid = false;
	tl->next = iter + 1;
	if (r->nev > rec->cap) {
		struct serve_event *ev = realloc(rec->ev,
						 r->nev * sizeof(*ev));

		if (!ev)
			return -ENOMEM;
		rec->ev = ev;
		rec->cap = r->nev;
	}
	memcpy(rec->ev, r->ev, r->nev * sizeof(*r->ev));
	rec->nev = r->nev;
	rec->iter = iter;
	rec->valid = true;
	return 0;
}

int serve_timeline_reply(struct serve_timeline *tl, sd_bus_message *m,
			 uint64_t iter, sd_bus_error *error)
{
	const struct timeline_rec *rec = &tl->rec[iter % SERVE_TIMELINES];
	sd_bus_message *reply = NULL;
	uint32_t i;
	int ret;

	if (iter >= tl->next)
		return pimd_error(error, -ENOENT, "iteration %" PRIu64
				  " has not run (%" PRIu64 " so far)", iter,
				  tl->next);
	if (!rec->valid || rec->iter != iter)
		return pimd_error(error, -ENOENT, "iteration %" PRIu64
				  " is no longer kept (the last %u are)",
				  iter, SERVE_TIMELINES);
	ret = sd_bus_message_new_method_return(m, &reply);
	ret = ret < 0 ? ret : sd_bus_message_open_container(reply, 'a',
							    EVENT_SIG);
	for (i = 0; ret >= 0 && i < rec->nev; i++) {
		const struct serve_event *e = &rec->ev[i];

		ret = sd_bus_message_append(reply, EVENT_SIG, e->side, e->sub,
					    e->layer, (uint32_t)e->stage,
					    e->start_ns, e->end_ns);
	}
	ret = ret < 0 ? ret : sd_bus_message_close_container(reply);
	ret = ret < 0 ? ret : sd_bus_send(NULL, reply, NULL);
	sd_bus_message_unref(reply);
	return ret;
}
