// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Measured GPU times (gpu/gpu_calib.h): the data file parser and its
 * errors, interpolation, a cross-check against the roofline (a file made
 * of roofline times must give gpu_roofline_time() back, and the same
 * simulation), the shape check, pimsim's calibration options, and the
 * committed H200 data files.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../tap.h"
#include "sim.h"

#define HDR	"# preset: H200\n# gpu: Test GPU\n" \
		"op\tmodel\ttp\ttokens\tctx\twork\tflops\tbytes\tseconds\tmin_s\tmax_s\treps\n"

static char path[64];

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

/* Load text; 0 or -errno, err filled. */
static int load_text(const char *text, struct gpu_calib **c, char *err,
		     size_t len)
{
	write_file(text);
	return gpu_calib_load(path, c, err, len);
}

static void test_parse_good(void)
{
	struct gpu_calib *c = NULL;
	char err[256] = "";
	int ret;

	ret = load_text("# date: today\n" HDR
			"qkv\tGPT-89B\t4\t1\t0\t1\t10\t20\t1e-5\t0.9e-5\t2e-5\t20\n"
			"\n"
			"qkv\tGPT-89B\t4\t8\t0\t8\t80\t30\t2e-5\t2e-5\t2e-5\t20\r\n"
			"decode_attn\tGPT-89B\t4\t2\t64\t128\t5\t5\t3e-6\t3e-6\t4e-6\t7\n",
			&c, err, sizeof(err));
	tap_ok(!ret && c->nr == 3, "a good file loads (%s)", ret ? err : "3 rows");
	tap_ok(!ret && !strcmp(c->preset, "H200") &&
	       !strcmp(c->gpu, "Test GPU"), "header: preset and gpu");
	tap_ok(!ret && c->row[2].op == GC_DECODE_ATTN && c->row[2].ctx == 64 &&
	       c->row[2].reps == 7 && c->row[1].seconds == 2e-5,
	       "row fields, CRLF accepted");
	gpu_calib_free(c);
}

static void test_parse_bad(void)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "# preset: H200\nop\tmodel\n", ":2: expected the column line" },
		{ HDR "qkv\tGPT-89B\t4\t1\t0\t1\t10\t20\t1e-5\t1e-5\t1e-5\n",
		  ":4: expected 12 tab-separated fields" },
		{ HDR "gemm\tGPT-89B\t4\t1\t0\t1\t10\t20\t1e-5\t1e-5\t1e-5\t3\n",
		  ":4: unknown op" },
		{ HDR "qkv\tGPT-89B\t0\t1\t0\t1\t10\t20\t1e-5\t1e-5\t1e-5\t3\n",
		  ":4: tp must be 1..64" },
		{ HDR "qkv\tGPT-89B\t4\tx\t0\t1\t10\t20\t1e-5\t1e-5\t1e-5\t3\n",
		  ":4: tokens must be" },
		{ HDR "qkv\tGPT-89B\t4\t1\t5\t1\t10\t20\t1e-5\t1e-5\t1e-5\t3\n",
		  ":4: ctx must be > 0 for decode_attn and 0 for GEMMs" },
		{ HDR "decode_attn\tGPT-89B\t4\t1\t0\t1\t10\t20\t1e-5\t1e-5\t1e-5\t3\n",
		  ":4: ctx must be > 0" },
		{ HDR "qkv\tGPT-89B\t4\t1\t0\t0\t10\t20\t1e-5\t1e-5\t1e-5\t3\n",
		  ":4: work must be" },
		{ HDR "qkv\tGPT-89B\t4\t1\t0\t1\t10\t20\t-1e-5\t1e-5\t1e-5\t3\n",
		  ":4: seconds must be" },
		{ HDR "qkv\tGPT-89B\t4\t1\t0\t1\t10\t20\tnan\t1e-5\t1e-5\t3\n",
		  ":4: seconds must be" },
		{ HDR "qkv\tGPT-89B\t4\t1\t0\t1\t10\t20\t1e-5\t2e-5\t3e-5\t3\n",
		  ":4: expected min_s <= seconds <= max_s" },
		{ HDR "qkv\tGPT-89B\t4\t1\t0\t1\t10\t20\t1e-5\t1e-5\t1e-5\t0\n",
		  ":4: reps must be" },
		{ HDR "qkv\tGPT-89B\t4\t2\t0\t2\t10\t20\t1e-5\t1e-5\t1e-5\t3\n"
		  "qkv\tGPT-89B\t4\t1\t0\t1\t10\t20\t1e-5\t1e-5\t1e-5\t3\n",
		  ":5: work must increase" },
		{ HDR "qkv\tGPT-89B\t4\t1\t0\t1\t10\t20\t1e-5\t1e-5\t1e-5\t3\n"
		  "ffn_in\tGPT-89B\t4\t1\t0\t1\t10\t20\t1e-5\t1e-5\t1e-5\t3\n"
		  "qkv\tGPT-89B\t4\t2\t0\t2\t10\t20\t1e-5\t1e-5\t1e-5\t3\n",
		  ":6: rows of an (op, model, tp) series must be adjacent" },
		{ HDR "# late\n", ":4: comment after the column line" },
		{ "op\tmodel\ttp\ttokens\tctx\twork\tflops\tbytes\tseconds\tmin_s\tmax_s\treps\n"
		  "qkv\tGPT-89B\t4\t1\t0\t1\t10\t20\t1e-5\t1e-5\t1e-5\t3\n",
		  ": no '# preset: NAME' line" },
		{ HDR, ": no measurements" },
	};
	char err[256], text[2048];
	struct gpu_calib *c;
	unsigned int i;
	int ret;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = NULL;
		err[0] = 0;
		ret = load_text(bad[i].text, &c, err, sizeof(err));
		tap_ok(ret == -EINVAL && !c &&
		       !strncmp(err, path, strlen(path)) &&
		       strstr(err, bad[i].want),
		       "bad file %u refused: %s", i, err);
	}
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = 0;
	c = NULL;
	ret = load_text(text, &c, err, sizeof(err));
	tap_ok(ret == -EINVAL && strstr(err, ":1: line too long"),
	       "a long line is refused: %s", err);
	ret = gpu_calib_load("/nonexistent/h200.tsv", &c, err, sizeof(err));
	tap_ok(ret == -ENOENT && strstr(err, "/nonexistent/h200.tsv: "),
	       "a missing file: %s", err);
}

static const uint64_t grid[] = { 1, 2, 4, 16, 64, 256, 1024, 4096, 8192 };
static const uint64_t pf[][2] = { { 128, 0 }, { 256, 0 }, { 1024, 0 },
				  { 512, 4096 }, { 8192, 0 } };
static const uint64_t dec[][2] = { { 1, 512 }, { 4, 2048 }, { 32, 4096 } };

/* One row at (tokens, ctx), measured = roofline x ratio. */
static void put_row(FILE *f, const struct gpu_spec *hw,
		    const struct gpu_model *m, enum gpu_calib_op op,
		    uint64_t tokens, uint64_t ctx, double ratio)
{
	struct gpu_calib_row r = { .op = op, .tp = m->tp, .tokens = tokens,
				   .ctx = ctx, .reps = 1 };

	snprintf(r.model, sizeof(r.model), "%s", m->name);
	gpu_calib_shape(m, op, tokens, ctx, &r.work, &r.flops, &r.bytes);
	r.seconds = gpu_calib_roofline_row(hw, m, &r) * ratio;
	r.min_s = r.max_s = r.seconds;
	gpu_calib_write_row(f, &r);
}

/*
 * Every op of every preset model; ratio(i) gives row i's measured /
 * roofline (1 everywhere: a file of roofline times).
 */
static void write_model_file(const struct gpu_spec *hw,
			     double (*ratio)(unsigned int i))
{
	static const char *const kv[] = { "preset", "H200", "gpu", "roofline" };
	const struct gpu_model *m;
	unsigned int i, op, k, n = 0;
	FILE *f = fopen(path, "w");

	gpu_calib_write_header(f, kv, 4);
	for (i = 0; (m = gpu_model_at(i)); i++) {
		for (op = GC_QKV; op <= GC_LM_HEAD; op++)
			for (k = 0; k < sizeof(grid) / sizeof(grid[0]); k++)
				put_row(f, hw, m, op, grid[k], 0, ratio(n++));
		for (k = 0; k < sizeof(pf) / sizeof(pf[0]); k++)
			put_row(f, hw, m, GC_PREFILL_ATTN, pf[k][0], pf[k][1],
				ratio(n++));
		for (k = 0; k < sizeof(dec) / sizeof(dec[0]); k++)
			put_row(f, hw, m, GC_DECODE_ATTN, dec[k][0], dec[k][1],
				ratio(n++));
	}
	fclose(f);
}

static double ratio_one(unsigned int i)
{
	(void)i;
	return 1;
}

/* Noisy, as measurements are: 1.05 .. 2.5 */
static double ratio_noisy(unsigned int i)
{
	return 1.05 + (double)((i * 2654435761u) % 1000) / 1000 * 1.45;
}

static double rel(double a, double b)
{
	return fabs(a - b) / (fabs(b) > 0 ? fabs(b) : 1);
}

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void test_interpolation(void)
{
	const struct gpu_spec *hw = gpu_spec_find("H200");
	const struct gpu_model *m = gpu_model_find("QWEN-72B");
	struct gpu_model other;
	struct gpu_calib *c = NULL;
	double worst = 0, prev = 0, t, a, b, r;
	bool exact = true, mono = true, between = true;
	char err[256];
	unsigned int op, k;
	uint64_t x;
	size_t i;

	write_model_file(hw, ratio_noisy);
	if (gpu_calib_load(path, &c, err, sizeof(err))) {
		tap_ok(0, "noisy file loads: %s", err);
		return;
	}
	for (i = 0; i < c->nr; i++) {
		const struct gpu_calib_row *row = &c->row[i];
		const struct gpu_model *rm = gpu_model_find(row->model);

		t = gpu_calib_op_time(c, hw, rm, row->op, row->work,
				      (double)(row->ctx + row->tokens),
				      (double)row->tokens);
		if (rel(t, row->seconds) > worst)
			worst = rel(t, row->seconds);
	}
	exact = worst < 1e-12;
	tap_ok(exact, "exact at every measured point (worst %.2g)", worst);
	for (op = GC_QKV; op <= GC_LM_HEAD; op++) {
		for (k = 1; k < sizeof(grid) / sizeof(grid[0]); k++) {
			a = gpu_calib_op_time(c, hw, m, op, grid[k - 1], 0,
					      grid[k - 1]);
			b = gpu_calib_op_time(c, hw, m, op, grid[k], 0,
					      grid[k]);
			for (x = grid[k - 1], prev = a; x <= grid[k]; x++) {
				t = gpu_calib_op_time(c, hw, m, op, x, 0, x);
				if ((a <= b && (t < prev || t < a || t > b)) ||
				    (a > b && (t < b || t > a)))
					mono = false;
				prev = t;
			}
		}
	}
	tap_ok(mono, "GEMMs: monotone between increasing neighbours, and within a noisy pair's range");
	for (k = 1; k < sizeof(dec) / sizeof(dec[0]); k++) {
		a = gpu_calib_op_time(c, hw, m, GC_DECODE_ATTN,
				      dec[k - 1][0] * dec[k - 1][1], 0, 1);
		b = gpu_calib_op_time(c, hw, m, GC_DECODE_ATTN,
				      dec[k][0] * dec[k][1], 0, 1);
		for (x = dec[k - 1][0] * dec[k - 1][1];
		     x < dec[k][0] * dec[k][1]; x += 97) {
			t = gpu_calib_op_time(c, hw, m, GC_DECODE_ATTN, x, 0,
					      1);
			if (t < (a < b ? a : b) || t > (a < b ? b : a))
				between = false;
		}
	}
	tap_ok(between, "decode attention stays between its neighbours");
	a = gpu_calib_op_time(c, hw, m, GC_FFN_IN, 1 << 16, 0, 1 << 16);
	b = gpu_calib_op_time(c, hw, m, GC_FFN_IN, 1 << 17, 0, 1 << 17);
	r = b / a;
	tap_ok(fabs(r - 2) < 0.01,
	       "beyond the largest point: linear in work (2x tokens: %.4fx)", r);
	other = *m;
	other.tp = 2;
	tap_ok(gpu_calib_op_time(c, hw, m, GC_QKV, 1, 0, 1) > 0 &&
	       gpu_calib_op_time(c, hw, &other, GC_QKV, 1, 0, 1) < 0,
	       "a series the file lacks (QWEN-72B at tp 2) has no time");
	gpu_calib_free(c);
}

static void test_roofline_cross_check(void)
{
	const struct gpu_spec *hw = gpu_spec_find("H200");
	const struct gpu_model *m;
	struct gpu_calib *c = NULL;
	double worst = 0, t_cal, t_roof;
	uint64_t seed = 42;
	char err[256];
	unsigned int i, k;
	bool checked = true;

	write_model_file(hw, ratio_one);
	if (gpu_calib_load(path, &c, err, sizeof(err))) {
		tap_ok(0, "roofline file loads: %s", err);
		return;
	}
	for (i = 0; (m = gpu_model_at(i)); i++)
		if (gpu_calib_check(c, hw, m, err, sizeof(err)))
			checked = false;
	tap_ok(checked, "every preset model passes gpu_calib_check");
	for (k = 0; k < 4000; k++) {
		uint64_t chunk = rnd(&seed) % 9000, prefix = rnd(&seed) % 30000;
		uint64_t dec_n = rnd(&seed) % 300, ctx = rnd(&seed) % 20000 + 1;
		struct gpu_work w = {
			.tokens = chunk + dec_n,
			.out_tokens = dec_n + (chunk ? 1 : 0),
			.prefill_pairs = chunk * prefix +
					 chunk * (chunk + 1) / 2,
			.prefill_kv = chunk ? prefix + chunk : 0,
			.decode_ctx = k % 2 ? dec_n * ctx : 0,
		};

		m = gpu_model_at(k % 4);
		if (!w.tokens)
			continue;
		t_cal = gpu_calib_time(c, hw, m, &w);
		t_roof = gpu_roofline_time(hw, m, &w);
		if (rel(t_cal, t_roof) > worst)
			worst = rel(t_cal, t_roof);
	}
	/* the file keeps 10 significant digits of seconds */
	tap_ok(worst < 1e-9,
	       "a file of roofline times gives gpu_roofline_time() back for 4000 random batches (worst %.2g)",
	       worst);
	gpu_calib_free(c);
}

static int run_sim(const struct gpu_calib *c, const char *sys,
		   struct sim_result *r)
{
	struct sim_config cfg;
	struct sim_workload w;
	const char *why;
	int ret;

	sim_config_default(&cfg);
	if (sim_config_apply(&cfg, "system", sys, &why) ||
	    sim_config_apply(&cfg, "gpu", "H200", &why))
		return -EINVAL;
	cfg.gpu_calib = c;
	cfg.profile_samples = 64;
	ret = sim_trace_generate("dolphin-short", 60, 9, &w);
	if (ret)
		return ret;
	ret = sim_run(&cfg, &w, r);
	sim_workload_free(&w);
	return ret;
}

static void test_sim_cross_check(void)
{
	const char *const sys[] = { "gpu-only", "l3" };
	struct sim_result a, b;
	struct gpu_calib *c = NULL;
	char err[256];
	unsigned int i;
	int ra, rb;

	write_model_file(gpu_spec_find("H200"), ratio_one);
	if (gpu_calib_load(path, &c, err, sizeof(err))) {
		tap_ok(0, "roofline file loads: %s", err);
		return;
	}
	for (i = 0; i < 2; i++) {
		ra = run_sim(NULL, sys[i], &a);
		rb = run_sim(c, sys[i], &b);
		tap_ok(!ra && !rb && a.tokens == b.tokens &&
		       a.iterations == b.iterations &&
		       rel(b.time_s, a.time_s) < 1e-6 &&
		       rel(b.tbt_p99, a.tbt_p99) < 1e-6,
		       "%s: calibrated from roofline times, pimsim reproduces the roofline run (%.3f s, %.3f s)",
		       sys[i], a.time_s, b.time_s);
	}
	gpu_calib_free(c);
}

static void test_check_errors(void)
{
	const struct gpu_spec *h200 = gpu_spec_find("H200");
	struct gpu_model m = *gpu_model_find("GPT-175B");
	struct gpu_calib *c = NULL;
	char err[256];

	write_model_file(h200, ratio_one);
	if (gpu_calib_load(path, &c, err, sizeof(err))) {
		tap_ok(0, "roofline file loads: %s", err);
		return;
	}
	tap_ok(gpu_calib_check(c, gpu_spec_find("A100"), &m, err,
			       sizeof(err)) == -EINVAL &&
	       strstr(err, "calibrates GPU H200, not A100"),
	       "another GPU is refused: %s", err);
	m.hidden = 8192;
	m.heads = 64;
	tap_ok(gpu_calib_check(c, h200, &m, err, sizeof(err)) == -EINVAL &&
	       strstr(err, "do not match its shape"),
	       "a changed model shape is refused: %s", err);
	m = *gpu_model_find("GPT-175B");
	m.tp = 4;
	m.dp = 2;
	tap_ok(gpu_calib_check(c, h200, &m, err, sizeof(err)) == -EINVAL &&
	       strstr(err, "no qkv rows for GPT-175B at tp 4"),
	       "another tp is refused: %s", err);
	gpu_calib_free(c);
}

/* pimsim's exit status, its stderr in out. */
static int pimsim(const char *args, char *out, size_t len)
{
	char cmd[512];
	FILE *p;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "build/pimsim %s 2>&1 >/dev/null", args);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	n = fread(out, 1, len - 1, p);
	out[n] = 0;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli(void)
{
	char out[1024], args[256];
	int rc;

	if (access("build/pimsim", X_OK)) {
		tap_skip("build/pimsim not built (run from the repository root)");
		return;
	}
	rc = pimsim("--gpu-calib /nonexistent.tsv", out, sizeof(out));
	tap_ok(rc == 2 && strstr(out, "/nonexistent.tsv: No such file"),
	       "missing file: exit %d, %s", rc, strtok(out, "\n"));
	write_file(HDR "qkv\tGPT-89B\t4\t1\t0\t1\t10\t20\t1e-5\t1e-5\n");
	snprintf(args, sizeof(args), "--gpu-calib %s", path);
	rc = pimsim(args, out, sizeof(out));
	tap_ok(rc == 2 && strstr(out, ":4: expected 12 tab-separated fields"),
	       "bad file: exit %d, %s", rc, strtok(out, "\n"));
	rc = pimsim("--calib-report", out, sizeof(out));
	tap_ok(rc == 2 && strstr(out, "needs --gpu-calib"),
	       "--calib-report alone: exit %d, %s", rc, strtok(out, "\n"));
	write_model_file(gpu_spec_find("H200"), ratio_one);
	snprintf(args, sizeof(args), "--gpu-calib %s -g A100 -n 5", path);
	rc = pimsim(args, out, sizeof(out));
	tap_ok(rc == 1 && strstr(out, "calibrates GPU H200, not A100"),
	       "a calibration of another GPU: exit %d, %s", rc,
	       strtok(out, "\n"));
	snprintf(args, sizeof(args), "--gpu-calib %s --calib-report", path);
	rc = pimsim(args, out, sizeof(out));
	tap_ok(rc == 0, "--calib-report on a good file: exit %d", rc);
}

/* The row of c with r's key, or NULL. */
static const struct gpu_calib_row *find_row(const struct gpu_calib *c,
					    const struct gpu_calib_row *r)
{
	size_t i;

	for (i = 0; i < c->nr; i++) {
		const struct gpu_calib_row *q = &c->row[i];

		if (q->op == r->op && q->tp == r->tp &&
		    q->tokens == r->tokens && q->ctx == r->ctx &&
		    !strcmp(q->model, r->model))
			return q;
	}
	return NULL;
}

/*
 * The committed H200 files (data/gpu/): the merged one and pim-gpucal's
 * load and cover every model; attn_sdpa.py's attention rows have the
 * shapes' flops; each merged attention row is the faster of the other
 * two (gpu/calib/merge_attn.py --pick faster).
 */
static void test_data_files(void)
{
	static const char *const name[] = { "data/gpu/h200.tsv",
		"data/gpu/h200-unfused-attn.tsv",
		"data/gpu/h200-sdpa-attn.tsv" };
	const struct gpu_spec *h200 = gpu_spec_find("H200");
	struct gpu_calib *c[3] = { NULL };
	unsigned int i, j, bad = 0, nattn = 0;
	char err[256];
	int ret;

	if (access(name[0], R_OK)) {
		tap_skip("%s not found (run from the repository root)",
			 name[0]);
		return;
	}
	for (i = 0; i < 3; i++) {
		ret = gpu_calib_load(name[i], &c[i], err, sizeof(err));
		if (!tap_ok(!ret, "%s loads%s%s", name[i], ret ? ": " : "",
			    ret ? err : ""))
			goto out;
	}
	for (i = 0; i < 2; i++) {
		for (j = 0; gpu_model_at(j); j++) {
			if (!gpu_calib_check(c[i], h200, gpu_model_at(j), err,
					     sizeof(err)))
				continue;
			tap_diag("%s", err);
			bad++;
		}
		tap_ok(!bad, "%s holds every operator of every model", name[i]);
	}
	for (i = 0; i < c[2]->nr; i++) {
		const struct gpu_calib_row *r = &c[2]->row[i];
		const struct gpu_model *m = gpu_model_find(r->model);
		double w, fl, by;

		if (!m || r->tp != m->tp ||
		    (r->op != GC_PREFILL_ATTN && r->op != GC_DECODE_ATTN)) {
			bad++;
			continue;
		}
		gpu_calib_shape(m, r->op, r->tokens, r->ctx, &w, &fl, &by);
		bad += w != r->work || fl != r->flops || by != r->bytes;
	}
	tap_ok(!bad && c[2]->nr == 60,
	       "%s: 60 attention rows with gpu_calib_shape()'s work, flops and bytes (%u bad)",
	       name[2], bad);
	for (i = 0; i < c[0]->nr; i++) {
		const struct gpu_calib_row *r = &c[0]->row[i], *u, *f;

		if (r->op != GC_PREFILL_ATTN && r->op != GC_DECODE_ATTN)
			continue;
		nattn++;
		u = find_row(c[1], r);
		f = find_row(c[2], r);
		bad += !u || !f ||
		       r->seconds != (f->seconds <= u->seconds ? f->seconds :
				      u->seconds);
	}
	tap_ok(!bad && nattn == 60,
	       "%s: each of its %u attention rows is the faster of the unfused and fused medians",
	       name[0], nattn);
out:
	for (i = 0; i < 3; i++)
		gpu_calib_free(c[i]);
}

int main(void)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_calib.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0) {
		tap_ok(0, "mkstemp: %s", strerror(errno));
		return tap_done();
	}
	close(fd);
	test_parse_good();
	test_parse_bad();
	test_interpolation();
	test_roofline_cross_check();
	test_sim_cross_check();
	test_check_errors();
	test_cli();
	test_data_files();
	unlink(path);
	return tap_done();
}
