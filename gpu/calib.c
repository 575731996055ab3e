// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Measured GPU operator times: pim-gpucal's data files, their shapes, and
 * gpu_roofline_time()'s decomposition with measured operators in it.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "gpu_calib.h"

static const char *const op_names[GC_NR_OPS] = {
	[GC_QKV] = "qkv",
	[GC_OUT_PROJ] = "out_proj",
	[GC_FFN_IN] = "ffn_in",
	[GC_FFN_OUT] = "ffn_out",
	[GC_LM_HEAD] = "lm_head",
	[GC_PREFILL_ATTN] = "prefill_attn",
	[GC_DECODE_ATTN] = "decode_attn",
};

#define COLUMNS	"op\tmodel\ttp\ttokens\tctx\twork\tflops\tbytes\tseconds\tmin_s\tmax_s\treps"
#define NR_COLS	12

const char *gpu_calib_op_name(enum gpu_calib_op op)
{
	return (unsigned int)op < GC_NR_OPS ? op_names[op] : "?";
}

int gpu_calib_op_parse(const char *name, enum gpu_calib_op *op)
{
	unsigned int i;

	for (i = 0; i < GC_NR_OPS; i++) {
		if (!strcmp(name, op_names[i])) {
			*op = (enum gpu_calib_op)i;
			return 0;
		}
	}
	return -EINVAL;
}

static double ceil_div(double a, double b)
{
	return ceil(a / b);
}

int gpu_calib_gemm_dims(const struct gpu_model *m, enum gpu_calib_op op,
			double *k, double *n)
{
	double tp = m->tp, h = m->hidden;
	double hq = ceil_div(m->heads, tp);
	/* tp beyond kv_heads replicates KV heads (gpu_model_check) */
	double hkv = ceil_div(m->kv_heads, tp);

	*k = h;
	switch (op) {
	case GC_QKV:
		*n = (hq + 2 * hkv) * m->head_dim;
		return 0;
	case GC_OUT_PROJ:
		*k = hq * m->head_dim;
		*n = h;
		return 0;
	case GC_FFN_IN:
		*n = (m->ffn_mats - 1) * ceil_div(m->ffn, tp);
		return 0;
	case GC_FFN_OUT:
		*k = ceil_div(m->ffn, tp);
		*n = h;
		return 0;
	case GC_LM_HEAD:
		/*
		 * Servers pad the vocabulary (vLLM: to a multiple of 64);
		 * an odd shard width would halve cuBLAS's rate.
		 */
		*n = ceil_div(ceil_div(m->vocab, 64) * 64, tp);
		return 0;
	default:
		return -EINVAL;
	}
}

void gpu_calib_shape(const struct gpu_model *m, enum gpu_calib_op op,
		     uint64_t tokens, uint64_t ctx, double *work,
		     double *flops, double *bytes)
{
	double d = m->head_dim, t = tokens, k, n;
	double hq = ceil_div(m->heads, m->tp);
	double hkv = ceil_div(m->kv_heads, m->tp);

	switch (op) {
	case GC_PREFILL_ATTN:
		*work = t * (double)ctx + t * (t + 1) / 2;
		*flops = 4 * *work * hq * d;
		*bytes = 4 * ((double)ctx + t) * hkv * d + 4 * t * hq * d;
		return;
	case GC_DECODE_ATTN:
		*work = t * (double)ctx;
		*flops = 4 * *work * hq * d;
		*bytes = 4 * *work * hkv * d;
		return;
	default:
		if (gpu_calib_gemm_dims(m, op, &k, &n)) {
			*work = *flops = *bytes = 0;
			return;
		}
	}
	*work = t;
	*flops = 2 * t * k * n;
	*bytes = 2 * (k * n + t * (k + n));
}

/* The operators of roofline.c, in its units (one replica of tp GPUs). */
static double op_time(const struct gpu_spec *hw, const struct gpu_model *m,
		      double flops, double bytes)
{
	double tc = flops / (hw->flops * hw->compute_util * m->tp);
	double tm = bytes / (hw->mem_bw * hw->bw_util * m->tp);

	return tc > tm ? tc : tm;
}

static double gemm(const struct gpu_spec *hw, const struct gpu_model *m,
		   double t, double k, double n)
{
	return op_time(hw, m, 2 * t * k * n, 2 * (k * n + t * (k + n)));
}

double gpu_calib_roofline_op(const struct gpu_spec *hw,
			     const struct gpu_model *m, enum gpu_calib_op op,
			     double work, double kv_tokens, double t)
{
	double h = m->hidden, kv = (double)m->kv_heads * m->head_dim;

	switch (op) {
	case GC_QKV:
		return gemm(hw, m, work, h, h + 2 * kv);
	case GC_OUT_PROJ:
		return gemm(hw, m, work, h, h);
	case GC_FFN_IN:
		return gemm(hw, m, work, h, (double)m->ffn * (m->ffn_mats - 1));
	case GC_FFN_OUT:
		return gemm(hw, m, work, m->ffn, h);
	case GC_LM_HEAD:
		return gemm(hw, m, work, h, m->vocab);
	case GC_PREFILL_ATTN:
		return op_time(hw, m, 4.0 * work * h,
			       4.0 * kv_tokens * kv + 4.0 * t * h);
	case GC_DECODE_ATTN:
		return op_time(hw, m, 4.0 * work * h, 4.0 * work * kv);
	default:
		return 0;
	}
}

double gpu_calib_roofline_row(const struct gpu_spec *hw,
			      const struct gpu_model *m,
			      const struct gpu_calib_row *r)
{
	return gpu_calib_roofline_op(hw, m, r->op, r->work,
				     (double)(r->ctx + r->tokens),
				     (double)r->tokens);
}

/* ---- data files ---- */

void gpu_calib_free(struct gpu_calib *c)
{
	if (c)
		free(c->row);
	free(c);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end || errno)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_num(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !isfinite(v) || v < 0)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "# key: value" into the header fields we keep; others are notes. */
static void parse_comment(struct gpu_calib *c, char *line)
{
	char *colon = strchr(line, ':'), *v;
	size_t klen;

	if (!colon)
		return;
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	while (*line == '#' || *line == ' ')
		line++;
	klen = colon - line;
	if (klen == 3 && !strncmp(line, "gpu", 3))
		snprintf(c->gpu, sizeof(c->gpu), "%s", v);
	else if (klen == 6 && !strncmp(line, "preset", 6))
		snprintf(c->preset, sizeof(c->preset), "%s", v);
}

static const char *parse_row(char *line, struct gpu_calib_row *r)
{
	char *f[NR_COLS + 1], *save = NULL, *tok;
	unsigned int n = 0;
	uint64_t tp, reps;

	for (tok = strtok_r(line, "\t", &save); tok && n <= NR_COLS;
	     tok = strtok_r(NULL, "\t", &save))
		f[n++] = tok;
	if (n != NR_COLS)
		return "expected 12 tab-separated fields";
	memset(r, 0, sizeof(*r));
	if (gpu_calib_op_parse(f[0], &r->op))
		return "unknown op";
	if (!*f[1] || strlen(f[1]) >= sizeof(r->model))
		return "model name empty or too long";
	strcpy(r->model, f[1]);
	if (parse_u64(f[2], &tp) || !tp || tp > 64)
		return "tp must be 1..64";
	r->tp = (uint32_t)tp;
	if (parse_u64(f[3], &r->tokens) || !r->tokens)
		return "tokens must be a positive integer";
	if (parse_u64(f[4], &r->ctx))
		return "ctx must be an integer >= 0";
	if (r->op == GC_DECODE_ATTN ? !r->ctx : r->op != GC_PREFILL_ATTN &&
	    r->ctx)
		return "ctx must be > 0 for decode_attn and 0 for GEMMs";
	if (parse_num(f[5], &r->work) || !(r->work > 0))
		return "work must be a positive number";
	if (parse_num(f[6], &r->flops) || parse_num(f[7], &r->bytes))
		return "flops and bytes must be numbers >= 0";
	if (parse_num(f[8], &r->seconds) || parse_num(f[9], &r->min_s) ||
	    parse_num(f[10], &r->max_s) || !(r->seconds > 0))
		return "seconds must be positive numbers";
	if (r->min_s > r->seconds || r->seconds > r->max_s)
		return "expected min_s <= seconds <= max_s";
	if (parse_u64(f[11], &reps) || !reps || reps > UINT32_MAX)
		return "reps must be a positive integer";
	r->reps = (uint32_t)reps;
	return NULL;
}

static bool same_series(const struct gpu_calib_row *a,
			const struct gpu_calib_row *b)
{
	return a->op == b->op && a->tp == b->tp && !strcmp(a->model, b->model);
}

/* Rows of one series must come together and in increasing work. */
static const char *check_order(const struct gpu_calib *c)
{
	const struct gpu_calib_row *r = &c->row[c->nr - 1], *p;
	size_t i;

	if (c->nr < 2)
		return NULL;
	p = r - 1;
	if (same_series(p, r))
		return r->work > p->work ? NULL :
		       "work must increase within an (op, model, tp) series";
	for (i = 0; i + 2 < c->nr; i++)
		if (same_series(&c->row[i], r))
			return "rows of an (op, model, tp) series must be adjacent";
	return NULL;
}

static int add_row(struct gpu_calib *c, const struct gpu_calib_row *r)
{
	struct gpu_calib_row *n;

	if (c->nr == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		n = realloc(c->row, c->cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		c->row = n;
	}
	c->row[c->nr++] = *r;
	return 0;
}

static int parse_file(FILE *f, const char *path, struct gpu_calib *c,
		      char *err, size_t errlen)
{
	char line[1024];
	unsigned int n = 0;
	bool columns = false;
	struct gpu_calib_row r;
	const char *why;
	size_t len;

	while (fgets(line, sizeof(line), f)) {
		n++;
		len = strlen(line);
		if (len && line[len - 1] == '\n')
			line[--len] = 0;
		else if (!feof(f)) {
			snprintf(err, errlen, "%s:%u: line too long", path, n);
			return -EINVAL;
		}
		if (len && line[len - 1] == '\r')
			line[--len] = 0;
		if (!len)
			continue;
		if (line[0] == '#') {
			if (columns) {
				snprintf(err, errlen,
					 "%s:%u: comment after the column line",
					 path, n);
				return -EINVAL;
			}
			parse_comment(c, line);
			continue;
		}
		if (!columns) {
			if (strcmp(line, COLUMNS)) {
				snprintf(err, errlen,
					 "%s:%u: expected the column line '%s'",
					 path, n, COLUMNS);
				return -EINVAL;
			}
			columns = true;
			continue;
		}
		why = parse_row(line, &r);
		if (!why && add_row(c, &r)) {
			snprintf(err, errlen, "%s: out of memory", path);
			return -ENOMEM;
		}
		if (!why)
			why = check_order(c);
		if (why) {
			snprintf(err, errlen, "%s:%u: %s", path, n, why);
			return -EINVAL;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		return -EIO;
	}
	if (!c->preset[0]) {
		snprintf(err, errlen, "%s: no '# preset: NAME' line", path);
		return -EINVAL;
	}
	if (!c->nr) {
		snprintf(err, errlen, "%s: no measurements", path);
		return -EINVAL;
	}
	return 0;
}

int gpu_calib_load(const char *path, struct gpu_calib **out, char *err,
		   size_t errlen)
{
	struct gpu_calib *c;
	FILE *f;
	int ret;

	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	ret = parse_file(f, path, c, err, errlen);
	fclose(f);
	if (ret) {
		gpu_calib_free(c);
		return ret;
	}
	*out = c;
	return 0;
}

void gpu_calib_write_header(FILE *f, const char *const *kv, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		fprintf(f, "# %s: %s\n", kv[i], kv[i + 1]);
	fprintf(f, "%s\n", COLUMNS);
}

void gpu_calib_write_row(FILE *f, const struct gpu_calib_row *r)
{
	fprintf(f, "%s\t%s\t%u\t%llu\t%llu\t%.17g\t%.17g\t%.17g\t%.9e\t%.9e\t%.9e\t%u\n",
		gpu_calib_op_name(r->op), r->model, r->tp,
		(unsigned long long)r->tokens, (unsigned long long)r->ctx,
		r->work, r->flops, r->bytes, r->seconds, r->min_s, r->max_s,
		r->reps);
}

/* ---- lookup ---- */

/* The rows of (op, model, tp): [*first, *first + return). */
static size_t series(const struct gpu_calib *c, const struct gpu_model *m,
		     enum gpu_calib_op op, size_t *first)
{
	size_t i, n = 0;

	for (i = 0; i < c->nr; i++) {
		const struct gpu_calib_row *r = &c->row[i];

		if (r->op != op || r->tp != m->tp || strcmp(r->model, m->name))
			continue;
		if (!n)
			*first = i;
		n++;
	}
	return n;
}

int gpu_calib_check(const struct gpu_calib *c, const struct gpu_spec *hw,
		    const struct gpu_model *m, char *err, size_t errlen)
{
	unsigned int op;
	size_t first = 0, n, i;

	if (strcasecmp(c->preset, hw->name)) {
		snprintf(err, errlen, "%s calibrates GPU %s, not %s",
			 c->path, c->preset, hw->name);
		return -EINVAL;
	}
	for (op = 0; op < GC_NR_OPS; op++) {
		n = series(c, m, op, &first);
		if (!n) {
			snprintf(err, errlen, "%s has no %s rows for %s at tp %u",
				 c->path, op_names[op], m->name, m->tp);
			return -EINVAL;
		}
		for (i = first; i < first + n; i++) {
			const struct gpu_calib_row *r = &c->row[i];
			double w, fl, by;

			gpu_calib_shape(m, op, r->tokens, r->ctx, &w, &fl, &by);
			if (fabs(fl - r->flops) > 1e-9 * fl ||
			    fabs(w - r->work) > 1e-9 * w) {
				snprintf(err, errlen,
					 "%s: %s rows of %s do not match its shape (flops %.6g, expected %.6g)",
					 c->path, op_names[op], m->name,
					 r->flops, fl);
				return -EINVAL;
			}
		}
	}
	return 0;
}

double gpu_calib_op_time(const struct gpu_calib *c,
			 const struct gpu_spec *hw, const struct gpu_model *m,
			 enum gpu_calib_op op, double work, double kv_tokens,
			 double t)
{
	const struct gpu_calib_row *a, *b;
	size_t first = 0, n, i;
	double ra, rb, s, ratio, lo, hi, time;

	n = series(c, m, op, &first);
	if (!n)
		return -1;
	a = &c->row[first];
	for (i = 1; i + 1 < n && c->row[first + i].work < work; i++)
		;
	if (n > 1) {
		a = &c->row[first + i - 1];
		b = &c->row[first + i];
	} else {
		b = a;
	}
	ra = a->seconds / gpu_calib_roofline_row(hw, m, a);
	rb = b->seconds / gpu_calib_roofline_row(hw, m, b);
	if (work <= a->work || a == b)
		ratio = work <= a->work ? ra : rb;
	else if (work >= b->work)
		ratio = rb;
	else {
		s = log(work / a->work) / log(b->work / a->work);
		ratio = exp((1 - s) * log(ra) + s * log(rb));
	}
	time = gpu_calib_roofline_op(hw, m, op, work, kv_tokens, t) * ratio;
	/*
	 * Between two rows of an operator whose roofline depends on work
	 * alone, stay between their measurements: noise in the ratio must
	 * not make a larger batch faster than a smaller one.
	 */
	if (op != GC_PREFILL_ATTN && work > a->work && work < b->work) {
		lo = a->seconds < b->seconds ? a->seconds : b->seconds;
		hi = a->seconds < b->seconds ? b->seconds : a->seconds;
		time = time < lo ? lo : time > hi ? hi : time;
	}
	return time;
}

static double allreduce(const struct gpu_spec *hw, const struct gpu_model *m,
			double t)
{
	double tp = m->tp, bytes = 2 * t * m->hidden;

	if (m->tp == 1)
		return 0;
	return hw->link_lat + bytes * 2 * (tp - 1) / tp / hw->link_bw;
}

double gpu_calib_time(const struct gpu_calib *c, const struct gpu_spec *hw,
		      const struct gpu_model *m, const struct gpu_work *w)
{
	double t = w->tokens, layer = 0;
	unsigned int op;

	if (w->tokens) {
		for (op = GC_QKV; op <= GC_FFN_OUT; op++)
			layer += gpu_calib_op_time(c, hw, m, op, t, 0, t);
		layer += 2 * allreduce(hw, m, t);
	}
	if (w->prefill_pairs)
		layer += gpu_calib_op_time(c, hw, m, GC_PREFILL_ATTN,
					   w->prefill_pairs, w->prefill_kv, t);
	if (w->decode_ctx)
		layer += gpu_calib_op_time(c, hw, m, GC_DECODE_ATTN,
					   w->decode_ctx, 0, t);
	return m->layers * layer +
	       (w->out_tokens ? gpu_calib_op_time(c, hw, m, GC_LM_HEAD,
						  w->out_tokens, 0,
						  w->out_tokens) : 0);
}
