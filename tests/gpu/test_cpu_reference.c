// SPDX-License-Identifier: GPL-2.0
/*
 * test_cpu_reference.c - the KV dtype conversions of pim/half.h (against
 * the compiler's _Float16 and known BF16 roundings) and the pure-CPU
 * reference decode:
 * deterministic, equal to a decode driven here through the backend's ops
 * with a chunked prefill, not degenerate, and refusing bad arguments.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <pim/half.h>

#include "gpu_cpu.h"
#include "../tap.h"

#define PROMPT	40
#define NEW	24
#define CHUNK	7
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const struct gpu_model tiny = {
	.name = "t", .layers = 2, .heads = 4, .kv_heads = 2, .hidden = 128,
	.head_dim = 32, .ffn = 256, .ffn_mats = 3, .vocab = 256, .tp = 1,
	.dp = 1,
};

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void test_fp16(void)
{
#ifdef __FLT16_MANT_DIG__
	static const uint32_t edge[] = {
		0x00000000, 0x80000000, 0x3f800000, 0x477fe000, 0x477fefff,
		0x477ff000, 0x47800000, 0x7f800000, 0x38800000, 0x387fffff,
		0x33000000, 0x33000001, 0x337fffff, 0x33800000, 0x00000001,
		0x3f801000, 0x3f803000, 0xc7000000,
	};
	uint32_t s = 12345, i, bad = 0, u;

	for (i = 0; i < 200000 + ARRAY_SIZE(edge); i++) {
		_Float16 h;
		uint16_t want;
		float f;

		u = i < ARRAY_SIZE(edge) ? edge[i] :
		    xorshift(&s);
		/* most random bits are far out of range: fold some in */
		if (i % 2)
			u = (u & 0x87ffffff) | 0x30000000;
		f = f32_from_bits(u);
		if (f != f)
			continue;
		h = (_Float16)f;
		memcpy(&want, &h, sizeof(want));
		if (fp16_from_f32(f) != want && bad++ < 3)
			tap_diag("fp16(%a): %#x, want %#x", f,
				 fp16_from_f32(f), want);
	}
	tap_ok(!bad, "f32 to fp16 rounds as _Float16 does (%u differ)", bad);
#else
	tap_skip("the compiler has no _Float16 to compare with");
#endif
	for (u = 0, i = 0; u < 0x10000; u++) {
		float f = fp16_to_f32(u);

		if ((u & 0x7c00) == 0x7c00 && (u & 0x3ff))
			i += f == f;		/* NaN must stay NaN */
		else
			i += fp16_from_f32(f) != u;
	}
	tap_ok(!i, "every fp16 code survives fp16 -> f32 -> fp16");
}

static void test_bf16(void)
{
	tap_ok(bf16_from_f32(1.0f) == 0x3f80 &&
	       bf16_from_f32(f32_from_bits(0x3f808000)) == 0x3f80 &&
	       bf16_from_f32(f32_from_bits(0x3f818000)) == 0x3f82 &&
	       bf16_from_f32(f32_from_bits(0x3f808001)) == 0x3f81 &&
	       bf16_from_f32(-2.0f) == 0xc000 &&
	       bf16_to_f32(0x3fc0) == 1.5f,
	       "bf16: nearest, ties to even");
	tap_ok(bf16_to_f32(bf16_from_f32(NAN)) !=
	       bf16_to_f32(bf16_from_f32(NAN)) &&
	       gpu_kv_round(1.0f + 0x1p-12f, GPU_KV_FP16) == 1.0f &&
	       gpu_kv_round(1.0f + 0x1p-12f, GPU_KV_F32) == 1.0f + 0x1p-12f,
	       "NaN stays NaN; gpu_kv_round by dtype");
}

/* ---- a decode driven through the ops, prefill in chunks ---- */

struct dec {
	const struct gpu_model *m;
	float *kc[2], *vc[2];	/* per layer, all tokens, rounded */
	float x[CHUNK * 128], q[CHUNK * 128], k[CHUNK * 64], v[CHUNK * 64];
	float attn[CHUNK * 128];
	double score[PROMPT + NEW];
};

/*
 * Attention over the rounded FP32 copies, written here again on purpose:
 * the test checks gpu_cpu_reference_generate() against an independent
 * decode, so it must not share the reference's code.
 */
static void attend(struct dec *d, int l, const float *q, int ctx, float *out)
{
	int hd = 32, kd = 64, h, t, i;

	for (h = 0; h < 4; h++) {
		const float *kh = d->kc[l] + (h / 2) * hd;
		const float *vh = d->vc[l] + (h / 2) * hd;
		double max = -INFINITY, sum = 0, acc;

		for (t = 0; t < ctx; t++) {
			acc = 0;
			for (i = 0; i < hd; i++)
				acc += (double)q[h * hd + i] * kh[t * kd + i];
			d->score[t] = acc / sqrt(hd);
			max = fmax(max, d->score[t]);
		}
		for (t = 0; t < ctx; t++) {
			d->score[t] = exp(d->score[t] - max);
			sum += d->score[t];
		}
		for (i = 0; i < hd; i++) {
			for (t = 0, acc = 0; t < ctx; t++)
				acc += d->score[t] * vh[t * kd + i];
			out[h * hd + i] = acc / sum;
		}
	}
}

static int step(struct gpu_backend *b, struct dec *d, const uint32_t *tok,
		uint32_t n, uint32_t pos0)
{
	uint32_t pos[CHUNK], i, j;
	int l, ret;

	for (j = 0; j < n; j++)
		pos[j] = pos0 + j;
	ret = b->ops->embed(b, tok, n, d->x);
	for (l = 0; l < 2 && !ret; l++) {
		ret = b->ops->qkv(b, l, d->x, pos, n, d->q, d->k, d->v);
		for (i = 0; i < n * 64; i++) {
			d->kc[l][pos0 * 64 + i] = gpu_kv_round(d->k[i],
							       GPU_KV_FP16);
			d->vc[l][pos0 * 64 + i] = gpu_kv_round(d->v[i],
							       GPU_KV_FP16);
		}
		for (j = 0; j < n; j++)
			attend(d, l, d->q + j * 128, pos0 + j + 1,
			       d->attn + j * 128);
		ret = ret ?: b->ops->post_attn(b, l, d->x, d->attn, n);
	}
	return ret;
}

static int chunked_decode(struct gpu_backend *b, const uint32_t *prompt,
			  uint32_t *out)
{
	static struct dec d;
	static float kv[4][(PROMPT + NEW) * 64];
	uint32_t p, n, i;
	int ret = 0;

	d.kc[0] = kv[0];
	d.kc[1] = kv[1];
	d.vc[0] = kv[2];
	d.vc[1] = kv[3];
	for (p = 0; p < PROMPT && !ret; p += n) {
		n = PROMPT - p < CHUNK ? PROMPT - p : CHUNK;
		ret = step(b, &d, prompt + p, n, p);
	}
	ret = ret ?: b->ops->next_token(b, d.x + (n - 1) * 128, 1, &out[0]);
	for (i = 1; i < NEW && !ret; i++) {
		ret = step(b, &d, &out[i - 1], 1, PROMPT + i - 1);
		ret = ret ?: b->ops->next_token(b, d.x, 1, &out[i]);
	}
	return ret;
}

static void test_reference(void)
{
	uint32_t prompt[3][PROMPT], a[NEW], c[NEW], s = 99, i, j, p;
	uint32_t seen[256] = { 0 }, distinct = 0, same = 1, stuck = 0;
	struct gpu_backend *b = NULL;

	if (gpu_cpu_backend_new(&tiny, 1, &b)) {
		tap_ok(0, "backend");
		return;
	}
	for (p = 0; p < 3; p++)
		for (i = 0; i < PROMPT; i++)
			prompt[p][i] = xorshift(&s) % 256;
	for (p = 0; p < 3; p++) {
		if (gpu_cpu_reference_generate(b, prompt[p], PROMPT, NEW,
					       GPU_KV_FP16, a) ||
		    chunked_decode(b, prompt[p], c) || memcmp(a, c, sizeof(a)))
			same = 0;
		for (i = 0; i < NEW; i++)
			distinct += !seen[a[i]]++;
		/* degenerate: the last half one repeated token */
		for (i = NEW / 2, j = 1; i < NEW; i++)
			j &= a[i] == a[NEW / 2];
		stuck += j;
	}
	tap_ok(same, "reference = a decode through the ops, prefill in "
	       "chunks of %d", CHUNK);
	tap_diag("%u distinct tokens in %d generated", distinct, 3 * NEW);
	tap_ok(distinct >= 3 * NEW / 4 && !stuck,
	       "greedy tokens are not degenerate");
	tap_ok(!gpu_cpu_reference_generate(b, prompt[0], PROMPT, NEW,
					   GPU_KV_FP16, c) &&
	       !gpu_cpu_reference_generate(b, prompt[2], PROMPT, NEW,
					   GPU_KV_FP16, c) &&
	       !memcmp(a, c, sizeof(a)),
	       "reference is deterministic (same tokens after another run)");
	tap_ok(!gpu_cpu_reference_generate(b, prompt[0], 1, 1, GPU_KV_BF16,
					   c) &&
	       !gpu_cpu_reference_generate(b, prompt[0], 3, 2, GPU_KV_F32, c),
	       "one-token prompt; BF16 and F32 KV");
	gpu_backend_destroy(b);
}

static void test_bad_args(void)
{
	static const struct gpu_spec hw = {
		.name = "x", .flops = 1e12, .mem_bw = 1e11, .mem_bytes = 1,
		.link_bw = 1, .compute_util = 1, .bw_util = 1,
	};
	uint32_t prompt[2] = { 1, 2 }, bad_tok[2] = { 1, 256 }, out[2];
	struct gpu_backend *b = NULL, *r = NULL;

	if (gpu_cpu_backend_new(&tiny, 1, &b) ||
	    gpu_roofline_backend_new(&hw, &tiny, &r)) {
		tap_ok(0, "backends");
		goto out;
	}
	tap_ok(gpu_cpu_reference_generate(r, prompt, 2, 2, GPU_KV_FP16,
					  out) == -EINVAL &&
	       gpu_cpu_reference_generate(NULL, prompt, 2, 2, GPU_KV_FP16,
					  out) == -EINVAL,
	       "a backend that is not the CPU one is refused");
	tap_ok(gpu_cpu_reference_generate(b, prompt, 0, 2, GPU_KV_FP16,
					  out) == -EINVAL &&
	       gpu_cpu_reference_generate(b, prompt, 2, 0, GPU_KV_FP16,
					  out) == -EINVAL &&
	       gpu_cpu_reference_generate(b, prompt, UINT32_MAX, 2,
					  GPU_KV_FP16, out) == -EINVAL &&
	       gpu_cpu_reference_generate(b, prompt, 2, 2, 7, out) == -EINVAL,
	       "empty prompt, no tokens, overflow, unknown dtype refused");
	tap_ok(gpu_cpu_reference_generate(b, bad_tok, 2, 2, GPU_KV_FP16,
					  out) == -EINVAL,
	       "prompt token >= vocab refused");
out:
	gpu_backend_destroy(b);
	gpu_backend_destroy(r);
}

int main(void)
{
	tap_plan(11);
	test_fp16();
	test_bf16();
	test_reference();
	test_bad_args();
	return tap_done();
}
