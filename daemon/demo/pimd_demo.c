// SPDX-License-Identifier: GPL-2.0
/*
 * pimd_demo.c - the main job's client: sends a trace of long-context
 * requests to pimd, serves it with the adaptive scheduler, prints the
 * per-iteration and total figures (tokens, batch sizes, modeled device
 * time, GPU time, modeled and measured overlap, predictor error), the
 * Gantt chart of one iteration's measured timeline, and checks every
 * generated token against a pure-CPU reference decode computed here, from
 * the same seed, with the same CPU transformer and host attention over
 * FP16 KV.
 *
 *	pimd-demo [--requests N] [--prompt MIN:MAX] [--new MIN:MAX]
 *		  [--trace FILE] [--seed S] [--policy P] [--gpu NAME]
 *		  [--model tiny|small] [--compute cpu|cuda|none]
 *		  [--gpu-clock model|measured] [--serial]
 *		  [--timeline N] [--timeline-json FILE] [--quiet]
 *
 * A trace file has one request per line: "PROMPT_TOKENS MAX_NEW".
 * Exit status: 0 when the run completed and every token matched.
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <pim/prng.h>

#include "../../tests/daemon/client.h"
#include "../cpu_model.h"
#include "gpu/gpu_cpu.h"
#include "timeline.h"

#define MAX_REQ		1024
#define ITER_SIG	"(tuuuuuttttttt)"
#define DEMO_RUN_TIMEOUT_USEC	(3600ULL * 1000000)	/* one hour */

struct req {
	uint32_t prompt_len, max_new;
	uint32_t *prompt;
	uint64_t id;
};

struct opts {
	uint32_t nreq, pmin, pmax, nmin, nmax;
	uint64_t seed;
	const char *trace, *policy, *gpu, *compute, *model, *gpu_clock;
	const char *timeline_json;
	int64_t timeline;		/* iteration to draw; -1: the busiest */
	bool quiet, serial;
	const struct gpu_model *m;
};

static uint32_t pick(uint64_t *s, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(prng_splitmix64(s) % (hi - lo + 1));
}

static int load_trace(const struct opts *o, struct req *r, uint32_t *n)
{
	uint64_t s = o->seed;
	uint32_t i, j;

	*n = 0;
	if (o->trace) {
		FILE *f = fopen(o->trace, "r");

		if (!f)
			return -errno;
		while (*n < MAX_REQ && fscanf(f, "%u %u", &r[*n].prompt_len,
					      &r[*n].max_new) == 2)
			if (r[*n].prompt_len && r[*n].max_new)
				(*n)++;
		fclose(f);
	} else {
		for (; *n < o->nreq; (*n)++) {
			r[*n].prompt_len = pick(&s, o->pmin, o->pmax);
			r[*n].max_new = pick(&s, o->nmin, o->nmax);
		}
	}
	for (i = 0; i < *n; i++) {
		r[i].prompt = malloc(r[i].prompt_len * sizeof(uint32_t));
		if (!r[i].prompt)
			return -ENOMEM;
		for (j = 0; j < r[i].prompt_len; j++)
			r[i].prompt[j] = prng_splitmix64(&s) % o->m->vocab;
	}
	return *n ? 0 : -EINVAL;
}

/* ---- talking to pimd ---- */

static int configure(sd_bus *bus, const char *s, const struct opts *o)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL;
	int ret;

	ret = sd_bus_message_new_method_call(bus, &m, PIM_BUS, s, PIM_SERVING,
					     "Configure");
	ret = ret < 0 ? ret : sd_bus_message_open_container(m, 'a', "{sv}");
	ret = ret < 0 ? ret : sd_bus_message_append(m, "{sv}{sv}{sv}{sv}"
			"{sv}{sv}", "seed", "t", o->seed, "policy", "s",
			o->policy, "gpu", "s", o->gpu, "compute", "s",
			o->compute, "model", "s", o->model, "overlap", "b",
			(int)!o->serial);
	/* gpu_clock only when given: pimd's default follows compute. */
	if (ret >= 0 && o->gpu_clock)
		ret = sd_bus_message_append(m, "{sv}", "gpu_clock", "s",
					    o->gpu_clock);
	ret = ret < 0 ? ret : sd_bus_message_close_container(m);
	ret = ret < 0 ? ret : sd_bus_call(bus, m, 120 * 1000000ULL, &e,
					  NULL);
	if (ret < 0)
		fprintf(stderr, "pimd-demo: Configure: %s\n",
			e.message ?: strerror(-ret));
	sd_bus_error_free(&e);
	sd_bus_message_unref(m);
	return ret;
}

static int add_requests(sd_bus *bus, const char *s, struct req *r,
			uint32_t n)
{
	uint32_t i;
	int ret = 0;

	for (i = 0; i < n && ret >= 0; i++) {
		sd_bus_message *m = NULL, *reply = NULL;

		ret = sd_bus_message_new_method_call(bus, &m, PIM_BUS, s,
						     PIM_SERVING, "AddRequest");
		ret = ret < 0 ? ret : sd_bus_message_append_array(m, 'u',
					r[i].prompt, r[i].prompt_len * 4);
		ret = ret < 0 ? ret : sd_bus_message_append(m, "u",
							    r[i].max_new);
		ret = ret < 0 ? ret : sd_bus_call(bus, m, 0, NULL, &reply);
		ret = ret < 0 ? ret : sd_bus_message_read(reply, "t",
							  &r[i].id);
		sd_bus_message_unref(m);
		sd_bus_message_unref(reply);
	}
	return ret;
}

/* Run replies once the whole trace is served: minutes under TCG. */
static int run_all(sd_bus *bus, const char *s, uint32_t *done)
{
	sd_bus_message *m = NULL, *reply = NULL;
	int ret;

	ret = sd_bus_message_new_method_call(bus, &m, PIM_BUS, s, PIM_SERVING,
					     "Run");
	ret = ret < 0 ? ret : sd_bus_message_append(m, "u", UINT32_MAX);
	ret = ret < 0 ? ret : sd_bus_call(bus, m, DEMO_RUN_TIMEOUT_USEC, NULL,
					  &reply);
	ret = ret < 0 ? ret : sd_bus_message_read(reply, "u", done);
	sd_bus_message_unref(m);
	sd_bus_message_unref(reply);
	return ret;
}

static double rel(uint64_t pred, uint64_t got)
{
	return got ? fabs((double)pred - (double)got) / (double)got : 0;
}

static void print_err(uint64_t pred, uint64_t got, const char *end)
{
	if (pred)
		printf("%6.1f%%%s", 100 * rel(pred, got), end);
	else
		printf("%7s%s", "-", end);
}

static int print_iterations(sd_bus *bus, const char *s, bool quiet,
			    const struct demo_walls *w, uint32_t nw)
{
	sd_bus_message *r = NULL;
	uint64_t it, g0, g1, p0, p1, pg, pp, in;
	uint32_t b0, b1, nd, pt, ot;
	int ret;

	ret = client_call(bus, s, PIM_SERVING, "GetIterations", NULL, &r,
			  "tu", 0ULL, 100000);
	ret = ret < 0 ? ret : sd_bus_message_enter_container(r, 'a',
							     ITER_SIG);
	if (!quiet)
		printf("%5s %5s %5s %5s %6s %4s %9s %9s %9s %8s %7s %7s "
		       "%9s %6s\n", "iter", "sb0", "sb1", "dec", "prefil",
		       "tok", "gpu_us", "pim_us", "iter_us", "overlap",
		       "gpu_err", "pim_err", "wall_us", "both");
	while (ret >= 0) {
		double serial;

		ret = sd_bus_message_read(r, ITER_SIG, &it, &b0, &b1, &nd, &pt,
					  &ot, &g0, &g1, &p0, &p1, &pg, &pp,
					  &in);
		if (ret <= 0)
			break;
		serial = (double)(g0 + g1 + p0 + p1);
		if (quiet)
			continue;
		printf("%5" PRIu64 " %5u %5u %5u %6u %4u %9.2f %9.2f %9.2f "
		       "%7.1f%% ", it, b0, b1, nd, pt, ot, (g0 + g1) / 1e3,
		       (p0 + p1) / 1e3, in / 1e3,
		       serial ? 100 * (serial - in) / serial : 0);
		/* No prediction yet: the predictors are still warming up. */
		print_err(pg, g0 + g1, " ");
		print_err(pp, p0 + p1, " ");
		/* Measured: wall time, and the share both sides were busy. */
		if (it < nw && w[it].iter == it)
			printf("%9.2f %5.1f%%\n", w[it].wall / 1e3,
			       w[it].wall ? 100.0 * w[it].both / w[it].wall :
			       0);
		else
			printf("%9s %6s\n", "-", "-");
	}
	sd_bus_message_unref(r);
	return ret;
}

static void print_measured(const struct demo_walls *w, uint32_t n)
{
	uint64_t wall = 0, gpu = 0, pim = 0, both = 0;
	uint32_t i;

	for (i = 0; i < n; i++) {
		wall += w[i].wall;
		gpu += w[i].compute;
		pim += w[i].pim;
		both += w[i].both;
	}
	printf("measured: wall %.3f ms, GPU side busy %.3f ms, PIM side busy "
	       "%.3f ms, serial sum %.3f ms\n", wall / 1e6, gpu / 1e6,
	       pim / 1e6, (gpu + pim) / 1e6);
	printf("measured: both sides busy %.3f ms = %.1f%% of the wall time; "
	       "serial sum / wall %.2fx\n", both / 1e6,
	       wall ? 100.0 * both / wall : 0,
	       wall ? (double)(gpu + pim) / wall : 0);
	printf("bench demo-measured-overlap %.3f x\n",
	       wall ? (double)(gpu + pim) / wall : 0);
	printf("bench demo-measured-both-busy %.4f x\n",
	       wall ? (double)both / wall : 0);
}

static int print_totals(sd_bus *bus, const char *s)
{
	uint64_t gpu = 0, pim = 0, iter = 0, serial = 0, iters = 0, tok = 0;
	double pim_err = 0, gpu_err = 0;
	sd_bus_message *r = NULL;
	const char *key, *sig;
	int ret;

	ret = client_call(bus, s, PIM_SERVING, "GetServingStats", NULL, &r,
			  NULL);
	ret = ret < 0 ? ret : sd_bus_message_enter_container(r, 'a', "{sv}");
	while (ret >= 0 &&
	       sd_bus_message_enter_container(r, 'e', "sv") > 0) {
		uint64_t *u = NULL;
		double *d = NULL;

		sd_bus_message_read(r, "s", &key);
		sd_bus_message_peek_type(r, NULL, &sig);
		if (!strcmp(key, "gpu_ns"))
			u = &gpu;
		else if (!strcmp(key, "pim_ns"))
			u = &pim;
		else if (!strcmp(key, "iter_ns"))
			u = &iter;
		else if (!strcmp(key, "serial_ns"))
			u = &serial;
		else if (!strcmp(key, "iterations"))
			u = &iters;
		else if (!strcmp(key, "tokens"))
			u = &tok;
		else if (!strcmp(key, "pim_err_median"))
			d = &pim_err;
		else if (!strcmp(key, "gpu_err_median"))
			d = &gpu_err;
		if (u)
			ret = sd_bus_message_read(r, "v", "t", u);
		else if (d)
			ret = sd_bus_message_read(r, "v", "d", d);
		else
			ret = sd_bus_message_skip(r, "v");
		ret = ret < 0 ? ret : sd_bus_message_exit_container(r);
	}
	sd_bus_message_unref(r);
	if (ret < 0)
		return ret;
	printf("total: %" PRIu64 " iterations, %" PRIu64 " tokens\n", iters,
	       tok);
	printf("total: GPU %.3f ms, PIM (modeled device) %.3f ms, serial "
	       "%.3f ms, overlapped %.3f ms\n", gpu / 1e6, pim / 1e6,
	       serial / 1e6, iter / 1e6);
	printf("total: overlap achieved %.1f%% of the serial time hidden "
	       "(%.2fx), predictor median error GPU %.2f%%, PIM %.2f%%\n",
	       serial ? 100.0 * (serial - iter) / serial : 0,
	       iter ? (double)serial / iter : 0, 100 * gpu_err,
	       100 * pim_err);
	printf("bench demo-overlap %.3f x\n",
	       iter ? (double)serial / iter : 0);
	printf("bench demo-pim-pred-err %.4f x\n", pim_err);
	printf("bench demo-gpu-pred-err %.4f x\n", gpu_err);
	return 0;
}

/*
 * Every request's tokens against the pure-CPU reference decode (attention
 * in double on the CPU over K and V rounded to FP16, as pimd stores them
 * on the device); returns the number of requests that differ.
 */
static int check_tokens(sd_bus *bus, const char *s, struct req *r,
			uint32_t n, const struct opts *o)
{
	const struct gpu_model *m = o->m;
	uint64_t seed = o->seed;
	uint64_t tokens = 0, matched = 0;
	struct gpu_backend *gb = NULL;
	uint32_t i, j, first, bad = 0;
	int ret;

	ret = pimd_cpu_backend_new(m, seed, &gb);
	if (ret) {
		printf("check: CPU backend: %s\n", strerror(-ret));
		return 1;
	}
	for (i = 0; i < n; i++) {
		sd_bus_message *reply = NULL;
		const uint32_t *got = NULL;
		uint32_t *want = calloc(r[i].max_new, sizeof(*want));
		uint32_t generated = 0, ngot;
		int finished = 0, status = 0;
		size_t bytes = 0;

		ret = want ? gpu_cpu_reference_generate(gb, r[i].prompt,
							r[i].prompt_len,
							r[i].max_new,
							GPU_KV_FP16, want) :
			     -ENOMEM;
		ret = ret ?: client_call(bus, s, PIM_SERVING, "GetOutput",
					 NULL, &reply, "t", r[i].id);
		ret = ret < 0 ? ret : sd_bus_message_read(reply, "biu",
					&finished, &status, &generated);
		ret = ret < 0 ? ret : sd_bus_message_read_array(reply, 'u',
					(const void **)&got, &bytes);
		ngot = ret < 0 ? 0 : bytes / sizeof(*got);
		first = r[i].max_new;
		for (j = 0; j < r[i].max_new && j < ngot; j++) {
			if (got[j] == want[j])
				matched++;
			else if (first == r[i].max_new)
				first = j;
		}
		tokens += r[i].max_new;
		if (ret < 0 || !finished || status || ngot != r[i].max_new ||
		    first != r[i].max_new) {
			printf("check: request %" PRIu64 " (prompt %u): "
			       "%u of %u tokens, first mismatch at %u: %s\n",
			       r[i].id, r[i].prompt_len, ngot, r[i].max_new,
			       first, ret < 0 ? strerror(-ret) :
			       status ? strerror(-status) : "differs");
			bad++;
		}
		sd_bus_message_unref(reply);
		free(want);
	}
	gpu_backend_destroy(gb);
	printf("check: %" PRIu64 "/%" PRIu64 " tokens match the pure-CPU "
	       "reference (%u of %u requests)\n", matched, tokens, n - bad, n);
	return bad;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pimd-demo [--requests N] [--prompt MIN:MAX] "
		"[--new MIN:MAX] [--trace FILE]\n"
		"                 [--seed S] [--policy P] [--gpu NAME] "
		"[--model tiny|small]\n"
		"                 [--compute cpu|cuda|none] "
		"[--gpu-clock model|measured] [--serial]\n"
		"                 [--timeline ITER] [--timeline-json FILE] "
		"[--quiet]\n");
}

static int range(const char *s, uint32_t *lo, uint32_t *hi)
{
	return sscanf(s, "%u:%u", lo, hi) == 2 && *lo && *lo <= *hi ? 0 :
	       -EINVAL;
}

/* A whole non-negative decimal number, or -1. */
static int64_t number(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	return *s >= '0' && *s <= '9' && !*end && !errno ? v : -1;
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "requests", required_argument, NULL, 'r' },
		{ "prompt", required_argument, NULL, 'p' },
		{ "new", required_argument, NULL, 'n' },
		{ "trace", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		{ "policy", required_argument, NULL, 'P' },
		{ "gpu", required_argument, NULL, 'g' },
		{ "model", required_argument, NULL, 'm' },
		{ "compute", required_argument, NULL, 'c' },
		{ "gpu-clock", required_argument, NULL, 'C' },
		{ "serial", no_argument, NULL, 'S' },
		{ "timeline", required_argument, NULL, 'T' },
		{ "timeline-json", required_argument, NULL, 'J' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c, bad = 0;

	*o = (struct opts){
		.nreq = 8, .pmin = 64, .pmax = 160, .nmin = 8, .nmax = 16,
		.seed = 1, .policy = "l3", .gpu = "A100", .compute = "cpu",
		.model = "tiny", .timeline = -1,
	};
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'r':
			o->nreq = strtoul(optarg, NULL, 0);
			bad |= !o->nreq || o->nreq > MAX_REQ;
			break;
		case 'p':
			bad |= range(optarg, &o->pmin, &o->pmax) != 0;
			break;
		case 'n':
			bad |= range(optarg, &o->nmin, &o->nmax) != 0;
			break;
		case 't':
			o->trace = optarg;
			break;
		case 's':
			o->seed = strtoull(optarg, NULL, 0);
			break;
		case 'P':
			o->policy = optarg;
			break;
		case 'g':
			o->gpu = optarg;
			break;
		case 'm':
			o->model = optarg;
			break;
		case 'c':
			o->compute = optarg;
			break;
		case 'C':
			o->gpu_clock = optarg;
			break;
		case 'S':
			o->serial = true;
			break;
		case 'T':
			o->timeline = number(optarg);
			if (o->timeline < 0) {
				fprintf(stderr, "pimd-demo: --timeline %s: "
					"an iteration number\n", optarg);
				bad = 1;
			}
			break;
		case 'J':
			o->timeline_json = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			bad = 1;
		}
	}
	o->m = pimd_model_find(o->model);
	if (!bad && !o->m) {
		fprintf(stderr, "pimd-demo: --model %s: tiny, small or a "
			"gpu/ preset\n", o->model);
		bad = 1;
	}
	if (bad || optind < argc)
		usage(stderr);
	return bad || optind < argc ? -EINVAL : 0;
}

/* The chosen iteration's Gantt chart, and the run's Chrome trace. */
static int show_timeline(sd_bus *bus, const char *s, const struct opts *o,
			 const struct demo_walls *w, uint32_t nw)
{
	uint64_t it = o->timeline < 0 ? demo_busiest(w, nw) :
		      (uint64_t)o->timeline;
	struct demo_event *ev = NULL;
	uint32_t nev;
	int ret;

	if (!nw || it >= nw || w[it].iter != it) {
		fprintf(stderr, "pimd-demo: --timeline %" PRIu64 ": the run "
			"has iterations 0..%u\n", it, nw ? nw - 1 : 0);
		return -ERANGE;
	}
	ret = demo_get_timeline(bus, s, it, &ev, &nev);
	if (!ret)
		demo_gantt(stdout, &w[it], ev, nev);
	free(ev);
	if (ret || !o->timeline_json)
		return ret;
	ret = demo_trace_json(bus, s, o->timeline_json, w, nw);
	if (ret)
		fprintf(stderr, "pimd-demo: %s: %s\n", o->timeline_json,
			strerror(-ret));
	else
		printf("timeline: Chrome trace of %u iterations in %s\n",
		       nw < DEMO_TIMELINES ? nw : DEMO_TIMELINES,
		       o->timeline_json);
	return ret;
}

int main(int argc, char **argv)
{
	static struct req r[MAX_REQ];
	sd_bus_message *reply = NULL;
	struct demo_walls *w = NULL;
	sd_bus *bus = NULL;
	const char *p = NULL;
	uint32_t n, done = 0, i, nw = 0;
	char *s = NULL;
	struct opts o;
	double t0;
	int ret;

	if (parse(argc, argv, &o))
		return 2;
	ret = load_trace(&o, r, &n);
	if (ret) {
		fprintf(stderr, "pimd-demo: trace: %s\n", strerror(-ret));
		return 1;
	}
	ret = client_open(&bus);
	ret = ret < 0 ? ret : client_wait_name(bus, 20);
	ret = ret < 0 ? ret : client_call(bus, PIM_PATH, PIM_MANAGER,
					  "CreateSession", NULL, &reply, "s",
					  "");
	ret = ret < 0 ? ret : sd_bus_message_read(reply, "o", &p);
	if (ret >= 0)
		s = strdup(p);
	sd_bus_message_unref(reply);
	reply = NULL;
	if (ret < 0 || !s) {
		fprintf(stderr, "pimd-demo: no session: %s\n", strerror(-ret));
		return 1;
	}
	printf("demo: %u requests, prompts %u..%u tokens, model %s, "
	       "policy %s, GPU %s, compute %s%s, seed %" PRIu64 "\n", n,
	       o.pmin, o.pmax, o.model, o.policy, o.gpu, o.compute,
	       o.serial ? " (serial)" : "", o.seed);
	for (i = 0; i < n && !o.quiet; i++)
		printf("demo: request %u: prompt %u, max_new %u\n", i + 1,
		       r[i].prompt_len, r[i].max_new);
	if (configure(bus, s, &o) < 0)
		return 1;
	ret = add_requests(bus, s, r, n);
	t0 = client_now();
	ret = ret < 0 ? ret : run_all(bus, s, &done);
	sd_bus_message_unref(reply);
	if (ret < 0) {
		fprintf(stderr, "pimd-demo: serving: %s\n", strerror(-ret));
		return 1;
	}
	printf("demo: %u iterations in %.1f s of wall time\n", done,
	       client_now() - t0);
	ret = demo_get_walls(bus, s, &w, &nw);
	ret = ret < 0 ? ret : print_iterations(bus, s, o.quiet, w, nw);
	ret = ret < 0 ? ret : print_totals(bus, s);
	if (ret >= 0)
		print_measured(w, nw);
	ret = ret < 0 ? ret : show_timeline(bus, s, &o, w, nw);
	free(w);
	if (ret < 0)
		return 1;
	if (!strcmp(o.compute, "none")) {
		printf("check: skipped: compute %s generates no tokens\n",
		       o.compute);
		ret = 0;
	} else {
		ret = check_tokens(bus, s, r, n, &o);
	}
	client_call(bus, s, PIM_SESSION, "Close", NULL, NULL, NULL);
	sd_bus_flush_close_unref(bus);
	free(s);
	for (i = 0; i < n; i++)
		free(r[i].prompt);
	printf("demo: %s\n", ret ? "FAILED" : "done");
	return ret ? 1 : 0;
}
