// SPDX-License-Identifier: GPL-2.0
/*
 * pim-sd-load - a pimd client for tests/systemd/guest-restart.sh: keeps
 * Attend calls in flight on its own session until a call fails (pimd was
 * killed), then waits for pimd to come back on the bus and proves that it
 * serves again with the results of before.
 *
 *	pim-sd-load [--timeout SEC] [--jobs N] [--after N]
 *
 * Lines on stdout: "ready" once the first result is in (the reference),
 * "error NAME: MESSAGE (call N, answered after MS ms)" for the first
 * failed call, "served N calls after the restart, results equal".
 * Exit status: 0 as described; 1 setup failed or an unexpected error;
 * 2 silence (a call unanswered for --timeout seconds); 3 a result differs
 * from the reference; 4 pimd did not come back or did not serve.
 */
#include <getopt.h>
#include <limits.h>

#include "tests/daemon/client.h"

#define LAYERS		1
#define Q_HEADS		8
#define KV_HEADS	2
#define HEAD_DIM	64
#define TOKENS		256
#define MAX_JOBS	64

/* Buffer layout: K, V (fp16), then one query and one output per job. */
#define KV_BYTES	((size_t)TOKENS * KV_HEADS * HEAD_DIM * 2)
#define K_OFF		0
#define V_OFF		(K_OFF + KV_BYTES)
#define QO_BYTES	((size_t)Q_HEADS * HEAD_DIM * 4)
#define Q_OFF		(V_OFF + KV_BYTES)
#define OUT_OFF		(Q_OFF + MAX_JOBS * QO_BYTES)
#define BUF_SIZE	(OUT_OFF + MAX_JOBS * QO_BYTES)

struct client {
	sd_bus *bus;
	int fd;
	uint8_t *buf;
	uint8_t *ref;
	char session[256];
	unsigned int jobs;
	uint64_t timeout_us;
};

static void fill(uint8_t *buf)
{
	uint16_t *h = (uint16_t *)(buf + K_OFF);
	float *q = (float *)(buf + Q_OFF);
	uint32_t x = 0x2545f491;
	size_t i;

	/* fp16 values of magnitude 0.125..1 with random signs. */
	for (i = 0; i < 2 * KV_BYTES / 2; i++) {
		x = x * 1664525 + 1013904223;
		h[i] = (x >> 16 & 0x8000) | (0x3000 + (x >> 8) % 0x0c00);
	}
	for (i = 0; i < MAX_JOBS * QO_BYTES / 4; i++) {
		x = x * 1664525 + 1013904223;
		q[i] = (float)((int)(x >> 8 & 0xffff) - 32768) / 32768.0f;
	}
}

/* A session with the buffer and one filled cache (handle 1). */
static int session_open(struct client *c, sd_bus_error *e)
{
	sd_bus_message *r = NULL;
	const char *path;
	uint32_t cache;
	int ret;

	ret = client_call(c->bus, PIM_PATH, PIM_MANAGER, "CreateSession", e,
			  &r, "s", "");
	if (ret >= 0)
		ret = sd_bus_message_read(r, "o", &path);
	if (ret >= 0)
		snprintf(c->session, sizeof(c->session), "%s", path);
	sd_bus_message_unref(r);
	r = NULL;
	if (ret >= 0)
		ret = client_call(c->bus, c->session, PIM_SESSION,
				  "SetBuffer", e, NULL, "h", c->fd);
	if (ret >= 0)
		ret = client_call(c->bus, c->session, PIM_SESSION, "NewCache",
				  e, &r, "uuuusu", LAYERS, Q_HEADS, KV_HEADS,
				  HEAD_DIM, "fp16", TOKENS);
	if (ret >= 0)
		ret = sd_bus_message_read(r, "u", &cache);
	sd_bus_message_unref(r);
	if (ret >= 0 && cache != 1)
		ret = -EPROTO;
	if (ret >= 0)
		ret = client_call(c->bus, c->session, PIM_SESSION, "AppendKV",
				  e, NULL, "uuutt", 1, 0, TOKENS,
				  (uint64_t)K_OFF, (uint64_t)V_OFF);
	return ret;
}

/* One Attend of c->jobs jobs, each with its own query and output. */
static int attend(struct client *c, sd_bus_error *e)
{
	sd_bus_message *m = NULL;
	unsigned int j;
	int ret;

	ret = sd_bus_message_new_method_call(c->bus, &m, PIM_BUS, c->session,
					     PIM_SESSION, "Attend");
	if (ret >= 0)
		ret = sd_bus_message_open_container(m, 'a', "(uuudtt)");
	for (j = 0; ret >= 0 && j < c->jobs; j++)
		ret = sd_bus_message_append(m, "(uuudtt)", 1, 0, 0, 0.0,
					    (uint64_t)(Q_OFF + j * QO_BYTES),
					    (uint64_t)(OUT_OFF + j * QO_BYTES));
	if (ret >= 0)
		ret = sd_bus_message_close_container(m);
	if (ret >= 0)
		ret = sd_bus_call(c->bus, m, c->timeout_us, e, NULL);
	sd_bus_message_unref(m);
	return ret;
}

static int same(const struct client *c)
{
	return !memcmp(c->buf + OUT_OFF, c->ref, c->jobs * QO_BYTES);
}

static void usage(void)
{
	fprintf(stderr, "usage: pim-sd-load [--timeout SEC] [--jobs 1..%d] [--after N]\n",
		MAX_JOBS);
	exit(1);
}

static unsigned int number(const char *s, unsigned int lo, unsigned int hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "pim-sd-load: '%s': want a number in %u..%u\n",
			s, lo, hi);
		usage();
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "after", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 }
	};
	struct client c = { .jobs = 16, .timeout_us = 20 * 1000000ULL };
	sd_bus_error e = SD_BUS_ERROR_NULL;
	unsigned int after = 5, i, calls = 0;
	double t0;
	void *map;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			c.timeout_us = number(optarg, 1, 3600) * 1000000ULL;
			break;
		case 'j':
			c.jobs = number(optarg, 1, MAX_JOBS);
			break;
		case 'a':
			after = number(optarg, 1, 1000000);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);

	c.fd = client_memfd(BUF_SIZE, &map);
	c.buf = map;
	c.ref = malloc(MAX_JOBS * QO_BYTES);
	if (c.fd < 0 || !c.ref) {
		fprintf(stderr, "pim-sd-load: buffer: %s\n", strerror(ENOMEM));
		return 1;
	}
	fill(c.buf);
	ret = client_open(&c.bus);
	if (ret >= 0)
		ret = client_wait_name(c.bus, 60);
	if (ret >= 0)
		ret = session_open(&c, &e);
	if (ret >= 0)
		ret = attend(&c, &e);
	if (ret < 0) {
		fprintf(stderr, "pim-sd-load: set-up: %s: %s\n",
			e.name ? e.name : "error",
			e.message ? e.message : strerror(-ret));
		return 1;
	}
	memcpy(c.ref, c.buf + OUT_OFF, c.jobs * QO_BYTES);
	printf("ready\n");

	/* Until pimd goes away: every answer must be the reference. */
	for (;;) {
		memset(c.buf + OUT_OFF, 0, c.jobs * QO_BYTES);
		t0 = client_now();
		ret = attend(&c, &e);
		calls++;
		if (ret < 0)
			break;
		if (!same(&c)) {
			printf("call %u: results differ from the reference\n",
			       calls);
			return 3;
		}
	}
	printf("error %s: %s (call %u, answered after %.0f ms)\n",
	       e.name ? e.name : "(local)",
	       e.message ? e.message : strerror(-ret), calls,
	       (client_now() - t0) * 1e3);
	/* sd-bus gives up locally with -ETIMEDOUT: nobody answered. */
	if (client_now() - t0 >= c.timeout_us * 1e-6 - 0.5)
		return 2;
	sd_bus_error_free(&e);

	/* pimd's name comes back with the restarted service. */
	ret = client_wait_name(c.bus, 60);
	if (ret >= 0)
		ret = session_open(&c, &e);
	for (i = 0; ret >= 0 && i < after; i++) {
		memset(c.buf + OUT_OFF, 0, c.jobs * QO_BYTES);
		ret = attend(&c, &e);
		if (ret >= 0 && !same(&c)) {
			printf("after the restart, call %u: results differ from the reference\n",
			       i + 1);
			return 3;
		}
	}
	if (ret >= 0)
		ret = client_call(c.bus, c.session, PIM_SESSION, "Close", &e,
				  NULL, NULL);
	if (ret < 0) {
		printf("after the restart: %s: %s\n", e.name ? e.name : "error",
		       e.message ? e.message : strerror(-ret));
		return 4;
	}
	printf("served %u calls after the restart, results equal\n", after);
	sd_bus_error_free(&e);
	sd_bus_flush_close_unref(c.bus);
	return 0;
}
