// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pim-gpucal - measure, on one GPU, the operator times that pimsim's GPU
 * model needs: every GEMM of one layer and the LM head of each paper
 * model, per tensor-parallel shard, over a sweep of token counts, and
 * unfused prefill and decode attention at a few shapes. Writes a
 * gpu_calib.h data file.
 *
 *	pim-gpucal -o h200.tsv --preset H200
 *	pim-gpucal --list	the plan, without a GPU
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "gpu_calib.h"
#include "gpucal.h"

#define TOOL_VERSION	"1"
#define MAX_LIST	64
#define MAX_META	16

struct shape {
	uint64_t a, b;		/* prefill chunk x prefix, decode B x L */
};

struct opts {
	const char *out, *preset;
	const struct gpu_model *model[MAX_LIST];
	unsigned int nr_models;
	uint64_t tokens[MAX_LIST];
	unsigned int nr_tokens;
	struct shape prefill[MAX_LIST], decode[MAX_LIST];
	unsigned int nr_prefill, nr_decode;
	const char *meta[2 * MAX_META];
	unsigned int nr_meta;
	struct gc_timing tm;
	int device;
	bool list;
};

static const struct shape def_prefill[] = {
	{ 256, 0 }, { 512, 0 }, { 1024, 0 }, { 2048, 0 }, { 4096, 0 },
	{ 8192, 0 }, { 1024, 4096 }, { 2048, 14336 }, { 4096, 28672 },
};

static const struct shape def_decode[] = {
	{ 1, 2048 }, { 4, 8192 }, { 16, 8192 }, { 32, 16384 },
	{ 64, 16384 }, { 128, 16384 },
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: pim-gpucal [options]\n"
"  -o, --output FILE     write the data file here (default stdout)\n"
"  -p, --preset NAME     the gpu preset it calibrates (default H200)\n"
"  -m, --models LIST     model presets, comma-separated (default: all)\n"
"  -t, --tokens LIST     GEMM token counts (default 1,2,4,...,8192)\n"
"  -P, --prefill LIST    prefill CHUNKxPREFIX shapes\n"
"  -D, --decode LIST     decode BATCHxCONTEXT shapes\n"
"  -r, --reps N          timed runs per shape, at least (default 20)\n"
"  -R, --max-reps N      and at most (default 200)\n"
"  -w, --warmup N        untimed runs first (default 5)\n"
"  -M, --meta KEY=VALUE  add a header line (clocks, host; repeatable)\n"
"  -d, --device N        CUDA device (default 0)\n"
"  -l, --list            print the plan and exit, without a GPU\n"
"  -h, --help\n");
}

static int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return *end || errno || *v < min || *v > max ? -EINVAL : 0;
}

/* "a,b,c" into up to MAX_LIST items; each through one(). */
static int parse_list(const char *arg, const char *what,
		      int (*one)(struct opts *, const char *), struct opts *o)
{
	char *dup = strdup(arg), *tok, *save = NULL;
	int ret = dup ? 0 : -ENOMEM;

	for (tok = dup ? strtok_r(dup, ",", &save) : NULL; tok && !ret;
	     tok = strtok_r(NULL, ",", &save)) {
		ret = one(o, tok);
		if (ret)
			fprintf(stderr, "pim-gpucal: bad %s '%s'\n", what, tok);
	}
	free(dup);
	return ret;
}

static int one_model(struct opts *o, const char *s)
{
	const struct gpu_model *m = gpu_model_find(s);

	if (!m || o->nr_models == MAX_LIST)
		return -EINVAL;
	o->model[o->nr_models++] = m;
	return 0;
}

static int one_token(struct opts *o, const char *s)
{
	uint64_t t;

	if (parse_uint(s, 1, 1 << 20, &t) || o->nr_tokens == MAX_LIST ||
	    (o->nr_tokens && t <= o->tokens[o->nr_tokens - 1]))
		return -EINVAL;	/* the data file wants increasing work */
	o->tokens[o->nr_tokens++] = t;
	return 0;
}

static int one_shape(struct shape *sh, unsigned int *nr, const char *s,
		     bool zero_b)
{
	const char *x = strchr(s, 'x');
	char a[32];
	uint64_t va, vb = 0;

	if (!x || x == s || (size_t)(x - s) >= sizeof(a) || *nr == MAX_LIST)
		return -EINVAL;
	memcpy(a, s, x - s);
	a[x - s] = 0;
	if (parse_uint(a, 1, 1 << 20, &va))
		return -EINVAL;
	if (parse_uint(x + 1, zero_b ? 0 : 1, 1 << 20, &vb))
		return -EINVAL;
	sh[*nr].a = va;
	sh[(*nr)++].b = vb;
	return 0;
}

static int one_prefill(struct opts *o, const char *s)
{
	return one_shape(o->prefill, &o->nr_prefill, s, true);
}

static int one_decode(struct opts *o, const char *s)
{
	return one_shape(o->decode, &o->nr_decode, s, false);
}

static int shape_work_cmp(const void *a, const void *b, void *arg)
{
	const struct shape *x = a, *y = b;
	bool decode = *(bool *)arg;
	double wx = decode ? (double)x->a * x->b :
			     x->a * (x->b + (x->a + 1) / 2.0);
	double wy = decode ? (double)y->a * y->b :
			     y->a * (y->b + (y->a + 1) / 2.0);

	return wx < wy ? -1 : wx > wy;
}

/* Rows go out in increasing work; equal work is a duplicate. */
static int sort_shapes(struct shape *sh, unsigned int nr, bool decode)
{
	unsigned int i;

	qsort_r(sh, nr, sizeof(*sh), shape_work_cmp, &decode);
	for (i = 1; i < nr; i++)
		if (!shape_work_cmp(&sh[i - 1], &sh[i], &decode))
			return -EINVAL;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "preset", required_argument, NULL, 'p' },
		{ "models", required_argument, NULL, 'm' },
		{ "tokens", required_argument, NULL, 't' },
		{ "prefill", required_argument, NULL, 'P' },
		{ "decode", required_argument, NULL, 'D' },
		{ "reps", required_argument, NULL, 'r' },
		{ "max-reps", required_argument, NULL, 'R' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "meta", required_argument, NULL, 'M' },
		{ "device", required_argument, NULL, 'd' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	unsigned int i;
	int c, ret = 0;

	memset(o, 0, sizeof(*o));
	o->preset = "H200";
	o->tm = (struct gc_timing){ .warmup = 5, .min_reps = 20,
				    .max_reps = 200, .target_s = 0.05 };
	while (!ret && (c = getopt_long(argc, argv, "o:p:m:t:P:D:r:R:w:M:d:lh",
					lopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->out = optarg;
			break;
		case 'p':
			o->preset = optarg;
			if (!gpu_spec_find(optarg)) {
				fprintf(stderr, "pim-gpucal: unknown gpu preset '%s'\n",
					optarg);
				ret = -EINVAL;
			}
			break;
		case 'm':
			ret = parse_list(optarg, "model", one_model, o);
			break;
		case 't':
			ret = parse_list(optarg, "token count (1..1048576, increasing)",
					 one_token, o);
			break;
		case 'P':
			ret = parse_list(optarg, "prefill shape (CHUNKxPREFIX)",
					 one_prefill, o);
			break;
		case 'D':
			ret = parse_list(optarg, "decode shape (BATCHxCONTEXT)",
					 one_decode, o);
			break;
		case 'r':
		case 'R':
		case 'w':
		case 'd':
			ret = parse_uint(optarg, c == 'r' || c == 'R', 1000,
					 &v);
			if (ret) {
				fprintf(stderr, "pim-gpucal: bad number '%s' for -%c\n",
					optarg, c);
				break;
			}
			if (c == 'r')
				o->tm.min_reps = (unsigned int)v;
			else if (c == 'R')
				o->tm.max_reps = (unsigned int)v;
			else if (c == 'w')
				o->tm.warmup = (unsigned int)v;
			else
				o->device = (int)v;
			break;
		case 'M':
			if (!strchr(optarg, '=') || optarg[0] == '=' ||
			    strchr(optarg, '\n') || o->nr_meta == MAX_META) {
				fprintf(stderr, "pim-gpucal: --meta wants KEY=VALUE (at most %d)\n",
					MAX_META);
				ret = -EINVAL;
				break;
			}
			o->meta[2 * o->nr_meta++] = optarg;
			break;
		case 'l':
			o->list = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (ret)
		return ret;
	if (optind < argc) {
		fprintf(stderr, "pim-gpucal: unexpected argument '%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	if (o->tm.min_reps > o->tm.max_reps || o->tm.max_reps > 400) {
		fprintf(stderr, "pim-gpucal: want 1 <= --reps <= --max-reps <= 400\n");
		return -EINVAL;
	}
	if (!o->nr_models)
		for (i = 0; gpu_model_at(i); i++)
			o->model[o->nr_models++] = gpu_model_at(i);
	if (!o->nr_tokens)
		for (v = 1; v <= 8192; v *= 2)
			o->tokens[o->nr_tokens++] = v;
	if (!o->nr_prefill) {
		memcpy(o->prefill, def_prefill, sizeof(def_prefill));
		o->nr_prefill = sizeof(def_prefill) / sizeof(def_prefill[0]);
	}
	if (!o->nr_decode) {
		memcpy(o->decode, def_decode, sizeof(def_decode));
		o->nr_decode = sizeof(def_decode) / sizeof(def_decode[0]);
	}
	if (sort_shapes(o->prefill, o->nr_prefill, false) ||
	    sort_shapes(o->decode, o->nr_decode, true)) {
		fprintf(stderr, "pim-gpucal: two attention shapes of equal work\n");
		return -EINVAL;
	}
	return 0;
}

static void version(char *buf, size_t len, int v)
{
	snprintf(buf, len, "%d.%d", v / 1000, v % 1000 / 10);
}

static void write_header(FILE *f, const struct opts *o,
			 const struct gc_info *info)
{
	char date[32], cc[16], mem[32], l2[32], rt[16], drv[16], cublas[16];
	char timing[160];
	const char *kv[2 * (16 + MAX_META)];
	time_t now = time(NULL);
	unsigned int n = 0, i;

	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	snprintf(cc, sizeof(cc), "%d.%d", info->cc_major, info->cc_minor);
	snprintf(mem, sizeof(mem), "%zu", info->mem_bytes);
	snprintf(l2, sizeof(l2), "%zu", info->l2_bytes);
	version(rt, sizeof(rt), info->runtime);
	version(drv, sizeof(drv), info->driver);
	snprintf(cublas, sizeof(cublas), "%d", info->cublas);
	snprintf(timing, sizeof(timing),
		 "%u untimed runs, then %u..%u timed (about %.0f ms of work) queued behind a delay kernel; seconds is the median, CUDA events",
		 o->tm.warmup, o->tm.min_reps, o->tm.max_reps,
		 o->tm.target_s * 1e3);
#define KV(k, v)	do { kv[n++] = (k); kv[n++] = (v); } while (0)
	KV("tool", "pim-gpucal " TOOL_VERSION " (gpu/calib/)");
	KV("date", date);
	KV("preset", o->preset);
	KV("gpu", info->name);
	KV("compute_capability", cc);
	KV("memory_bytes", mem);
	KV("l2_bytes", l2);
	KV("cuda_runtime", rt);
	KV("cuda_driver_api", drv);
	KV("cublas", cublas);
	KV("units", "seconds of one layer's operator on one tensor-parallel shard (one GPU); flops and bytes of that shard");
	KV("gemm", "FP16 inputs and output, FP32 accumulation: cublasGemmEx(T, N, CUBLAS_COMPUTE_32F, default algo), weights n x k as torch.nn.Linear; ffn_in fuses the ffn_mats - 1 input matrices; lm_head pads the vocabulary to a multiple of 64 (as vLLM does)");
	KV("attention", "unfused: cublasGemmStridedBatchedEx for Q K^T (FP32 scores) and P V (FP16 out), a masked softmax kernel between; full chunk x (prefix + chunk) score rectangle, causal mask in the softmax; flops count causal pairs only; decode is the same code with chunk 1");
	KV("cold_inputs", "weights (GEMMs) and K, V (attention) rotate over copies totalling at least twice the L2 cache");
	KV("timing", timing);
	for (i = 0; i < o->nr_meta; i++) {
		char *eq = strchr(o->meta[2 * i], '=');

		*eq = 0;
		KV(o->meta[2 * i], eq + 1);
	}
#undef KV
	gpu_calib_write_header(f, kv, n);
}

static int measure(const struct opts *o, const struct gpu_model *m,
		   struct gpu_calib_row *r, char *err, size_t errlen)
{
	uint64_t hq = (m->heads + m->tp - 1) / m->tp;
	uint64_t hkv = (m->kv_heads + m->tp - 1) / m->tp;
	struct gc_times t;
	double k, n;
	int ret;

	if (r->op == GC_PREFILL_ATTN)
		ret = gc_attn(hkv, (uint32_t)(hq / hkv), r->tokens, r->ctx,
			      m->head_dim, &o->tm, &t, err, errlen);
	else if (r->op == GC_DECODE_ATTN)
		ret = gc_attn(r->tokens * hkv, (uint32_t)(hq / hkv), 1,
			      r->ctx - 1, m->head_dim, &o->tm, &t, err, errlen);
	else if (!gpu_calib_gemm_dims(m, r->op, &k, &n))
		ret = gc_gemm(r->tokens, (uint64_t)k, (uint64_t)n, &o->tm, &t,
			      err, errlen);
	else
		ret = -1;
	r->seconds = t.median;
	r->min_s = t.min;
	r->max_s = t.max;
	r->reps = t.reps;
	return ret;
}

/* One row: its shape, and unless listing, its measurement. */
static int row(const struct opts *o, FILE *f, const struct gpu_model *m,
	       enum gpu_calib_op op, uint64_t tokens, uint64_t ctx)
{
	struct gpu_calib_row r = { .op = op, .tp = m->tp, .tokens = tokens,
				   .ctx = ctx };
	char err[256];

	snprintf(r.model, sizeof(r.model), "%s", m->name);
	gpu_calib_shape(m, op, tokens, ctx, &r.work, &r.flops, &r.bytes);
	if (o->list) {
		fprintf(f, "%s\t%s\t%u\t%llu\t%llu\t%.17g\t%.17g\t%.17g\n",
			gpu_calib_op_name(op), m->name, m->tp,
			(unsigned long long)tokens, (unsigned long long)ctx,
			r.work, r.flops, r.bytes);
		return 0;
	}
	if (measure(o, m, &r, err, sizeof(err))) {
		fprintf(stderr, "pim-gpucal: %s %s tokens %llu ctx %llu: %s\n",
			gpu_calib_op_name(op), m->name,
			(unsigned long long)tokens, (unsigned long long)ctx,
			err);
		return -EIO;
	}
	gpu_calib_write_row(f, &r);
	fprintf(stderr, "%-12s %-9s tp %u %6llu x %-6llu %10.2f us  %7.1f TFLOP/s %7.1f GB/s\n",
		gpu_calib_op_name(op), m->name, m->tp,
		(unsigned long long)tokens, (unsigned long long)ctx,
		r.seconds * 1e6, r.flops / r.seconds / 1e12,
		r.bytes / r.seconds / 1e9);
	return 0;
}

static int run_plan(const struct opts *o, FILE *f)
{
	unsigned int i, j, op;
	int ret = 0;

	if (o->list)
		fprintf(f, "op\tmodel\ttp\ttokens\tctx\twork\tflops\tbytes\n");
	for (i = 0; i < o->nr_models && !ret; i++) {
		const struct gpu_model *m = o->model[i];

		for (op = GC_QKV; op <= GC_LM_HEAD && !ret; op++)
			for (j = 0; j < o->nr_tokens && !ret; j++)
				ret = row(o, f, m, op, o->tokens[j], 0);
		for (j = 0; j < o->nr_prefill && !ret; j++)
			ret = row(o, f, m, GC_PREFILL_ATTN, o->prefill[j].a,
				  o->prefill[j].b);
		for (j = 0; j < o->nr_decode && !ret; j++)
			ret = row(o, f, m, GC_DECODE_ATTN, o->decode[j].a,
				  o->decode[j].b);
	}
	return ret;
}

int main(int argc, char **argv)
{
	char err[256], tmp[4096];
	struct gc_info info;
	struct opts o;
	FILE *f = stdout;
	int ret;

	if (parse_args(argc, argv, &o))
		return 2;
	if (o.list)
		return run_plan(&o, stdout) ? 1 : 0;
	if (gc_open(o.device, &info, err, sizeof(err))) {
		fprintf(stderr, "pim-gpucal: %s\n", err);
		return 1;
	}
	/* A run that fails leaves no partial file behind. */
	if (o.out) {
		snprintf(tmp, sizeof(tmp), "%s.tmp.%d", o.out, (int)getpid());
		f = fopen(tmp, "w");
		if (!f) {
			fprintf(stderr, "pim-gpucal: %s: %s\n", tmp,
				strerror(errno));
			gc_close();
			return 1;
		}
	}
	write_header(f, &o, &info);
	ret = run_plan(&o, f);
	gc_close();
	if (!o.out)
		return ret || fflush(stdout) ? 1 : 0;
	if (fclose(f) && !ret) {
		fprintf(stderr, "pim-gpucal: %s: %s\n", tmp, strerror(errno));
		ret = -EIO;
	}
	if (!ret && rename(tmp, o.out)) {
		fprintf(stderr, "pim-gpucal: %s: %s\n", o.out, strerror(errno));
		ret = -EIO;
	}
	if (ret)
		unlink(tmp);
	return ret ? 1 : 0;
}
