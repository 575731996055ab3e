// SPDX-License-Identifier: GPL-2.0
/*
 * bench_cuda.c - GPU time of the CUDA backend's ops (CUDA events, the
 * backend's time()) on a 1024-hidden, 4-layer model at batch 1, 16 and
 * 64, and of prefill_attn over a 2048-token context:
 *	bench cuda-<op>-b<batch> <microseconds> us
 * Skips cleanly (exit 0) where there is no plugin or no GPU.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <pim/half.h>

#include "cuda/plugin_path.h"
#include "gpu_cuda.h"

#define REPS		20
#define ATTN_CTX	2048
#define ATTN_NTOK	64

static const struct gpu_model model = {
	.name = "bench", .layers = 4, .heads = 16, .kv_heads = 4,
	.hidden = 1024, .head_dim = 64, .ffn = 2816, .ffn_mats = 3,
	.vocab = 4096, .tp = 1, .dp = 1,
};

enum op { EMBED, QKV, POST_ATTN, NEXT_TOKEN, OPS };
static const char *const op_name[OPS] = {
	"embed", "qkv", "post_attn", "next_token",
};

struct bufs {
	float *x, *q, *k, *v;
	uint32_t *tok, *pos;
};

static int run_op(struct gpu_backend *b, enum op op, struct bufs *u,
		  uint32_t n)
{
	switch (op) {
	case EMBED:
		return b->ops->embed(b, u->tok, n, u->x);
	case QKV:
		return b->ops->qkv(b, 0, u->x, u->pos, n, u->q, u->k, u->v);
	case POST_ATTN:
		return b->ops->post_attn(b, 0, u->x, u->q, n);
	default:
		return b->ops->next_token(b, u->x, n, u->tok);
	}
}

/* Median-free and simple: the mean over REPS after one warm-up call. */
static int bench_op(struct gpu_backend *b, enum op op, struct bufs *u,
		    uint32_t n)
{
	int i, ret = run_op(b, op, u, n);

	b->ops->time(b, NULL);
	for (i = 0; i < REPS && !ret; i++)
		ret = run_op(b, op, u, n);
	if (!ret)
		printf("bench cuda-%s-b%u %.2f us\n", op_name[op], n,
		       b->ops->time(b, NULL) / REPS * 1e6);
	return ret;
}

static int bench_attn(struct gpu_backend *b)
{
	size_t qd = (size_t)model.heads * model.head_dim, i;
	size_t kv = (size_t)(ATTN_CTX + ATTN_NTOK) * model.kv_heads *
		    model.head_dim;
	float *q = calloc(ATTN_NTOK * qd, sizeof(float));
	float *out = malloc(ATTN_NTOK * qd * sizeof(float));
	uint16_t *k = malloc(kv * 2), *v = malloc(kv * 2);
	int ret = -ENOMEM, r;

	if (q && out && k && v) {
		for (i = 0; i < kv; i++) {
			k[i] = fp16_from_f32((float)(i % 97) / 97 - 0.5f);
			v[i] = fp16_from_f32((float)(i % 89) / 89 - 0.5f);
		}
		ret = b->ops->prefill_attn(b, q, ATTN_CTX, ATTN_NTOK, k, v,
					   out);
		b->ops->time(b, NULL);
		for (r = 0; r < REPS && !ret; r++)
			ret = b->ops->prefill_attn(b, q, ATTN_CTX, ATTN_NTOK,
						   k, v, out);
		if (!ret)
			printf("bench cuda-prefill_attn-ctx%u-n%u %.2f us\n",
			       ATTN_CTX, ATTN_NTOK,
			       b->ops->time(b, NULL) / REPS * 1e6);
	}
	free(q), free(out), free(k), free(v);
	return ret;
}

int main(void)
{
	static const uint32_t batch[] = { 1, 16, 64 };
	size_t h = model.hidden, qd = (size_t)model.heads * model.head_dim;
	size_t kd = (size_t)model.kv_heads * model.head_dim;
	struct bufs u = { 0 };
	struct gpu_backend *b;
	const char *why;
	unsigned int i, op;
	int ret;

	cuda_plugin_default();
	ret = gpu_cuda_backend_new(&model, 1, &b, &why);
	if (ret == -ENOENT || ret == -ENODEV) {
		printf("# bench_cuda: skipped, %s\n", why);
		return 0;
	}
	if (ret) {
		fprintf(stderr, "bench_cuda: %s\n", why);
		return 1;
	}
	u.x = calloc(64 * h, sizeof(float));
	u.q = calloc(64 * qd, sizeof(float));
	u.k = malloc(64 * kd * sizeof(float));
	u.v = malloc(64 * kd * sizeof(float));
	u.tok = calloc(64, sizeof(uint32_t));
	u.pos = calloc(64, sizeof(uint32_t));
	ret = u.x && u.q && u.k && u.v && u.tok && u.pos ? 0 : -ENOMEM;
	for (i = 0; i < 64 && !ret; i++) {
		u.tok[i] = i * 61 % model.vocab;
		u.pos[i] = 100 + i;
	}
	for (i = 0; i < sizeof(batch) / sizeof(batch[0]) && !ret; i++)
		for (op = 0; op < OPS && !ret; op++)
			ret = bench_op(b, op, &u, batch[i]);
	ret = ret ?: bench_attn(b);
	if (ret)
		fprintf(stderr, "bench_cuda: %s (%d)\n",
			gpu_cuda_backend_error(b), ret);
	free(u.x), free(u.q), free(u.k), free(u.v), free(u.tok), free(u.pos);
	gpu_backend_destroy(b);
	return ret ? 1 : 0;
}
