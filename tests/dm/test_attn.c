// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * test_attn.c - decode attention from the backing memory against a
 * double-precision reference, adversarial inputs, bit-identity of the
 * SSE2 and AVX2 builds, and bad unit arguments.
 *
 * Tolerance, per output element of q head h:
 *   |out - ref| <= max|V| * (2^-20 + 2^-24 * 2 sqrt(d) * S_h)
 * with S_h = max over tokens of sum_e |q_e k_e| * scale. An error x in a
 * score moves its weight by x relative; the FP32 dot product's rounding
 * error grows like sqrt(d) * 2^-24 * S_h (with 8 lanes and a fixed tree
 * its worst case is d / 8 times that), and 2^-20 covers the FP32 exp,
 * softmax sum and context accumulation over up to 128K tokens.
 */
#include <math.h>
#include <stdlib.h>

#include "../tap.h"
#include "attn.h"
#include "dm_test.h"

static struct dmt t;
static bool have_avx2;

struct job {
	struct pim_kv_alloc s;
	struct pim_kv *kv;
	u32 ntok;
	u16 *k, *v;
	float *q, *out;
	double *ref;
	double scale;
};

/* Fill K, V in [-kr, kr) and q in [-qr, qr), place and append. */
static int job_make(struct job *j, u8 dtype, u32 qh, u32 kvh, u32 d,
		    u32 ntok, double kr, double qr, u32 flags)
{
	u64 n = (u64)ntok * kvh * d, i;
	int ret;

	memset(j, 0, sizeof(*j));
	j->s = (struct pim_kv_alloc){
		.layers = 1, .q_heads = qh, .kv_heads = kvh, .head_dim = d,
		.dtype = dtype, .max_tokens = ntok,
		.rankset_hint = PIM_RANKSET_ANY,
	};
	j->ntok = ntok;
	j->k = malloc(n * 2);
	j->v = malloc(n * 2);
	j->q = malloc(qh * d * 4);
	j->out = malloc(qh * d * 4);
	j->ref = malloc(qh * d * 8);
	if (!j->k || !j->v || !j->q || !j->out || !j->ref)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		j->k[i] = dmt_to_half(dmt_uniform(-kr, kr), dtype);
		j->v[i] = dmt_to_half(dmt_uniform(-1, 1), dtype);
	}
	for (i = 0; i < qh * d; i++)
		j->q[i] = dmt_uniform(-qr, qr);
	j->scale = dmt_f32(dmt_bits(1.0f / sqrtf(d)));
	j->kv = dmt_kv(&t, &j->s, &ret);
	if (!ret)
		ret = pim_kv_append(&t.dm, j->kv, 0, ntok, j->k, j->v, flags);
	return ret;
}

static void job_free(struct job *j)
{
	if (j->kv)
		pim_kv_release(&t.dm, j->kv);
	free(j->kv);
	free(j->k);
	free(j->v);
	free(j->q);
	free(j->out);
	free(j->ref);
}

/* Worst error relative to the stated tolerance (<= 1 passes). */
static double job_check(struct job *j, u32 ctx, double *abs_err)
{
	const struct pim_kv_alloc *s = &j->s;
	u32 d = s->head_dim, gqa = s->q_heads / s->kv_heads, h, tk, e;
	double worst = 0, vmax = 0, sh, sum, tol, err;
	u64 i;

	dmt_ref_attn(s, ctx, j->q, j->k, j->v, j->scale, j->ref);
	for (i = 0; i < (u64)ctx * s->kv_heads * d; i++)
		vmax = fmax(vmax, fabs(dmt_from_half(j->v[i], s->dtype)));
	*abs_err = 0;
	for (h = 0; h < s->q_heads; h++) {
		sh = 0;
		for (tk = 0; tk < ctx; tk++) {
			sum = 0;
			for (e = 0; e < d; e++)
				sum += fabs(j->q[h * d + e] *
					    dmt_from_half(j->k[((u64)tk * s->kv_heads +
								h / gqa) * d + e],
							  s->dtype));
			sh = fmax(sh, sum * j->scale);
		}
		tol = vmax * (0x1p-20 + 0x1p-24 * 2 * sqrt(d) * sh);
		for (e = 0; e < d; e++) {
			err = fabs(j->out[h * d + e] - j->ref[h * d + e]);
			if (!(err <= tol))	/* NaN fails too */
				err = INFINITY;
			*abs_err = fmax(*abs_err, fabs(j->out[h * d + e] -
						       j->ref[h * d + e]));
			worst = fmax(worst, err / tol);
		}
	}
	return worst;
}

static const char *dt(u8 dtype)
{
	return dtype == PIM_DTYPE_BF16 ? "BF16" : "FP16";
}

static void accuracy(u8 dtype, u32 qh, u32 kvh, u32 d, u32 ntok, u32 ctx)
{
	struct job j;
	double w = INFINITY, e = 0;
	int ret;

	ret = job_make(&j, dtype, qh, kvh, d, ntok, 1, 1, 0);
	if (!ret)
		ret = dmt_attn(&t.dm, j.kv, 0, ctx, 0, j.q, j.out, 256);
	if (!ret)
		w = job_check(&j, ctx, &e);
	tap_ok(!ret && w <= 1,
	       "%s q %u kv %u d %u N_hc %u, %u of %u tokens: max err %.2g (%.2g of tolerance)",
	       dt(dtype), qh, kvh, d, j.kv ? pim_kv_nhc(j.kv) : 0, ctx, ntok,
	       e, w);
	job_free(&j);
}

static void adversarial(u8 dtype)
{
	struct job j;
	double w = INFINITY, e = 0, mean;
	bool ok;
	u32 i, x;
	int ret;

	/* Large logits: scores up to ~150, beyond FP32 exp's range of 88. */
	ret = job_make(&j, dtype, 4, 4, 128, 3000, 16, 8, 0);
	if (!ret)
		ret = dmt_attn(&t.dm, j.kv, 0, 3000, 0, j.q, j.out, 256);
	if (!ret)
		w = job_check(&j, 3000, &e);
	tap_ok(!ret && w <= 1, "%s large logits: max err %.2g (%.2g of tolerance)",
	       dt(dtype), e, w);
	job_free(&j);

	/* All-equal scores: every K the same, output is the mean of V. */
	ret = job_make(&j, dtype, 8, 2, 64, 1000, 1, 1, 0);
	for (i = 0; !ret && i < 1000; i++)
		memcpy(j.k + i * 2 * 64, j.k, 2 * 64 * 2);
	if (!ret) {
		pim_kv_release(&t.dm, j.kv);
		free(j.kv);
		j.kv = dmt_kv(&t, &j.s, &ret);
	}
	if (!ret)
		ret = pim_kv_append(&t.dm, j.kv, 0, 1000, j.k, j.v, 0);
	if (!ret)
		ret = dmt_attn(&t.dm, j.kv, 0, 1000, 0, j.q, j.out, 100);
	ok = !ret;
	for (i = 0; ok && i < 8 * 64; i++) {
		mean = 0;
		for (x = 0; x < 1000; x++)
			mean += dmt_from_half(j.v[x * 2 * 64 + i / 64 / 4 * 64 + i % 64],
					      dtype);
		ok = fabs(j.out[i] - mean / 1000) <= 1e-5;
	}
	tap_ok(ok, "%s all-equal scores give the mean of V", dt(dtype));
	job_free(&j);

	/* One token: the output is V itself, bit for bit. */
	ret = job_make(&j, dtype, 16, 2, 256, 1, 1, 1, 0);
	if (!ret)
		ret = dmt_attn(&t.dm, j.kv, 0, 1, 0, j.q, j.out, 1);
	ok = !ret;
	for (i = 0; ok && i < 16 * 256; i++)
		ok = j.out[i] == (float)dmt_from_half(j.v[i / 256 / 8 * 256 + i % 256],
						      dtype);
	tap_ok(ok, "%s one token: output is V exactly", dt(dtype));
	job_free(&j);
}

/* 128K tokens of one KV head need a rank bigger than the others here. */
static void max_length(u8 dtype)
{
	struct pim_geometry g = t.dm.g;
	struct dmt small = t;
	struct job j;
	double w = INFINITY, e = 0;
	int ret;

	memset(&j, 0, sizeof(j));
	g.channels = g.dimms_per_channel = g.ranks_per_dimm = g.ranksets = 1;
	g.rank_bytes = 256 << 20;
	ret = dmt_init(&t, &g, true);
	if (!ret)
		ret = job_make(&j, dtype, 2, 1, 128, 131072, 1, 2, 0);
	if (!ret)
		ret = dmt_attn(&t.dm, j.kv, 0, 131072, 0, j.q, j.out, 4096);
	if (!ret)
		w = job_check(&j, 131072, &e);
	tap_ok(!ret && w <= 1,
	       "%s 128K tokens (GQA-2, d 128): max err %.2g (%.2g of tolerance)",
	       dt(dtype), e, w);
	job_free(&j);
	dmt_fini(&t);
	t = small;
}

/* The same unit run in many step sizes and both ISAs: identical bits. */
static void bit_identity(u8 dtype, u32 qh, u32 kvh, u32 d)
{
	static const u32 steps[] = { 1, 3, 256, 100000 };
	struct job j;
	float *ref;
	bool same = true, same_isa = true;
	u32 i, n = qh * d;
	int ret;

	ret = job_make(&j, dtype, qh, kvh, d, 1700, 1, 1, 0);
	ref = malloc(n * 4);
	pim_attn_select(false);
	ret = ret ?: dmt_attn(&t.dm, j.kv, 0, 1700, 0, j.q, ref, 256);
	for (i = 0; !ret && i < 4; i++) {
		ret = dmt_attn(&t.dm, j.kv, 0, 1700, 0, j.q, j.out, steps[i]);
		same = same && !memcmp(ref, j.out, n * 4);
	}
	tap_ok(!ret && same, "%s q %u kv %u d %u: same bits in any step size",
	       dt(dtype), qh, kvh, d);
	if (have_avx2) {
		pim_attn_select(true);
		ret = ret ?: dmt_attn(&t.dm, j.kv, 0, 1700, 0, j.q, j.out, 256);
		same_isa = !memcmp(ref, j.out, n * 4);
		pim_attn_select(false);
		tap_ok(!ret && same_isa && !pim_attn_uses_avx2(),
		       "%s q %u kv %u d %u: AVX2+F16C bits == SSE2 bits",
		       dt(dtype), qh, kvh, d);
	} else {
		tap_skip("this CPU has no AVX2+F16C to compare with SSE2");
	}
	free(ref);
	job_free(&j);
}

static void fp16_conversion(void)
{
	u32 h, bad = 0, bad_isa = 0, want, e, m;

	for (h = 0; h < 65536; h++) {
		e = h >> 10 & 0x1f;
		m = h & 0x3ff;
		if (e == 31)	/* Inf, or NaN made quiet like vcvtph2ps */
			want = (h & 0x8000) << 16 | 0x7f800000 | m << 13 |
			       (m ? 0x400000 : 0);
		else
			want = dmt_bits(dmt_from_half(h, PIM_DTYPE_FP16));
		bad += pim_fp16_to_fp32_sse2(h) != want;
		if (have_avx2)
			bad_isa += pim_fp16_to_fp32_avx2(h) != want;
	}
	tap_ok(!bad, "FP16 -> FP32 (software), all 65536 values: %u wrong", bad);
	if (have_avx2)
		tap_ok(!bad_isa, "FP16 -> FP32 (F16C), all 65536 values: %u wrong",
		       bad_isa);
	else
		tap_skip("this CPU has no F16C");
}

static void no_relayout(u8 dtype)
{
	struct job j;
	double w = 0, e = 0;
	int ret;

	ret = job_make(&j, dtype, 8, 8, 128, 500, 1, 1, PIM_CMD_F_NO_RELAYOUT);
	if (!ret)
		ret = dmt_attn(&t.dm, j.kv, 0, 500, 0, j.q, j.out, 256);
	if (!ret)
		w = job_check(&j, 500, &e);
	tap_ok(!ret && w > 100,
	       "%s written without re-layout: bank PUs see split elements, error %.2g x tolerance",
	       dt(dtype), w);
	job_free(&j);
}

static void bad_units(void)
{
	struct job j;
	struct pim_attn_unit *u;
	struct dmt tt;
	int ret;

	ret = job_make(&j, PIM_DTYPE_FP16, 8, 8, 64, 100, 1, 1, 0);
	u = malloc(pim_attn_unit_bytes(j.kv));
	tap_ok(!ret && pim_attn_unit_init(u, &t.dm, j.kv, 1, 0, 10, 0,
					  (u32 *)j.q) == -EINVAL &&
	       pim_attn_unit_init(u, &t.dm, j.kv, 0, pim_kv_groups(j.kv), 10, 0,
				  (u32 *)j.q) == -EINVAL &&
	       pim_attn_unit_init(u, &t.dm, j.kv, 0, 0, 10, 0, NULL) == -EINVAL,
	       "unit for no layer, no group or no q: -EINVAL");
	tap_ok(pim_attn_unit_init(u, &t.dm, j.kv, 0, 0, 0, 0, (u32 *)j.q) ==
	       -ERANGE &&
	       pim_attn_unit_init(u, &t.dm, j.kv, 0, 0, 101, 0, (u32 *)j.q) ==
	       -ERANGE, "context of 0 or beyond the layer: -ERANGE");
	tap_ok(pim_attn_unit_init(u, &t.dm, j.kv, 0, 0, 10, 0x7fc00000,
				  (u32 *)j.q) == -EINVAL &&
	       pim_attn_unit_init(u, &t.dm, j.kv, 0, 0, 10, 0xff800000,
				  (u32 *)j.q) == -EINVAL,
	       "NaN or infinite scale: -EINVAL");
	/* An explicit scale equal to the default gives the same bits. */
	dmt_attn(&t.dm, j.kv, 0, 100, 0, j.q, j.out, 256);
	memcpy(j.ref, j.out, 8 * 64 * 4);
	dmt_attn(&t.dm, j.kv, 0, 100, dmt_bits(0.125f), j.q, j.out, 256);
	tap_ok(!memcmp(j.ref, j.out, 8 * 64 * 4),
	       "scale 0 means 1/sqrt(head_dim)");
	tt = t;
	tt.dm.mem = NULL;
	tap_ok(pim_attn_unit_init(u, &tt.dm, j.kv, 0, 0, 10, 0, (u32 *)j.q) ==
	       -ENODEV, "timing-only device: -ENODEV");
	free(u);
	job_free(&j);
}

int main(void)
{
	static const u32 cfg[][4] = {	/* q, kv, d, tokens */
		{ 8, 8, 128, 2000 }, { 16, 8, 128, 1500 }, { 12, 4, 128, 900 },
		{ 32, 4, 128, 1100 }, { 64, 8, 128, 600 }, { 48, 8, 64, 700 },
		{ 20, 4, 80, 513 }, { 40, 8, 96, 777 }, { 16, 1, 256, 1200 },
		{ 8, 8, 256, 999 }, { 32, 2, 16, 2500 }, { 4, 4, 64, 7 },
		{ 32, 32, 64, 300 }, { 6, 6, 48, 1025 }, { 16, 16, 112, 640 },
		{ 128, 8, 128, 300 },
	};
	struct pim_geometry g;
	u32 i, n = sizeof(cfg) / sizeof(cfg[0]);

	tap_plan(2 * n + 1 + 2 * 3 + 2 + 4 * 2 + 2 + 2 + 5);
	pim_geom_default(&g, 1ULL << 30);
	if (dmt_init(&t, &g, true))
		return 1;
	have_avx2 = pim_cpu_has_avx2();
	tap_diag("AVX2+F16C: %s", have_avx2 ? "yes" : "no");
	dmt_seed(42);
	for (i = 0; i < n; i++) {
		accuracy(PIM_DTYPE_FP16, cfg[i][0], cfg[i][1], cfg[i][2],
			 cfg[i][3], cfg[i][3]);
		accuracy(PIM_DTYPE_BF16, cfg[i][0], cfg[i][1], cfg[i][2],
			 cfg[i][3], cfg[i][3] * 2 / 3 + 1);
	}
	accuracy(PIM_DTYPE_FP16, 24, 3, 128, 1, 1);
	adversarial(PIM_DTYPE_FP16);
	adversarial(PIM_DTYPE_BF16);
	max_length(PIM_DTYPE_FP16);
	max_length(PIM_DTYPE_BF16);
	bit_identity(PIM_DTYPE_FP16, 8, 8, 128);
	bit_identity(PIM_DTYPE_BF16, 64, 8, 128);
	bit_identity(PIM_DTYPE_FP16, 20, 4, 80);
	bit_identity(PIM_DTYPE_BF16, 32, 2, 16);
	fp16_conversion();
	no_relayout(PIM_DTYPE_FP16);
	no_relayout(PIM_DTYPE_BF16);
	bad_units();
	dmt_fini(&t);
	return tap_done();
}
