// SPDX-License-Identifier: GPL-2.0
/*
 * serve.c - the serving loop of a session (org.l3pim.Pim1.Serving): the
 * adaptive scheduler (sched/) plans each iteration as two ping-ponged
 * sub-batches; the GPU side (gpu/) runs the non-attention layers on a
 * compute thread while decode attention runs on the session's PIM device
 * (serve_pipe.c), and the device times and the GPU times (modeled, or
 * the compute backend's clock) go back to the scheduler's predictors.
 *
 * With a compute backend (the CPU transformer) tokens are really
 * generated and can be checked against a reference; without one (compute
 * "none") queries and KV come from a seeded generator, so the device
 * still does real work and reports real modeled times, but no tokens.
 * Iterations run from a defer source, one per loop turn, so the bus and
 * the watchdog stay served while a Run call is in progress.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pimd.h"
#include "session.h"
#include "serve.h"

#define SERVE_MAX_REQUESTS	4096	/* per session, in its lifetime */
#define SERVE_MAX_PROMPT	65536
#define SERVE_HISTORY		4096	/* iteration records kept */

/* The records GetIterations and GetIterationTimes return. */
#define ITER_SIG		"(tuuuuuttttttt)"
#define WALLS_SIG		"(tttttt)"

struct iter_rec {
	uint64_t iter;
	uint32_t batch[2];	/* items per sub-batch */
	uint32_t decodes;
	uint32_t prefill_tokens;
	uint32_t out_tokens;
	uint64_t gpu_ns[2];
	uint64_t pim_ns[2];
	uint64_t pred_gpu_ns;
	uint64_t pred_pim_ns;
	uint64_t iter_ns;	/* with the sub-batches overlapped */
	struct serve_walls walls;	/* measured */
};

struct serve {
	struct session *s;
	struct serve_model m;
	struct sched *sched;
	struct serve_req **req;		/* by id - 1 */
	uint32_t nr_req;
	struct serve_req **slot;	/* by scheduler slot */
	struct iter_rec *hist;		/* ring of SERVE_HISTORY */
	uint64_t iters;
	uint64_t gpu_ns, pim_ns, iter_ns, serial_ns;
	struct serve_walls walls;	/* sums of the measured figures */
	uint64_t t_start;		/* CLOCK_MONOTONIC ns at Configure */
	sd_event_source *run_src;
	sd_bus_message *run_call;
	uint32_t run_left, run_done;
	struct serve_buf buf[2];	/* by sub-batch */
	struct serve_pipe *pipe;	/* the compute thread, or NULL */
	struct serve_run run;
	struct serve_timeline *timeline;
};

static struct serve *serve_of(struct session *s, sd_bus_error *error)
{
	if (!s->serve)
		pimd_error(error, -ENOEXEC, "call Configure first");
	return s->serve;
}

void serve_stop(struct serve *sv)
{
	if (!sv)
		return;
	sv->run_src = sd_event_source_disable_unref(sv->run_src);
	sv->run_call = sd_bus_message_unref(sv->run_call);
}

void serve_free(struct serve *sv)
{
	uint32_t i;

	if (!sv)
		return;
	serve_stop(sv);
	serve_pipe_free(sv->pipe);
	sched_free(sv->sched);
	for (i = 0; i < sv->nr_req; i++)
		serve_req_free(sv->req[i]);
	free(sv->req);
	free(sv->slot);
	free(sv->hist);
	serve_buf_free(&sv->buf[0]);
	serve_buf_free(&sv->buf[1]);
	free(sv->run.ev);
	serve_timeline_free(sv->timeline);
	serve_model_free(&sv->m);
	free(sv);
}

/* ---- KV memory for the scheduler ---- */

static int kv_alloc(void *ctx, uint32_t slot, uint64_t id, uint32_t max_tok,
		    uint32_t rankset)
{
	struct serve *sv = ctx;
	struct serve_req *r = sv->req[id - 1];
	struct pim_kv_shape shape = {
		.layers = sv->m.model.layers,
		.q_heads = sv->m.model.heads,
		.kv_heads = sv->m.model.kv_heads,
		.head_dim = sv->m.model.head_dim,
		.dtype = PIM_DTYPE_FP16,
		.max_tokens = max_tok,
	};
	struct pim_kv_hints hints = { .rankset = rankset };
	int ret;

	ret = pim_kvcache_new(sv->s->dev, &shape, &hints, &r->kv);
	if (ret)
		return ret;
	sv->slot[slot] = r;
	return 0;
}

static void kv_done(void *ctx, uint32_t slot, uint64_t id, int status)
{
	struct serve *sv = ctx;
	struct serve_req *r = sv->req[id - 1];

	if (r->kv)
		pim_kvcache_free(r->kv);
	r->kv = NULL;
	r->finished = true;
	r->status = status;
	sv->slot[slot] = NULL;
	sd_bus_emit_signal(sv->s->d->bus, sv->s->path, PIMD_IFACE_SERVING,
			   "RequestFinished", "tiu", id, status, r->generated);
}

static const struct sched_kv_ops kv_ops = {
	.alloc = kv_alloc,
	.done = kv_done,
};

/* ---- one iteration ---- */

static void record(struct serve *sv, const struct sched_plan *p,
		   const struct sched_measure *m,
		   const struct serve_walls *w)
{
	struct iter_rec *rec = &sv->hist[sv->iters % SERVE_HISTORY];
	uint32_t i, j;

	memset(rec, 0, sizeof(*rec));
	rec->iter = sv->iters;
	for (i = 0; i < p->nr_sub; i++) {
		const struct sched_sub *sub = &p->sub[i];

		rec->batch[i] = sub->nr_items;
		rec->decodes += sub->f.nr_decode;
		rec->prefill_tokens += sub->f.prefill_tokens;
		rec->out_tokens += sub->f.out_tokens;
		rec->gpu_ns[i] = m->gpu_ns[i];
		rec->pim_ns[i] = m->pim_ns[i];
		rec->pred_gpu_ns += sub->pred_gpu_ns;
		rec->pred_pim_ns += sub->pred_pim_ns;
		for (j = 0; j < 2; j++)
			sv->serial_ns += j ? m->pim_ns[i] : m->gpu_ns[i];
		sv->gpu_ns += m->gpu_ns[i];
		sv->pim_ns += m->pim_ns[i];
	}
	rec->iter_ns = sched_iter_ns(p->nr_sub, m->gpu_ns, m->pim_ns);
	sv->iter_ns += rec->iter_ns;
	rec->walls = *w;
	sv->walls.wall_ns += w->wall_ns;
	sv->walls.compute_ns += w->compute_ns;
	sv->walls.pim_ns += w->pim_ns;
	sv->walls.both_ns += w->both_ns;
	sv->iters++;
	sv->s->d->stats.iterations++;
	sv->s->d->stats.tokens += rec->out_tokens;
}

/* 1 after an iteration, 0 with nothing to run, or -errno. */
static int serve_iterate(struct serve *sv)
{
	struct sched_measure m;
	struct serve_walls w;
	const struct sched_plan *p;
	int ret;

	p = sched_plan(sv->sched);
	if (!p)
		return 0;
	sv->run.plan = p;
	ret = serve_pipe_run(sv->pipe, &sv->run, &m);
	ret = ret ?: sched_complete(sv->sched, &m);
	if (ret)
		return ret;
	/* Losing a timeline (no memory) loses no tokens: serve on. */
	serve_timeline_store(sv->timeline, sv->iters,
			     sv->run.t0 - sv->t_start, &sv->run, &w);
	record(sv, p, &m, &w);
	return 1;
}

static int on_run(sd_event_source *src, void *userdata)
{
	struct serve *sv = userdata;
	sd_bus_message *call = sv->run_call;
	int ret = serve_iterate(sv);

	if (ret == 1 && --sv->run_left) {
		sv->run_done++;
		return 0;
	}
	sv->run_done += ret == 1;
	sv->run_call = NULL;
	sv->run_src = sd_event_source_disable_unref(sv->run_src);
	if (ret < 0)
		sd_bus_reply_method_errorf(call, PIMD_ERR "DeviceFailed",
					   "iteration %" PRIu64 ": %s",
					   sv->iters, strerror(-ret));
	else
		sd_bus_reply_method_return(call, "u", sv->run_done);
	sd_bus_message_unref(call);
	return 0;
}

/* ---- methods ---- */

static int read_options(sd_bus_message *m, struct serve_opts *o,
			sd_bus_error *error)
{
	const char *key, *sig;
	int ret;

	ret = sd_bus_message_enter_container(m, 'a', "{sv}");
	while (ret >= 0 &&
	       (ret = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		ret = sd_bus_message_read(m, "s", &key);
		if (ret < 0)
			break;
		ret = sd_bus_message_peek_type(m, NULL, &sig);
		if (ret < 0)
			break;
		ret = serve_opt_set(o, m, key, sig, error);
		if (ret < 0)
			return ret;
		ret = sd_bus_message_exit_container(m);
	}
	if (ret < 0)
		return ret;
	ret = sd_bus_message_exit_container(m);
	return ret < 0 ? ret : 0;
}

static int method_configure(sd_bus_message *m, void *userdata,
			    sd_bus_error *error)
{
	struct session *s = userdata;
	struct serve_opts o;
	struct serve *sv;
	const char *why;
	int ret;

	ret = session_check_owner(s, m, error);
	if (ret)
		return ret;
	if (s->serve && (sched_pending(s->serve->sched) ||
			 s->serve->run_call))
		return pimd_error(error, -EBUSY, "requests are being served");
	serve_opts_default(&o);
	o.cfg.ranksets = pim_dev_get_geometry(s->dev)->ranksets;
	if (o.cfg.ranksets > SCHED_MAX_RANKSETS)
		o.cfg.ranksets = SCHED_MAX_RANKSETS;
	ret = read_options(m, &o, error);
	if (ret < 0)
		return ret;
	ret = sched_config_check(&o.cfg, &why);
	if (ret)
		return pimd_error(error, -EINVAL, "scheduler: %s", why);
	sv = calloc(1, sizeof(*sv));
	if (!sv)
		return -ENOMEM;
	sv->s = s;
	sv->req = calloc(SERVE_MAX_REQUESTS, sizeof(*sv->req));
	sv->slot = calloc(o.cfg.max_requests, sizeof(*sv->slot));
	sv->hist = calloc(SERVE_HISTORY, sizeof(*sv->hist));
	ret = sv->req && sv->slot && sv->hist ? 0 : -ENOMEM;
	sv->timeline = serve_timeline_new();
	ret = ret ?: sv->timeline ? 0 : -ENOMEM;
	ret = ret ?: serve_model_new(&sv->m, &o, error);
	ret = ret ?: sched_new(&o.cfg, &kv_ops, sv, &sv->sched);
	ret = ret || !o.overlap ? ret : serve_pipe_new(&sv->pipe);
	if (ret) {
		serve_free(sv);
		return sd_bus_error_is_set(error) ? ret :
			pimd_error(error, ret, "serving set-up");
	}
	sv->run = (struct serve_run){
		.sm = &sv->m, .buf = sv->buf, .dev = s->dev,
		.slot = sv->slot,
	};
	sv->t_start = serve_now_ns();
	serve_free(s->serve);
	s->serve = sv;
	return sd_bus_reply_method_return(m, NULL);
}

static int method_add_request(sd_bus_message *m, void *userdata,
			      sd_bus_error *error)
{
	struct session *s = userdata;
	struct serve *sv = serve_of(s, error);
	const uint32_t *prompt;
	struct serve_req *r;
	size_t bytes, n, i;
	uint32_t max_new;
	int ret;

	if (!sv)
		return -ENOEXEC;
	ret = session_check_owner(s, m, error);
	ret = ret < 0 ? ret : sd_bus_message_read_array(m, 'u',
					(const void **)&prompt, &bytes);
	ret = ret < 0 ? ret : sd_bus_message_read(m, "u", &max_new);
	if (ret < 0)
		return ret;
	n = bytes / sizeof(*prompt);
	if (!n || n > SERVE_MAX_PROMPT)
		return pimd_error(error, -E2BIG, "prompt of %zu tokens, 1..%u",
				  n, SERVE_MAX_PROMPT);
	if (!max_new || max_new > SERVE_MAX_PROMPT)
		return pimd_error(error, -E2BIG, "max_new %u, 1..%u", max_new,
				  SERVE_MAX_PROMPT);
	for (i = 0; i < n; i++)
		if (prompt[i] >= sv->m.model.vocab)
			return pimd_error(error, -EINVAL,
					  "token %u at %zu: vocabulary of %u",
					  prompt[i], i, sv->m.model.vocab);
	if (sv->nr_req == SERVE_MAX_REQUESTS)
		return pimd_error(error, -EMFILE, "%u requests per session",
				  SERVE_MAX_REQUESTS);
	if (sv->run_call)
		return pimd_error(error, -EBUSY, "a Run call is in progress");
	r = serve_req_new(sv->nr_req + 1, prompt, n, max_new);
	if (!r)
		return -ENOMEM;
	ret = sched_submit(sv->sched, r->id, n, max_new);
	if (ret < 0) {
		serve_req_free(r);
		return pimd_error(error, ret, "scheduler refused the request");
	}
	sv->req[sv->nr_req++] = r;
	return sd_bus_reply_method_return(m, "t", r->id);
}

static int method_run(sd_bus_message *m, void *userdata,
		      sd_bus_error *error)
{
	struct session *s = userdata;
	struct serve *sv = serve_of(s, error);
	uint32_t n;
	int ret;

	if (!sv)
		return -ENOEXEC;
	ret = session_check_owner(s, m, error);
	ret = ret < 0 ? ret : sd_bus_message_read(m, "u", &n);
	if (ret < 0)
		return ret;
	if (sv->run_call)
		return pimd_error(error, -EBUSY, "a Run call is in progress");
	if (!n)
		return pimd_error(error, -EINVAL, "0 iterations");
	ret = sd_event_add_defer(s->d->event, &sv->run_src, on_run, sv);
	ret = ret < 0 ? ret : sd_event_source_set_enabled(sv->run_src,
							  SD_EVENT_ON);
	if (ret < 0) {
		sv->run_src = sd_event_source_disable_unref(sv->run_src);
		return ret;
	}
	sv->run_call = sd_bus_message_ref(m);
	sv->run_left = n;
	sv->run_done = 0;
	return 1;
}

/* One history record, as sig, onto reply. */
typedef int (*hist_append_fn)(sd_bus_message *reply, const char *sig,
			      const struct iter_rec *r);

static int append_iteration(sd_bus_message *reply, const char *sig,
			    const struct iter_rec *r)
{
	return sd_bus_message_append(reply, sig, r->iter, r->batch[0],
				     r->batch[1], r->decodes,
				     r->prefill_tokens, r->out_tokens,
				     r->gpu_ns[0], r->gpu_ns[1], r->pim_ns[0],
				     r->pim_ns[1], r->pred_gpu_ns,
				     r->pred_pim_ns, r->iter_ns);
}

static int append_walls(sd_bus_message *reply, const char *sig,
			const struct iter_rec *r)
{
	const struct serve_walls *w = &r->walls;

	return sd_bus_message_append(reply, sig, w->iter, w->start_ns,
				     w->wall_ns, w->compute_ns, w->pim_ns,
				     w->both_ns);
}

/*
 * (t first, u max) -> a(sig): up to max kept iterations from first on;
 * those no longer kept are skipped.
 */
static int reply_history(sd_bus_message *m, struct session *s,
			 sd_bus_error *error, const char *sig,
			 hist_append_fn append)
{
	struct serve *sv = serve_of(s, error);
	sd_bus_message *reply = NULL;
	uint64_t first, it;
	uint32_t max;
	int ret;

	if (!sv)
		return -ENOEXEC;
	ret = sd_bus_message_read(m, "tu", &first, &max);
	if (ret < 0)
		return ret;
	if (sv->iters > SERVE_HISTORY && first < sv->iters - SERVE_HISTORY)
		first = sv->iters - SERVE_HISTORY;
	ret = sd_bus_message_new_method_return(m, &reply);
	ret = ret < 0 ? ret : sd_bus_message_open_container(reply, 'a', sig);
	for (it = first; ret >= 0 && it < sv->iters && max; it++, max--)
		ret = append(reply, sig, &sv->hist[it % SERVE_HISTORY]);
	ret = ret < 0 ? ret : sd_bus_message_close_container(reply);
	ret = ret < 0 ? ret : sd_bus_send(NULL, reply, NULL);
	sd_bus_message_unref(reply);
	return ret;
}

static int method_get_iterations(sd_bus_message *m, void *userdata,
				 sd_bus_error *error)
{
	return reply_history(m, userdata, error, ITER_SIG, append_iteration);
}

static int method_get_iteration_times(sd_bus_message *m, void *userdata,
				      sd_bus_error *error)
{
	return reply_history(m, userdata, error, WALLS_SIG, append_walls);
}

static int method_get_timeline(sd_bus_message *m, void *userdata,
			       sd_bus_error *error)
{
	struct session *s = userdata;
	struct serve *sv = serve_of(s, error);
	uint64_t iter;
	int ret;

	if (!sv)
		return -ENOEXEC;
	ret = sd_bus_message_read(m, "t", &iter);
	if (ret < 0)
		return ret;
	return serve_timeline_reply(sv->timeline, m, iter, error);
}

static int method_get_output(sd_bus_message *m, void *userdata,
			     sd_bus_error *error)
{
	struct session *s = userdata;
	struct serve *sv = serve_of(s, error);
	sd_bus_message *reply = NULL;
	struct serve_req *r;
	uint64_t id;
	int ret;

	if (!sv)
		return -ENOEXEC;
	ret = sd_bus_message_read(m, "t", &id);
	if (ret < 0)
		return ret;
	if (!id || id > sv->nr_req)
		return pimd_error(error, -ENOENT, "no request %" PRIu64, id);
	r = sv->req[id - 1];
	ret = sd_bus_message_new_method_return(m, &reply);
	ret = ret < 0 ? ret : sd_bus_message_append(reply, "biu",
						    r->finished, r->status,
						    r->generated);
	ret = ret < 0 ? ret : sd_bus_message_append_array(reply, 'u', r->out,
					r->nout * sizeof(*r->out));
	ret = ret < 0 ? ret : sd_bus_send(NULL, reply, NULL);
	sd_bus_message_unref(reply);
	return ret;
}

static int method_get_serving_stats(sd_bus_message *m, void *userdata,
				    sd_bus_error *error)
{
	struct session *s = userdata;
	struct serve *sv = serve_of(s, error);
	sd_bus_message *reply = NULL;
	struct sched_stats st;
	int ret;

	if (!sv)
		return -ENOEXEC;
	sched_get_stats(sv->sched, &st);
	ret = sd_bus_message_new_method_return(m, &reply);
	ret = ret < 0 ? ret : sd_bus_message_append(reply, "a{sv}", 22,
		"model", "s", sv->m.model.name,
		"compute", "s", sv->m.compute_name,
		"gpu_clock", "s", sv->m.clock_measured ? "measured" : "model",
		"overlap", "b", (int)sv->m.overlap,
		"wall_ns", "t", sv->walls.wall_ns,
		"compute_busy_ns", "t", sv->walls.compute_ns,
		"pim_busy_ns", "t", sv->walls.pim_ns,
		"both_busy_ns", "t", sv->walls.both_ns,
		"policy", "s", sched_policy_name(sv->m.policy),
		"iterations", "t", st.iterations,
		"tokens", "t", st.tokens,
		"finished", "t", st.finished,
		"rejected", "t", st.rejected,
		"running", "u", st.running,
		"waiting", "u", st.waiting,
		"gpu_ns", "t", sv->gpu_ns,
		"pim_ns", "t", sv->pim_ns,
		"iter_ns", "t", sv->iter_ns,
		"serial_ns", "t", sv->serial_ns,
		"pim_err_median", "d", st.pim_err_median,
		"gpu_err_median", "d", st.gpu_err_median,
		"pim_err_p90", "d", st.pim_err_p90);
	ret = ret < 0 ? ret : sd_bus_send(NULL, reply, NULL);
	sd_bus_message_unref(reply);
	return ret;
}

const sd_bus_vtable serve_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD_WITH_ARGS("Configure", SD_BUS_ARGS("a{sv}", options),
				SD_BUS_NO_RESULT, method_configure,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("AddRequest",
				SD_BUS_ARGS("au", prompt, "u", max_new),
				SD_BUS_RESULT("t", id), method_add_request,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("Run", SD_BUS_ARGS("u", iterations),
				SD_BUS_RESULT("u", done), method_run,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetIterations",
				SD_BUS_ARGS("t", first, "u", max),
				SD_BUS_RESULT("a" ITER_SIG, iterations),
				method_get_iterations,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetIterationTimes",
				SD_BUS_ARGS("t", first, "u", max),
				SD_BUS_RESULT("a" WALLS_SIG, iterations),
				method_get_iteration_times,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetTimeline", SD_BUS_ARGS("t", iter),
				SD_BUS_RESULT("a(yyuutt)", stages),
				method_get_timeline,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetOutput", SD_BUS_ARGS("t", id),
				SD_BUS_RESULT("b", finished, "i", status,
					      "u", generated, "au", tokens),
				method_get_output, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetServingStats", SD_BUS_NO_ARGS,
				SD_BUS_RESULT("a{sv}", stats),
				method_get_serving_stats,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_SIGNAL_WITH_ARGS("RequestFinished",
				SD_BUS_ARGS("t", id, "i", status,
					    "u", generated), 0),
	SD_BUS_VTABLE_END
};
