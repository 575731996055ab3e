// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kvcache.c - KV caches: allocate for a model shape, append, read back, free.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

static int shape_to_alloc(const struct pim_kv_shape *s,
			  const struct pim_kv_hints *h,
			  struct pim_kv_alloc *a)
{
	/* Refuse what the ABI's narrow fields would silently truncate. */
	if (s->q_heads > UINT16_MAX || s->kv_heads > UINT16_MAX ||
	    s->head_dim > UINT16_MAX || s->dtype > UINT8_MAX)
		return -EINVAL;
	if (h && (h->rankset > UINT16_MAX || h->chips_per_head > UINT8_MAX))
		return -EINVAL;
	a->layers = s->layers;
	a->q_heads = s->q_heads;
	a->kv_heads = s->kv_heads;
	a->head_dim = s->head_dim;
	a->dtype = s->dtype;
	a->max_tokens = s->max_tokens;
	a->rankset_hint = h ? h->rankset : PIM_RANKSET_ANY;
	a->chips_per_head = h ? h->chips_per_head : 0;
	return 0;
}

static void kvcache_destroy(struct pim_kvcache *kv)
{
	struct pim_ctx *ctx = kv->dev->ctx;

	pthread_mutex_destroy(&kv->lock);
	free(kv->len);
	free(kv->place);
	free(kv);
	pim_unref(ctx);
}

PIM_EXPORT int pim_kvcache_new(struct pim_dev *dev,
			       const struct pim_kv_shape *shape,
			       const struct pim_kv_hints *hints,
			       struct pim_kvcache **out)
{
	struct pim_cmd cmd = { .opcode = PIM_OP_KV_ALLOC };
	struct pim_kvcache *kv;
	int ret;

	if (!dev || !shape || !out)
		return -EINVAL;
	*out = NULL;
	ret = shape_to_alloc(shape, hints, &cmd.kv_alloc);
	if (ret)
		return ret;
	/* layers is checked by the device; bound the local arrays first. */
	if (!shape->layers || shape->layers > 1U << 16)
		return -EINVAL;
	kv = calloc(1, sizeof(*kv));
	if (!kv)
		return -ENOMEM;
	kv->dev = dev;
	kv->shape = *shape;
	kv->token_bytes = (size_t)shape->kv_heads * shape->head_dim * 2;
	pthread_mutex_init(&kv->lock, NULL);
	pim_ref(dev->ctx);
	kv->len = calloc(shape->layers, sizeof(*kv->len));
	kv->place = calloc(shape->layers, sizeof(*kv->place));
	if (!kv->len || !kv->place) {
		kvcache_destroy(kv);
		return -ENOMEM;
	}
	cmd.kv_alloc.placement = pim_ptr(kv->place);
	ret = pim_dev_cmd(dev, &cmd, NULL);
	if (ret < 0) {
		dbg(dev->ctx, "%s: KV_ALLOC: %s\n", dev->devname,
		    strerror(-ret));
		kvcache_destroy(kv);
		return ret;
	}
	kv->handle = ret;
	*out = kv;
	return 0;
}

PIM_EXPORT int pim_kvcache_free(struct pim_kvcache *kv)
{
	struct pim_cmd cmd = { .opcode = PIM_OP_KV_FREE };
	int ret;

	if (!kv)
		return -EINVAL;
	cmd.kv_free.handle = kv->handle;
	ret = pim_dev_cmd(kv->dev, &cmd, NULL);
	if (ret < 0)
		err(kv->dev->ctx, "%s: KV_FREE %u: %s\n", kv->dev->devname,
		    kv->handle, strerror(-ret));
	kvcache_destroy(kv);
	return ret < 0 ? ret : 0;
}

PIM_EXPORT struct pim_dev *pim_kvcache_get_dev(struct pim_kvcache *kv)
{
	return kv->dev;
}

PIM_EXPORT const struct pim_kv_shape *pim_kvcache_get_shape(
	struct pim_kvcache *kv)
{
	return &kv->shape;
}

PIM_EXPORT unsigned int pim_kvcache_get_handle(struct pim_kvcache *kv)
{
	return kv->handle;
}

PIM_EXPORT size_t pim_kvcache_token_bytes(struct pim_kvcache *kv)
{
	return kv->token_bytes;
}

PIM_EXPORT unsigned int pim_kvcache_get_len(struct pim_kvcache *kv,
					    unsigned int layer)
{
	unsigned int len;

	if (!kv || layer >= kv->shape.layers)
		return 0;
	pthread_mutex_lock(&kv->lock);
	len = kv->len[layer];
	pthread_mutex_unlock(&kv->lock);
	return len;
}

PIM_EXPORT int pim_kvcache_get_placement(struct pim_kvcache *kv,
					 unsigned int layer,
					 struct pim_kv_place *place)
{
	if (!kv || !place)
		return -EINVAL;
	if (layer >= kv->shape.layers)
		return -ERANGE;
	*place = kv->place[layer];
	return 0;
}

static int check_io(struct pim_kvcache *kv, unsigned int layer,
		    unsigned int ntok, size_t bytes)
{
	if (layer >= kv->shape.layers)
		return -ERANGE;
	if (!ntok)
		return -EINVAL;
	if (bytes / kv->token_bytes < ntok)
		return -ENOBUFS;
	return 0;
}

PIM_EXPORT int pim_kvcache_append(struct pim_kvcache *kv, unsigned int layer,
				  unsigned int ntok, const void *k,
				  const void *v, size_t bytes,
				  unsigned int flags, uint64_t *device_ns)
{
	struct pim_cmd cmd = { .opcode = PIM_OP_KV_APPEND };
	struct pim_cqe cqe;
	int ret;

	if (!kv)
		return -EINVAL;
	ret = check_io(kv, layer, ntok, bytes);
	if (ret)
		return ret;
	if (flags > UINT8_MAX)
		return -EINVAL;
	cmd.flags = flags;
	cmd.kv_io.handle = kv->handle;
	cmd.kv_io.layer = layer;
	cmd.kv_io.count = ntok;
	cmd.kv_io.k_addr = pim_ptr(k);
	cmd.kv_io.v_addr = pim_ptr(v);
	pthread_mutex_lock(&kv->lock);
	cmd.kv_io.start = kv->len[layer];
	ret = pim_dev_cmd(kv->dev, &cmd, &cqe);
	if (ret >= 0)
		kv->len[layer] += ntok;
	pthread_mutex_unlock(&kv->lock);
	if (ret < 0)
		return ret;
	if (device_ns)
		*device_ns = cqe.device_ns;
	return 0;
}

PIM_EXPORT int pim_kvcache_read(struct pim_kvcache *kv, unsigned int layer,
				unsigned int start, unsigned int ntok, void *k,
				void *v, size_t bytes)
{
	struct pim_cmd cmd = { .opcode = PIM_OP_KV_READ };
	int ret;

	if (!kv)
		return -EINVAL;
	ret = check_io(kv, layer, ntok, bytes);
	if (ret)
		return ret;
	cmd.kv_io.handle = kv->handle;
	cmd.kv_io.layer = layer;
	cmd.kv_io.start = start;
	cmd.kv_io.count = ntok;
	cmd.kv_io.k_addr = pim_ptr(k);
	cmd.kv_io.v_addr = pim_ptr(v);
	ret = pim_dev_cmd(kv->dev, &cmd, NULL);
	return ret < 0 ? ret : 0;
}
