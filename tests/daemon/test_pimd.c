// SPDX-License-Identifier: GPL-2.0
/*
 * test_pimd.c - drives a running pimd over D-Bus: every method of the
 * manager, sessions and serving loop, attention results against a double
 * reference, named errors for bad calls (which must lose nothing), a
 * peer that disconnects mid-job losing its session and nothing else, and
 * tokens served with the CPU backend equal to the pure-CPU reference.
 *
 * Run it with pimd on the bus (tests/daemon/host-test.sh, or the guest
 * suite); $PIMD_EXPECT_BACKEND names the backend pimd must report.
 */
#include <math.h>
#include <stdlib.h>

#include "client.h"
#include "../libpim/helpers.h"
#include "daemon/cpu_model.h"
#include "gpu/gpu_cpu.h"

#define CTX		40
#define BUF_SIZE	(1 << 20)
/* Buffer layout: K at 0, V at 64 KiB, q at 128 KiB, out at 192 KiB. */
#define K_OFF		0
#define V_OFF		(64 << 10)
#define Q_OFF		(128 << 10)
#define OUT_OFF		(192 << 10)

static const struct pim_kv_shape shape = {
	2, 8, 2, 64, PIM_DTYPE_FP16, 128,
};

static sd_bus *bus;

static void swap_bus(sd_bus **a, sd_bus **b)
{
	sd_bus *t = *a;

	*a = *b;
	*b = t;
}

/* A call that must fail with the D-Bus error name. */
static void expect_err(const char *name, const char *what, const char *path,
		       const char *iface, const char *method,
		       const char *types, ...)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	va_list ap;
	int ret;

	va_start(ap, types);
	ret = client_callv(bus, path, iface, method, &e, NULL, types, ap);
	va_end(ap);
	tap_ok(ret < 0 && sd_bus_error_has_name(&e, name), "%s: %s (%s)",
	       what, e.name ?: "no error", e.message ?: "");
	sd_bus_error_free(&e);
}

static int get_u32(const char *path, const char *iface, const char *prop,
		   uint32_t *v)
{
	return sd_bus_get_property_trivial(bus, PIM_BUS, path, iface, prop,
					   NULL, 'u', v);
}

static void test_manager(void)
{
	const char *want = getenv("PIMD_EXPECT_BACKEND");
	sd_bus_message *r = NULL;
	char *backend = NULL, *dev = NULL;
	uint64_t cap = 0;
	uint32_t api = 0;
	int ret;

	ret = sd_bus_get_property_string(bus, PIM_BUS, PIM_PATH, PIM_MANAGER,
					 "Backend", NULL, &backend);
	tap_ok(ret >= 0 && (!want || !strcmp(backend, want)),
	       "Backend is %s", backend ?: "?");
	ret = get_u32(PIM_PATH, PIM_MANAGER, "APIVersion", &api);
	tap_ok(ret >= 0 && api == 1, "APIVersion %u", api);
	ret = client_call(bus, PIM_PATH, PIM_MANAGER, "ListDevices", NULL, &r,
			  NULL);
	ret = ret < 0 ? ret : sd_bus_message_enter_container(r, 'a', "o");
	if (ret >= 0 && sd_bus_message_read(r, "o", &dev) > 0)
		dev = strdup(dev);
	tap_ok(dev != NULL, "ListDevices lists %s", dev ?: "nothing");
	sd_bus_message_unref(r);
	ret = dev ? sd_bus_get_property_trivial(bus, PIM_BUS, dev,
						"org.l3pim.Pim1.Device",
						"Capacity", NULL, 't',
						&cap) : -ENODEV;
	tap_ok(ret >= 0 && cap > 0, "device Capacity %llu bytes",
	       (unsigned long long)cap);
	free(dev);
	free(backend);
}

static char *new_session(sd_bus *b)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *r = NULL;
	const char *p = NULL;
	char *path = NULL;
	int ret;

	ret = sd_bus_call_method(b, PIM_BUS, PIM_PATH, PIM_MANAGER,
				 "CreateSession", &e, &r, "s", "");
	if (ret >= 0 && sd_bus_message_read(r, "o", &p) > 0)
		path = strdup(p);
	else
		tap_diag("CreateSession: %s", e.message ?: strerror(-ret));
	sd_bus_message_unref(r);
	sd_bus_error_free(&e);
	return path;
}

/* Bad memfds, each refused with BadBuffer (or TooLarge). */
static void test_bad_buffers(const char *s)
{
	void *map;
	int fd, p[2];

	fd = memfd_create("unsealed", MFD_CLOEXEC);
	if (ftruncate(fd, BUF_SIZE))
		tap_diag("ftruncate: %m");
	expect_err(PIM_ERR("BadBuffer"), "unsealed memfd", s, PIM_SESSION,
		   "SetBuffer", "h", fd);
	close(fd);
	fd = client_memfd(64, &map);
	expect_err(PIM_ERR("BadBuffer"), "64-byte memfd", s, PIM_SESSION,
		   "SetBuffer", "h", fd);
	munmap(map, 64);
	close(fd);
	fd = client_memfd(2ULL << 30, &map);	/* sparse: costs nothing */
	expect_err(PIM_ERR("TooLarge"), "2 GiB memfd", s, PIM_SESSION,
		   "SetBuffer", "h", fd);
	munmap(map, 2ULL << 30);
	close(fd);
	if (pipe(p))
		tap_diag("pipe: %m");
	expect_err(PIM_ERR("BadBuffer"), "a pipe", s, PIM_SESSION,
		   "SetBuffer", "h", p[0]);
	close(p[0]);
	close(p[1]);
	fd = open("/dev/null", O_RDONLY);
	expect_err(PIM_ERR("BadBuffer"), "/dev/null", s, PIM_SESSION,
		   "SetBuffer", "h", fd);
	close(fd);
}

static void fill_buffer(uint8_t *buf, uint64_t seed)
{
	size_t tb = (size_t)shape.kv_heads * shape.head_dim * 2;
	size_t nq = (size_t)shape.q_heads * shape.head_dim, i;
	float *q = (float *)(buf + Q_OFF);

	fill_elems((uint16_t *)(buf + K_OFF), CTX * tb / 2, shape.dtype,
		   &seed);
	fill_elems((uint16_t *)(buf + V_OFF), CTX * tb / 2, shape.dtype,
		   &seed);
	for (i = 0; i < 2 * nq; i++)
		q[i] = prng_uniform(&seed);
}

/* Two jobs (layer 0 over all, layer 1 over 29 tokens at scale 0.05). */
static int attend(sd_bus *b, const char *s, uint64_t *ns, sd_bus_error *e)
{
	size_t nq = (size_t)shape.q_heads * shape.head_dim;
	sd_bus_message *r = NULL;
	int ret;

	ret = client_call(b, s, PIM_SESSION, "Attend", e, &r, "a(uuudtt)", 2,
			  1, 0, 0, 0.0, (uint64_t)Q_OFF, (uint64_t)OUT_OFF,
			  1, 1, 29, 0.05, (uint64_t)(Q_OFF + nq * 4),
			  (uint64_t)(OUT_OFF + nq * 4));
	if (ret >= 0)
		ret = sd_bus_message_read(r, "t", ns);
	sd_bus_message_unref(r);
	return ret;
}

static double check_result(const uint8_t *buf)
{
	size_t nq = (size_t)shape.q_heads * shape.head_dim;
	const float *q = (const float *)(buf + Q_OFF);
	double ref[2 * 8 * 64], err;

	test_ref_attn(&shape, (const uint16_t *)(buf + K_OFF),
		      (const uint16_t *)(buf + V_OFF), CTX, q,
		      1.0 / sqrt(shape.head_dim), ref);
	test_ref_attn(&shape, (const uint16_t *)(buf + K_OFF),
		      (const uint16_t *)(buf + V_OFF), 29, q + nq, 0.05,
		      ref + nq);
	err = ref_rel_err((const float *)(buf + OUT_OFF), ref, 2 * nq);
	return err;
}

/* Session with buffer, cache 1 filled: the common set-up. */
static char *session_ready(sd_bus *b, uint8_t **buf, int *fd)
{
	char *s = new_session(b);
	uint32_t layer, h;
	sd_bus_message *r = NULL;
	int ret;

	if (!s)
		return NULL;
	*fd = client_memfd(BUF_SIZE, (void **)buf);
	fill_buffer(*buf, 42);
	ret = client_call(b, s, PIM_SESSION, "SetBuffer", NULL, NULL, "h",
			  *fd);
	ret = ret < 0 ? ret : client_call(b, s, PIM_SESSION, "NewCache", NULL,
			&r, "uuuusu", shape.layers, shape.q_heads,
			shape.kv_heads, shape.head_dim, "fp16",
			shape.max_tokens);
	if (ret >= 0 && (sd_bus_message_read(r, "u", &h) < 0 || h != 1))
		ret = -EIO;
	sd_bus_message_unref(r);
	for (layer = 0; layer < 2 && ret >= 0; layer++)
		ret = client_call(b, s, PIM_SESSION, "AppendKV", NULL, NULL,
				  "uuutt", 1, layer, CTX, (uint64_t)K_OFF,
				  (uint64_t)V_OFF);
	if (ret < 0) {
		tap_diag("session set-up: %s", strerror(-ret));
		free(s);
		return NULL;
	}
	return s;
}

static void test_session(void)
{
	size_t tb = (size_t)shape.kv_heads * shape.head_dim * 2;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *r = NULL;
	uint8_t *buf, *rb;
	uint64_t ns = 0;
	char *s = new_session(bus);
	int fd, ret;

	if (!tap_ok(s != NULL, "CreateSession: %s", s ?: "failed"))
		return;
	expect_err(PIM_ERR("NoDevice"), "CreateSession of an unknown device",
		   PIM_PATH, PIM_MANAGER, "CreateSession", "s", "pim99");
	expect_err(PIM_ERR("InvalidArgument"), "NewCache with dtype fp32",
		   s, PIM_SESSION, "NewCache", "uuuusu", 2, 8, 2, 64, "fp32",
		   128);
	expect_err(PIM_ERR("InvalidArgument"), "NewCache with head_dim 7",
		   s, PIM_SESSION, "NewCache", "uuuusu", 2, 8, 2, 7, "fp16",
		   128);
	ret = client_call(bus, s, PIM_SESSION, "NewCache", NULL, NULL,
			  "uuuusu", 2, 8, 2, 64, "bf16", 128);
	tap_ok(ret >= 0, "NewCache: BF16, GQA 8/2 x 64");
	expect_err(PIM_ERR("NoBuffer"), "ReadKV before SetBuffer", s,
		   PIM_SESSION, "ReadKV", "uuuutt", 1, 0, 0, 1, 0ULL, 0ULL);
	test_bad_buffers(s);
	free(s);

	s = session_ready(bus, &buf, &fd);
	if (!tap_ok(s != NULL, "session with buffer and a filled cache"))
		return;
	expect_err(PIM_ERR("BufferExists"), "a second SetBuffer", s,
		   PIM_SESSION, "SetBuffer", "h", fd);
	expect_err(PIM_ERR("OutOfRange"), "AppendKV past the buffer", s,
		   PIM_SESSION, "AppendKV", "uuutt", 1, 0, 4,
		   (uint64_t)BUF_SIZE - 8, 0ULL);
	expect_err(PIM_ERR("OutOfRange"), "AppendKV with offset 2^64-2", s,
		   PIM_SESSION, "AppendKV", "uuutt", 1, 0, 4, ~1ULL, 0ULL);
	expect_err(PIM_ERR("InvalidArgument"), "AppendKV at an odd offset",
		   s, PIM_SESSION, "AppendKV", "uuutt", 1, 0, 1, 1ULL, 0ULL);
	expect_err(PIM_ERR("NoSuchObject"), "AppendKV to cache 7", s,
		   PIM_SESSION, "AppendKV", "uuutt", 7, 0, 1, 0ULL, 0ULL);
	expect_err(PIM_ERR("OutOfRange"), "AppendKV to layer 2 of 2", s,
		   PIM_SESSION, "AppendKV", "uuutt", 1, 2, 1, 0ULL, 0ULL);
	expect_err(PIM_ERR("OutOfRange"), "AppendKV of 4096 tokens", s,
		   PIM_SESSION, "AppendKV", "uuutt", 1, 0, 4096, 0ULL, 0ULL);
	expect_err(PIM_ERR("OutOfRange"), "Attend past the tokens", s,
		   PIM_SESSION, "Attend", "a(uuudtt)", 1, 1, 0, CTX + 1, 0.0,
		   (uint64_t)Q_OFF, (uint64_t)OUT_OFF);
	expect_err(PIM_ERR("InvalidArgument"), "Attend with scale NaN", s,
		   PIM_SESSION, "Attend", "a(uuudtt)", 1, 1, 0, 0, NAN,
		   (uint64_t)Q_OFF, (uint64_t)OUT_OFF);
	expect_err(PIM_ERR("OutOfRange"), "Attend writing past the buffer",
		   s, PIM_SESSION, "Attend", "a(uuudtt)", 1, 1, 0, 0, 0.0,
		   (uint64_t)Q_OFF, (uint64_t)BUF_SIZE - 4);
	expect_err(PIM_ERR("InvalidArgument"), "Attend with no jobs", s,
		   PIM_SESSION, "Attend", "a(uuudtt)", 0);
	expect_err("org.freedesktop.DBus.Error.InvalidArgs",
		   "Attend with the wrong signature", s, PIM_SESSION,
		   "Attend", "s", "jobs");
	expect_err("org.freedesktop.DBus.Error.UnknownObject",
		   "a session that does not exist", PIM_PATH "/session/999",
		   PIM_SESSION, "Close", NULL);
	expect_err(PIM_ERR("NoSuchSession"), "CloseSession of no session",
		   PIM_PATH, PIM_MANAGER, "CloseSession", "o",
		   PIM_PATH "/session/999");

	memset(buf + OUT_OFF, 0, 64 << 10);
	ret = attend(bus, s, &ns, &e);
	tap_ok(ret >= 0 && ns > 0, "Attend: 2 jobs, %llu ns modeled: %s",
	       (unsigned long long)ns, e.message ?: "ok");
	sd_bus_error_free(&e);
	tap_ok(check_result(buf) <= 2e-3,
	       "results match the double reference (rel. error %.2e)",
	       check_result(buf));

	rb = buf + (256 << 10);
	ret = client_call(bus, s, PIM_SESSION, "ReadKV", NULL, NULL, "uuuutt",
			  1, 1, 0, CTX, (uint64_t)(256 << 10),
			  (uint64_t)(256 << 10) + CTX * tb);
	tap_ok(ret >= 0 && !memcmp(rb, buf + K_OFF, CTX * tb) &&
	       !memcmp(rb + CTX * tb, buf + V_OFF, CTX * tb),
	       "ReadKV gives back what AppendKV wrote");

	expect_err(PIM_ERR("NoSuchObject"), "FreeCache of cache 9", s,
		   PIM_SESSION, "FreeCache", "u", 9);
	ret = client_call(bus, s, PIM_SESSION, "FreeCache", NULL, NULL, "u",
			  1);
	tap_ok(ret >= 0, "FreeCache");
	expect_err(PIM_ERR("NoSuchObject"), "Attend on a freed cache", s,
		   PIM_SESSION, "Attend", "a(uuudtt)", 1, 1, 0, 0, 0.0,
		   (uint64_t)Q_OFF, (uint64_t)OUT_OFF);
	ret = client_call(bus, s, PIM_SESSION, "Close", NULL, NULL, NULL);
	tap_ok(ret >= 0, "Close");
	expect_err("org.freedesktop.DBus.Error.UnknownObject",
		   "a closed session is gone", s, PIM_SESSION, "Close", NULL);
	sd_bus_message_unref(r);
	munmap(buf, BUF_SIZE);
	close(fd);
	free(s);
}

/* 4097 jobs: one more than a call may carry. */
static void test_too_many_jobs(const char *s)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL;
	int i, ret;

	ret = sd_bus_message_new_method_call(bus, &m, PIM_BUS, s, PIM_SESSION,
					     "Attend");
	ret = ret < 0 ? ret : sd_bus_message_open_container(m, 'a',
							    "(uuudtt)");
	for (i = 0; i < 4097 && ret >= 0; i++)
		ret = sd_bus_message_append(m, "(uuudtt)", 1, 0, 0, 0.0,
					    (uint64_t)Q_OFF,
					    (uint64_t)OUT_OFF);
	ret = ret < 0 ? ret : sd_bus_message_close_container(m);
	ret = ret < 0 ? ret : sd_bus_call(bus, m, 0, &e, NULL);
	tap_ok(ret < 0 && sd_bus_error_has_name(&e, PIM_ERR("TooLarge")),
	       "Attend with 4097 jobs: %s", e.name ?: "accepted");
	sd_bus_error_free(&e);
	sd_bus_message_unref(m);
}

/*
 * A second peer: may not touch our session, and when it vanishes with a
 * job in flight only its own session goes.
 */
static void test_peers(void)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus *other = NULL;
	uint8_t *buf, *obuf;
	char *s, *os = NULL;
	uint32_t before = 0, after = 0;
	uint64_t ns;
	int fd, ofd = -1, i, ret;

	s = session_ready(bus, &buf, &fd);
	if (!tap_ok(s && client_open(&other) >= 0,
		    "two peers with a session each"))
		return;
	test_too_many_jobs(s);
	sd_bus_set_allow_interactive_authorization(other, 0);
	os = session_ready(other, &obuf, &ofd);
	if (!os) {
		tap_ok(0, "the second peer's session");
		return;
	}
	swap_bus(&bus, &other);
	expect_err(PIM_ERR("NotOwner"), "another peer's Attend", s,
		   PIM_SESSION, "Attend", "a(uuudtt)", 1, 1, 0, 0, 0.0,
		   (uint64_t)Q_OFF, (uint64_t)OUT_OFF);
	expect_err(PIM_ERR("NotOwner"), "another peer's Close", s,
		   PIM_SESSION, "Close", NULL);
	swap_bus(&bus, &other);
	get_u32(PIM_PATH, PIM_MANAGER, "Sessions", &before);

	/* Queue jobs from the other peer, then drop its connection. */
	for (i = 0; i < 4; i++) {
		size_t nq = (size_t)shape.q_heads * shape.head_dim;

		ret = sd_bus_call_method_async(other, NULL, PIM_BUS, os,
					       PIM_SESSION, "Attend", NULL,
					       NULL, "a(uuudtt)", 1, 1, 0, 0,
					       0.0, (uint64_t)Q_OFF,
					       (uint64_t)OUT_OFF + i * nq * 4);
		if (ret < 0)
			break;
	}
	sd_bus_flush(other);
	other = sd_bus_flush_close_unref(other);
	for (i = 0; i < 50; i++) {
		if (get_u32(PIM_PATH, PIM_MANAGER, "Sessions", &after) >= 0 &&
		    after == before - 1)
			break;
		usleep(100000);
	}
	tap_ok(ret >= 0 && after == before - 1,
	       "a peer gone mid-job loses its session: %u -> %u sessions",
	       before, after);
	expect_err("org.freedesktop.DBus.Error.UnknownObject",
		   "the gone peer's session object is gone", os,
		   PIM_SESSION, "Close", NULL);
	memset(buf + OUT_OFF, 0, 64 << 10);
	ret = attend(bus, s, &ns, &e);
	tap_ok(ret >= 0 && check_result(buf) <= 2e-3,
	       "the other session is intact: Attend correct (%.2e)",
	       check_result(buf));
	sd_bus_error_free(&e);
	client_call(bus, s, PIM_SESSION, "Close", NULL, NULL, NULL);
	munmap(obuf, BUF_SIZE);
	close(ofd);
	munmap(buf, BUF_SIZE);
	close(fd);
	free(os);
	free(s);
}

static void test_serving(void)
{
	uint32_t prompt[24], got = 0, generated = 0;
	sd_bus_message *r = NULL;
	int finished = 0, status = -1, ret, i;
	char *s = new_session(bus);
	uint64_t id[3], pim = 0, gpu = 0, it;
	unsigned int nrec = 0;

	if (!tap_ok(s != NULL, "serving session"))
		return;
	expect_err(PIM_ERR("NotConfigured"), "Run before Configure", s,
		   PIM_SERVING, "Run", "u", 1);
	expect_err(PIM_ERR("InvalidArgument"), "Configure: unknown option",
		   s, PIM_SERVING, "Configure", "a{sv}", 1, "colour", "s",
		   "red");
	expect_err(PIM_ERR("InvalidArgument"), "Configure: seed as a string",
		   s, PIM_SERVING, "Configure", "a{sv}", 1, "seed", "s", "1");
	expect_err(PIM_ERR("InvalidArgument"), "Configure: unknown policy",
		   s, PIM_SERVING, "Configure", "a{sv}", 1, "policy", "s",
		   "random");
	expect_err(PIM_ERR("InvalidArgument"), "Configure: max_batch 0",
		   s, PIM_SERVING, "Configure", "a{sv}", 1, "max_batch", "u",
		   0);
	expect_err(PIM_ERR("InvalidArgument"), "Configure: one_batch as a string",
		   s, PIM_SERVING, "Configure", "a{sv}", 1, "one_batch", "s",
		   "off");
	ret = client_call(bus, s, PIM_SERVING, "Configure", NULL, NULL,
			  "a{sv}", 4, "compute", "s", "none", "seed", "t",
			  (uint64_t)7, "policy", "s", "l3", "one_batch", "b",
			  0);
	tap_ok(ret >= 0,
	       "Configure: tiny model, timing only, policy l3, one_batch off");
	for (i = 0; i < 24; i++)
		prompt[i] = (i * 7) % 256;
	expect_err(PIM_ERR("InvalidArgument"), "AddRequest: token 256", s,
		   PIM_SERVING, "AddRequest", "auu", 2, 1, 256, 4);
	expect_err(PIM_ERR("TooLarge"), "AddRequest: empty prompt", s,
		   PIM_SERVING, "AddRequest", "auu", 0, 4);
	for (i = 0; i < 3; i++) {
		sd_bus_message *m = NULL;

		ret = sd_bus_message_new_method_call(bus, &m, PIM_BUS, s,
						     PIM_SERVING, "AddRequest");
		ret = ret < 0 ? ret : sd_bus_message_append_array(m, 'u',
					prompt, (8 + 8 * i) * 4);
		ret = ret < 0 ? ret : sd_bus_message_append(m, "u", 4 + i);
		ret = ret < 0 ? ret : sd_bus_call(bus, m, 0, NULL, &r);
		ret = ret < 0 ? ret : sd_bus_message_read(r, "t", &id[i]);
		sd_bus_message_unref(m);
		r = sd_bus_message_unref(r);
	}
	tap_ok(ret >= 0 && id[0] == 1 && id[2] == 3, "AddRequest x3");
	ret = client_call(bus, s, PIM_SERVING, "Run", NULL, &r, "u", 1000);
	ret = ret < 0 ? ret : sd_bus_message_read(r, "u", &got);
	r = sd_bus_message_unref(r);
	tap_ok(ret >= 0 && got > 0, "Run: %u iterations", got);
	ret = client_call(bus, s, PIM_SERVING, "GetOutput", NULL, &r, "t",
			  id[2]);
	ret = ret < 0 ? ret : sd_bus_message_read(r, "biu", &finished,
						  &status, &generated);
	r = sd_bus_message_unref(r);
	tap_ok(ret >= 0 && finished && !status && generated == 6,
	       "request 3 finished with 6 tokens: %d %d %u", finished,
	       status, generated);
	expect_err(PIM_ERR("NoSuchObject"), "GetOutput of request 99", s,
		   PIM_SERVING, "GetOutput", "t", 99ULL);
	ret = client_call(bus, s, PIM_SERVING, "GetIterations", NULL, &r,
			  "tu", 0ULL, 10000);
	ret = ret < 0 ? ret : sd_bus_message_enter_container(r, 'a',
						"(tuuuuuttttttt)");
	while (ret >= 0) {
		uint64_t g0, g1, p0, p1, pg, pp, in;
		uint32_t b0, b1, nd, pt, ot;

		ret = sd_bus_message_read(r, "(tuuuuuttttttt)", &it, &b0, &b1,
					  &nd, &pt, &ot, &g0, &g1, &p0, &p1,
					  &pg, &pp, &in);
		if (ret <= 0)
			break;
		nrec++;
		gpu += g0 + g1;
		pim += p0 + p1;
	}
	r = sd_bus_message_unref(r);
	tap_ok(nrec == got && gpu > 0 && pim > 0,
	       "GetIterations: %u records, GPU %llu ns, PIM %llu ns", nrec,
	       (unsigned long long)gpu, (unsigned long long)pim);
	ret = client_call(bus, s, PIM_SERVING, "GetServingStats", NULL, &r,
			  NULL);
	tap_ok(ret >= 0, "GetServingStats");
	r = sd_bus_message_unref(r);
	client_call(bus, s, PIM_SESSION, "Close", NULL, NULL, NULL);
	free(s);
}

/* Real tokens: attention on the device, the rest on the CPU backend. */
static void test_serving_cpu(void)
{
	static const uint32_t len[2] = { 33, 70 }, max_new[2] = { 6, 9 };
	uint32_t prompt[70], want[9], i, j, ok = 1;
	struct gpu_backend *gb = NULL;
	char *s = new_session(bus);
	uint64_t id[2] = { 0 };
	int ret;

	if (!tap_ok(s != NULL, "serving session (compute cpu)"))
		return;
	expect_err(PIM_ERR("InvalidArgument"), "Configure: compute cpu, "
		   "model OPT-66B", s, PIM_SERVING, "Configure", "a{sv}", 2,
		   "model", "s", "OPT-66B", "compute", "s", "cpu");
	ret = client_call(bus, s, PIM_SERVING, "Configure", NULL, NULL,
			  "a{sv}", 2, "compute", "s", "cpu", "seed", "t",
			  (uint64_t)5);
	tap_ok(ret >= 0, "Configure: tiny model, CPU backend");
	for (i = 0; i < 70; i++)
		prompt[i] = (i * 37 + 11) % 256;
	for (i = 0; i < 2 && ret >= 0; i++) {
		sd_bus_message *m = NULL, *r = NULL;

		ret = sd_bus_message_new_method_call(bus, &m, PIM_BUS, s,
						     PIM_SERVING, "AddRequest");
		ret = ret < 0 ? ret : sd_bus_message_append_array(m, 'u',
					prompt, len[i] * 4);
		ret = ret < 0 ? ret : sd_bus_message_append(m, "u",
							    max_new[i]);
		ret = ret < 0 ? ret : sd_bus_call(bus, m, 0, NULL, &r);
		ret = ret < 0 ? ret : sd_bus_message_read(r, "t", &id[i]);
		sd_bus_message_unref(m);
		sd_bus_message_unref(r);
	}
	ret = ret < 0 ? ret : client_call(bus, s, PIM_SERVING, "Run", NULL,
					  NULL, "u", 1000);
	tap_ok(ret >= 0, "two requests served");
	ret = ret < 0 ? ret : pimd_cpu_backend_new(&pimd_tiny_model, 5, &gb);
	for (i = 0; i < 2 && ret >= 0; i++) {
		sd_bus_message *r = NULL;
		const uint32_t *got = NULL;
		int finished = 0, status = 0;
		uint32_t generated = 0;
		size_t bytes = 0;

		ret = gpu_cpu_reference_generate(gb, prompt, len[i],
						 max_new[i], GPU_KV_FP16, want);
		ret = ret ?: client_call(bus, s, PIM_SERVING, "GetOutput",
					 NULL, &r, "t", id[i]);
		ret = ret < 0 ? ret : sd_bus_message_read(r, "biu", &finished,
							  &status, &generated);
		ret = ret < 0 ? ret : sd_bus_message_read_array(r, 'u',
					(const void **)&got, &bytes);
		if (ret < 0 || !finished || status ||
		    bytes != max_new[i] * 4)
			ok = 0;
		for (j = 0; ok && j < max_new[i]; j++)
			ok = got[j] == want[j];
		sd_bus_message_unref(r);
	}
	tap_ok(ret >= 0 && ok, "tokens equal the pure-CPU reference");
	gpu_backend_destroy(gb);
	client_call(bus, s, PIM_SESSION, "Close", NULL, NULL, NULL);
	free(s);
}

static void test_stats(void)
{
	sd_bus_message *r = NULL;
	const char *key;
	uint64_t v, jobs = 0;
	int ret;

	ret = client_call(bus, PIM_PATH, PIM_MANAGER, "GetStats", NULL, &r,
			  NULL);
	ret = ret < 0 ? ret : sd_bus_message_enter_container(r, 'a', "{st}");
	while (ret >= 0 && sd_bus_message_read(r, "{st}", &key, &v) > 0)
		if (!strcmp(key, "jobs"))
			jobs = v;
	tap_ok(ret >= 0 && jobs >= 4, "GetStats: %llu jobs completed",
	       (unsigned long long)jobs);
	sd_bus_message_unref(r);
}

int main(void)
{
	int ret;

	printf("TAP version 13\n");
	ret = client_open(&bus);
	ret = ret < 0 ? ret : client_wait_name(bus, 20);
	if (!tap_ok(ret >= 0, "pimd is on the bus: %s",
		    ret < 0 ? strerror(-ret) : "yes"))
		return tap_done();
	test_manager();
	test_session();
	test_peers();
	test_serving();
	test_serving_cpu();
	test_stats();
	sd_bus_flush_close_unref(bus);
	return tap_done();
}
