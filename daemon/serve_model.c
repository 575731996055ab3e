// SPDX-License-Identifier: GPL-2.0
/*
 * serve_model.c - serving options (Configure's a{sv}), the model and the
 * GPU backends a session serves with, and request objects.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_model.h"
#include "gpu/gpu_cpu.h"
#include "gpu/gpu_cuda.h"
#include "serve.h"

void serve_opts_default(struct serve_opts *o)
{
	memset(o, 0, sizeof(*o));
	sched_config_default(&o->cfg, SCHED_L3, 1);
	o->cfg.max_requests = 1024;
	o->cfg.max_batch = 256;
	o->cfg.chunk_min = 16;
	o->cfg.chunk_max = 256;
	snprintf(o->model, sizeof(o->model), "tiny");
	snprintf(o->gpu, sizeof(o->gpu), "A100");
	snprintf(o->compute, sizeof(o->compute), "cpu");
	o->overlap = true;
	o->seed = 1;
}

static int opt_str(sd_bus_message *m, char *dst, size_t size,
		   const char *key, sd_bus_error *error)
{
	const char *v;
	int ret = sd_bus_message_read(m, "v", "s", &v);

	if (ret < 0)
		return ret;
	if (strlen(v) >= size)
		return pimd_error(error, -EINVAL, "%s: \"%s\" is too long",
				  key, v);
	snprintf(dst, size, "%s", v);
	return 0;
}

int serve_opt_set(struct serve_opts *o, sd_bus_message *m, const char *key,
		  const char *sig, sd_bus_error *error)
{
	static const struct {
		const char *key;
		size_t off;
	} u32_opts[] = {
		{ "max_batch", offsetof(struct sched_config, max_batch) },
		{ "max_requests", offsetof(struct sched_config, max_requests) },
		{ "decode_step", offsetof(struct sched_config, decode_step) },
		{ "chunk_min", offsetof(struct sched_config, chunk_min) },
		{ "chunk_max", offsetof(struct sched_config, chunk_max) },
	};
	const char *want = "s";
	char policy[32];
	unsigned int i;
	int ret;

	for (i = 0; i < sizeof(u32_opts) / sizeof(u32_opts[0]); i++)
		if (!strcmp(key, u32_opts[i].key))
			want = "u";
	if (!strcmp(key, "seed"))
		want = "t";
	if (!strcmp(key, "one_batch") || !strcmp(key, "overlap"))
		want = "b";
	if (strcmp(sig, want))
		return pimd_error(error, -EINVAL, "option %s: type %s, not %s",
				  key, want, sig);
	if (!strcmp(key, "model"))
		return opt_str(m, o->model, sizeof(o->model), key, error);
	if (!strcmp(key, "gpu"))
		return opt_str(m, o->gpu, sizeof(o->gpu), key, error);
	if (!strcmp(key, "compute"))
		return opt_str(m, o->compute, sizeof(o->compute), key, error);
	if (!strcmp(key, "gpu_clock")) {
		ret = opt_str(m, o->gpu_clock, sizeof(o->gpu_clock), key,
			      error);
		if (ret || !strcmp(o->gpu_clock, "model") ||
		    !strcmp(o->gpu_clock, "measured"))
			return ret;
		return pimd_error(error, -EINVAL, "gpu_clock \"%s\": model "
				  "or measured", o->gpu_clock);
	}
	if (!strcmp(key, "seed"))
		return sd_bus_message_read(m, "v", "t", &o->seed);
	if (!strcmp(key, "one_batch") || !strcmp(key, "overlap")) {
		int on;

		ret = sd_bus_message_read(m, "v", "b", &on);
		if (ret >= 0 && !strcmp(key, "overlap"))
			o->overlap = on;
		else if (ret >= 0)
			o->cfg.one_batch = on;
		return ret < 0 ? ret : 0;
	}
	if (!strcmp(key, "policy")) {
		ret = opt_str(m, policy, sizeof(policy), key, error);
		if (ret)
			return ret;
		if (sched_policy_parse(policy, &o->cfg.policy))
			return pimd_error(error, -EINVAL,
					  "unknown policy \"%s\"", policy);
		return 0;
	}
	for (i = 0; i < sizeof(u32_opts) / sizeof(u32_opts[0]); i++) {
		if (!strcmp(key, u32_opts[i].key)) {
			if (!strcmp(key, "decode_step"))
				o->cfg_step_set = true;
			return sd_bus_message_read(m, "v", "u",
				(uint32_t *)((char *)&o->cfg +
					     u32_opts[i].off));
		}
	}
	return pimd_error(error, -EINVAL, "unknown option \"%s\"", key);
}

/* The compute backend o names, or none; sets sm->compute_name. */
static int compute_new(struct serve_model *sm, const struct serve_opts *o,
		       sd_bus_error *error)
{
	const char *why = NULL;
	int ret;

	if (!strcmp(o->compute, "none")) {
		sm->compute_name = "none";
		return 0;
	}
	if (strcmp(o->compute, "cpu") && strcmp(o->compute, "cuda"))
		return pimd_error(error, -EINVAL,
				  "compute \"%s\": cpu, cuda or none",
				  o->compute);
	if (gpu_cpu_model_check(&sm->model, &why))
		return pimd_error(error, -EINVAL, "compute %s cannot run "
				  "model %s (%s): use compute none",
				  o->compute, o->model, why);
	if (!strcmp(o->compute, "cpu")) {
		sm->compute_name = "cpu";
		ret = pimd_cpu_backend_new(&sm->model, sm->seed,
					   &sm->compute);
		return ret ? pimd_error(error, ret, "CPU backend for %s",
					sm->model.name) : 0;
	}
	sm->compute_name = "cuda";
	ret = gpu_cuda_backend_new(&sm->model, sm->seed, &sm->compute,
				   &why);
	/* No plugin, driver or GPU: the device the option asks for. */
	if (ret == -ENOENT)
		ret = -ENODEV;
	return ret ? pimd_error(error, ret, "compute cuda: %s",
				why ?: strerror(-ret)) : 0;
}

int serve_model_new(struct serve_model *sm, struct serve_opts *o,
		    sd_bus_error *error)
{
	const struct gpu_model *gm = pimd_model_find(o->model);
	const char *why;
	int ret;

	memset(sm, 0, sizeof(*sm));
	if (!gm)
		return pimd_error(error, -EINVAL, "unknown model \"%s\"",
				  o->model);
	if (gpu_model_check(gm, &why))
		return pimd_error(error, -EINVAL, "model %s: %s", o->model,
				  why);
	sm->model = *gm;
	sm->spec = gpu_spec_find(o->gpu);
	if (!sm->spec)
		return pimd_error(error, -EINVAL, "unknown GPU \"%s\"", o->gpu);
	if (!o->cfg_step_set)
		o->cfg.decode_step = gm->heads == gm->kv_heads ? 1 : 16;
	sm->policy = o->cfg.policy;
	sm->seed = o->seed;
	sm->overlap = o->overlap;
	if (!strcmp(o->gpu_clock, "measured") && !strcmp(o->compute, "none"))
		return pimd_error(error, -EINVAL, "gpu_clock measured needs "
				  "a compute backend (compute none has no "
				  "clock)");
	ret = gpu_roofline_backend_new(sm->spec, &sm->model, &sm->timing);
	if (ret)
		return pimd_error(error, ret, "roofline model");
	ret = compute_new(sm, o, error);
	if (ret) {
		serve_model_free(sm);
		return ret;
	}
	/* A real GPU's own clock by default; the roofline for the rest. */
	sm->clock_measured = o->gpu_clock[0] ?
			     !strcmp(o->gpu_clock, "measured") :
			     !strcmp(o->compute, "cuda");
	return 0;
}

void serve_model_free(struct serve_model *sm)
{
	if (sm->compute)
		gpu_backend_destroy(sm->compute);
	if (sm->timing)
		gpu_backend_destroy(sm->timing);
	sm->compute = sm->timing = NULL;
}

struct serve_req *serve_req_new(uint64_t id, const uint32_t *prompt,
				uint32_t n, uint32_t max_new)
{
	struct serve_req *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->id = id;
	r->prompt_len = n;
	r->max_new = max_new;
	r->prompt = malloc(n * sizeof(*prompt));
	r->out = malloc(max_new * sizeof(*r->out));
	if (!r->prompt || !r->out) {
		serve_req_free(r);
		return NULL;
	}
	memcpy(r->prompt, prompt, n * sizeof(*prompt));
	return r;
}

void serve_req_free(struct serve_req *r)
{
	if (!r)
		return;
	if (r->kv)
		pim_kvcache_free(r->kv);
	free(r->prompt);
	free(r->out);
	free(r);
}
