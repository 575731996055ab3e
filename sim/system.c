// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * System presets (paper VII-A, digest 7.1 and 10.1) and the "key = value"
 * configuration files that override them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "sim.h"
#include "pim_dm.h"
#include "dm_state.h"

#define TIB		(1024.0 * 1024 * 1024 * 1024)
#define GB		1e9
#define PCIE4_X16	32e9	/* bytes/s per GPU and direction */
#define NVLINK3		300e9

struct preset {
	const char *name;
	enum sim_dev_kind kind;
	enum sched_policy policy;
	double dev_bytes, dev_bw, link_bw;
};

/* dev_bw 0 for DIMM systems: taken from the device model (dimm_bw()). */
static const struct preset presets[] = {
	{ "gpu-only", DEV_GPU, SCHED_GPU_ONLY, 0, 0, 0 },
	/* AttAcc: PUs per bank, 16x the HBM bandwidth inside the stacks. */
	{ "hbm-pim", DEV_HBM_PIM, SCHED_L3, 0, 0, 0 },
	/* 20 extra HBM2e-PIM stacks, 320 GB, 130.4 TB/s, KV only. */
	{ "hbm-pim-ext", DEV_HBM_PIM_EXT, SCHED_L3, 320 * GB, 130.4e12,
	  NVLINK3 },
	{ "rpim", DEV_RPIM, SCHED_L3, 2 * TIB, 0, PCIE4_X16 },
	{ "cpu", DEV_CPU, SCHED_L3, 2 * TIB, 0, PCIE4_X16 },
	{ "l3", DEV_L3, SCHED_L3, 2 * TIB, 0, PCIE4_X16 },
};

#define NR_PRESETS	(sizeof(presets) / sizeof(presets[0]))

const char *sim_system_preset_at(unsigned int i)
{
	return i < NR_PRESETS ? presets[i].name : NULL;
}

/*
 * The device model's own aggregate bandwidths for the DIMM baselines:
 * rank-level PIM uses every rank's bus at once, the CPU its channels.
 */
static double dimm_bw(enum sim_dev_kind kind, double bytes)
{
	struct pim_geometry g;
	struct pim_dm dm;
	void *state;
	double bw = 0;

	pim_geom_default(&g, (uint64_t)bytes);
	state = calloc(1, pim_dm_state_bytes(&g));
	if (state && !pim_dm_init(&dm, &g, NULL, state))
		bw = kind == DEV_RPIM ? (double)pim_model_rank_bw(&dm) :
					(double)pim_model_host_bw(&dm);
	free(state);
	return bw;
}

int sim_system_preset(const char *name, struct sim_system *sys)
{
	const struct preset *p = NULL;
	unsigned int i;

	for (i = 0; i < NR_PRESETS; i++)
		if (!strcasecmp(name, presets[i].name))
			p = &presets[i];
	if (!p)
		return -EINVAL;
	memset(sys, 0, sizeof(*sys));
	snprintf(sys->name, sizeof(sys->name), "%s", p->name);
	sys->kind = p->kind;
	sys->policy = p->policy;
	sys->gpu = *gpu_spec_find("A100");
	sys->gpus = 8;
	sys->dev_bytes = p->dev_bytes;
	sys->dev_bw = p->dev_bw;
	if (p->kind == DEV_RPIM || p->kind == DEV_CPU)
		sys->dev_bw = dimm_bw(p->kind, p->dev_bytes);
	sys->hbm_pim_x = 16;
	sys->link_bw = p->link_bw;
	sys->cap_scale = 1;
	sys->bw_scale = 1;
	sys->features = PIM_TF_ALL;
	return 0;
}

int sim_model_preset(const char *name, struct sim_config *cfg)
{
	const struct gpu_model *m = gpu_model_find(name);

	if (!m)
		return -EINVAL;
	cfg->model = *m;
	snprintf(cfg->model_name, sizeof(cfg->model_name), "%s", m->name);
	cfg->model.name = cfg->model_name;
	return 0;
}

void sim_config_default(struct sim_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	sim_system_preset("l3", &cfg->sys);
	sim_model_preset("GPT-175B", cfg);
	snprintf(cfg->trace, sizeof(cfg->trace), "openr1");
	cfg->requests = 1000;
	cfg->seed = 1;
	cfg->profile_samples = 256;
	cfg->one_batch = true;
}

int sim_config_check(const struct sim_config *cfg, const char **why)
{
	static __thread char calib_why[256];
	const struct sim_system *s = &cfg->sys;
	const struct gpu_model *m = &cfg->model;
	const char *bad = NULL;

	if (gpu_model_check(m, &bad))
		;
	else if (m->tp * m->dp != s->gpus)
		bad = "model.tp * model.dp must equal gpus";
	else if (!(s->gpu.flops > 0) || !(s->gpu.mem_bw > 0) ||
		 !s->gpu.mem_bytes)
		bad = "gpu rates and memory must be > 0";
	else if (!(s->gpu.compute_util > 0 && s->gpu.compute_util <= 1) ||
		 !(s->gpu.bw_util > 0 && s->gpu.bw_util <= 1))
		bad = "gpu utilization caps must be in (0, 1]";
	else if (!(s->cap_scale > 0 && s->cap_scale <= 64) ||
		 !(s->bw_scale > 0 && s->bw_scale <= 64))
		bad = "cap_scale and bw_scale must be in (0, 64]";
	else if (s->kind != DEV_GPU && s->kind != DEV_HBM_PIM &&
		 !(s->dev_bytes > 0))
		bad = "dev.capacity_gb must be > 0";
	else if ((s->kind == DEV_HBM_PIM_EXT || s->kind == DEV_RPIM ||
		  s->kind == DEV_CPU) && !(s->dev_bw > 0))
		bad = "dev.bandwidth_gbs must be > 0";
	else if (s->kind == DEV_HBM_PIM && !(s->hbm_pim_x > 0))
		bad = "hbm_pim_x must be > 0";
	else if (s->link_bw < 0)
		bad = "link_gbs must be >= 0";
	else if (!cfg->requests || cfg->requests > 1000000)
		bad = "requests must be 1..1000000";
	else if ((s->kind == DEV_GPU) != (s->policy == SCHED_GPU_ONLY))
		bad = "policy gpu-only goes with system gpu-only, and only there";
	else if (cfg->gpu_calib && gpu_calib_check(cfg->gpu_calib, &s->gpu, m,
						   calib_why, sizeof(calib_why)))
		bad = calib_why;
	if (why)
		*why = bad;
	return bad ? -EINVAL : 0;
}

static int parse_double(const char *v, double *out)
{
	char *end;
	double d = strtod(v, &end);

	if (end == v || *end || d != d)
		return -EINVAL;
	*out = d;
	return 0;
}

static int parse_u32(const char *v, uint32_t *out)
{
	char *end;
	unsigned long long n = strtoull(v, &end, 10);

	if (end == v || *end || *v == '-' || n > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)n;
	return 0;
}

static int parse_onoff(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "yes"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "no"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int set_feature(struct sim_system *s, uint32_t bit, bool on)
{
	s->features = on ? s->features | bit : s->features & ~bit;
	return 0;
}

/* Numeric model fields, by key. */
static uint32_t *model_field(struct gpu_model *m, const char *k)
{
	static const struct { const char *key; size_t off; } f[] = {
		{ "layers", offsetof(struct gpu_model, layers) },
		{ "heads", offsetof(struct gpu_model, heads) },
		{ "kv_heads", offsetof(struct gpu_model, kv_heads) },
		{ "hidden", offsetof(struct gpu_model, hidden) },
		{ "head_dim", offsetof(struct gpu_model, head_dim) },
		{ "ffn", offsetof(struct gpu_model, ffn) },
		{ "ffn_mats", offsetof(struct gpu_model, ffn_mats) },
		{ "vocab", offsetof(struct gpu_model, vocab) },
		{ "tp", offsetof(struct gpu_model, tp) },
		{ "dp", offsetof(struct gpu_model, dp) },
	};
	unsigned int i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (!strcmp(k, f[i].key))
			return (uint32_t *)((char *)m + f[i].off);
	return NULL;
}

static int apply_gpu(struct sim_system *s, const char *k, const char *v,
		     const char **why)
{
	double d;

	if (parse_double(v, &d) || d <= 0) {
		*why = "expected a positive number";
		return -EINVAL;
	}
	if (!strcmp(k, "tflops"))
		s->gpu.flops = d * 1e12;
	else if (!strcmp(k, "mem_gbs"))
		s->gpu.mem_bw = d * 1e9;
	else if (!strcmp(k, "mem_gb"))
		s->gpu.mem_bytes = (uint64_t)(d * 1e9);
	else if (!strcmp(k, "compute_util"))
		s->gpu.compute_util = d;
	else if (!strcmp(k, "bw_util"))
		s->gpu.bw_util = d;
	else if (!strcmp(k, "nvlink_gbs"))
		s->gpu.link_bw = d * 1e9;
	else {
		*why = "unknown gpu.* key";
		return -EINVAL;
	}
	return 0;
}

static int apply_number(struct sim_config *cfg, const char *k, double d)
{
	struct sim_system *s = &cfg->sys;

	if (!strcmp(k, "dev.capacity_gb"))
		s->dev_bytes = d * 1e9;
	else if (!strcmp(k, "dev.bandwidth_gbs"))
		s->dev_bw = d * 1e9;
	else if (!strcmp(k, "hbm_pim_x"))
		s->hbm_pim_x = d;
	else if (!strcmp(k, "link_gbs"))
		s->link_bw = d * 1e9;
	else if (!strcmp(k, "cap_scale"))
		s->cap_scale = d;
	else if (!strcmp(k, "bw_scale"))
		s->bw_scale = d;
	else
		return -ENOENT;
	return 0;
}

int sim_config_apply(struct sim_config *cfg, const char *k, const char *v,
		     const char **why)
{
	struct sim_system *s = &cfg->sys;
	uint32_t *mf, n;
	double d;
	bool on;
	int ret;

	*why = NULL;
	if (!strcmp(k, "system")) {
		ret = sim_system_preset(v, s);
		*why = ret ? "unknown system preset" : NULL;
		return ret;
	}
	if (!strcmp(k, "model")) {
		ret = sim_model_preset(v, cfg);
		*why = ret ? "unknown model preset" : NULL;
		return ret;
	}
	if (!strcmp(k, "model.name")) {
		snprintf(cfg->model_name, sizeof(cfg->model_name), "%s", v);
		return 0;
	}
	if (!strncmp(k, "model.", 6)) {
		mf = model_field(&cfg->model, k + 6);
		if (!mf) {
			*why = "unknown model.* key";
			return -EINVAL;
		}
		if (parse_u32(v, &n) || !n) {
			*why = "expected a positive integer";
			return -EINVAL;
		}
		*mf = n;
		return 0;
	}
	if (!strcmp(k, "gpu")) {
		const struct gpu_spec *g = gpu_spec_find(v);

		if (!g) {
			*why = "unknown gpu preset";
			return -EINVAL;
		}
		s->gpu = *g;
		return 0;
	}
	if (!strncmp(k, "gpu.", 4))
		return apply_gpu(s, k + 4, v, why);
	if (!strcmp(k, "gpus") || !strcmp(k, "requests") ||
	    !strcmp(k, "profile_samples")) {
		if (parse_u32(v, &n) || !n) {
			*why = "expected a positive integer";
			return -EINVAL;
		}
		if (k[0] == 'g')
			s->gpus = n;
		else if (k[0] == 'r')
			cfg->requests = n;
		else
			cfg->profile_samples = n;
		return 0;
	}
	if (!strcmp(k, "seed")) {
		char *end;

		cfg->seed = strtoull(v, &end, 0);
		if (end == v || *end) {
			*why = "expected an integer";
			return -EINVAL;
		}
		return 0;
	}
	if (!strcmp(k, "policy")) {
		ret = sched_policy_parse(v, &s->policy);
		*why = ret ? "unknown policy" : NULL;
		return ret;
	}
	if (!strcmp(k, "trace") || !strcmp(k, "trace_file")) {
		char *dst = k[5] ? cfg->trace_file : cfg->trace;
		size_t len = k[5] ? sizeof(cfg->trace_file) : sizeof(cfg->trace);

		if (strlen(v) >= len) {
			*why = "value too long";
			return -EINVAL;
		}
		strcpy(dst, v);
		if (!k[5])
			cfg->trace_file[0] = 0;
		return 0;
	}
	if (!strcmp(k, "relayout")) {
		if (strcmp(v, "inflight") && strcmp(v, "host")) {
			*why = "expected inflight or host";
			return -EINVAL;
		}
		return set_feature(s, PIM_TF_INFLIGHT_RELAYOUT,
				   !strcmp(v, "inflight"));
	}
	if (!strcmp(k, "pim_exact") || !strcmp(k, "one_batch")) {
		if (parse_onoff(v, k[0] == 'p' ? &cfg->pim_exact :
				&cfg->one_batch)) {
			*why = "expected on or off";
			return -EINVAL;
		}
		return 0;
	}
	if (!strcmp(k, "bubble_free") || !strcmp(k, "rankset_overlap")) {
		if (parse_onoff(v, &on)) {
			*why = "expected on or off";
			return -EINVAL;
		}
		return set_feature(s, k[0] == 'b' ? PIM_TF_BUBBLE_FREE :
				   PIM_TF_RANKSET_OVERLAP, on);
	}
	if (parse_double(v, &d) || d < 0) {
		*why = apply_number(cfg, k, 0) == -ENOENT ? "unknown key" :
			"expected a number >= 0";
		return -EINVAL;
	}
	if (apply_number(cfg, k, d)) {
		*why = "unknown key";
		return -EINVAL;
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
			 e[-1] == '\r'))
		*--e = 0;
	return s;
}

int sim_config_load(const char *path, struct sim_config *cfg, char *err,
		    size_t errlen)
{
	char line[512];
	unsigned int n = 0;
	FILE *f = fopen(path, "r");
	int ret = 0;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *k, *v, *eq, *hash;
		const char *why;

		n++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%u: line too long", path, n);
			ret = -EINVAL;
			break;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		k = trim(line);
		if (!*k)
			continue;
		eq = strchr(k, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%u: expected key = value",
				 path, n);
			ret = -EINVAL;
			break;
		}
		*eq = 0;
		v = trim(eq + 1);
		k = trim(k);
		ret = sim_config_apply(cfg, k, v, &why);
		if (ret) {
			snprintf(err, errlen, "%s:%u: %s: %s", path, n, k, why);
			break;
		}
	}
	fclose(f);
	return ret;
}
