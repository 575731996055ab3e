/* SPDX-License-Identifier: GPL-2.0 */
/*
 * timeline.h - the demo client's view of pimd's measured timelines
 * (GetIterationTimes, GetTimeline): an ASCII Gantt chart of one
 * iteration, and a Chrome trace (chrome://tracing, Perfetto) of a run.
 */
#ifndef PIMD_DEMO_TIMELINE_H
#define PIMD_DEMO_TIMELINE_H

#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

#define WALLS_SIG	"(tttttt)"
#define EVENT_SIG	"(yyuutt)"
#define DEMO_TIMELINES	1024	/* pimd's SERVE_TIMELINES */

/* GetIterationTimes: one iteration's measured figures, in ns. */
struct demo_walls {
	uint64_t iter, start, wall, compute, pim, both;
};

/* GetTimeline: one stage. side 0 compute, 1 PIM; stage as pimd's. */
struct demo_event {
	uint8_t side, sub;
	uint32_t layer, stage;
	uint64_t start, end;
};

/* All of a session's iteration times; *n of them in *out (malloc'd). */
int demo_get_walls(sd_bus *bus, const char *s, struct demo_walls **out,
		   uint32_t *n);
/* Iteration iter's stages; *n of them in *out (malloc'd). */
int demo_get_timeline(sd_bus *bus, const char *s, uint64_t iter,
		      struct demo_event **out, uint32_t *n);
/* The iteration with the most busy time on both sides together. */
uint64_t demo_busiest(const struct demo_walls *w, uint32_t n);
/* The Gantt chart of one iteration and its measured overlap. */
void demo_gantt(FILE *f, const struct demo_walls *w,
		const struct demo_event *ev, uint32_t n);
/* The last DEMO_TIMELINES iterations as a Chrome trace; 0 or -errno. */
int demo_trace_json(sd_bus *bus, const char *s, const char *path,
		    const struct demo_walls *w, uint32_t n);

#endif /* PIMD_DEMO_TIMELINE_H */
