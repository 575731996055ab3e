// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * kv_io.c - KV append and read-back through the rank PU's re-layout, and
 * raw rank access.
 *
 * The host sends each burst's payload chip-major: chip c's 4 elements are
 * payload bytes 8c..8c+7, element e little-endian at 8c + 2e. The bus
 * stripes a burst byte by byte across the chips (byte 8b + c goes to chip
 * c, beat b), so written as is, chip c would get one byte of each of 8
 * different elements. The rank PU's in-flight re-layout (or the host's
 * software transpose) applies the 8x8 byte transpose first, so every chip
 * gets its 4 whole elements: element e of chip c sits in beats 2e, 2e+1.
 */
#include "kv.h"

void pim_relayout_bursts(void *dst, const void *src, size_t bytes)
{
	const u8 *s = src;
	u8 *d = dst;
	size_t off;
	u32 i, j;

	for (off = 0; off + PIM_BURST_BYTES <= bytes; off += PIM_BURST_BYTES)
		for (i = 0; i < PIM_CHIPS; i++)
			for (j = 0; j < PIM_BEAT_BYTES; j++)
				d[off + 8 * j + i] = s[off + 8 * i + j];
}

/* Build burst j's payload for token t of a group from host-order data. */
static void pim_pack_burst(const struct pim_kv *kv, u32 group, const u16 *src,
			   u32 t, u32 j, u8 *payload)
{
	const struct pim_kv_lay *l = &kv->lay;
	u32 d = kv->shape.head_dim, per_chip = d / l->nhc;
	u32 heads = pim_kv_group_heads(kv, group), c, e, i;
	const u16 *row;
	u16 x;

	for (c = 0; c < PIM_CHIPS; c++) {
		i = c / l->nhc;
		row = src + ((u64)t * kv->shape.kv_heads + group * l->hpg + i) * d +
		      (c % l->nhc) * per_chip + 4 * j;
		for (e = 0; e < 4; e++) {
			x = i < heads ? row[e] : 0;
			payload[8 * c + 2 * e] = x & 0xff;
			payload[8 * c + 2 * e + 1] = x >> 8;
		}
	}
}

static void pim_unpack_burst(const struct pim_kv *kv, u32 group, u16 *dst,
			     u32 t, u32 j, const u8 *payload)
{
	const struct pim_kv_lay *l = &kv->lay;
	u32 d = kv->shape.head_dim, per_chip = d / l->nhc;
	u32 heads = pim_kv_group_heads(kv, group), c, e, i;
	u16 *row;

	for (c = 0; c < PIM_CHIPS; c++) {
		i = c / l->nhc;
		if (i >= heads)
			continue;
		row = dst + ((u64)t * kv->shape.kv_heads + group * l->hpg + i) * d +
		      (c % l->nhc) * per_chip + 4 * j;
		for (e = 0; e < 4; e++)
			row[e] = payload[8 * c + 2 * e] |
				 payload[8 * c + 2 * e + 1] << 8;
	}
}

/* The burst of token t, part j, of the group's K or V in the rank. */
static u8 *pim_kv_burst(const struct pim_dm *dm, const struct pim_kv *kv,
			u32 layer, u32 group, u32 t, u32 j, bool v)
{
	const struct pim_kv_lay *l = &kv->lay;
	u32 rank = pim_kv_slot(kv, layer, group)->rank;
	u64 off = pim_kv_rowset_off(kv, layer, group, t / l->tpr, v);

	off += v ? pim_kv_vburst(l, kv->nbanks, t % l->tpr, j) :
		   pim_kv_kburst(l, kv->nbanks, t % l->tpr, j);
	return dm->mem + (u64)rank * dm->g.rank_bytes + off;
}

static void pim_put_burst(u8 *dst, const u8 *payload, bool relaid)
{
	if (relaid)
		pim_relayout_bursts(dst, payload, PIM_BURST_BYTES);
	else
		memcpy(dst, payload, PIM_BURST_BYTES);
}

static void pim_get_burst(u8 *payload, const u8 *src, bool relaid)
{
	if (relaid)
		pim_relayout_bursts(payload, src, PIM_BURST_BYTES);
	else
		memcpy(payload, src, PIM_BURST_BYTES);
}

int pim_kv_append(struct pim_dm *dm, struct pim_kv *kv, u32 layer, u32 ntok,
		  const void *k, const void *v, u32 flags)
{
	u32 mode, t, gi, j, len;
	struct pim_kv_layer *ly;
	u8 payload[PIM_BURST_BYTES];
	bool relaid;

	if (layer >= kv->shape.layers || (flags & ~PIM_CMD_F_ALL) ||
	    (flags & PIM_CMD_F_ALL) == PIM_CMD_F_ALL)
		return -EINVAL;
	ly = &kv->layer[layer];
	if (ntok > kv->shape.max_tokens - ly->len)
		return -ENOSPC;
	if (!ntok)
		return 0;
	mode = flags & PIM_CMD_F_NO_RELAYOUT ? PIM_KV_UNRELAID : PIM_KV_RELAID;
	if (ly->len && ly->mode != mode)
		return -EINVAL;
	if (dm->mem && (!k || !v))
		return -EINVAL;
	relaid = mode == PIM_KV_RELAID;
	len = ly->len;
	for (t = 0; dm->mem && t < ntok; t++) {
		for (gi = 0; gi < kv->lay.groups; gi++) {
			for (j = 0; j < kv->lay.kb; j++) {
				pim_pack_burst(kv, gi, k, t, j, payload);
				pim_put_burst(pim_kv_burst(dm, kv, layer, gi,
							   len + t, j, false),
					      payload, relaid);
				pim_pack_burst(kv, gi, v, t, j, payload);
				pim_put_burst(pim_kv_burst(dm, kv, layer, gi,
							   len + t, j, true),
					      payload, relaid);
			}
		}
	}
	ly->mode = mode;
	ly->len += ntok;
	return 0;
}

int pim_kv_read(const struct pim_dm *dm, const struct pim_kv *kv, u32 layer,
		u32 start, u32 ntok, void *k, void *v)
{
	u8 payload[PIM_BURST_BYTES];
	u32 t, gi, j;
	bool relaid;

	if (layer >= kv->shape.layers)
		return -EINVAL;
	if (start > kv->layer[layer].len ||
	    ntok > kv->layer[layer].len - start)
		return -ERANGE;
	if (!dm->mem)
		return -ENODEV;
	relaid = kv->layer[layer].mode != PIM_KV_UNRELAID;
	for (t = 0; t < ntok; t++) {
		for (gi = 0; gi < kv->lay.groups; gi++) {
			for (j = 0; j < kv->lay.kb; j++) {
				if (k) {
					pim_get_burst(payload,
						      pim_kv_burst(dm, kv, layer, gi,
								   start + t, j,
								   false),
						      relaid);
					pim_unpack_burst(kv, gi, k, t, j,
							 payload);
				}
				if (v) {
					pim_get_burst(payload,
						      pim_kv_burst(dm, kv, layer, gi,
								   start + t, j,
								   true),
						      relaid);
					pim_unpack_burst(kv, gi, v, t, j,
							 payload);
				}
			}
		}
	}
	return 0;
}

static int pim_raw_check(const struct pim_dm *dm, u32 rank, u64 off,
			 const void *buf, u64 len)
{
	if (rank >= dm->nranks || !buf)
		return -EINVAL;
	if (off > dm->g.rank_bytes || len > dm->g.rank_bytes - off)
		return -ERANGE;
	return dm->mem ? 0 : -ENODEV;
}

int pim_raw_read(const struct pim_dm *dm, u32 rank, u64 off, void *buf,
		 u64 len)
{
	int ret = pim_raw_check(dm, rank, off, buf, len);

	if (!ret)
		memcpy(buf, dm->mem + (u64)rank * dm->g.rank_bytes + off, len);
	return ret;
}

int pim_raw_write(struct pim_dm *dm, u32 rank, u64 off, const void *buf,
		  u64 len)
{
	int ret = pim_raw_check(dm, rank, off, buf, len);

	if (!ret)
		memcpy(dm->mem + (u64)rank * dm->g.rank_bytes + off, buf, len);
	return ret;
}
