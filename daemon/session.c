// SPDX-License-Identifier: GPL-2.0
/*
 * session.c - sessions: the objects a client owns. A session lives at
 * /org/l3pim/Pim1/session/N, belongs to the bus peer that created it and
 * dies with that peer. Its data travels through one sealed memfd that the
 * client passes once (SetBuffer); methods name offsets in it. Attention
 * jobs go through a libpim queue and are answered when they complete, so
 * the daemon never waits on the device.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pimd.h"
#include "session.h"

struct job {
	struct session *s;
	sd_bus_message *call;
	struct pim_batch *batch;
};

const char *session_path(struct session *s)
{
	return s->path;
}

const char *session_owner(struct session *s)
{
	return s->owner;
}

struct session *session_find_path(struct pimd *d, const char *path)
{
	struct session *s;

	for (s = d->sessions; s; s = s->next)
		if (!strcmp(s->path, path))
			return s;
	return NULL;
}

static void session_reap(struct session *s, unsigned int flags);

static void session_free(struct session *s)
{
	unsigned int i;

	serve_free(s->serve);
	sd_event_source_disable_unref(s->queue_src);
	pim_queue_free(s->queue);
	for (i = 0; i < PIMD_MAX_CACHES; i++)
		if (s->caches[i])
			pim_kvcache_free(s->caches[i]);
	if (s->buf)
		munmap(s->buf, s->buf_size);
	pim_unref(s->ctx);
	free(s->owner);
	free(s);
}

void session_close(struct session *s)
{
	struct session **p;

	if (s->closed)
		return;
	s->closed = true;
	for (p = &s->d->sessions; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			break;
		}
	}
	s->d->nr_sessions--;
	s->track = sd_bus_track_unref(s->track);
	serve_stop(s->serve);
	/* Jobs in flight still point into the buffer: the last one frees. */
	if (!s->in_flight)
		session_free(s);
}

void pimd_sessions_close_all(struct pimd *d)
{
	while (d->sessions) {
		struct session *s = d->sessions;
		bool busy = s->in_flight;

		session_close(s);
		if (busy) {
			session_reap(s, PIM_QUEUE_WAIT);
			session_free(s);
		}
	}
}

static int on_peer_gone(sd_bus_track *t, void *userdata)
{
	struct session *s = userdata;

	fprintf(stderr, "pimd: %s: owner %s left, closing\n", s->path,
		s->owner);
	session_close(s);
	return 0;
}

/*
 * A kernel-backed session opens the device through a context of its own:
 * everything it allocates belongs to its file descriptor, and closing the
 * session closes that, so pimd pins the module only while sessions hold
 * device memory. The in-process device exists once, in pimd's context.
 */
static int session_open_dev(struct session *s, struct pim_dev *dev)
{
	int ret;

	if (s->d->ctx_flags != PIM_CTX_KERNEL) {
		s->ctx = pim_ref(pim_dev_get_ctx(dev));
		s->dev = dev;
		return 0;
	}
	ret = pim_new_with_flags(&s->ctx, PIM_CTX_KERNEL);
	if (ret)
		return ret;
	s->dev = pim_dev_get_by_id(s->ctx, pim_dev_get_id(dev));
	return s->dev ? 0 : -ENODEV;
}

int session_new(struct pimd *d, sd_bus_message *m, struct pim_dev *dev,
		struct session **out)
{
	struct session *s;
	int ret;

	if (d->nr_sessions >= PIMD_MAX_SESSIONS)
		return -EMFILE;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->d = d;
	s->id = ++d->next_session;
	snprintf(s->path, sizeof(s->path), PIMD_SESSION_PATH "/%" PRIu64,
		 s->id);
	s->owner = strdup(sd_bus_message_get_sender(m) ?: "");
	ret = s->owner ? session_open_dev(s, dev) : -ENOMEM;
	ret = ret ?: sd_bus_track_new(d->bus, &s->track, on_peer_gone, s);
	ret = ret ?: sd_bus_track_add_sender(s->track, m);
	if (ret < 0) {
		sd_bus_track_unref(s->track);
		session_free(s);
		return ret;
	}
	s->next = d->sessions;
	d->sessions = s;
	d->nr_sessions++;
	d->stats.sessions++;
	*out = s;
	return 0;
}

/* ---- method helpers ---- */

static int session_find(sd_bus *bus, const char *path, const char *iface,
			void *userdata, void **found, sd_bus_error *error)
{
	struct session *s = session_find_path(userdata, path);

	if (!s)
		return 0;
	*found = s;
	return 1;
}

static int session_enumerate(sd_bus *bus, const char *path, void *userdata,
			     char ***nodes, sd_bus_error *error)
{
	struct pimd *d = userdata;
	struct session *s;
	char **v;
	size_t n = 0;

	v = calloc(d->nr_sessions + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (s = d->sessions; s; s = s->next) {
		v[n] = strdup(s->path);
		if (!v[n++])
			goto oom;
	}
	*nodes = v;
	return 0;
oom:
	while (n--)
		free(v[n]);
	free(v);
	return -ENOMEM;
}

/* Every method of a session is for its owner only. */
int session_check_owner(struct session *s, sd_bus_message *m,
			sd_bus_error *error)
{
	const char *sender = sd_bus_message_get_sender(m);

	if (sender && !strcmp(sender, s->owner))
		return 0;
	return pimd_error(error, -EPERM, "%s belongs to %s", s->path,
			  s->owner);
}

/* [off, off + len) inside the buffer, off aligned to align. */
int session_range(struct session *s, uint64_t off, uint64_t len,
		  unsigned int align, sd_bus_error *error)
{
	if (!s->buf)
		return pimd_error(error, -ENODATA,
				  "no buffer: call SetBuffer first");
	if (off % align)
		return pimd_error(error, -EINVAL,
				  "offset %" PRIu64 " not aligned to %u", off,
				  align);
	if (off > s->buf_size || len > s->buf_size - off)
		return pimd_error(error, -ERANGE,
				  "[%" PRIu64 ", +%" PRIu64
				  ") outside the %zu-byte buffer",
				  off, len, s->buf_size);
	return 0;
}

static struct pim_kvcache *cache_get(struct session *s, uint32_t handle,
				     sd_bus_error *error)
{
	if (handle && handle <= PIMD_MAX_CACHES && s->caches[handle - 1])
		return s->caches[handle - 1];
	pimd_error(error, -ENOENT, "no cache %u in this session", handle);
	return NULL;
}

/* ---- methods ---- */

static int method_close(sd_bus_message *m, void *userdata,
			sd_bus_error *error)
{
	struct session *s = userdata;
	int ret = session_check_owner(s, m, error);

	if (ret)
		return ret;
	ret = sd_bus_reply_method_return(m, NULL);
	session_close(s);
	return ret;
}

static int method_set_buffer(sd_bus_message *m, void *userdata,
			     sd_bus_error *error)
{
	struct session *s = userdata;
	struct stat st;
	void *p;
	int fd, seals, fl, ret;

	ret = session_check_owner(s, m, error);
	ret = ret < 0 ? ret : sd_bus_message_read(m, "h", &fd);
	if (ret < 0)
		return ret;
	if (s->buf)
		return pimd_error(error, -EEXIST,
				  "the session already has its buffer");
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return pimd_error(error, -EBADFD, "not a memfd");
	seals = fcntl(fd, F_GET_SEALS);
	fl = fcntl(fd, F_GETFL);
	if (seals < 0 || fl < 0)
		return pimd_error(error, -EBADFD, "not a memfd");
	if (!(seals & F_SEAL_SHRINK))
		return pimd_error(error, -EBADFD,
				  "the memfd needs the seal F_SEAL_SHRINK");
	if ((fl & O_ACCMODE) != O_RDWR)
		return pimd_error(error, -EBADFD,
				  "the memfd must be open read-write");
	if (st.st_size < PIMD_BUF_MIN)
		return pimd_error(error, -EBADFD,
				  "buffer of %lld bytes, %u at least",
				  (long long)st.st_size, PIMD_BUF_MIN);
	if ((uint64_t)st.st_size > PIMD_BUF_MAX)
		return pimd_error(error, -E2BIG,
				  "buffer of %lld bytes, %llu at most",
				  (long long)st.st_size, PIMD_BUF_MAX);
	p = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return pimd_error(error, -errno, "mmap of the buffer");
	s->buf = p;
	s->buf_size = st.st_size;
	return sd_bus_reply_method_return(m, NULL);
}

static int parse_dtype(const char *name, unsigned int *dtype)
{
	if (!strcasecmp(name, "fp16"))
		*dtype = PIM_DTYPE_FP16;
	else if (!strcasecmp(name, "bf16"))
		*dtype = PIM_DTYPE_BF16;
	else
		return -EINVAL;
	return 0;
}

static int method_new_cache(sd_bus_message *m, void *userdata,
			    sd_bus_error *error)
{
	struct session *s = userdata;
	struct pim_kv_shape shape;
	struct pim_kvcache *kv;
	const char *dtype;
	unsigned int i;
	int ret;

	ret = session_check_owner(s, m, error);
	ret = ret < 0 ? ret : sd_bus_message_read(m, "uuuusu", &shape.layers,
					 &shape.q_heads, &shape.kv_heads,
					 &shape.head_dim, &dtype,
					 &shape.max_tokens);
	if (ret < 0)
		return ret;
	if (parse_dtype(dtype, &shape.dtype))
		return pimd_error(error, -EINVAL,
				  "dtype \"%s\": fp16 or bf16", dtype);
	for (i = 0; i < PIMD_MAX_CACHES && s->caches[i]; i++)
		;
	if (i == PIMD_MAX_CACHES)
		return pimd_error(error, -EMFILE, "%u caches at most",
				  PIMD_MAX_CACHES);
	ret = pim_kvcache_new(s->dev, &shape, NULL, &kv);
	if (ret)
		return pimd_error(error, ret, "cache %ux%u/%ux%u %s, %u tokens",
				  shape.layers, shape.q_heads, shape.kv_heads,
				  shape.head_dim, dtype, shape.max_tokens);
	s->caches[i] = kv;
	return sd_bus_reply_method_return(m, "u", i + 1);
}

static int method_free_cache(sd_bus_message *m, void *userdata,
			     sd_bus_error *error)
{
	struct session *s = userdata;
	uint32_t h;
	int ret;

	ret = session_check_owner(s, m, error);
	ret = ret < 0 ? ret : sd_bus_message_read(m, "u", &h);
	if (ret < 0)
		return ret;
	if (!cache_get(s, h, error))
		return -ENOENT;
	if (s->in_flight)
		return pimd_error(error, -EBUSY,
				  "attention jobs are in flight");
	ret = pim_kvcache_free(s->caches[h - 1]);
	s->caches[h - 1] = NULL;
	if (ret)
		return pimd_error(error, ret, "freeing cache %u", h);
	return sd_bus_reply_method_return(m, NULL);
}

/* AppendKV and ReadKV: the same arguments, the same checks. */
static int kv_io(sd_bus_message *m, struct session *s, bool append,
		 sd_bus_error *error)
{
	uint32_t h, layer, start = 0, ntok;
	uint64_t koff, voff, bytes, ns = 0;
	struct pim_kvcache *kv;
	int ret;

	ret = session_check_owner(s, m, error);
	if (!ret && append)
		ret = sd_bus_message_read(m, "uuutt", &h, &layer, &ntok,
					  &koff, &voff);
	else if (!ret)
		ret = sd_bus_message_read(m, "uuuutt", &h, &layer, &start,
					  &ntok, &koff, &voff);
	if (ret < 0)
		return ret;
	kv = cache_get(s, h, error);
	if (!kv)
		return -ENOENT;
	if (layer >= pim_kvcache_get_shape(kv)->layers)
		return pimd_error(error, -ERANGE, "layer %u of %u", layer,
				  pim_kvcache_get_shape(kv)->layers);
	if (!ntok || ntok > pim_kvcache_get_shape(kv)->max_tokens)
		return pimd_error(error, -ERANGE, "%u tokens, 1..%u", ntok,
				  pim_kvcache_get_shape(kv)->max_tokens);
	bytes = (uint64_t)ntok * pim_kvcache_token_bytes(kv);
	ret = session_range(s, koff, bytes, 2, error);
	ret = ret ?: session_range(s, voff, bytes, 2, error);
	if (ret)
		return ret;
	if (append) {
		ret = pim_kvcache_append(kv, layer, ntok, s->buf + koff,
					 s->buf + voff, bytes, 0, &ns);
		if (!ret) {
			s->d->stats.kv_bytes += 2 * bytes;
			s->d->stats.device_ns += ns;
		}
	} else {
		ret = pim_kvcache_read(kv, layer, start, ntok, s->buf + koff,
				       s->buf + voff, bytes);
	}
	if (ret)
		return pimd_error(error, ret, "%s of %u tokens, layer %u",
				  append ? "append" : "read", ntok, layer);
	return append ? sd_bus_reply_method_return(m, "t", ns) :
			sd_bus_reply_method_return(m, NULL);
}

static int method_append_kv(sd_bus_message *m, void *userdata,
			    sd_bus_error *error)
{
	return kv_io(m, userdata, true, error);
}

static int method_read_kv(sd_bus_message *m, void *userdata,
			  sd_bus_error *error)
{
	return kv_io(m, userdata, false, error);
}

static void job_free(struct job *j)
{
	pim_batch_free(j->batch);
	sd_bus_message_unref(j->call);
	free(j);
}

/* Answer the completed Attend calls; with PIM_QUEUE_WAIT, all of them. */
static void session_reap(struct session *s, unsigned int flags)
{
	struct pim_completion c[16];
	int i, n;

	while (s->in_flight &&
	       (n = pim_queue_reap(s->queue, c, 16, flags)) > 0) {
		for (i = 0; i < n; i++) {
			struct job *j = c[i].user;

			if (c[i].res < 0) {
				s->d->stats.jobs_failed +=
					pim_batch_get_count(j->batch);
			} else {
				s->d->stats.jobs +=
					pim_batch_get_count(j->batch);
				s->d->stats.device_ns += c[i].device_ns;
			}
			if (!s->closed && c[i].res < 0)
				sd_bus_reply_method_errorf(j->call,
					PIMD_ERR "DeviceFailed",
					"attention: %s", strerror(-c[i].res));
			else if (!s->closed)
				sd_bus_reply_method_return(j->call, "t",
							   c[i].device_ns);
			job_free(j);
			s->in_flight--;
		}
	}
}

static int on_queue(sd_event_source *src, int fd, uint32_t revents,
		    void *userdata)
{
	struct session *s = userdata;

	session_reap(s, 0);
	if (s->closed && !s->in_flight)
		session_free(s);
	return 0;
}

static int queue_start(struct session *s)
{
	int ret;

	if (s->queue)
		return 0;
	ret = pim_queue_new(s->dev, PIMD_QUEUE_DEPTH, &s->queue);
	if (ret)
		return ret;
	ret = sd_event_add_io(s->d->event, &s->queue_src,
			      pim_queue_get_fd(s->queue), EPOLLIN, on_queue, s);
	if (ret < 0) {
		pim_queue_free(s->queue);
		s->queue = NULL;
	}
	return ret;
}

struct attn_arg {
	uint32_t cache, layer, ctx_len;
	double scale;
	uint64_t q_off, out_off;
};

static int attn_check(struct session *s, const struct attn_arg *a,
		      unsigned int idx, sd_bus_error *error)
{
	struct pim_kvcache *kv = cache_get(s, a->cache, error);
	const struct pim_kv_shape *sh;
	uint64_t bytes;
	int ret;

	if (!kv)
		return -ENOENT;
	sh = pim_kvcache_get_shape(kv);
	bytes = (uint64_t)sh->q_heads * sh->head_dim * sizeof(float);
	if (a->layer >= sh->layers)
		return pimd_error(error, -ERANGE, "job %u: layer %u of %u",
				  idx, a->layer, sh->layers);
	if (a->ctx_len > pim_kvcache_get_len(kv, a->layer))
		return pimd_error(error, -ERANGE,
				  "job %u: %u tokens of %u in layer %u", idx,
				  a->ctx_len, pim_kvcache_get_len(kv, a->layer),
				  a->layer);
	if (!isfinite(a->scale) || a->scale < 0 || a->scale > 1e6)
		return pimd_error(error, -EINVAL, "job %u: scale %g", idx,
				  a->scale);
	ret = session_range(s, a->q_off, bytes, sizeof(float), error);
	return ret ?: session_range(s, a->out_off, bytes, sizeof(float),
				    error);
}

static int attn_read(sd_bus_message *m, struct session *s,
		     struct attn_arg *a, unsigned int *n, sd_bus_error *error)
{
	int ret;

	ret = sd_bus_message_enter_container(m, 'a', "(uuudtt)");
	if (ret < 0)
		return ret;
	for (*n = 0;; (*n)++) {
		struct attn_arg tmp, *t = *n < PIMD_MAX_JOBS ? &a[*n] : &tmp;

		ret = sd_bus_message_read(m, "(uuudtt)", &t->cache, &t->layer,
					  &t->ctx_len, &t->scale, &t->q_off,
					  &t->out_off);
		if (ret <= 0)
			break;
		if (*n >= PIMD_MAX_JOBS)
			return pimd_error(error, -E2BIG, "%u jobs at most",
					  PIMD_MAX_JOBS);
		ret = attn_check(s, t, *n, error);
		if (ret)
			return ret;
	}
	if (ret < 0)
		return ret;
	if (!*n)
		return pimd_error(error, -EINVAL, "no jobs");
	ret = sd_bus_message_exit_container(m);
	return ret < 0 ? ret : 0;
}

static int method_attend(sd_bus_message *m, void *userdata,
			 sd_bus_error *error)
{
	struct session *s = userdata;
	struct attn_arg *a;
	struct job *j = NULL;
	unsigned int i, n;
	int ret;

	ret = session_check_owner(s, m, error);
	if (ret)
		return ret;
	if (s->in_flight >= PIMD_QUEUE_DEPTH)
		return pimd_error(error, -EBUSY, "%u Attend calls in flight",
				  s->in_flight);
	a = calloc(PIMD_MAX_JOBS, sizeof(*a));
	if (!a)
		return -ENOMEM;
	ret = attn_read(m, s, a, &n, error);
	if (ret)
		goto out;
	ret = queue_start(s);
	j = calloc(1, sizeof(*j));
	if (!ret && !j)
		ret = -ENOMEM;
	ret = ret ?: pim_batch_new(s->dev, n, &j->batch);
	for (i = 0; i < n && !ret; i++) {
		const struct pim_kv_shape *sh =
			pim_kvcache_get_shape(s->caches[a[i].cache - 1]);
		size_t nf = (size_t)sh->q_heads * sh->head_dim;

		ret = pim_batch_add(j->batch, s->caches[a[i].cache - 1],
				    a[i].layer, a[i].ctx_len, a[i].scale,
				    (const float *)(s->buf + a[i].q_off),
				    (float *)(s->buf + a[i].out_off), nf);
	}
	ret = ret ?: pim_queue_attn(s->queue, j->batch, j);
	if (!ret && pim_queue_submit(s->queue) != 1)
		ret = -EIO;
	if (ret) {
		ret = pimd_error(error, ret, "attention batch of %u jobs", n);
		if (j)
			job_free(j);
		goto out;
	}
	j->s = s;
	j->call = sd_bus_message_ref(m);
	s->in_flight++;
	ret = 1;	/* answered when the job completes */
out:
	free(a);
	return ret;
}

static int prop_owner(sd_bus *bus, const char *path, const char *iface,
		      const char *prop, sd_bus_message *reply,
		      void *userdata, sd_bus_error *error)
{
	struct session *s = userdata;

	if (!strcmp(prop, "Owner"))
		return sd_bus_message_append(reply, "s", s->owner);
	return sd_bus_message_append(reply, "s",
				     pim_dev_get_devname(s->dev));
}

static int prop_u64(sd_bus *bus, const char *path, const char *iface,
		    const char *prop, sd_bus_message *reply, void *userdata,
		    sd_bus_error *error)
{
	struct session *s = userdata;
	uint64_t v = 0;
	unsigned int i;

	if (!strcmp(prop, "BufferSize")) {
		v = s->buf_size;
	} else if (!strcmp(prop, "Caches")) {
		for (i = 0; i < PIMD_MAX_CACHES; i++)
			v += !!s->caches[i];
	} else {
		v = s->in_flight;
	}
	return sd_bus_message_append(reply, "t", v);
}

static const sd_bus_vtable session_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Owner", "s", prop_owner, 0,
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Device", "s", prop_owner, 0,
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("BufferSize", "t", prop_u64, 0, 0),
	SD_BUS_PROPERTY("Caches", "t", prop_u64, 0, 0),
	SD_BUS_PROPERTY("InFlight", "t", prop_u64, 0, 0),
	SD_BUS_METHOD_WITH_ARGS("Close", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
				method_close, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetBuffer", SD_BUS_ARGS("h", memfd),
				SD_BUS_NO_RESULT, method_set_buffer,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("NewCache",
				SD_BUS_ARGS("u", layers, "u", q_heads,
					    "u", kv_heads, "u", head_dim,
					    "s", dtype, "u", max_tokens),
				SD_BUS_RESULT("u", cache), method_new_cache,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("FreeCache", SD_BUS_ARGS("u", cache),
				SD_BUS_NO_RESULT, method_free_cache,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("AppendKV",
				SD_BUS_ARGS("u", cache, "u", layer,
					    "u", tokens, "t", k_offset,
					    "t", v_offset),
				SD_BUS_RESULT("t", device_ns),
				method_append_kv, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("ReadKV",
				SD_BUS_ARGS("u", cache, "u", layer,
					    "u", start, "u", tokens,
					    "t", k_offset, "t", v_offset),
				SD_BUS_NO_RESULT, method_read_kv,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("Attend", SD_BUS_ARGS("a(uuudtt)", jobs),
				SD_BUS_RESULT("t", device_ns), method_attend,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END
};

int pimd_session_register(struct pimd *d)
{
	int ret;

	ret = sd_bus_add_fallback_vtable(d->bus, NULL, PIMD_SESSION_PATH,
					 PIMD_IFACE_SESSION, session_vtable,
					 session_find, d);
	ret = ret < 0 ? ret : sd_bus_add_fallback_vtable(d->bus, NULL,
					 PIMD_SESSION_PATH,
					 PIMD_IFACE_SERVING,
					 serve_vtable, session_find, d);
	return ret < 0 ? ret :
		sd_bus_add_node_enumerator(d->bus, NULL, PIMD_SESSION_PATH,
					   session_enumerate, d);
}
