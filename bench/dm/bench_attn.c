// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * bench_attn.c - the attention engine against this machine's memory.
 *
 * In one run: the single-core streaming read bandwidth, then the emulated
 * decode-attention throughput (KV bytes consumed per second, K and V of
 * every token attended) of one core for FP16 and BF16, MHA (32 heads) and
 * GQA-8 (64 q heads, 8 KV heads), head dim 128, 4K to 64K tokens, and the
 * ratio of the two; then one thread per busy rank. Prints
 * "bench <name> <value> <unit>" lines.
 *
 * One-core figures divide by the thread's CPU time, so other tenants of a
 * shared machine do not distort them (both sides of the ratio alike); the
 * multi-threaded figure is wall-clock. Large buffers ask for transparent
 * huge pages, as the module's reserved region is mapped with large pages.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "dm_state.h"

#define RUNS		5
#define BW_BYTES	(512UL << 20)

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_now(void)
{
	return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

static double wall_now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static void *huge_alloc(size_t bytes)
{
	void *p = aligned_alloc(2 << 20, bytes);

	if (p)
		madvise(p, bytes, MADV_HUGEPAGE);
	return p;
}

typedef u64 v2u64 __attribute__((vector_size(16)));

/*
 * Sum of a buffer through 16-byte loads, 4 chains and the engine's
 * software prefetch distance: one core's streaming reads.
 */
static u64 read_sum(const v2u64 *p, size_t n)
{
	v2u64 a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	size_t i;

	for (i = 0; i < n; i += 4) {
		__builtin_prefetch(p + i + 256);
		a += p[i];
		b += p[i + 1];
		c += p[i + 2];
		d += p[i + 3];
	}
	a += b + c + d;
	return a[0] + a[1];
}

static double read_bw(void)
{
	v2u64 *buf = huge_alloc(BW_BYTES);
	volatile u64 sink;
	double best = 0, t;
	int r;

	if (!buf)
		return 0;
	memset(buf, 1, BW_BYTES);
	for (r = 0; r < RUNS; r++) {
		t = cpu_now();
		sink = read_sum(buf, BW_BYTES / sizeof(v2u64));
		t = cpu_now() - t;
		best = best > BW_BYTES / t ? best : BW_BYTES / t;
	}
	(void)sink;
	free(buf);
	return best;
}

struct dev {
	struct pim_dm dm;
	void *mem, *state;
};

static int dev_init(struct dev *d, u32 ranks, u64 rank_bytes)
{
	struct pim_geometry g;

	pim_geom_default(&g, 1ULL << 30);
	g.channels = ranks;
	g.dimms_per_channel = g.ranks_per_dimm = g.ranksets = 1;
	g.rank_bytes = rank_bytes;
	d->mem = huge_alloc(ranks * rank_bytes);
	d->state = malloc(pim_dm_state_bytes(&g));
	if (!d->mem || !d->state)
		return -ENOMEM;
	return pim_dm_init(&d->dm, &g, d->mem, d->state);
}

static void dev_fini(struct dev *d)
{
	free(d->mem);
	free(d->state);
}

/* A cache of layers x (q, kv) heads, ntok tokens of small random values. */
static struct pim_kv *kv_make(struct dev *d, u8 dtype, u32 layers, u32 qh,
			      u32 kvh, u32 ntok)
{
	struct pim_kv_alloc s = {
		.layers = layers, .q_heads = qh, .kv_heads = kvh,
		.head_dim = 128, .dtype = dtype, .max_tokens = ntok,
		.rankset_hint = PIM_RANKSET_ANY,
	};
	u32 step = 1024, l, t, i, n = step * kvh * 128;
	struct pim_kv *kv = malloc(pim_kv_bytes(&s));
	u16 *k = malloc(n * 2), *v = malloc(n * 2);

	if (!kv || !k || !v || pim_kv_place(&d->dm, &s, kv))
		goto fail;
	for (i = 0; i < n; i++) {	/* values in [-1, 1): FP16 or BF16 */
		k[i] = dtype == PIM_DTYPE_BF16 ? 0x3c00 + i % 0x380 :
		       0x3000 + i % 0xc00;
		v[i] = k[i] ^ (i & 1) << 15;
	}
	for (l = 0; l < layers; l++)
		for (t = 0; t < ntok; t += step)
			if (pim_kv_append(&d->dm, kv, l, step < ntok - t ?
					  step : ntok - t, k, v, 0))
				goto fail;
	free(k);
	free(v);
	return kv;
fail:
	free(kv);
	free(k);
	free(v);
	return NULL;
}

struct rank_job {
	const struct pim_dm *dm;
	const struct pim_kv *kv;
	u32 rank, ctx;
	u32 *q, *out;
};

/* Every unit of the cache on one rank (all of them for rank ~0). */
static void *run_rank(void *arg)
{
	struct rank_job *j = arg;
	const struct pim_kv_alloc *s = pim_kv_shape(j->kv);
	struct pim_attn_unit *u = malloc(pim_attn_unit_bytes(j->kv));
	u32 l, gi;

	for (l = 0; u && l < s->layers; l++) {
		for (gi = 0; gi < pim_kv_groups(j->kv); gi++) {
			if (j->rank != ~0U &&
			    pim_kv_group_rank(j->kv, l, gi) != j->rank)
				continue;
			pim_attn_unit_init(u, j->dm, j->kv, l, gi, j->ctx, 0,
					   j->q);
			while (!pim_attn_unit_step_fpu(u, 256))
				;
			pim_attn_unit_finish_fpu(u, j->out);
		}
	}
	free(u);
	return NULL;
}

static u64 kv_bytes(const struct pim_kv *kv, u32 ctx)
{
	const struct pim_kv_alloc *s = pim_kv_shape(kv);

	return 2ULL * 2 * ctx * s->layers * s->kv_heads * s->head_dim;
}

/* Best single-thread throughput in bytes per (CPU or wall) second. */
static double attn_1core(const struct pim_dm *dm, const struct pim_kv *kv,
			 u32 ctx, double (*now)(void))
{
	struct rank_job j = { dm, kv, ~0U, ctx, NULL, NULL };
	const struct pim_kv_alloc *s = pim_kv_shape(kv);
	double best = 0, t;
	int r;

	j.q = calloc(s->q_heads * s->head_dim, 4);
	j.out = calloc(s->q_heads * s->head_dim, 4);
	for (r = 0; r < RUNS; r++) {
		t = now();
		run_rank(&j);
		t = now() - t;
		best = best > kv_bytes(kv, ctx) / t ? best : kv_bytes(kv, ctx) / t;
	}
	free(j.q);
	free(j.out);
	return best;
}

/* One thread per busy rank. */
static double attn_ranks(const struct pim_dm *dm, const struct pim_kv *kv,
			 u32 ctx, u32 *busy)
{
	const struct pim_kv_alloc *s = pim_kv_shape(kv);
	struct rank_job j[PIM_MAX_RANKS];
	pthread_t th[PIM_MAX_RANKS];
	double best = 0, t;
	u64 mask = 0;
	u32 l, gi, r, n = 0;
	int run;

	for (l = 0; l < s->layers; l++)
		for (gi = 0; gi < pim_kv_groups(kv); gi++)
			mask |= 1ULL << pim_kv_group_rank(kv, l, gi);
	for (r = 0; r < PIM_MAX_RANKS; r++) {
		if (!(mask >> r & 1))
			continue;
		j[n] = (struct rank_job){ dm, kv, r, ctx,
			calloc(s->q_heads * s->head_dim, 4),
			calloc(s->q_heads * s->head_dim, 4) };
		n++;
	}
	for (run = 0; run < RUNS; run++) {
		t = wall_now();
		for (r = 0; r < n; r++)
			pthread_create(&th[r], NULL, run_rank, &j[r]);
		for (r = 0; r < n; r++)
			pthread_join(th[r], NULL);
		t = wall_now() - t;
		best = best > kv_bytes(kv, ctx) / t ? best : kv_bytes(kv, ctx) / t;
	}
	for (r = 0; r < n; r++) {
		free(j[r].q);
		free(j[r].out);
	}
	*busy = n;
	return best;
}

int main(void)
{
	static const u32 lens[] = { 4096, 16384, 65536 };
	static const struct { const char *name; u32 q, kv; } kinds[] = {
		{ "mha", 32, 32 }, { "gqa8", 64, 8 },
	};
	double bw, x, worst = 1e9, mt, one;
	u8 dtypes[] = { PIM_DTYPE_FP16, PIM_DTYPE_BF16 };
	struct pim_kv *kv;
	struct dev d;
	u32 di, ki, li, busy;
	const char *dn;

	pim_attn_select(pim_cpu_has_avx2());
	bw = read_bw();
	printf("bench dm-read-bw-1core %.2f GB/s\n", bw / 1e9);
	if (dev_init(&d, 4, 1ULL << 30))
		return 1;
	for (di = 0; di < 2; di++) {
		dn = dtypes[di] == PIM_DTYPE_FP16 ? "fp16" : "bf16";
		for (ki = 0; ki < 2; ki++) {
			kv = kv_make(&d, dtypes[di], 1, kinds[ki].q, kinds[ki].kv,
				     65536);
			if (!kv)
				return 1;
			if (ki == 0 && pim_attn_uses_avx2()) {
				/* The kernel's default (qemu64) build. */
				pim_attn_select(false);
				x = attn_1core(&d.dm, kv, 16384, cpu_now);
				pim_attn_select(true);
				printf("bench dm-attn-%s-mha-16k-sse2 %.2f GB/s\n",
				       dn, x / 1e9);
			}
			for (li = 0; li < 3; li++) {
				x = attn_1core(&d.dm, kv, lens[li], cpu_now);
				printf("bench dm-attn-%s-%s-%uk %.2f GB/s\n", dn,
				       kinds[ki].name, lens[li] / 1024, x / 1e9);
				printf("bench dm-attn-%s-%s-%uk-vs-readbw %.2f x\n",
				       dn, kinds[ki].name, lens[li] / 1024, x / bw);
				worst = x / bw < worst ? x / bw : worst;
			}
			pim_kv_release(&d.dm, kv);
			free(kv);
		}
	}
	printf("bench dm-attn-min-vs-readbw %.2f x\n", worst);

	/* MHA spread over 4 ranks: one thread per rank against one thread,
	 * both in wall-clock time.
	 */
	kv = kv_make(&d, PIM_DTYPE_BF16, 1, 32, 32, 16384);
	if (!kv)
		return 1;
	one = attn_1core(&d.dm, kv, 16384, wall_now);
	mt = attn_ranks(&d.dm, kv, 16384, &busy);
	printf("bench dm-attn-bf16-mha-16k-%uranks %.2f GB/s\n", busy, mt / 1e9);
	printf("bench dm-attn-rank-threads-speedup %.2f x\n", mt / one);
	pim_kv_release(&d.dm, kv);
	free(kv);
	dev_fini(&d);
	return 0;
}
