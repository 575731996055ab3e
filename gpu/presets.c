// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * GPU and model presets. GPU figures are the vendors' dense FP16 tensor
 * rates and HBM bandwidths; the utilization caps are the AttAcc
 * simulator's (0.8 compute, 0.85 bandwidth), which the paper uses.
 * Models and their parallelism follow the paper's Table (digest 7.2).
 */
#include <errno.h>
#include <string.h>
#include "gpu.h"

#define GB	1000000000ULL
#define GIB	(1024ULL * 1024 * 1024)

static const struct gpu_spec gpu_specs[] = {
	{
		.name = "A100",		/* SXM4 80 GB, HBM2e */
		.flops = 312e12,
		.mem_bw = 2039e9,
		.mem_bytes = 80 * GIB,
		.link_bw = 300e9,	/* NVLink3, per direction */
		.link_lat = 5e-6,
		.compute_util = 0.8,
		.bw_util = 0.85,
	},
	{
		.name = "H100",		/* SXM5 80 GB, HBM3 */
		.flops = 989e12,
		.mem_bw = 3350e9,
		.mem_bytes = 80 * GIB,
		.link_bw = 450e9,	/* NVLink4, per direction */
		.link_lat = 4e-6,
		.compute_util = 0.8,
		.bw_util = 0.85,
	},
	{
		/*
		 * SXM 141 GB, HBM3e: the H100's chip and rates with more,
		 * faster memory. pim-gpucal measures it (data/gpu/h200.tsv).
		 */
		.name = "H200",
		.flops = 989e12,
		.mem_bw = 4800e9,
		.mem_bytes = 141 * GB,
		.link_bw = 450e9,	/* NVLink4, per direction */
		.link_lat = 4e-6,
		.compute_util = 0.8,
		.bw_util = 0.85,
	},
};

static const struct gpu_model gpu_models[] = {
	{ "OPT-66B", 64, 72, 72, 9216, 128, 4 * 9216, 2, 50272, 2, 4 },
	{ "QWEN-72B", 80, 64, 8, 8192, 128, 24576, 3, 152064, 4, 2 },
	{ "GPT-175B", 96, 96, 96, 12288, 128, 4 * 12288, 2, 50257, 8, 1 },
	{ "GPT-89B", 48, 96, 96, 12288, 128, 4 * 12288, 2, 50257, 4, 2 },
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

const struct gpu_spec *gpu_spec_at(unsigned int i)
{
	return i < ARRAY_SIZE(gpu_specs) ? &gpu_specs[i] : NULL;
}

const struct gpu_model *gpu_model_at(unsigned int i)
{
	return i < ARRAY_SIZE(gpu_models) ? &gpu_models[i] : NULL;
}

const struct gpu_spec *gpu_spec_find(const char *name)
{
	const struct gpu_spec *s;
	unsigned int i;

	for (i = 0; (s = gpu_spec_at(i)); i++)
		if (!strcasecmp(s->name, name))
			return s;
	return NULL;
}

const struct gpu_model *gpu_model_find(const char *name)
{
	const struct gpu_model *m;
	unsigned int i;

	for (i = 0; (m = gpu_model_at(i)); i++)
		if (!strcasecmp(m->name, name))
			return m;
	return NULL;
}

int gpu_model_check(const struct gpu_model *m, const char **why)
{
	const char *bad = NULL;

	if (!m->layers || m->layers > 1024)
		bad = "layers must be 1..1024";
	else if (!m->heads || !m->kv_heads || m->heads % m->kv_heads)
		bad = "kv_heads must divide heads";
	else if (!m->head_dim || m->head_dim > 1024)
		bad = "head_dim must be 1..1024";
	else if (!m->hidden || m->hidden != m->heads * m->head_dim)
		bad = "hidden must equal heads * head_dim";
	else if (!m->ffn)
		bad = "ffn must be > 0";
	else if (m->ffn_mats != 2 && m->ffn_mats != 3)
		bad = "ffn_mats must be 2 or 3";
	else if (!m->tp || !m->dp || m->tp * m->dp > 64)
		bad = "tp and dp must be >= 1, tp * dp <= 64";
	else if (m->kv_heads % m->tp && m->tp % m->kv_heads)
		bad = "tp must divide kv_heads or be a multiple of it";
	if (why)
		*why = bad;
	return bad ? -EINVAL : 0;
}

uint64_t gpu_model_weight_bytes(const struct gpu_model *m)
{
	uint64_t h = m->hidden, kv = (uint64_t)m->kv_heads * m->head_dim;
	uint64_t layer = h * (h + 2 * kv) + h * h +
			 (uint64_t)m->ffn_mats * h * m->ffn;

	return 2 * (m->layers * layer + 2ULL * m->vocab * h);
}

uint64_t gpu_model_kv_token_bytes(const struct gpu_model *m)
{
	return 2ULL * 2 * m->layers * m->kv_heads * m->head_dim;
}
