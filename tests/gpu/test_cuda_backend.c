// SPDX-License-Identifier: GPL-2.0
/*
 * test_cuda_backend.c - the CUDA backend (gpu_cuda.h) against the CPU
 * backend it must reproduce.
 *
 * Everywhere: the loader's errors (bad model, missing plugin, a file that
 * is not a plugin, a plugin of another ABI version). With the plugin and a GPU: embed, qkv, post_attn and
 * next_token on a tiny and a larger model, several batch sizes and
 * positions, must be bit for bit the CPU backend's (every differing value
 * is counted and its distance in ulp reported); prefill_attn within 1e-12
 * relative of pim/ref_attn.h's result rounded to float (the number of
 * floats that differ is reported); greedy generation with host attention,
 * and with prefill_attn for the prompt, token for token
 * gpu_cpu_reference_generate()'s. Without plugin or GPU those are skipped
 * with the reason.
 */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pim/half.h>
#include <pim/prng.h>
#include <pim/ref_attn.h>

#include "cuda/plugin_path.h"
#include "gpu_cpu.h"
#include "gpu_cuda.h"
#include "../tap.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define ATTN_TOL	1e-12
#define SEED		7

static const struct gpu_model tiny = {
	.name = "tiny", .layers = 2, .heads = 4, .kv_heads = 2,
	.hidden = 128, .head_dim = 32, .ffn = 256, .ffn_mats = 3,
	.vocab = 256, .tp = 1, .dp = 1,
};

static const struct gpu_model larger = {
	.name = "larger", .layers = 4, .heads = 16, .kv_heads = 4,
	.hidden = 1024, .head_dim = 64, .ffn = 2816, .ffn_mats = 3,
	.vocab = 4096, .tp = 1, .dp = 1,
};

/* Sizes that are no multiple of the kernels' tiles: their edge paths. */
static const struct gpu_model odd = {
	.name = "odd", .layers = 2, .heads = 3, .kv_heads = 1,
	.hidden = 90, .head_dim = 30, .ffn = 200, .ffn_mats = 3,
	.vocab = 1000, .tp = 1, .dp = 1,
};

static const struct gpu_model *const models[] = { &tiny, &odd, &larger };
static const uint32_t batches[] = { 1, 3, 16, 64 };

/* Tests per model with a GPU, and the generation prompts. */
#define OP_TESTS	6
#define GEN_PROMPTS	2

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		printf("Bail out! out of memory\n");
		exit(1);
	}
	return p;
}

/* ---- comparison ---- */

/* Distance in representable floats (monotonic integer order). */
static uint64_t ulp_dist(float a, float b)
{
	int64_t ia = f32_to_bits(a), ib = f32_to_bits(b);

	ia = ia & 0x80000000 ? 0x80000000LL - ia : ia;
	ib = ib & 0x80000000 ? 0x80000000LL - ib : ib;
	return ia > ib ? ia - ib : ib - ia;
}

struct diff {
	uint64_t values, differ, max_ulp;
};

static void diff_add(struct diff *d, const float *got, const float *want,
		     size_t n)
{
	size_t i;

	for (i = 0; i < n; i++, d->values++) {
		uint64_t u;

		if (f32_to_bits(got[i]) == f32_to_bits(want[i]))
			continue;
		u = ulp_dist(got[i], want[i]);
		d->differ++;
		if (u > d->max_ulp)
			d->max_ulp = u;
	}
}

static void diff_report(const struct gpu_model *m, const char *what,
			const struct diff *d)
{
	tap_ok(d->values && !d->differ,
	       "%s: %s bit-exact with the CPU backend (%llu values, %llu differ, max %llu ulp)",
	       m->name, what, (unsigned long long)d->values,
	       (unsigned long long)d->differ,
	       (unsigned long long)d->max_ulp);
}

/* ---- the ops, batch by batch ---- */

static void test_ops(const struct gpu_model *m, struct gpu_backend *cpu,
		     struct gpu_backend *gpu)
{
	size_t h = m->hidden, qd = (size_t)m->heads * m->head_dim;
	size_t kd = (size_t)m->kv_heads * m->head_dim, nmax = 64;
	struct diff de = { 0 }, dq = { 0 }, dp = { 0 };
	uint64_t tok_rows = 0, tok_diff = 0, s = SEED;
	float *x = xmalloc(nmax * h * 4), *gx = xmalloc(nmax * h * 4);
	float *q = xmalloc(nmax * qd * 4), *gq = xmalloc(nmax * qd * 4);
	float *k = xmalloc(nmax * kd * 4), *gk = xmalloc(nmax * kd * 4);
	float *v = xmalloc(nmax * kd * 4), *gv = xmalloc(nmax * kd * 4);
	uint32_t tok[64], pos[64], ct[64], gt[64], bad, l, i, j;
	int ret = 0;
	double t;

	for (i = 0; i < ARRAY_SIZE(batches) && !ret; i++) {
		uint32_t n = batches[i];

		for (j = 0; j < n; j++) {
			tok[j] = prng_splitmix64(&s) % m->vocab;
			/* positions from 0 to far beyond any context */
			pos[j] = j ? prng_splitmix64(&s) % 200000 : i;
		}
		ret = cpu->ops->embed(cpu, tok, n, x) ?:
		      gpu->ops->embed(gpu, tok, n, gx);
		diff_add(&de, gx, x, n * h);
		for (l = 0; l < m->layers && !ret; l++) {
			ret = cpu->ops->qkv(cpu, l, x, pos, n, q, k, v) ?:
			      gpu->ops->qkv(gpu, l, x, pos, n, gq, gk, gv);
			diff_add(&dq, gq, q, n * qd);
			diff_add(&dq, gk, k, n * kd);
			diff_add(&dq, gv, v, n * kd);
			/* q stands in for attention: same shape and scale */
			memcpy(gx, x, n * h * 4);
			ret = ret ?: cpu->ops->post_attn(cpu, l, x, q, n) ?:
			      gpu->ops->post_attn(gpu, l, gx, q, n);
			diff_add(&dp, gx, x, n * h);
		}
		ret = ret ?: cpu->ops->next_token(cpu, x, n, ct) ?:
		      gpu->ops->next_token(gpu, x, n, gt);
		for (j = 0; j < n; j++, tok_rows++)
			tok_diff += ct[j] != gt[j];
	}
	if (ret)
		tap_diag("%s: an op failed: %d (%s)", m->name, ret,
			 gpu_cuda_backend_error(gpu));
	diff_report(m, "embed", &de);
	diff_report(m, "qkv (q, k, v)", &dq);
	diff_report(m, "post_attn", &dp);
	tap_ok(!ret && tok_rows && !tok_diff,
	       "%s: next_token equal (%llu rows, %llu differ)", m->name,
	       (unsigned long long)tok_rows, (unsigned long long)tok_diff);

	t = gpu->ops->time(gpu, NULL);
	tap_ok(t > 0 && isfinite(t) && gpu->ops->time(gpu, NULL) == 0,
	       "%s: time() gave GPU seconds (%.6f), then 0", m->name, t);

	bad = m->vocab;
	tap_ok(gpu->ops->embed(gpu, &bad, 1, x) == -EINVAL &&
	       gpu->ops->qkv(gpu, m->layers, x, pos, 1, q, k, v) == -EINVAL &&
	       gpu->ops->post_attn(gpu, m->layers, x, q, 1) == -EINVAL &&
	       gpu->ops->embed(gpu, tok, 0, x) == 0,
	       "%s: token >= vocab and layer >= layers refused, n = 0 a no-op",
	       m->name);
	free(x), free(gx), free(q), free(gq);
	free(k), free(gk), free(v), free(gv);
}

/* ---- prefill attention ---- */

static float rnd(uint64_t *s)
{
	return (float)(prng_splitmix64(s) >> 40) / (float)(1 << 23) - 1.0f;
}

static void test_prefill_attn(const struct gpu_model *m,
			      struct gpu_backend *gpu)
{
	static const uint32_t shapes[][2] = {	/* ctx, ntok */
		{ 0, 1 }, { 0, 7 }, { 5, 1 }, { 300, 40 }, { 1000, 3 },
	};
	struct ref_attn_shape rs = {
		.q_heads = m->heads, .kv_heads = m->kv_heads,
		.head_dim = m->head_dim, .dtype = PIM_DTYPE_FP16,
	};
	size_t qd = (size_t)m->heads * m->head_dim;
	size_t kd = (size_t)m->kv_heads * m->head_dim;
	double scale = 1.0 / sqrt((double)m->head_dim), err = 0;
	double *want = xmalloc(qd * sizeof(double));
	uint64_t s = SEED, differ = 0, values = 0;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < ARRAY_SIZE(shapes) && !ret; i++) {
		uint32_t ctx = shapes[i][0], ntok = shapes[i][1];
		size_t total = ctx + ntok, e, j, d;
		float *q = xmalloc(ntok * qd * 4);
		float *out = xmalloc(ntok * qd * 4);
		uint16_t *k = xmalloc(total * kd * 2);
		uint16_t *v = xmalloc(total * kd * 2);

		/* |q.k| up to several units, so softmax is far from flat */
		for (e = 0; e < ntok * qd; e++)
			q[e] = 3.0f * rnd(&s);
		for (e = 0; e < total * kd; e++) {
			k[e] = fp16_from_f32(rnd(&s));
			v[e] = fp16_from_f32(rnd(&s));
		}
		ret = gpu->ops->prefill_attn(gpu, q, ctx, ntok, k, v, out);
		for (j = 0; j < ntok && !ret; j++) {
			ref_attn(&rs, k, v, ctx + j + 1, q + j * qd, scale,
				 want);
			/* the op returns floats: compare with ref rounded */
			for (d = 0; d < qd; d++, values++) {
				want[d] = (float)want[d];
				differ += f32_to_bits(out[j * qd + d]) !=
					  f32_to_bits((float)want[d]);
			}
			err = fmax(err, ref_rel_err(out + j * qd, want, qd));
		}
		free(q), free(out), free(k), free(v);
	}
	if (ret)
		tap_diag("%s: prefill_attn failed: %d (%s)", m->name, ret,
			 gpu_cuda_backend_error(gpu));
	tap_ok(!ret && err <= ATTN_TOL,
	       "%s: prefill_attn within %g of ref_attn (max rel err %.3g; %llu of %llu floats not the reference's)",
	       m->name, ATTN_TOL, err, (unsigned long long)differ,
	       (unsigned long long)values);
	free(want);
}

/* ---- greedy generation ---- */

struct gen {
	const struct gpu_model *m;
	struct gpu_backend *b;
	bool gpu_prefill;	/* the prompt through b's prefill_attn */
	uint32_t total;
	uint16_t *kc, *vc;	/* layers x total x kd, FP16 */
	float *x, *q, *k, *v, *attn;
	uint32_t *pos;
};

/* Attention of n rows at pos0.. of one layer, on the host or the GPU. */
static int gen_attn(struct gen *g, uint32_t layer, uint32_t pos0,
		    uint32_t n)
{
	const struct gpu_model *m = g->m;
	size_t qd = (size_t)m->heads * m->head_dim;
	size_t kd = (size_t)m->kv_heads * m->head_dim, i;
	const uint16_t *kl = g->kc + (size_t)layer * g->total * kd;
	const uint16_t *vl = g->vc + (size_t)layer * g->total * kd;
	struct ref_attn_shape rs = {
		.q_heads = m->heads, .kv_heads = m->kv_heads,
		.head_dim = m->head_dim, .dtype = PIM_DTYPE_FP16,
	};
	double scale = 1.0 / sqrt((double)m->head_dim);
	double *out;
	uint32_t j;

	if (g->gpu_prefill && n > 1)
		return g->b->ops->prefill_attn(g->b, g->q, pos0, n, kl, vl,
					       g->attn);
	out = xmalloc(qd * sizeof(double));
	for (j = 0; j < n; j++) {
		ref_attn(&rs, kl, vl, pos0 + j + 1, g->q + j * qd, scale,
			 out);
		for (i = 0; i < qd; i++)
			g->attn[j * qd + i] = (float)out[i];
	}
	free(out);
	return 0;
}

static int gen_forward(struct gen *g, const uint32_t *tok, uint32_t n,
		       uint32_t pos0)
{
	const struct gpu_model *m = g->m;
	size_t kd = (size_t)m->kv_heads * m->head_dim, i;
	struct gpu_backend *b = g->b;
	uint32_t l, j;
	int ret;

	for (j = 0; j < n; j++)
		g->pos[j] = pos0 + j;
	ret = b->ops->embed(b, tok, n, g->x);
	for (l = 0; l < m->layers && !ret; l++) {
		size_t at = ((size_t)l * g->total + pos0) * kd;

		ret = b->ops->qkv(b, l, g->x, g->pos, n, g->q, g->k, g->v);
		for (i = 0; i < n * kd && !ret; i++) {
			g->kc[at + i] = fp16_from_f32(g->k[i]);
			g->vc[at + i] = fp16_from_f32(g->v[i]);
		}
		ret = ret ?: gen_attn(g, l, pos0, n);
		ret = ret ?: b->ops->post_attn(b, l, g->x, g->attn, n);
	}
	return ret;
}

/* Greedy decode of max_new tokens after the prompt, through g->b. */
static int generate(struct gen *g, const uint32_t *prompt, uint32_t n,
		    uint32_t max_new, uint32_t *out)
{
	const struct gpu_model *m = g->m;
	size_t qd = (size_t)m->heads * m->head_dim;
	size_t kd = (size_t)m->kv_heads * m->head_dim;
	uint32_t i;
	int ret;

	g->total = n + max_new;
	g->kc = xmalloc((size_t)m->layers * g->total * kd * 2);
	g->vc = xmalloc((size_t)m->layers * g->total * kd * 2);
	g->x = xmalloc((size_t)n * m->hidden * 4);
	g->q = xmalloc(n * qd * 4);
	g->attn = xmalloc(n * qd * 4);
	g->k = xmalloc(n * kd * 4);
	g->v = xmalloc(n * kd * 4);
	g->pos = xmalloc(n * sizeof(*g->pos));
	ret = gen_forward(g, prompt, n, 0) ?:
	      g->b->ops->next_token(g->b, g->x + (size_t)(n - 1) * m->hidden,
				    1, &out[0]);
	for (i = 1; i < max_new && !ret; i++)
		ret = gen_forward(g, &out[i - 1], 1, n + i - 1) ?:
		      g->b->ops->next_token(g->b, g->x, 1, &out[i]);
	free(g->kc), free(g->vc), free(g->x), free(g->q);
	free(g->attn), free(g->k), free(g->v), free(g->pos);
	return ret;
}

static void test_generate(const struct gpu_model *m, struct gpu_backend *cpu,
			  struct gpu_backend *gpu)
{
	bool big = m->hidden >= 1024;
	uint32_t n = big ? 24 : 40, max_new = big ? 12 : 32;
	uint32_t *prompt = xmalloc(n * 4), *want = xmalloc(max_new * 4);
	uint32_t *got = xmalloc(max_new * 4), i, same;
	uint64_t s = SEED + 1;
	int p;

	for (i = 0; i < n; i++)
		prompt[i] = prng_splitmix64(&s) % m->vocab;
	if (gpu_cpu_reference_generate(cpu, prompt, n, max_new, GPU_KV_FP16,
				       want)) {
		printf("Bail out! the CPU reference failed\n");
		exit(1);
	}
	for (p = 0; p < GEN_PROMPTS; p++) {
		struct gen g = { .m = m, .b = gpu, .gpu_prefill = p };
		int ret = generate(&g, prompt, n, max_new, got);

		for (i = 0, same = 0; i < max_new && !ret; i++)
			same += got[i] == want[i];
		if (ret)
			tap_diag("%s: generation failed: %d (%s)", m->name,
				 ret, gpu_cuda_backend_error(gpu));
		tap_ok(!ret && same == max_new,
		       "%s: greedy generation, %s attention for the prompt, matches the CPU reference (%u of %u tokens)",
		       m->name, p ? "prefill_attn" : "host", same, max_new);
	}
	free(prompt), free(want), free(got);
}

/* ---- the loader's errors (no GPU needed) ---- */

static void test_loader_errors(void)
{
	const char *env = getenv(GPU_CUDA_PLUGIN_ENV), *why = NULL;
	char junk[] = "/tmp/test_cuda_backend.XXXXXX", *saved = NULL;
	char dir[PATH_MAX], path[PATH_MAX + 64];
	struct gpu_model bad = tiny;
	struct gpu_backend *b = NULL;
	Dl_info info;
	int fd, ret;

	bad.ffn_mats = 2;
	ret = gpu_cuda_backend_new(&bad, 1, &b, &why);
	tap_ok(ret == -EINVAL && !b && why && strstr(why, "ffn_mats"),
	       "bad model refused: %d, why \"%s\"", ret, why ?: "(null)");
	ret = gpu_cuda_backend_new(&tiny, 1, NULL, &why);
	tap_ok(ret == -EINVAL && why, "no backend pointer refused: %d", ret);

	saved = env ? strdup(env) : NULL;
	setenv(GPU_CUDA_PLUGIN_ENV, "build/no-such-dir/libpimgpu-cuda.so", 1);
	ret = gpu_cuda_backend_new(&tiny, 1, &b, &why);
	tap_ok(ret == -ENOENT && !b && why &&
	       strstr(why, "build/no-such-dir/libpimgpu-cuda.so"),
	       "missing plugin: %d, why \"%s\"", ret, why ?: "(null)");

	/* empty: the installed plugin, $(PREFIX)/lib/pim/ */
	setenv(GPU_CUDA_PLUGIN_ENV, "", 1);
	ret = gpu_cuda_backend_new(&tiny, 1, &b, &why);
	tap_ok(ret == -ENOENT ?
	       strstr(why, "lib/pim/libpimgpu-cuda.so") != NULL :
	       ret == -ENODEV || (!ret && b),
	       "PIM_CUDA_PLUGIN empty: the installed plugin: %d, why \"%s\"",
	       ret, why ?: "(null)");
	if (!ret)
		gpu_backend_destroy(b);
	b = NULL;

	fd = mkstemp(junk);
	if (fd >= 0) {
		(void)!write(fd, "not an ELF file\n", 16);
		close(fd);
	}
	setenv(GPU_CUDA_PLUGIN_ENV, junk, 1);
	ret = gpu_cuda_backend_new(&tiny, 1, &b, &why);
	tap_ok(fd >= 0 && ret == -ENOEXEC && !b && why && strstr(why, junk),
	       "a file that is not a library: %d, why \"%s\"", ret,
	       why ?: "(null)");
	unlink(junk);

	/* a real shared library without the entry point: libm */
	if (dladdr((void *)&cos, &info) && info.dli_fname) {
		setenv(GPU_CUDA_PLUGIN_ENV, info.dli_fname, 1);
		ret = gpu_cuda_backend_new(&tiny, 1, &b, &why);
		tap_ok(ret == -ENOEXEC && !b && why &&
		       strstr(why, "pimgpu_cuda_plugin_v1"),
		       "a library that is not a plugin: %d, why \"%s\"",
		       ret, why ?: "(null)");
	} else {
		tap_skip("dladdr cannot name libm");
	}

	/* a plugin of another ABI version: refused, nothing in it called */
	if (!cuda_build_dir(dir)) {
		snprintf(path, sizeof(path),
			 "%s/gpu/cuda/abi-mismatch-plugin.so", dir);
		setenv(GPU_CUDA_PLUGIN_ENV, path, 1);
		ret = gpu_cuda_backend_new(&tiny, 1, &b, &why);
		tap_ok(ret == -ENOEXEC && !b && why && strstr(why, "ABI"),
		       "a plugin of another ABI: %d, why \"%s\"", ret,
		       why ?: "(null)");
	} else {
		tap_skip("cannot find build/ from /proc/self/exe");
	}

	if (saved)
		setenv(GPU_CUDA_PLUGIN_ENV, saved, 1);
	else
		unsetenv(GPU_CUDA_PLUGIN_ENV);
	free(saved);
}

#define LOADER_TESTS	7
#define GPU_TESTS	(ARRAY_SIZE(models) * (OP_TESTS + 1 + GEN_PROMPTS))

int main(void)
{
	struct gpu_backend *cpu, *gpu;
	const char *why = NULL;
	unsigned int i, j;
	int ret;

	cuda_plugin_default();
	tap_plan(LOADER_TESTS + GPU_TESTS);
	test_loader_errors();

	/* No plugin or no GPU is a reason to skip; a broken plugin fails. */
	ret = gpu_cuda_backend_new(&tiny, SEED, &gpu, &why);
	if (ret) {
		for (j = 0; j < GPU_TESTS; j++)
			if (ret == -ENOENT || ret == -ENODEV)
				tap_skip("%s", why);
			else
				tap_ok(0, "CUDA backend: %d, %s", ret, why);
		return tap_done();
	}
	gpu_backend_destroy(gpu);
	tap_diag("plugin %s", getenv(GPU_CUDA_PLUGIN_ENV));
	for (i = 0; i < ARRAY_SIZE(models); i++) {
		const struct gpu_model *m = models[i];

		if (gpu_cpu_backend_new(m, SEED, &cpu) ||
		    gpu_cuda_backend_new(m, SEED, &gpu, &why)) {
			printf("Bail out! %s: cannot make the backends: %s\n",
			       m->name, why ?: "CPU backend");
			return 1;
		}
		test_ops(m, cpu, gpu);
		test_prefill_attn(m, gpu);
		test_generate(m, cpu, gpu);
		gpu_backend_destroy(cpu);
		gpu_backend_destroy(gpu);
	}
	return tap_done();
}
