// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * attn.c - decode attention computed from the bytes the chips hold, in the
 * order the L3 hardware uses. The only floating-point file of the device
 * model: every function here must run inside an FPU section.
 *
 * Vectors have 8 FP32 lanes, one per chip of the rank: lane c is chip c's
 * bank PU. Per chunk of tokens (the rank PU's softmax SRAM):
 *  1. score phase, bank PUs in adder-tree mode: each chip's partial dot
 *     product of its part of q and K, then the rank PU's adder tree across
 *     the head's N_hc chips, then the scale;
 *  2. chunked online softmax on the rank PU: chunk max, running max and
 *     sum, weights exp(s - max), and the factor that rescales what was
 *     accumulated so far (the cross-chunk normalisation);
 *  3. context phase, bank PUs in accumulator mode: weights broadcast to
 *     the chips, every bank accumulates weight * V for the bursts it holds,
 *     bank after bank.
 * The order of every sum is fixed in this source, so the SSE2, AVX2, kernel
 * and user builds agree bit for bit (-ffp-contract=off, no -ffast-math).
 *
 * Built as is for SSE2 and through attn_avx2.c with -mavx2 -mf16c; no
 * libm or libgcc calls, exp() and FP16 conversion are our own. Helpers that
 * take or return 8-lane vectors are always inlined, so the SSE2 build is
 * compiled with -Wno-psabi: no 32-byte vector crosses a call.
 */
#include "attn.h"
#include "dm_util.h"

#ifndef ATTN_FN
#define ATTN_FN(x)	x##_sse2
#endif

/* Software prefetch distance: the row-set streams bank after bank. */
#define PIM_PREFETCH	4096

typedef float v8f __attribute__((vector_size(32)));
typedef s32 v8i __attribute__((vector_size(32)));
typedef u32 v8u __attribute__((vector_size(32)));
typedef u8 v16b __attribute__((vector_size(16)));
typedef u8 v16b_un __attribute__((vector_size(16))) __aligned(1);
typedef u16 v8h __attribute__((vector_size(16)));
typedef s16 v8s __attribute__((vector_size(16)));
typedef float v4f __attribute__((vector_size(16)));
typedef s32 v4i __attribute__((vector_size(16)));

/*
 * The 8 elements "e" of a burst (one per chip) as u16 lanes: chip c's
 * element e is beat 2e (low byte) and beat 2e + 1 (high byte), host bytes
 * 16e + c and 16e + 8 + c.
 */
static __always_inline v16b ATTN_FN(gather)(const u8 *p)
{
	/* Two shuffles SSE2 has (pshufd, punpcklbw), not one it lacks. */
	const v16b high = { 8, 9, 10, 11, 12, 13, 14, 15,
			    8, 9, 10, 11, 12, 13, 14, 15 };
	const v16b mix = { 0, 16, 1, 17, 2, 18, 3, 19,
			   4, 20, 5, 21, 6, 22, 7, 23 };
	v16b x = *(const v16b_un *)p;

	return __builtin_shuffle(x, __builtin_shuffle(x, high), mix);
}

/* FP16 to FP32 in integer and FP32 arithmetic, exactly as vcvtph2ps. */
static __always_inline v8f ATTN_FN(fp16_soft)(v8u h)
{
	v8u a = h & 0x7fff, sign = (h & 0x8000) << 16;
	v8u f = (v8u)((v8f)(a << 13) * 0x1p112f);
	/*
	 * Masks by arithmetic, not compares: SSE2 has no 8-lane compare and
	 * gcc would split one into scalars. a >= 0x7c00 iff a + 0x400 has
	 * bit 15 set; a nonzero mantissa carries into bit 10.
	 */
	v8u inf_nan = (v8u)((v8i)((a + 0x400) << 16) >> 31);
	v8u quiet = (((a & 0x3ff) + 0x3ff) & 0x400) << 12;
	v8u special = (a << 13) | 0x7f800000 | quiet;

	return (v8f)(((inf_nan & special) | (~inf_nan & f)) | sign);
}

#ifdef __AVX2__
typedef char v32c __attribute__((vector_size(32)));
typedef long long v2ll __attribute__((vector_size(16)));

/* BF16 in one in-lane byte shuffle of the burst row in both halves. */
static __always_inline v8f ATTN_FN(load_bf16)(const u8 *p)
{
	const v32c bf = { -1, -1, 0, 8, -1, -1, 1, 9, -1, -1, 2, 10,
			  -1, -1, 3, 11, -1, -1, 4, 12, -1, -1, 5, 13,
			  -1, -1, 6, 14, -1, -1, 7, 15 };
	v2ll x = (v2ll)*(const v16b_un *)p;

	return (v8f)__builtin_ia32_pshufb256((v32c)__builtin_ia32_vbroadcastsi256(x),
					     bf);
}
#else
static __always_inline v8f ATTN_FN(load_bf16)(const u8 *p)
{
	return (v8f)(__builtin_convertvector((v8h)ATTN_FN(gather)(p), v8u) << 16);
}
#endif

/* The 8 lanes of burst element e at p (p = burst + 16 e) as FP32. */
static __always_inline v8f ATTN_FN(load)(const u8 *p, const bool bf16)
{
	v16b x;

	if (bf16)
		return ATTN_FN(load_bf16)(p);
	x = ATTN_FN(gather)(p);
#ifdef __F16C__
	return __builtin_ia32_vcvtph2ps256((v8s)x);
#else
	return ATTN_FN(fp16_soft)(__builtin_convertvector((v8h)x, v8u));
#endif
}

/* FP16 bits to FP32 bits, one value, for the conversion self-test. */
u32 ATTN_FN(pim_fp16_to_fp32)(u16 h)
{
	u8 b[16] = { (u8)h, 0, 0, 0, 0, 0, 0, 0, (u8)(h >> 8) };
	v8f f = ATTN_FN(load)(b, false);
	union { float f; u32 u; } r = { .f = f[0] };

	return r.u;
}

/* a > b lane by lane: two native 4-lane compares in the SSE2 build. */
static __always_inline v8i ATTN_FN(vgt)(v8f a, v8f b)
{
#ifdef __AVX__
	return a > b;
#else
	union { v8f f; v8i i; v4f h[2]; v4i m[2]; } x = { .f = a }, y = { .f = b };

	x.m[0] = x.h[0] > y.h[0];
	x.m[1] = x.h[1] > y.h[1];
	return x.i;
#endif
}

/* The larger lane (b where a is NaN). */
static __always_inline v8f ATTN_FN(vmax)(v8f a, v8f b)
{
	v8i m = ATTN_FN(vgt)(a, b);

	return (v8f)(((v8i)a & m) | ((v8i)b & ~m));
}

static __always_inline v8f ATTN_FN(vmin)(v8f a, v8f b)
{
	v8i m = ATTN_FN(vgt)(b, a);

	return (v8f)(((v8i)a & m) | ((v8i)b & ~m));
}

/*
 * e^x: x = n ln2 + r with |r| <= ln2 / 2 (Cody-Waite), e^r by its degree-6
 * Taylor polynomial (error below 2^-23 relative), 2^n from the exponent
 * bits. Results below 2^-126 flush to zero; NaN gives 0; exp(0) is 1.
 */
static __always_inline v8f ATTN_FN(vexp)(v8f x)
{
	const v8f zero = { 0 };
	v8f t, n, r, p;
	v8i ni, ok;

	/* NaN fails the compare in vmax and becomes -104. */
	x = ATTN_FN(vmin)(ATTN_FN(vmax)(x, zero - 104.0f), zero + 88.0f);
	t = x * 1.44269504088896341f;
	n = (t + 12582912.0f) - 12582912.0f;	/* round to nearest */
	r = x - n * 0.693145751953125f;
	r = r - n * (float)(0.6931471805599453 - 0.693145751953125);
	p = r * (1.0f / 720) + (1.0f / 120);
	p = p * r + (1.0f / 24);
	p = p * r + (1.0f / 6);
	p = p * r + 0.5f;
	p = p * r + 1.0f;
	p = p * r + 1.0f;
	ni = __builtin_convertvector(n, v8i);
	ok = ~((ni + 126) >> 31);		/* n > -127 */
	return p * (v8f)(((ni + 127) << 23) & ok);
}

static __always_inline float ATTN_FN(hmax)(v8f v)
{
	float m = v[0];
	int i;

	for (i = 1; i < 8; i++)
		m = v[i] > m ? v[i] : m;
	return m;
}

static __always_inline float ATTN_FN(hsum8)(v8f v)
{
	return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

/* The rank PU's adder tree over the nhc chips of the head at lane c0. */
static __always_inline float ATTN_FN(reduce)(v8f v, u32 c0, u32 nhc)
{
	switch (nhc) {
	case 8:
		return ATTN_FN(hsum8)(v);
	case 4:
		return (v[c0] + v[c0 + 1]) + (v[c0 + 2] + v[c0 + 3]);
	case 2:
		return v[c0] + v[c0 + 1];
	default:
		return v[c0];
	}
}

/* First slot of bank b whose index s * nbanks + b reaches lo. */
static __always_inline u32 ATTN_FN(first_slot)(u32 lo, u32 b, u32 nbanks)
{
	return lo > b ? (lo - b + nbanks - 1) / nbanks : 0;
}

/* Score phase of tokens [lo, lo + n) of K row-set rs. */
static __always_inline void ATTN_FN(kpass)(struct pim_attn_unit *u,
					   const u8 *rs, u32 lo, u32 n,
					   const u32 G, const bool bf16)
{
	const v8f *qv = (const v8f *)(pim_attn_data(u) + u->off_q);
	float *sc = (float *)(pim_attn_data(u) + u->off_sc);
	u32 b, ts, t, j, g, i, kb = u->kb;
	const v8f zero = { 0 };

	for (b = 0; b < u->nbanks; b++) {
		ts = ATTN_FN(first_slot)(lo, b, u->nbanks);
		for (; (t = ts * u->nbanks + b) < lo + n; ts++) {
			const u8 *p = rs + ((u64)b * u->bpr + ts * kb) * 64;
			v8f acc[PIM_MAX_GQA_GROUP];

			for (j = 0; j < kb; j++)
				__builtin_prefetch(p + PIM_PREFETCH + 64 * j);
			if (G == 1) {
				v8f a0 = { 0 }, a1 = { 0 }, a2 = { 0 };
				v8f a3 = { 0 };

				for (j = 0; j < kb; j++, p += 64) {
					a0 += ATTN_FN(load)(p, bf16) * qv[4 * j];
					a1 += ATTN_FN(load)(p + 16, bf16) *
					      qv[4 * j + 1];
					a2 += ATTN_FN(load)(p + 32, bf16) *
					      qv[4 * j + 2];
					a3 += ATTN_FN(load)(p + 48, bf16) *
					      qv[4 * j + 3];
				}
				acc[0] = (a0 + a1) + (a2 + a3);
			} else {
#pragma GCC unroll 16
				for (g = 0; g < G; g++)
					acc[g] = zero;
				const v8f *qj = qv;

				for (j = 0; j < 4 * kb; j++, p += 16, qj += G) {
					v8f x = ATTN_FN(load)(p, bf16);

#pragma GCC unroll 16
					for (g = 0; g < G; g++)
						acc[g] += x * qj[g];
				}
			}
#pragma GCC unroll 16
			for (g = 0; g < G; g++)
				for (i = 0; i < u->heads; i++)
					sc[(i * G + g) * u->cpad + t - lo] =
						ATTN_FN(reduce)(acc[g],
								i * u->nhc,
								u->nhc);
		}
	}
}

/*
 * Bank PUs in accumulator mode over the bursts q = q0, q0 + qstep, ... of
 * one bank, all part j: ne elements from e0 on, for each of the G q heads,
 * with the accumulators in registers.
 */
static __always_inline void ATTN_FN(vrun)(struct pim_attn_unit *u,
					  const u8 *p, u32 pstep, u32 q,
					  u32 qstep, u32 qhi, u32 lo, u32 j,
					  u32 e0, const u32 ne, const u32 G,
					  const bool bf16)
{
	v8f *acc = (v8f *)(pim_attn_data(u) + u->off_acc);
	const v8f *pv = (const v8f *)(pim_attn_data(u) + u->off_pv);
	v8f a[8];
	u32 g, e;

#pragma GCC unroll 8
	for (g = 0; g < G; g++)
#pragma GCC unroll 4
		for (e = 0; e < ne; e++)
			a[g * ne + e] = acc[(g * u->kb + j) * 4 + e0 + e];
	for (; q < qhi; q += qstep, p += pstep) {
		const v8f *w = pv + (q / u->kb - lo) * G;

		if (!e0)
			__builtin_prefetch(p + PIM_PREFETCH);

#pragma GCC unroll 4
		for (e = 0; e < ne; e++) {
			v8f x = ATTN_FN(load)(p + 16 * (e0 + e), bf16);

#pragma GCC unroll 8
			for (g = 0; g < G; g++)
				a[g * ne + e] += w[g] * x;
		}
	}
#pragma GCC unroll 8
	for (g = 0; g < G; g++)
#pragma GCC unroll 4
		for (e = 0; e < ne; e++)
			acc[(g * u->kb + j) * 4 + e0 + e] = a[g * ne + e];
}

/*
 * Context phase of tokens [lo, lo + n) of V row-set rs, bank after bank.
 * When kb divides the banks or the banks divide kb, a bank's bursts cycle
 * through kb / nbanks parts ("phases"), so each phase runs with its
 * accumulators in registers; otherwise they stay in memory. Either way
 * every accumulator sums its bursts in the same order.
 */
static __always_inline void ATTN_FN(vpass)(struct pim_attn_unit *u,
					   const u8 *rs, u32 lo, u32 n,
					   const u32 G, const bool bf16)
{
	v8f *acc = (v8f *)(pim_attn_data(u) + u->off_acc);
	const v8f *pv = (const v8f *)(pim_attn_data(u) + u->off_pv);
	u32 kb = u->kb, nb = u->nbanks, b, s, q, t, j, e, g, ph, period;
	u32 qlo = lo * kb, qhi = (lo + n) * kb;
	const u32 ne = G == 1 || G == 2 ? 4 : G == 4 ? 2 : 1;
	const u8 *row;

	/* (Only for a constant G: the generic build keeps its frame small.) */
	if (__builtin_constant_p(G) && G <= 8 && !(G & (G - 1)) &&
	    (!(nb % kb) || !(kb % nb))) {
		period = kb > nb ? kb / nb : 1;
		for (b = 0; b < nb; b++) {
			row = rs + (u64)b * u->bpr * 64;
			for (ph = 0; ph < period; ph++) {
				s = ATTN_FN(first_slot)(qlo, b, nb);
				s += (ph + period - s % period) % period;
				q = s * nb + b;
				for (e = 0; e < 4; e += ne)
					ATTN_FN(vrun)(u, row + s * 64,
						      period * 64, q,
						      period * nb, qhi, lo,
						      q % kb, e, ne, G, bf16);
			}
		}
		return;
	}
	for (b = 0; b < nb; b++) {
		s = ATTN_FN(first_slot)(qlo, b, nb);
		for (; (q = s * nb + b) < qhi; s++) {
			const u8 *p = rs + ((u64)b * u->bpr + s) * 64;
			const v8f *w = pv + (q / kb - lo) * G;

			t = q / kb;
			j = q - t * kb;
			for (e = 0; e < 4; e++) {
				v8f x = ATTN_FN(load)(p + 16 * e, bf16);
				v8f *a = acc + j * 4 + e;

				for (g = 0; g < G; g++)
					a[g * kb * 4] += w[g] * x;
			}
		}
	}
}

/* 1 / sqrt(d) by Newton's iteration in double, rounded once to FP32. */
static u32 ATTN_FN(default_scale)(u32 d)
{
	union { float f; u32 u; } r;
	double y = 0.05;
	int i;

	for (i = 0; i < 64; i++)
		y = y * (1.5 - 0.5 * d * y * y);
	r.f = (float)y;
	return r.u;
}

/* Chunked online softmax of the chunk's nq score rows, n tokens each. */
static void ATTN_FN(softmax)(struct pim_attn_unit *u, u32 n)
{
	float *sc = (float *)(pim_attn_data(u) + u->off_sc);
	float *m = (float *)(pim_attn_data(u) + u->off_m);
	float *l = (float *)(pim_attn_data(u) + u->off_l);
	float *alpha = (float *)(pim_attn_data(u) + u->off_alpha);
	union { u32 u; float f; } scale = { .u = u->scale_bits };
	u32 qi, t, n8 = (n + 7) & ~7U;
	const v8f zero = { 0 };

	for (qi = 0; qi < u->nq; qi++) {
		v8f *s = (v8f *)(sc + qi * u->cpad);
		v8f sum = { 0 }, mx = sum - __builtin_inff();
		float mnew;

		for (t = 0; t < n; t++)
			sc[qi * u->cpad + t] *= scale.f;
		for (; t < n8; t++)
			sc[qi * u->cpad + t] = -__builtin_inff();
		for (t = 0; t < n8 / 8; t++)
			mx = ATTN_FN(vmax)(mx, s[t]);
		mnew = ATTN_FN(hmax)(mx);
		mnew = m[qi] > mnew ? m[qi] : mnew;
		for (t = 0; t < n8 / 8; t++) {
			s[t] = ATTN_FN(vexp)(s[t] - mnew);
			sum += s[t];
		}
		alpha[qi] = ATTN_FN(vexp)(zero + (m[qi] - mnew))[0];
		l[qi] = l[qi] * alpha[qi] + ATTN_FN(hsum8)(sum);
		m[qi] = mnew;
	}
}

/* Rescale the accumulators by alpha and spread the weights to the lanes. */
static void ATTN_FN(broadcast)(struct pim_attn_unit *u, u32 n)
{
	const float *sc = (const float *)(pim_attn_data(u) + u->off_sc);
	const float *alpha = (const float *)(pim_attn_data(u) + u->off_alpha);
	v8f *acc = (v8f *)(pim_attn_data(u) + u->off_acc);
	v8f *pv = (v8f *)(pim_attn_data(u) + u->off_pv);
	u32 G = u->gqa, g, c, i, t, x;
	const v8f zero = { 0 };

	for (g = 0; g < G; g++) {
		v8f a;
		bool one = true;

		for (c = 0; c < 8; c++) {
			i = c / u->nhc;
			a[c] = i < u->heads ? alpha[i * G + g] : 1.0f;
			one = one && a[c] == 1.0f;
		}
		for (x = 0; !one && x < u->kb * 4; x++)
			acc[g * u->kb * 4 + x] *= a;
	}
	for (t = 0; t < n; t++) {
		for (g = 0; g < G; g++) {
			v8f w;

			if (u->nhc == 8) {
				w = zero + sc[g * u->cpad + t];
			} else {
				for (c = 0; c < 8; c++) {
					i = c / u->nhc;
					w[c] = i < u->heads ?
					       sc[(i * G + g) * u->cpad + t] : 0;
				}
			}
			pv[t * G + g] = w;
		}
	}
}

static __always_inline void ATTN_FN(chunk_g)(struct pim_attn_unit *u,
					     const u8 *k, const u8 *v,
					     u32 lo, u32 n, const u32 G,
					     const bool bf16)
{
	ATTN_FN(kpass)(u, k, lo, n, G, bf16);
	ATTN_FN(softmax)(u, n);
	ATTN_FN(broadcast)(u, n);
	ATTN_FN(vpass)(u, v, lo, n, G, bf16);
}

/*
 * One chunk, with the GQA group size and the type as constants: one
 * out-of-line function per case keeps each stack frame small (the kernel
 * warns above 2 KiB) while the loops inside are specialised.
 */
#define PIM_CHUNK_FN(name, G, bf16)					\
static noinline void ATTN_FN(name)(struct pim_attn_unit *u, \
		const u8 *k, const u8 *v, u32 lo, u32 n)		\
{									\
	ATTN_FN(chunk_g)(u, k, v, lo, n, G, bf16);			\
}

PIM_CHUNK_FN(chunk_1h, 1, false)
PIM_CHUNK_FN(chunk_1b, 1, true)
PIM_CHUNK_FN(chunk_2h, 2, false)
PIM_CHUNK_FN(chunk_2b, 2, true)
PIM_CHUNK_FN(chunk_4h, 4, false)
PIM_CHUNK_FN(chunk_4b, 4, true)
PIM_CHUNK_FN(chunk_8h, 8, false)
PIM_CHUNK_FN(chunk_8b, 8, true)
PIM_CHUNK_FN(chunk_nh, u->gqa, false)
PIM_CHUNK_FN(chunk_nb, u->gqa, true)
#undef PIM_CHUNK_FN

static void ATTN_FN(chunk)(struct pim_attn_unit *u, const u8 *k, const u8 *v,
			   u32 lo, u32 n)
{
	bool bf16 = u->dtype == PIM_DTYPE_BF16;

	switch (u->gqa) {
	case 1:
		(bf16 ? ATTN_FN(chunk_1b) : ATTN_FN(chunk_1h))(u, k, v, lo, n);
		break;
	case 2:
		(bf16 ? ATTN_FN(chunk_2b) : ATTN_FN(chunk_2h))(u, k, v, lo, n);
		break;
	case 4:
		(bf16 ? ATTN_FN(chunk_4b) : ATTN_FN(chunk_4h))(u, k, v, lo, n);
		break;
	case 8:
		(bf16 ? ATTN_FN(chunk_8b) : ATTN_FN(chunk_8h))(u, k, v, lo, n);
		break;
	default:
		(bf16 ? ATTN_FN(chunk_nb) : ATTN_FN(chunk_nh))(u, k, v, lo, n);
		break;
	}
}

static bool ATTN_FN(step)(struct pim_attn_unit *u, u32 max_tokens)
{
	u32 done = 0, r, lo, n;
	u64 off;

	if (!u->scale_bits)
		u->scale_bits = ATTN_FN(default_scale)(u->d);
	while (u->done < u->ctx_len && done < max_tokens) {
		r = u->done / u->tpr;
		lo = u->done % u->tpr;
		n = u->chunk - lo % u->chunk;
		n = n < u->tpr - lo ? n : u->tpr - lo;
		n = n < u->ctx_len - u->done ? n : u->ctx_len - u->done;
		off = r * u->rowset_bytes;
		ATTN_FN(chunk)(u, u->k + off, u->v + off, lo, n);
		u->done += n;
		done += n;
	}
	return u->done >= u->ctx_len;
}

static void ATTN_FN(finish)(struct pim_attn_unit *u, u32 *out)
{
	const v8f *acc = (const v8f *)(pim_attn_data(u) + u->off_acc);
	const float *l = (const float *)(pim_attn_data(u) + u->off_l);
	u32 g, j, e, c, i, d = u->d;
	union { float f; u32 u; } r;

	for (g = 0; g < u->gqa; g++)
		for (j = 0; j < u->kb; j++)
			for (e = 0; e < 4; e++)
				for (c = 0; c < 8; c++) {
					i = c / u->nhc;
					if (i >= u->heads)
						continue;
					r.f = acc[(g * u->kb + j) * 4 + e][c] /
					      l[i * u->gqa + g];
					out[(u->q0 + i * u->gqa + g) * d +
					    (c % u->nhc) * (d / u->nhc) +
					    4 * j + e] = r.u;
				}
}

const struct pim_attn_ops ATTN_FN(pim_attn_ops) = {
	.step = ATTN_FN(step),
	.finish = ATTN_FN(finish),
};
