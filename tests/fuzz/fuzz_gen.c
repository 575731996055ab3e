// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_gen.c - commands for the fuzzer: a well-formed command for what the
 * worker has placed so far (handles, layer lengths, buffers), then with
 * probability one half up to three mutations of fields, sizes, handles,
 * offsets, dtypes, geometry, flags, reserved words and user pointers; one
 * command in sixteen is random bytes.
 */
#include <string.h>

#include "fuzz.h"

/* xorshift64*: cheap, and a round is replayed from its seed alone. */
uint64_t fz_rand(struct fz_ctx *c)
{
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return c->rng * 0x2545f4914f6cdd1dULL;
}

uint32_t fz_below(struct fz_ctx *c, uint32_t n)
{
	return n ? (uint32_t)(fz_rand(c) % n) : 0;
}

bool fz_chance(struct fz_ctx *c, uint32_t one_in)
{
	return fz_below(c, one_in) == 0;
}

/* splitmix64 finaliser over the three inputs; never returns 0. */
uint64_t fz_mix(uint64_t seed, uint64_t a, uint64_t b)
{
	uint64_t z = seed + a * 0x9e3779b97f4a7c15ULL +
		     b * 0xbf58476d1ce4e5b9ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z ? z : 1;
}

void fz_fill(struct fz_ctx *c, void *p, size_t n)
{
	uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)fz_rand(c);
}

uint64_t fz_bad_addr(struct fz_ctx *c)
{
	switch (fz_below(c, 8)) {
	case 0:
		return 0;
	case 1:
		return 8;
	case 2:
		return 0xffff888000000000ULL;	/* kernel direct map */
	case 3:
		return ~0ULL - fz_below(c, 64);
	case 4:
		return (uintptr_t)c->ro;	/* faults only when written */
	case 5:
		return (uintptr_t)c->hole;
	case 6:	/* runs off the end of the buffer into the read-only page */
		return (uintptr_t)c->ro - 1 - fz_below(c, 4096);
	default:
		return fz_rand(c);
	}
}

/* An interesting 32-bit value for a size, count, index or handle. */
static uint32_t edge32(struct fz_ctx *c)
{
	static const uint32_t v[] = {
		0, 1, 2, 3, 7, 8, 15, 16, 17, 255, 256, 4095, 4096, 4097,
		0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe,
		0xffffffff, PIM_MAX_ATTN_JOBS, PIM_MAX_ATTN_JOBS + 1,
		PIM_MAX_HEAD_DIM, PIM_MAX_HEAD_DIM + 16, 1U << 24,
	};

	if (fz_chance(c, 4))
		return (uint32_t)fz_rand(c);
	return v[fz_below(c, sizeof(v) / sizeof(v[0]))];
}

static struct fz_kv *pick_kv(struct fz_ctx *c)
{
	return c->nkv ? &c->kv[fz_below(c, c->nkv)] : NULL;
}

static uint32_t pick_handle(struct fz_ctx *c)
{
	struct fz_kv *kv = pick_kv(c);

	if (!kv || fz_chance(c, 8))
		return fz_chance(c, 2) ? fz_below(c, 64) : edge32(c);
	return kv->handle;
}

static void gen_alloc(struct fz_ctx *c, struct pim_kv_alloc *a)
{
	static const uint16_t dims[] = { 16, 32, 64, 128 };
	uint16_t group = 1U << fz_below(c, 3);

	a->layers = 1 + fz_below(c, FZ_MAX_LAYERS);
	a->kv_heads = 1 + fz_below(c, 4);
	a->q_heads = a->kv_heads * group;
	a->head_dim = dims[fz_below(c, 4)];
	a->dtype = fz_chance(c, 2) ? PIM_DTYPE_FP16 : PIM_DTYPE_BF16;
	a->chips_per_head = fz_chance(c, 2) ? 0 : 1U << fz_below(c, 4);
	a->max_tokens = 1 + fz_below(c, 256);
	a->rankset_hint = fz_chance(c, 2) ? PIM_RANKSET_ANY :
			  fz_below(c, c->info.geom.ranksets + 1);
	if (fz_chance(c, 3))
		a->placement = (uintptr_t)c->place;
}

/* K and V of count tokens must fit the buffer, one half each. */
static void gen_kv_io(struct fz_ctx *c, struct pim_kv_io *io, bool append)
{
	struct fz_kv *kv = pick_kv(c);
	uint32_t room, len;
	size_t tok;

	io->handle = pick_handle(c);
	io->k_addr = (uintptr_t)c->buf;
	io->v_addr = (uintptr_t)c->buf + FZ_BUF_BYTES / 2;
	if (!kv) {
		io->count = 1 + fz_below(c, 8);
		return;
	}
	io->layer = fz_below(c, kv->shape.layers);
	len = kv->len[io->layer];
	tok = (size_t)kv->shape.kv_heads * kv->shape.head_dim * 2;
	room = FZ_BUF_BYTES / 2 / tok;
	if (append) {
		io->start = len;
		io->count = 1 + fz_below(c, 16);
		fz_fill(c, c->buf, io->count * tok);
	} else {
		io->start = len ? fz_below(c, len) : 0;
		io->count = len > io->start ? len - io->start : 1;
	}
	if (io->count > room)
		io->count = room;
}

static uint32_t gen_attn(struct fz_ctx *c, struct pim_attn_batch *b)
{
	uint32_t i, nr = 1 + fz_below(c, FZ_JOBS);
	size_t qbytes = PIM_MAX_GQA_GROUP * 4 * PIM_MAX_HEAD_DIM * 4;

	for (i = 0; i < nr; i++) {
		struct pim_attn_job *j = &c->jobs[i];
		struct fz_kv *kv = pick_kv(c);

		memset(j, 0, sizeof(*j));
		j->handle = pick_handle(c);
		j->ctx_len = 1;
		if (kv) {
			j->layer = fz_below(c, kv->shape.layers);
			if (kv->len[j->layer])
				j->ctx_len = 1 + fz_below(c, kv->len[j->layer]);
		}
		j->q_addr = (uintptr_t)c->buf + i * qbytes % (FZ_BUF_BYTES / 2);
		j->out_addr = j->q_addr + FZ_BUF_BYTES / 2;
		if (fz_chance(c, 4))
			j->scale = (uint32_t)fz_rand(c);
	}
	b->jobs = (uintptr_t)c->jobs;
	b->nr_jobs = nr;
	return nr;
}

static void gen_raw(struct fz_ctx *c, struct pim_raw_io *r)
{
	uint64_t rb = c->info.geom.rank_bytes;
	uint32_t ranks = c->info.geom.channels * c->info.geom.ranksets;

	r->rank = fz_below(c, ranks ? ranks : 1);
	r->len = 1 + fz_below(c, 8192);
	r->offset = rb > r->len ? fz_rand(c) % (rb - r->len) : 0;
	if (fz_chance(c, 2))
		r->offset &= ~63ULL;
	r->addr = (uintptr_t)c->buf;
}

/* Mutations of a well-formed command. */
static enum fz_expect mutate(struct fz_ctx *c, struct pim_cmd *cmd)
{
	uint8_t *bytes = (uint8_t *)cmd;
	uint32_t *w = (uint32_t *)cmd->args;
	uint32_t n = 1 + fz_below(c, 3);
	bool rsvd = false, other = false;

	while (n--) {
		switch (fz_below(c, 8)) {
		case 0:
			bytes[fz_below(c, sizeof(*cmd))] ^=
				1U << fz_below(c, 8);
			other = true;
			break;
		case 1:
		case 2:
			w[fz_below(c, 12)] = edge32(c);
			other = true;
			break;
		case 3:
			cmd->args[fz_below(c, 6)] = fz_bad_addr(c);
			other = true;
			break;
		case 4:
			cmd->flags = (uint8_t)fz_rand(c);
			other = true;
			break;
		case 5:
			if (fz_chance(c, 2))
				cmd->rsvd0 = (uint16_t)(1 + fz_below(c, 0xffff));
			else
				cmd->rsvd1 = 1 + (uint32_t)fz_below(c, ~0U);
			rsvd = true;
			break;
		case 6:
			cmd->opcode = (uint8_t)fz_rand(c);
			other = true;
			break;
		default:	/* dtype, N_hc, heads, geometry of an alloc */
			bytes[16 + fz_below(c, 16)] = (uint8_t)fz_rand(c);
			other = true;
			break;
		}
	}
	/* A bit flip may have cleared it again. */
	if (rsvd && !other && (cmd->rsvd0 || cmd->rsvd1))
		return FZ_EINVAL;
	return FZ_ANY;
}

enum fz_expect fz_gen(struct fz_ctx *c, struct pim_cmd *cmd)
{
	static const uint8_t ops[] = {
		PIM_OP_NOP, PIM_OP_KV_ALLOC, PIM_OP_KV_ALLOC, PIM_OP_KV_FREE,
		PIM_OP_KV_APPEND, PIM_OP_KV_APPEND, PIM_OP_KV_READ,
		PIM_OP_ATTN, PIM_OP_ATTN, PIM_OP_FENCE, PIM_OP_RAW_READ,
		PIM_OP_RAW_WRITE,
	};

	memset(cmd, 0, sizeof(*cmd));
	if (fz_chance(c, 16)) {
		fz_fill(c, cmd, sizeof(*cmd));
		c->slot->raw++;
		return FZ_ANY;
	}
	cmd->opcode = ops[fz_below(c, sizeof(ops))];
	cmd->user_data = fz_rand(c);
	switch (cmd->opcode) {
	case PIM_OP_KV_ALLOC:
		gen_alloc(c, &cmd->kv_alloc);
		break;
	case PIM_OP_KV_FREE:
		cmd->kv_free.handle = pick_handle(c);
		break;
	case PIM_OP_KV_APPEND:
		gen_kv_io(c, &cmd->kv_io, true);
		if (fz_chance(c, 4))
			cmd->flags = 1U << fz_below(c, 2);
		break;
	case PIM_OP_KV_READ:
		gen_kv_io(c, &cmd->kv_io, false);
		break;
	case PIM_OP_ATTN:
		gen_attn(c, &cmd->attn);
		break;
	case PIM_OP_RAW_READ:
	case PIM_OP_RAW_WRITE:
		gen_raw(c, &cmd->raw);
		break;
	default:
		break;
	}
	if (fz_chance(c, 2))
		return mutate(c, cmd);
	return cmd->opcode == PIM_OP_NOP ? FZ_SUCCESS : FZ_ANY;
}

static struct fz_kv *find_kv(struct fz_ctx *c, uint32_t handle)
{
	int i;

	for (i = 0; i < c->nkv; i++)
		if (c->kv[i].handle == handle)
			return &c->kv[i];
	return NULL;
}

void fz_learn(struct fz_ctx *c, const struct pim_cmd *cmd, int res)
{
	struct fz_kv *kv;

	if (res < 0)
		return;
	switch (cmd->opcode) {
	case PIM_OP_KV_ALLOC:
		if (res == 0 || c->nkv == FZ_HANDLES ||
		    cmd->kv_alloc.layers > FZ_MAX_LAYERS)
			return;
		kv = &c->kv[c->nkv++];
		memset(kv, 0, sizeof(*kv));
		kv->handle = (uint32_t)res;
		kv->shape = cmd->kv_alloc;
		break;
	case PIM_OP_KV_FREE:
		kv = find_kv(c, cmd->kv_free.handle);
		if (kv)
			*kv = c->kv[--c->nkv];
		break;
	case PIM_OP_KV_APPEND:
		kv = find_kv(c, cmd->kv_io.handle);
		if (kv && cmd->kv_io.layer < FZ_MAX_LAYERS)
			kv->len[cmd->kv_io.layer] += cmd->kv_io.count;
		break;
	default:
		break;
	}
}
