// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Workloads: the paper's traces regenerated from their published means and
 * standard deviations (digest 7.3), or CSV traces a user supplies.
 *
 * Lengths are drawn from a log-normal with the trace's mean and standard
 * deviation (the traces are long-tailed and strictly positive), rounded
 * and clipped to 1..65536 tokens. All requests arrive at time 0, as in the
 * paper's throughput runs. Dolphin-short is Dolphin-r1 with every length
 * divided by 10 (rounded up).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "sim.h"

#define MAX_LEN		65536
#define MAX_CSV_REQS	1000000

struct trace_preset {
	const char *name;
	double in_mean, in_std, out_mean, out_std;
	uint32_t divide;
};

static const struct trace_preset traces[] = {
	{ "openr1", 96.0, 75.1, 12684.1, 8464.6, 1 },
	{ "dolphin", 201.9, 563.0, 3926.2, 4216.0, 1 },
	{ "openthoughts", 89.4, 66.7, 6366.7, 4662.9, 1 },
	{ "dolphin-short", 201.9, 563.0, 3926.2, 4216.0, 10 },
};

#define NR_TRACES	(sizeof(traces) / sizeof(traces[0]))

const char *sim_trace_preset_at(unsigned int i)
{
	return i < NR_TRACES ? traces[i].name : NULL;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double uniform(uint64_t *s)	/* (0, 1) */
{
	return ((splitmix(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double normal(uint64_t *s)
{
	return sqrt(-2 * log(uniform(s))) * cos(2 * M_PI * uniform(s));
}

static uint32_t lognormal_len(uint64_t *s, double mean, double std,
			      uint32_t divide)
{
	double v = log(1 + (std * std) / (mean * mean));
	double mu = log(mean) - v / 2;
	double x = exp(mu + sqrt(v) * normal(s));
	uint32_t n;

	x = x < 1 ? 1 : x > MAX_LEN ? MAX_LEN : x;
	n = (uint32_t)llround(x);
	n = (n + divide - 1) / divide;
	return n ? n : 1;
}

int sim_trace_generate(const char *name, uint32_t nr, uint64_t seed,
		       struct sim_workload *w)
{
	const struct trace_preset *t = NULL;
	uint64_t s = seed;
	unsigned int i;

	for (i = 0; i < NR_TRACES; i++)
		if (!strcasecmp(name, traces[i].name))
			t = &traces[i];
	if (!t || !nr)
		return -EINVAL;
	memset(w, 0, sizeof(*w));
	w->req = calloc(nr, sizeof(*w->req));
	if (!w->req)
		return -ENOMEM;
	snprintf(w->name, sizeof(w->name), "%s", t->name);
	w->nr = nr;
	for (i = 0; i < nr; i++) {
		w->req[i].in = lognormal_len(&s, t->in_mean, t->in_std,
					     t->divide);
		w->req[i].out = lognormal_len(&s, t->out_mean, t->out_std,
					      t->divide);
	}
	return 0;
}

static int csv_fail(char *err, size_t len, const char *path, unsigned int n,
		    const char *why)
{
	snprintf(err, len, "%s:%u: %s", path, n, why);
	return -EINVAL;
}

static int parse_len(const char *v, uint32_t *out)
{
	char *end;
	unsigned long n;

	while (*v == ' ')
		v++;
	n = strtoul(v, &end, 10);
	while (*end == ' ' || *end == '\r' || *end == '\n')
		end++;
	if (end == v || *end || *v == '-' || !n || n > 1048576)
		return -EINVAL;
	*out = (uint32_t)n;
	return 0;
}

/* One CSV line: arrival_s,input_tokens,output_tokens. */
static const char *csv_line(char *line, struct sim_req *r)
{
	char *f[3], *end, *p = line;
	int i;

	for (i = 0; i < 3; i++) {
		f[i] = p;
		p = strchr(p, ',');
		if (i < 2 && !p)
			return "expected 3 comma-separated fields: arrival_s,input_tokens,output_tokens";
		if (p)
			*p++ = 0;
	}
	if (p)
		return "more than 3 fields";
	r->arrival = strtod(f[0], &end);
	while (*end == ' ')
		end++;
	if (end == f[0] || *end || !(r->arrival >= 0) || isinf(r->arrival))
		return "arrival_s must be a number >= 0";
	if (parse_len(f[1], &r->in))
		return "input_tokens must be an integer 1..1048576";
	if (parse_len(f[2], &r->out))
		return "output_tokens must be an integer 1..1048576";
	return NULL;
}

int sim_trace_load(const char *path, struct sim_workload *w, char *err,
		   size_t errlen)
{
	char line[256];
	unsigned int n = 0, cap = 0;
	FILE *f = fopen(path, "r");
	const char *base = strrchr(path, '/');
	int ret = 0;

	memset(w, 0, sizeof(*w));
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	snprintf(w->name, sizeof(w->name), "%s", base ? base + 1 : path);
	while (fgets(line, sizeof(line), f)) {
		const char *why;
		struct sim_req r;
		char *s = line;

		n++;
		if (!strchr(line, '\n') && !feof(f)) {
			ret = csv_fail(err, errlen, path, n, "line too long");
			break;
		}
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '#' || *s == '\n' || *s == '\r' || !*s)
			continue;
		if (n == 1 && !strncmp(s, "arrival", 7))
			continue;	/* header */
		why = csv_line(s, &r);
		if (!why && w->nr && r.arrival < w->req[w->nr - 1].arrival)
			why = "arrival_s goes backwards; sort the trace by arrival";
		if (!why && w->nr == MAX_CSV_REQS)
			why = "more than 1000000 requests";
		if (why) {
			ret = csv_fail(err, errlen, path, n, why);
			break;
		}
		if (w->nr == cap) {
			struct sim_req *nr;

			cap = cap ? 2 * cap : 1024;
			nr = realloc(w->req, cap * sizeof(*nr));
			if (!nr) {
				ret = -ENOMEM;
				snprintf(err, errlen, "%s: out of memory", path);
				break;
			}
			w->req = nr;
		}
		w->req[w->nr++] = r;
	}
	fclose(f);
	if (!ret && !w->nr)
		ret = csv_fail(err, errlen, path, n, "no requests in trace");
	if (ret)
		sim_workload_free(w);
	return ret;
}

int sim_workload_load(const struct sim_config *cfg, struct sim_workload *w,
		      char *err, size_t errlen)
{
	int ret;

	if (cfg->trace_file[0])
		return sim_trace_load(cfg->trace_file, w, err, errlen);
	ret = sim_trace_generate(cfg->trace, cfg->requests, cfg->seed, w);
	if (ret)
		snprintf(err, errlen, "unknown trace preset '%s'", cfg->trace);
	return ret;
}

void sim_workload_free(struct sim_workload *w)
{
	free(w->req);
	w->req = NULL;
	w->nr = 0;
}
