// SPDX-License-Identifier: GPL-2.0
/*
 * pimd_demo.c - the main job's client: sends a trace of long-context
 * requests to pimd, serves it with the adaptive scheduler, prints the
 * per-iteration and total figures (tokens, batch sizes, modeled device
 * time, GPU time, overlap, predictor error), and checks every generated
 * token against a pure-CPU reference decode computed here, from the same
 * seed, with the same CPU transformer and host attention over FP16 KV.
 *
 *	pimd-demo [--requests N] [--prompt MIN:MAX] [--new MIN:MAX]
 *		  [--trace FILE] [--seed S] [--policy P] [--gpu NAME]
 *		  [--compute cpu|none] [--quiet]
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
	const char *trace, *policy, *gpu, *compute;
	bool quiet;
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
			r[i].prompt[j] = prng_splitmix64(&s) % pimd_tiny_model.vocab;
	}
	return *n ? 0 : -EINVAL;
}

/* ---- talking to pimd ---- */

static int configure(sd_bus *bus, const char *s, const struct opts *o)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	int ret;

	ret = client_call(bus, s, PIM_SERVING, "Configure", &e, NULL,
			  "a{sv}", 5, "seed", "t", o->seed, "policy", "s",
			  o->policy, "gpu", "s", o->gpu, "compute", "s",
			  o->compute, "model", "s", "tiny");
	if (ret < 0)
		fprintf(stderr, "pimd-demo: Configure: %s\n", e.message);
	sd_bus_error_free(&e);
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

static int print_iterations(sd_bus *bus, const char *s, bool quiet)
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
		printf("%5s %5s %5s %5s %6s %4s %9s %9s %9s %8s %7s %7s\n",
		       "iter", "sb0", "sb1", "dec", "prefil", "tok",
		       "gpu_us", "pim_us", "iter_us", "overlap", "gpu_err",
		       "pim_err");
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
		print_err(pp, p0 + p1, "\n");
	}
	sd_bus_message_unref(r);
	return ret;
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
			uint32_t n, uint64_t seed)
{
	const struct gpu_model *m = &pimd_tiny_model;
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
		"[--compute cpu|none] [--quiet]\n");
}

static int range(const char *s, uint32_t *lo, uint32_t *hi)
{
	return sscanf(s, "%u:%u", lo, hi) == 2 && *lo && *lo <= *hi ? 0 :
	       -EINVAL;
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
		{ "compute", required_argument, NULL, 'c' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c, bad = 0;

	*o = (struct opts){ 8, 64, 160, 8, 16, 1, NULL, "l3", "A100",
			    "cpu", false };
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
		case 'c':
			o->compute = optarg;
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
	if (bad || optind < argc)
		usage(stderr);
	return bad || optind < argc ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	static struct req r[MAX_REQ];
	sd_bus_message *reply = NULL;
	sd_bus *bus = NULL;
	const char *p = NULL;
	uint32_t n, done = 0, i;
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
	printf("demo: %u requests, prompts %u..%u tokens, model tiny, "
	       "policy %s, GPU %s, compute %s, seed %" PRIu64 "\n", n,
	       o.pmin, o.pmax, o.policy, o.gpu, o.compute, o.seed);
	for (i = 0; i < n && !o.quiet; i++)
		printf("demo: request %u: prompt %u, max_new %u\n", i + 1,
		       r[i].prompt_len, r[i].max_new);
	ret = configure(bus, s, &o);
	ret = ret < 0 ? ret : add_requests(bus, s, r, n);
	t0 = client_now();
	ret = ret < 0 ? ret : run_all(bus, s, &done);
	sd_bus_message_unref(reply);
	if (ret < 0) {
		fprintf(stderr, "pimd-demo: serving: %s\n", strerror(-ret));
		return 1;
	}
	printf("demo: %u iterations in %.1f s of wall time\n", done,
	       client_now() - t0);
	ret = print_iterations(bus, s, o.quiet);
	ret = ret < 0 ? ret : print_totals(bus, s);
	if (ret < 0)
		return 1;
	if (strcmp(o.compute, "cpu")) {
		printf("check: skipped: compute %s generates no tokens\n",
		       o.compute);
		ret = 0;
	} else {
		ret = check_tokens(bus, s, r, n, o.seed);
	}
	client_call(bus, s, PIM_SESSION, "Close", NULL, NULL, NULL);
	sd_bus_flush_close_unref(bus);
	free(s);
	for (i = 0; i < n; i++)
		free(r[i].prompt);
	printf("demo: %s\n", ret ? "FAILED" : "done");
	return ret ? 1 : 0;
}
