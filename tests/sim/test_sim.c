// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pimsim: conservation of tokens, capacity, determinism, monotonicity in
 * PIM bandwidth, the device-time memo against exact timing, generated
 * trace statistics, and errors for bad configuration files and traces.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../tap.h"
#include "sim.h"

static int small_run(const char *sys, const char *model, const char *trace,
		     uint32_t n, uint64_t seed, const char *key,
		     const char *val, struct sim_result *r)
{
	struct sim_config cfg;
	struct sim_workload w;
	const char *why;
	int ret;

	sim_config_default(&cfg);
	if (sim_config_apply(&cfg, "system", sys, &why) ||
	    sim_config_apply(&cfg, "model", model, &why) ||
	    (key && sim_config_apply(&cfg, key, val, &why)))
		return -1;
	cfg.profile_samples = 64;
	ret = sim_trace_generate(trace, n, seed, &w);
	if (ret)
		return ret;
	ret = sim_run(&cfg, &w, r);
	sim_workload_free(&w);
	return ret;
}

static uint64_t want_tokens(const char *trace, uint32_t n, uint64_t seed)
{
	struct sim_workload w;
	uint64_t sum = 0;
	uint32_t i;

	if (sim_trace_generate(trace, n, seed, &w))
		return 0;
	for (i = 0; i < w.nr; i++)
		sum += w.req[i].out;
	sim_workload_free(&w);
	return sum;
}

static void test_systems(void)
{
	uint64_t want = want_tokens("dolphin-short", 40, 3);
	struct sim_result r;
	const char *sys;
	unsigned int i;

	for (i = 0; (sys = sim_system_preset_at(i)); i++) {
		int ret = small_run(sys, "GPT-175B", "dolphin-short", 40, 3,
				    NULL, NULL, &r);

		tap_ok(!ret && r.tokens == want && !r.mismatched &&
		       !r.rejected,
		       "%s: every request makes exactly its output tokens (%llu)",
		       sys, (unsigned long long)r.tokens);
		tap_ok(!ret && r.kv_peak > 0 && r.kv_peak <= r.kv_capacity,
		       "%s: KV never exceeds capacity (peak %.0f of %.0f GB)",
		       sys, r.kv_peak / 1e9, r.kv_capacity / 1e9);
	}
}

static void test_parallel_models(void)
{
	struct sim_result r;
	int ret;

	ret = small_run("l3", "OPT-66B", "dolphin-short", 40, 5, NULL, NULL,
			&r);
	tap_ok(!ret && r.tokens == want_tokens("dolphin-short", 40, 5) &&
	       !r.mismatched,
	       "OPT-66B (tp 2, dp 4) on L3 conserves tokens across replicas");
	ret = small_run("l3", "QWEN-72B", "dolphin-short", 40, 5, NULL, NULL,
			&r);
	tap_ok(!ret && r.tokens == want_tokens("dolphin-short", 40, 5) &&
	       !r.mismatched, "QWEN-72B (GQA-8) on L3 conserves tokens");
}

static void test_determinism(void)
{
	struct sim_result a, b, c;

	small_run("l3", "GPT-175B", "dolphin-short", 40, 9, NULL, NULL, &a);
	small_run("l3", "GPT-175B", "dolphin-short", 40, 9, NULL, NULL, &b);
	small_run("l3", "GPT-175B", "dolphin-short", 40, 10, NULL, NULL, &c);
	tap_ok(a.time_s == b.time_s && a.iterations == b.iterations &&
	       a.tbt_p99 == b.tbt_p99, "same seed, same run (%.6f s)",
	       a.time_s);
	tap_ok(a.time_s != c.time_s, "another seed, another workload");
}

static void test_monotone(void)
{
	static const char *const f[] = { "1", "2", "4", "8" };
	struct sim_result r;
	double prev = INFINITY;
	bool ok = true, ran = true;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		if (small_run("l3", "GPT-175B", "dolphin-short", 40, 11,
			      "bw_scale", f[i], &r)) {
			ran = false;
			break;
		}
		tap_diag("l3 bw x%s: %.3f s", f[i], r.time_s);
		ok &= r.time_s <= prev * (1 + 1e-9);
		prev = r.time_s;
	}
	tap_ok(ran && ok, "L3: more PIM bandwidth never slows a run");
	prev = INFINITY;
	ok = ran = true;
	for (i = 0; i < 4; i++) {
		if (small_run("cpu", "GPT-175B", "dolphin-short", 40, 11,
			      "bw_scale", f[i], &r)) {
			ran = false;
			break;
		}
		ok &= r.time_s <= prev * (1 + 1e-9);
		prev = r.time_s;
	}
	tap_ok(ran && ok, "CPU offload: more bandwidth never slows a run");
}

static void test_memo(void)
{
	struct sim_result m, e;
	double d;

	if (small_run("l3", "GPT-175B", "openthoughts", 12, 2, NULL, NULL,
		      &m) ||
	    small_run("l3", "GPT-175B", "openthoughts", 12, 2, "pim_exact",
		      "on", &e)) {
		tap_ok(0, "memo and exact runs");
		return;
	}
	d = fabs(m.time_s - e.time_s) / e.time_s;
	tap_ok(d < 1e-3,
	       "interpolated device time within 0.1%% of exact (%.5f%%)",
	       d * 100);
}

static void test_traces(void)
{
	static const struct { const char *n; double out; } t[] = {
		{ "openr1", 12684.1 }, { "dolphin", 3926.2 },
		{ "openthoughts", 6366.7 }, { "dolphin-short", 392.6 },
	};
	struct sim_workload w;
	unsigned int i, k;

	for (i = 0; i < 4; i++) {
		double sum = 0;

		if (sim_trace_generate(t[i].n, 1000, 1, &w)) {
			tap_ok(0, "%s generated", t[i].n);
			continue;
		}
		for (k = 0; k < w.nr; k++)
			sum += w.req[k].out;
		tap_ok(fabs(sum / w.nr - t[i].out) < 0.1 * t[i].out,
		       "%s: mean output %.0f tokens, paper %.0f", t[i].n,
		       sum / w.nr, t[i].out);
		sim_workload_free(&w);
	}
}

/* Write text to a temp file; the caller unlinks it. */
static char *tmpfile_with(const char *text, const char *suffix)
{
	static char path[64];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/pimsim-testXXXXXX%s", suffix);
	fd = mkstemps(path, (int)strlen(suffix));
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void expect_config_error(const char *text, const char *line,
				const char *what)
{
	struct sim_config cfg;
	char err[512] = "", *path = tmpfile_with(text, ".conf");
	int ret;

	sim_config_default(&cfg);
	ret = path ? sim_config_load(path, &cfg, err, sizeof(err)) : 0;
	tap_ok(ret == -EINVAL && strstr(err, line) && strstr(err, what),
	       "config: %s (%s)", what, err);
	if (path)
		unlink(path);
}

static void expect_trace_error(const char *text, const char *line,
			       const char *what)
{
	struct sim_workload w;
	char err[512] = "", *path = tmpfile_with(text, ".csv");
	int ret;

	ret = path ? sim_trace_load(path, &w, err, sizeof(err)) : 0;
	tap_ok(ret == -EINVAL && strstr(err, line) && strstr(err, what),
	       "trace: %s (%s)", what, err);
	if (path)
		unlink(path);
}

static void test_bad_files(void)
{
	struct sim_config cfg;
	struct sim_workload w;
	const char *why = NULL;
	char err[512], *path;
	int ret;

	expect_config_error("# mine\nsystem = l3\nbogus = 1\n", ":3:",
			    "unknown key");
	expect_config_error("model.layers = -4\n", ":1:", "positive integer");
	expect_config_error("\n\nsystem l3\n", ":3:", "expected key = value");
	expect_config_error("system = tpu\n", ":1:", "unknown system");
	expect_config_error("bubble_free = maybe\n", ":1:", "on or off");
	sim_config_default(&cfg);
	sim_config_apply(&cfg, "model.tp", "3", &why);
	ret = sim_config_check(&cfg, &why);
	tap_ok(ret == -EINVAL && why, "inconsistent config rejected: %s",
	       why ? why : "(none)");

	expect_trace_error("arrival_s,input_tokens,output_tokens\n0,10,20\n0,10\n",
			   ":3:", "expected 3");
	expect_trace_error("0,10,20\n-1,10,20\n", ":2:", "arrival_s");
	expect_trace_error("0,10,20\n# c\n1,0,20\n", ":3:", "input_tokens");
	expect_trace_error("0,10,20\n1,10,2x\n", ":2:", "output_tokens");
	expect_trace_error("5,10,20\n1,10,20\n", ":2:", "backwards");
	expect_trace_error("0,1,2,3\n", ":1:", "more than 3");
	path = tmpfile_with("arrival_s,input_tokens,output_tokens\n"
			    "0,100,50\n# later ones\n0.5,2000,10\n", ".csv");
	ret = path ? sim_trace_load(path, &w, err, sizeof(err)) : -1;
	tap_ok(!ret && w.nr == 2 && w.req[1].in == 2000 &&
	       w.req[1].arrival == 0.5, "a good CSV trace loads");
	if (!ret) {
		struct sim_result r;

		sim_config_default(&cfg);
		cfg.profile_samples = 64;
		ret = sim_run(&cfg, &w, &r);
		tap_ok(!ret && r.tokens == 60 && r.time_s > 0.5,
		       "a CSV trace with arrivals runs (%.3f s)", r.time_s);
		sim_workload_free(&w);
	} else {
		tap_ok(0, "a CSV trace with arrivals runs");
	}
	if (path)
		unlink(path);
}

int main(void)
{
	tap_plan(12 + 2 + 2 + 2 + 1 + 4 + 6 + 6 + 2);
	test_systems();
	test_parallel_models();
	test_determinism();
	test_monotone();
	test_memo();
	test_traces();
	test_bad_files();
	return tap_done();
}
