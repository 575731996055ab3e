// SPDX-License-Identifier: GPL-2.0
/*
 * timeline.c - what pimd measured, drawn: an ASCII Gantt chart of one
 * iteration (a GPU row and a PIM row, sub-batches as A and B), the share
 * of its wall time where both sides were busy, and a Chrome trace of the
 * whole run.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../../tests/daemon/client.h"
#include "timeline.h"

#define GANTT_COLS	96

static const char *const stage_name[] = { "qkv", "attn", "post", "head" };

static const char *stage_str(uint32_t stage)
{
	return stage < 4 ? stage_name[stage] : "?";
}

/* Append one record to a growing array; 0 or -ENOMEM. */
static int push(void **arr, uint32_t *n, uint32_t *cap, const void *rec,
		size_t size)
{
	if (*n == *cap) {
		uint32_t c = *cap ? 2 * *cap : 64;
		void *p = realloc(*arr, (size_t)c * size);

		if (!p)
			return -ENOMEM;
		*arr = p;
		*cap = c;
	}
	memcpy((char *)*arr + (size_t)(*n)++ * size, rec, size);
	return 0;
}

int demo_get_walls(sd_bus *bus, const char *s, struct demo_walls **out,
		   uint32_t *n)
{
	sd_bus_message *r = NULL;
	struct demo_walls w;
	uint32_t cap = 0;
	int ret;

	*out = NULL;
	*n = 0;
	ret = client_call(bus, s, PIM_SERVING, "GetIterationTimes", NULL, &r,
			  "tu", 0ULL, UINT32_MAX);
	ret = ret < 0 ? ret : sd_bus_message_enter_container(r, 'a',
							     WALLS_SIG);
	while (ret >= 0) {
		ret = sd_bus_message_read(r, WALLS_SIG, &w.iter, &w.start,
					  &w.wall, &w.compute, &w.pim,
					  &w.both);
		if (ret <= 0)
			break;
		ret = push((void **)out, n, &cap, &w, sizeof(w));
	}
	sd_bus_message_unref(r);
	return ret < 0 ? ret : 0;
}

int demo_get_timeline(sd_bus *bus, const char *s, uint64_t iter,
		      struct demo_event **out, uint32_t *n)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *r = NULL;
	struct demo_event ev;
	uint32_t cap = 0;
	int ret;

	*out = NULL;
	*n = 0;
	ret = client_call(bus, s, PIM_SERVING, "GetTimeline", &e, &r, "t",
			  iter);
	if (ret < 0)
		fprintf(stderr, "pimd-demo: GetTimeline(%" PRIu64 "): %s\n",
			iter, e.message);
	sd_bus_error_free(&e);
	ret = ret < 0 ? ret : sd_bus_message_enter_container(r, 'a',
							     EVENT_SIG);
	while (ret >= 0) {
		ret = sd_bus_message_read(r, EVENT_SIG, &ev.side, &ev.sub,
					  &ev.layer, &ev.stage, &ev.start,
					  &ev.end);
		if (ret <= 0)
			break;
		ret = push((void **)out, n, &cap, &ev, sizeof(ev));
	}
	sd_bus_message_unref(r);
	return ret < 0 ? ret : 0;
}

uint64_t demo_busiest(const struct demo_walls *w, uint32_t n)
{
	uint64_t best = 0, busy = 0;
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (w[i].compute + w[i].pim > busy) {
			busy = w[i].compute + w[i].pim;
			best = w[i].iter;
		}
	}
	return best;
}

/* The sub-batch that covers most of [a, b) on side, or '.' for none. */
static char cell(const struct demo_event *ev, uint32_t n, uint8_t side,
		 uint64_t a, uint64_t b)
{
	uint64_t cover[2] = { 0, 0 };
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint64_t lo = ev[i].start > a ? ev[i].start : a;
		uint64_t hi = ev[i].end < b ? ev[i].end : b;

		if (ev[i].side == side && ev[i].sub < 2 && hi > lo)
			cover[ev[i].sub] += hi - lo;
	}
	if (!cover[0] && !cover[1])
		return '.';
	return cover[1] > cover[0] ? 'B' : 'A';
}

void demo_gantt(FILE *f, const struct demo_walls *w,
		const struct demo_event *ev, uint32_t n)
{
	static const char *const row[2] = { "GPU", "PIM" };
	uint64_t wall = w->wall ? w->wall : 1;
	double serial = (double)(w->compute + w->pim);
	uint32_t c, side;

	fprintf(f, "timeline: iteration %" PRIu64 ", %u stages, wall %.1f us,"
		" one column %.2f us (A, B: sub-batches; .: idle)\n", w->iter,
		n, w->wall / 1e3, wall / 1e3 / GANTT_COLS);
	for (side = 0; side < 2; side++) {
		fprintf(f, "  %s |", row[side]);
		for (c = 0; c < GANTT_COLS; c++)
			fputc(cell(ev, n, side, wall * c / GANTT_COLS,
				   wall * (c + 1) / GANTT_COLS), f);
		fprintf(f, "|\n");
	}
	fprintf(f, "timeline: GPU busy %.1f us, PIM busy %.1f us, both busy "
		"%.1f us = %.1f%% of the wall time; measured serial sum "
		"%.1f us vs wall %.1f us (%.2fx)\n", w->compute / 1e3,
		w->pim / 1e3, w->both / 1e3, 100.0 * w->both / wall,
		serial / 1e3, w->wall / 1e3, serial / wall);
}

static void json_event(FILE *f, const struct demo_walls *w,
		       const struct demo_event *e)
{
	fprintf(f, ",\n{\"name\":\"%c %s L%u\",\"cat\":\"%s\",\"ph\":\"X\","
		"\"pid\":1,\"tid\":%u,\"ts\":%.3f,\"dur\":%.3f,\"args\":"
		"{\"iter\":%" PRIu64 ",\"sub\":\"%c\",\"layer\":%u}}",
		'A' + e->sub, stage_str(e->stage),
		e->layer, e->side ? "pim" : "compute", e->side + 1u,
		(w->start + e->start) / 1e3, (e->end - e->start) / 1e3,
		w->iter, 'A' + e->sub, e->layer);
}

int demo_trace_json(sd_bus *bus, const char *s, const char *path,
		    const struct demo_walls *w, uint32_t n)
{
	FILE *f = fopen(path, "w");
	struct demo_event *ev = NULL;
	uint32_t i, j, nev;
	int ret = 0;

	if (!f)
		return -errno;
	fprintf(f, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n"
		"{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,"
		"\"args\":{\"name\":\"pimd\"}},\n"
		"{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":1,"
		"\"args\":{\"name\":\"GPU (compute)\"}},\n"
		"{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":2,"
		"\"args\":{\"name\":\"PIM\"}}");
	/* pimd keeps the timelines of the last DEMO_TIMELINES iterations. */
	for (i = n > DEMO_TIMELINES ? n - DEMO_TIMELINES : 0; i < n && !ret;
	     i++) {
		ret = demo_get_timeline(bus, s, w[i].iter, &ev, &nev);
		for (j = 0; j < nev && !ret; j++)
			json_event(f, &w[i], &ev[j]);
		free(ev);
		ev = NULL;
	}
	fprintf(f, "\n]}\n");
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}
