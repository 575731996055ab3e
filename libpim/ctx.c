// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ctx.c - the library context: backend choice, reference count, logging.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

static void log_stderr(struct pim_ctx *ctx, int priority, const char *file,
		       int line, const char *fn, const char *format,
		       va_list args)
{
	(void)ctx;
	(void)priority;
	(void)file;
	(void)line;
	fprintf(stderr, "libpim: %s: ", fn);
	vfprintf(stderr, format, args);
}

void pim_log(struct pim_ctx *ctx, int priority, const char *file, int line,
	     const char *fn, const char *format, ...)
{
	va_list args;

	va_start(args, format);
	ctx->log_fn(ctx, priority, file, line, fn, format, args);
	va_end(args);
}

static int log_priority(const char *s)
{
	char *end;
	long prio;

	if (!strcmp(s, "err"))
		return LOG_ERR;
	if (!strcmp(s, "info"))
		return LOG_INFO;
	if (!strcmp(s, "debug"))
		return LOG_DEBUG;
	errno = 0;
	prio = strtol(s, &end, 10);
	if (errno || end == s || *end || prio < 0 || prio > LOG_DEBUG)
		return -EINVAL;
	return prio;
}

static int pick_backend(unsigned int flags, const struct pim_backend **be)
{
	const char *env;

	switch (flags) {
	case PIM_CTX_KERNEL:
		*be = &pim_kernel_backend;
		return 0;
	case PIM_CTX_INPROC:
		*be = &pim_inproc_backend;
		return 0;
	case 0:
		break;
	default:
		return -EINVAL;
	}
	env = secure_getenv("PIM_BACKEND");
	if (!env || !*env || !strcmp(env, "kernel"))
		*be = &pim_kernel_backend;
	else if (!strcmp(env, "inproc"))
		*be = &pim_inproc_backend;
	else
		return -EINVAL;
	return 0;
}

PIM_EXPORT int pim_new_with_flags(struct pim_ctx **ctx, unsigned int flags)
{
	const struct pim_backend *be;
	struct pim_ctx *c;
	const char *env;
	int ret;

	if (!ctx)
		return -EINVAL;
	*ctx = NULL;
	ret = pick_backend(flags, &be);
	if (ret)
		return ret;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->refcount = 1;
	c->log_fn = log_stderr;
	c->log_priority = LOG_ERR;
	c->be = be;
	env = secure_getenv("PIM_LOG");
	if (env && *env) {
		ret = log_priority(env);
		if (ret >= 0)
			c->log_priority = ret;
		else
			err(c, "ignoring PIM_LOG=%s: not err, info or debug\n",
			    env);
	}
	ret = be->scan(c);
	if (ret) {
		err(c, "%s backend: device scan failed: %s\n", be->name,
		    strerror(-ret));
		pim_dev_free_all(c);
		free(c);
		return ret;
	}
	info(c, "%s backend, %s\n", be->name,
	     c->devs ? "devices found" : "no devices");
	*ctx = c;
	return 0;
}

PIM_EXPORT int pim_new(struct pim_ctx **ctx)
{
	return pim_new_with_flags(ctx, 0);
}

PIM_EXPORT struct pim_ctx *pim_ref(struct pim_ctx *ctx)
{
	if (ctx)
		__atomic_add_fetch(&ctx->refcount, 1, __ATOMIC_RELAXED);
	return ctx;
}

PIM_EXPORT struct pim_ctx *pim_unref(struct pim_ctx *ctx)
{
	if (!ctx)
		return NULL;
	if (__atomic_sub_fetch(&ctx->refcount, 1, __ATOMIC_ACQ_REL))
		return ctx;
	pim_dev_free_all(ctx);
	free(ctx);
	return NULL;
}

PIM_EXPORT enum pim_backend_type pim_get_backend(struct pim_ctx *ctx)
{
	return ctx->be->type;
}

PIM_EXPORT const char *pim_get_backend_name(struct pim_ctx *ctx)
{
	return ctx->be->name;
}

PIM_EXPORT void pim_set_log_fn(struct pim_ctx *ctx, pim_log_fn log_fn)
{
	ctx->log_fn = log_fn ? log_fn : log_stderr;
}

PIM_EXPORT int pim_get_log_priority(struct pim_ctx *ctx)
{
	return ctx->log_priority;
}

PIM_EXPORT void pim_set_log_priority(struct pim_ctx *ctx, int priority)
{
	ctx->log_priority = priority;
}

PIM_EXPORT void pim_set_userdata(struct pim_ctx *ctx, void *userdata)
{
	ctx->userdata = userdata;
}

PIM_EXPORT void *pim_get_userdata(struct pim_ctx *ctx)
{
	return ctx->userdata;
}
