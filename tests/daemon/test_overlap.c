// SPDX-License-Identifier: GPL-2.0
/*
 * test_overlap.c - drives a running pimd over D-Bus: the same trace served
 * with the sub-batches one after the other (overlap off) and ping-ponged
 * over the compute thread and the PIM side (overlap on) gives the same
 * tokens, both equal to the pure-CPU reference; every iteration's
 * timeline keeps the dependency order of each sub-batch and layer, each
 * side runs one stage at a time, and GetIterationTimes' figures are
 * what the timeline adds up to; the serial run never has both sides busy
 * and the overlapped one does. Bad GetTimeline and Configure calls get
 * their named errors.
 *
 * Run it with pimd on the bus (tests/daemon/host-test.sh, or the guest
 * suite).
 */
#include <stdbool.h>
#include <stdlib.h>

#include "client.h"
#include "../tap.h"
#include "daemon/cpu_model.h"
#include "gpu/gpu_cpu.h"

#define NREQ		4
#define MAX_NEW		6
#define LAYERS		2		/* pimd_tiny_model's */
#define MAX_EV		64

enum { QKV, ATTN, POST, HEAD };

struct ev {
	uint8_t side, sub;
	uint32_t layer, stage;
	uint64_t start, end;
};

struct walls {
	uint64_t iter, start, wall, compute, pim, both;
};

static sd_bus *bus;
static const uint32_t plen[NREQ] = { 40, 90, 61, 120 };

static void expect_err(const char *name, const char *what, const char *path,
		       const char *iface, const char *method,
		       const char *types, ...)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	va_list ap;
	int ret;

	va_start(ap, types);
	ret = client_callv(bus, path, iface, method, &e, NULL, types, ap);
	va_end(ap);
	tap_ok(ret < 0 && sd_bus_error_has_name(&e, name), "%s: %s (%s)",
	       what, e.name ?: "no error", e.message ?: "");
	sd_bus_error_free(&e);
}

static char *new_session(void)
{
	sd_bus_message *r = NULL;
	const char *p = NULL;
	char *path = NULL;

	if (client_call(bus, PIM_PATH, PIM_MANAGER, "CreateSession", NULL,
			&r, "s", "") >= 0 && sd_bus_message_read(r, "o", &p) > 0)
		path = strdup(p);
	sd_bus_message_unref(r);
	return path;
}

static void prompt_of(uint32_t i, uint32_t *p)
{
	uint32_t j;

	for (j = 0; j < plen[i]; j++)
		p[j] = (j * 53 + i * 17 + 3) % 256;
}

/* Configure, serve the trace, and collect each request's tokens. */
static int serve(const char *s, bool overlap, const char *clock,
		 uint32_t tok[NREQ][MAX_NEW])
{
	uint32_t prompt[128], i;
	uint64_t id[NREQ];
	int ret;

	ret = client_call(bus, s, PIM_SERVING, "Configure", NULL, NULL,
			  "a{sv}", 5, "compute", "s", "cpu", "seed", "t",
			  (uint64_t)3, "one_batch", "b", 0, "overlap", "b",
			  (int)overlap, "gpu_clock", "s", clock);
	for (i = 0; i < NREQ && ret >= 0; i++) {
		sd_bus_message *m = NULL, *r = NULL;

		prompt_of(i, prompt);
		ret = sd_bus_message_new_method_call(bus, &m, PIM_BUS, s,
						     PIM_SERVING, "AddRequest");
		ret = ret < 0 ? ret : sd_bus_message_append_array(m, 'u',
					prompt, plen[i] * 4);
		ret = ret < 0 ? ret : sd_bus_message_append(m, "u", MAX_NEW);
		ret = ret < 0 ? ret : sd_bus_call(bus, m, 0, NULL, &r);
		ret = ret < 0 ? ret : sd_bus_message_read(r, "t", &id[i]);
		sd_bus_message_unref(m);
		sd_bus_message_unref(r);
	}
	ret = ret < 0 ? ret : client_call(bus, s, PIM_SERVING, "Run", NULL,
					  NULL, "u", 1000);
	for (i = 0; i < NREQ && ret >= 0; i++) {
		sd_bus_message *r = NULL;
		const uint32_t *got = NULL;
		int finished = 0, status = 0;
		uint32_t generated = 0;
		size_t bytes = 0;

		ret = client_call(bus, s, PIM_SERVING, "GetOutput", NULL, &r,
				  "t", id[i]);
		ret = ret < 0 ? ret : sd_bus_message_read(r, "biu", &finished,
							  &status, &generated);
		ret = ret < 0 ? ret : sd_bus_message_read_array(r, 'u',
					(const void **)&got, &bytes);
		if (ret >= 0 && (!finished || status ||
				 bytes != MAX_NEW * 4))
			ret = -EBADMSG;
		if (ret >= 0)
			memcpy(tok[i], got, bytes);
		sd_bus_message_unref(r);
	}
	return ret;
}

static int get_walls(const char *s, struct walls *w, uint32_t max,
		     uint32_t *n)
{
	sd_bus_message *r = NULL;
	int ret;

	*n = 0;
	ret = client_call(bus, s, PIM_SERVING, "GetIterationTimes", NULL, &r,
			  "tu", 0ULL, max);
	ret = ret < 0 ? ret : sd_bus_message_enter_container(r, 'a',
							     "(tttttt)");
	while (ret >= 0 && *n < max) {
		struct walls *x = &w[*n];

		ret = sd_bus_message_read(r, "(tttttt)", &x->iter, &x->start,
					  &x->wall, &x->compute, &x->pim,
					  &x->both);
		if (ret > 0)
			(*n)++;
		else
			break;
	}
	sd_bus_message_unref(r);
	return ret;
}

/* Non-empty sub-batches of each iteration, from GetIterations. */
static int get_subs(const char *s, uint32_t *subs, uint32_t max)
{
	sd_bus_message *r = NULL;
	uint32_t n = 0;
	int ret;

	ret = client_call(bus, s, PIM_SERVING, "GetIterations", NULL, &r,
			  "tu", 0ULL, max);
	ret = ret < 0 ? ret : sd_bus_message_enter_container(r, 'a',
						"(tuuuuuttttttt)");
	while (ret >= 0 && n < max) {
		uint64_t it, t[7];
		uint32_t b0, b1, u[3];

		ret = sd_bus_message_read(r, "(tuuuuuttttttt)", &it, &b0, &b1,
					  &u[0], &u[1], &u[2], &t[0], &t[1],
					  &t[2], &t[3], &t[4], &t[5], &t[6]);
		if (ret <= 0)
			break;
		subs[n++] = !!b0 + !!b1;
	}
	sd_bus_message_unref(r);
	return ret;
}

static int get_timeline(const char *s, uint64_t iter, struct ev *ev,
			uint32_t *n)
{
	sd_bus_message *r = NULL;
	int ret;

	*n = 0;
	ret = client_call(bus, s, PIM_SERVING, "GetTimeline", NULL, &r, "t",
			  iter);
	ret = ret < 0 ? ret : sd_bus_message_enter_container(r, 'a',
							     "(yyuutt)");
	while (ret >= 0 && *n < MAX_EV) {
		struct ev *e = &ev[*n];

		ret = sd_bus_message_read(r, "(yyuutt)", &e->side, &e->sub,
					  &e->layer, &e->stage, &e->start,
					  &e->end);
		if (ret > 0)
			(*n)++;
		else
			break;
	}
	sd_bus_message_unref(r);
	return ret;
}

static const struct ev *find(const struct ev *ev, uint32_t n, uint8_t sub,
			     uint32_t layer, uint32_t stage)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (ev[i].sub == sub && ev[i].layer == layer &&
		    ev[i].stage == stage)
			return &ev[i];
	return NULL;
}

/* Each sub-batch's stages exist once and run in dependency order. */
static const char *check_order(const struct ev *ev, uint32_t n,
			       uint32_t subs)
{
	uint32_t i, l;
	uint8_t s;

	if (n != subs * (3 * LAYERS + 1))
		return "stage count";
	for (i = 0; i < n; i++) {
		if (ev[i].stage > HEAD || ev[i].sub >= subs ||
		    ev[i].layer >= LAYERS || ev[i].end < ev[i].start)
			return "stage, sub-batch, layer or times";
		if (ev[i].side != (ev[i].stage == ATTN))
			return "side";
	}
	for (s = 0; s < subs; s++) {
		const struct ev *prev = NULL;

		for (l = 0; l < LAYERS; l++) {
			const struct ev *q = find(ev, n, s, l, QKV);
			const struct ev *a = find(ev, n, s, l, ATTN);
			const struct ev *p = find(ev, n, s, l, POST);

			if (!q || !a || !p)
				return "missing stage";
			if ((prev && prev->end > q->start) ||
			    q->end > a->start || a->end > p->start)
				return "dependency order";
			prev = p;
		}
		if (!find(ev, n, s, LAYERS - 1, HEAD) ||
		    prev->end > find(ev, n, s, LAYERS - 1, HEAD)->start)
			return "head after the last layer";
	}
	return NULL;
}

/* One stage at a time per side; sums and overlap as pimd reports them. */
static const char *check_accounting(const struct ev *ev, uint32_t n,
				    const struct walls *w)
{
	uint64_t busy[2] = { 0, 0 }, both = 0, wall = 0;
	uint32_t i, j;

	for (i = 0; i < n; i++) {
		busy[ev[i].side] += ev[i].end - ev[i].start;
		if (ev[i].end > wall)
			wall = ev[i].end;
		for (j = 0; j < n; j++) {
			uint64_t a, b;

			if (j == i)
				continue;
			a = ev[i].start > ev[j].start ? ev[i].start :
			    ev[j].start;
			b = ev[i].end < ev[j].end ? ev[i].end : ev[j].end;
			if (b <= a)
				continue;
			if (ev[i].side == ev[j].side)
				return "one side ran two stages at once";
			if (ev[i].side == 0)
				both += b - a;
		}
	}
	if (busy[0] != w->compute || busy[1] != w->pim)
		return "busy times";
	if (both != w->both || wall != w->wall)
		return "both-busy or wall time";
	if (w->both > w->compute || w->both > w->pim ||
	    w->compute + w->pim - w->both > w->wall)
		return "both-busy beyond what the sides did";
	return NULL;
}

/*
 * Every iteration's timeline: NULL if all are sound, else what is not;
 * *both counts iterations with both sides busy at once.
 */
static const char *check_timelines(const char *s, uint32_t *two_sub,
				   uint32_t *both)
{
	static struct walls w[256];
	static uint32_t subs[256];
	struct ev ev[MAX_EV];
	const char *bad = NULL;
	uint32_t n = 0, i, nev;
	int ret;

	ret = get_walls(s, w, 256, &n);
	ret = ret < 0 ? ret : get_subs(s, subs, 256);
	if (ret < 0 || !n)
		return "GetIterationTimes or GetIterations";
	*two_sub = *both = 0;
	for (i = 0; i < n && !bad; i++) {
		if (w[i].iter != i || (i && w[i].start < w[i - 1].start +
				       w[i - 1].wall)) {
			bad = "iteration numbers or start times";
			break;
		}
		ret = get_timeline(s, i, ev, &nev);
		bad = ret < 0 ? "GetTimeline" : check_order(ev, nev, subs[i]);
		bad = bad ?: check_accounting(ev, nev, &w[i]);
		*two_sub += subs[i] == 2;
		*both += w[i].both > 0;
	}
	return bad;
}

#define TIMELINE_OK	"every timeline in dependency order, one stage at a " \
			"time per side, figures as GetIterationTimes reports"

static void test_overlap(void)
{
	static uint32_t serial[NREQ][MAX_NEW], pingpong[NREQ][MAX_NEW];
	uint32_t want[MAX_NEW], prompt[128], i, two_sub = 0, both = 0;
	struct gpu_backend *gb = NULL;
	char *s = new_session();
	bool same = true, ref = true;
	const char *bad;
	int ret, runs;

	if (!tap_ok(s != NULL, "serving session"))
		return;
	ret = serve(s, false, "model", serial);
	tap_ok(ret >= 0, "overlap off: %u requests served", NREQ);
	bad = check_timelines(s, &two_sub, &both);
	tap_ok(!bad, "overlap off: " TIMELINE_OK "%s%s", bad ? ": " : "",
	       bad ?: "");
	tap_ok(!bad && !both && two_sub, "overlap off: %u two-sub-batch "
	       "iterations, never both sides busy at once", two_sub);
	/*
	 * Whether the sides' stages meet in wall time is up to the kernel's
	 * scheduler on a loaded machine: a few runs give it the chance.
	 */
	for (runs = 1; runs <= 5; runs++) {
		ret = serve(s, true, "measured", pingpong);
		bad = ret < 0 ? "serving" :
		      check_timelines(s, &two_sub, &both);
		if (bad || both)
			break;
	}
	tap_ok(!bad, "overlap on: " TIMELINE_OK "%s%s", bad ? ": " : "",
	       bad ?: "");
	tap_ok(!bad && both && two_sub, "overlap on: both sides busy at once "
	       "in %u iterations (%u with two sub-batches, run %d)", both,
	       two_sub, runs);
	for (i = 0; i < NREQ; i++)
		same &= !memcmp(serial[i], pingpong[i], sizeof(serial[i]));
	tap_ok(ret >= 0 && same, "overlap on and off give the same tokens");
	ret = pimd_cpu_backend_new(&pimd_tiny_model, 3, &gb);
	for (i = 0; i < NREQ && !ret; i++) {
		prompt_of(i, prompt);
		ret = gpu_cpu_reference_generate(gb, prompt, plen[i], MAX_NEW,
						 GPU_KV_FP16, want);
		ref &= !ret && !memcmp(want, pingpong[i], sizeof(want));
	}
	tap_ok(!ret && ref, "and they equal the pure-CPU reference");
	gpu_backend_destroy(gb);
	client_call(bus, s, PIM_SESSION, "Close", NULL, NULL, NULL);
	free(s);
}

/* Where the plugin, the driver or a GPU is missing: NoDevice, and why. */
static void test_compute_cuda(const char *s)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	int ret;

	ret = client_call(bus, s, PIM_SERVING, "Configure", &e, NULL,
			  "a{sv}", 1, "compute", "s", "cuda");
	tap_ok(ret >= 0 || (sd_bus_error_has_name(&e, PIM_ERR("NoDevice")) &&
			    strstr(e.message, "compute cuda: ")),
	       "Configure: compute cuda: %s",
	       ret >= 0 ? "a CUDA GPU serves" : e.message);
	sd_bus_error_free(&e);
}

static void test_bad_calls(void)
{
	sd_bus_message *r = NULL;
	const char *clock = NULL;
	char *s = new_session();
	int ret;

	if (!tap_ok(s != NULL, "second session"))
		return;
	expect_err(PIM_ERR("NotConfigured"), "GetTimeline before Configure",
		   s, PIM_SERVING, "GetTimeline", "t", 0ULL);
	expect_err(PIM_ERR("NotConfigured"),
		   "GetIterationTimes before Configure", s, PIM_SERVING,
		   "GetIterationTimes", "tu", 0ULL, 10);
	ret = client_call(bus, s, PIM_SERVING, "Configure", NULL, NULL,
			  "a{sv}", 1, "compute", "s", "cpu");
	tap_ok(ret >= 0, "Configure: compute cpu");
	expect_err(PIM_ERR("NoSuchObject"), "GetTimeline of an iteration "
		   "not run", s, PIM_SERVING, "GetTimeline", "t", 0ULL);
	expect_err(PIM_ERR("NoSuchObject"), "GetTimeline of iteration 2^64-1",
		   s, PIM_SERVING, "GetTimeline", "t", UINT64_MAX);
	expect_err("org.freedesktop.DBus.Error.InvalidArgs",
		   "GetTimeline with a string", s, PIM_SERVING,
		   "GetTimeline", "s", "0");
	expect_err(PIM_ERR("InvalidArgument"), "Configure: gpu_clock sundial",
		   s, PIM_SERVING, "Configure", "a{sv}", 1, "gpu_clock", "s",
		   "sundial");
	expect_err(PIM_ERR("InvalidArgument"), "Configure: gpu_clock measured"
		   " without a compute backend", s, PIM_SERVING, "Configure",
		   "a{sv}", 2, "compute", "s", "none", "gpu_clock", "s",
		   "measured");
	expect_err(PIM_ERR("InvalidArgument"), "Configure: overlap as a "
		   "string", s, PIM_SERVING, "Configure", "a{sv}", 1,
		   "overlap", "s", "yes");
	expect_err(PIM_ERR("InvalidArgument"), "Configure: compute tpu", s,
		   PIM_SERVING, "Configure", "a{sv}", 1, "compute", "s",
		   "tpu");
	expect_err(PIM_ERR("InvalidArgument"), "Configure: model huge", s,
		   PIM_SERVING, "Configure", "a{sv}", 1, "model", "s",
		   "huge");
	ret = client_call(bus, s, PIM_SERVING, "GetServingStats", NULL, &r,
			  NULL);
	ret = ret < 0 ? ret : sd_bus_message_enter_container(r, 'a', "{sv}");
	while (ret >= 0 && sd_bus_message_enter_container(r, 'e', "sv") > 0) {
		const char *key = NULL;

		ret = sd_bus_message_read(r, "s", &key);
		if (ret >= 0 && !strcmp(key, "gpu_clock"))
			ret = sd_bus_message_read(r, "v", "s", &clock);
		else
			ret = ret < 0 ? ret : sd_bus_message_skip(r, "v");
		ret = ret < 0 ? ret : sd_bus_message_exit_container(r);
	}
	tap_ok(ret >= 0 && clock && !strcmp(clock, "model"),
	       "refused calls changed nothing: gpu_clock %s",
	       clock ?: "?");
	sd_bus_message_unref(r);
	test_compute_cuda(s);
	client_call(bus, s, PIM_SESSION, "Close", NULL, NULL, NULL);
	free(s);
}

int main(void)
{
	int ret;

	printf("TAP version 13\n");
	ret = client_open(&bus);
	ret = ret < 0 ? ret : client_wait_name(bus, 20);
	if (!tap_ok(ret >= 0, "pimd is on the bus: %s",
		    ret < 0 ? strerror(-ret) : "yes"))
		return tap_done();
	test_overlap();
	test_bad_calls();
	sd_bus_flush_close_unref(bus);
	return tap_done();
}
