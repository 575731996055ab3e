// SPDX-License-Identifier: GPL-2.0
/*
 * pim_fuzz.c - fuzz the /dev/pimN ABI from several processes at once, for
 * a time or command budget, SIGKILLing workers at random; then check that
 * no worker hung or saw a wrong answer, that the whole capacity is free
 * again, and that the device still computes correctly. Prints TAP, and
 * with --bench the figures as bench lines. A failing round prints its
 * seed; --replay SEED runs that round alone.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "fuzz.h"
#include "../kmod/pimt.h"
#include "../tap.h"

#define MAX_PROCS	64
#define HANG_S		150	/* no progress for this long: a hang */

struct shared {
	volatile int stop;
	struct fz_slot slot[MAX_PROCS];
};

struct opts {
	const char *dev;
	double seconds;
	uint64_t iters;
	uint64_t seed;
	uint64_t replay;
	uint32_t ops;
	int procs;
	int kill_ms;
	bool bench;
	bool check;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int setup_ctx(struct fz_ctx *c, struct fz_slot *slot)
{
	uint8_t *m = mmap((void *)FZ_BASE, FZ_BUF_BYTES + 3 * 4096,
			  PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
			  MAP_FIXED_NOREPLACE, -1, 0);

	if (m == MAP_FAILED)
		return -1;
	memset(c, 0, sizeof(*c));
	c->buf = m;
	c->ro = m + FZ_BUF_BYTES;
	c->hole = c->ro + 4096;
	c->jobs = (struct pim_attn_job *)(c->hole + 4096);
	c->place = (struct pim_kv_place *)(c->jobs + FZ_JOBS);
	mprotect(c->ro, 4096, PROT_READ);
	munmap(c->hole, 4096);
	c->slot = slot;
	return 0;
}

static void report_failure(const struct fz_slot *s, int w)
{
	printf("# worker %d round %" PRIu64 " failed: %s\n", w, s->round,
	       s->why);
	printf("# reproduce: pim-fuzz --replay 0x%" PRIx64 "\n",
	       s->round_seed);
}

/* A worker: rounds of random length until told to stop. */
static void worker(struct shared *sh, int w, uint64_t seed, uint64_t gen,
		   const char *dev)
{
	struct fz_slot *s = &sh->slot[w];
	struct fz_ctx c;
	uint64_t r;

	if (setup_ctx(&c, s))
		_exit(2);
	for (r = 0; !sh->stop; r++) {
		uint32_t ops;

		s->round_seed = fz_mix(seed, (uint64_t)w << 32 | gen, r);
		s->round = r;
		c.rng = s->round_seed;
		ops = 64 + fz_below(&c, 512);
		if (fz_round(&c, dev, ops))
			_exit(1);
	}
	_exit(0);
}

static pid_t spawn(struct shared *sh, int w, uint64_t seed, uint64_t gen,
		   const char *dev)
{
	pid_t pid = fork();

	if (pid == 0)
		worker(sh, w, seed, gen, dev);
	if (pid > 0)
		sh->slot[w].pid = pid;
	return pid;
}

static uint64_t total(const struct shared *sh, int procs, size_t off)
{
	uint64_t n = 0;
	int w;

	for (w = 0; w < procs; w++)
		n += *(const uint64_t *)((const char *)&sh->slot[w] + off);
	return n;
}

/* Where a stuck worker sleeps, for the report. */
static void show_stack(pid_t pid)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stack", pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		printf("#   %s", line);
	fclose(f);
}

static int fuzz(const struct opts *o, double *elapsed, uint64_t *kills)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t gen[MAX_PROCS] = { 0 }, last[MAX_PROCS] = { 0 }, rng;
	double t0 = now(), seen[MAX_PROCS], next_kill;
	int w, alive = 0, bad = 0, status;
	pid_t pid;

	if (sh == MAP_FAILED)
		return tap_ok(0, "fuzz: shared counters: %s", strerror(errno));
	memset(sh, 0, sizeof(*sh));
	rng = o->seed;
	for (w = 0; w < o->procs; w++) {
		if (spawn(sh, w, o->seed, 0, o->dev) < 0)
			return tap_ok(0, "fork: %s", strerror(errno));
		seen[w] = t0;
		alive++;
	}
	next_kill = t0 + o->kill_ms / 1e3;
	*kills = 0;
	while (alive) {
		double t = now();
		uint64_t cmds = total(sh, o->procs,
				      offsetof(struct fz_slot, cmds));

		if (!sh->stop && (t - t0 >= o->seconds ||
				  (o->iters && cmds >= o->iters) || bad))
			sh->stop = 1;
		/* SIGKILL one worker at random, with commands in flight. */
		if (!sh->stop && o->kill_ms && t >= next_kill) {
			struct fz_ctx c = { .rng = rng };

			w = fz_below(&c, o->procs);
			next_kill = t + (1 + fz_below(&c, 2 * o->kill_ms)) / 1e3;
			rng = c.rng;
			if (sh->slot[w].pid > 0 && !kill(sh->slot[w].pid, SIGKILL))
				(*kills)++;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (w = 0; w < o->procs && sh->slot[w].pid != pid; w++)
				;
			if (w == o->procs)
				continue;
			sh->slot[w].pid = 0;
			alive--;
			if (WIFEXITED(status) && WEXITSTATUS(status)) {
				report_failure(&sh->slot[w], w);
				bad++;
			} else if (WIFSIGNALED(status) &&
				   WTERMSIG(status) == SIGKILL) {
				/* Ours: a new worker takes its place. */
				if (!sh->stop &&
				    spawn(sh, w, o->seed, ++gen[w], o->dev) > 0)
					alive++;
				seen[w] = now();
			} else if (WIFSIGNALED(status)) {
				printf("# worker %d died of signal %d in round seed 0x%" PRIx64 "\n",
				       w, WTERMSIG(status),
				       sh->slot[w].round_seed);
				bad++;
			}
		}
		for (w = 0; w < o->procs; w++) {
			/* Completions count: a drain submits nothing. */
			uint64_t p = sh->slot[w].cmds + sh->slot[w].ok +
				     sh->slot[w].err;

			if (!sh->slot[w].pid)
				continue;
			if (p != last[w]) {
				last[w] = p;
				seen[w] = t;
			} else if (t - seen[w] > HANG_S) {
				printf("# worker %d (pid %d) made no progress for %d s in round seed 0x%" PRIx64 ":\n",
				       w, sh->slot[w].pid, HANG_S,
				       sh->slot[w].round_seed);
				show_stack(sh->slot[w].pid);
				kill(sh->slot[w].pid, SIGKILL);
				seen[w] = t;
				bad++;
			}
		}
		usleep(20000);
	}
	*elapsed = now() - t0;
	tap_ok(!bad,
	       "fuzz %s: seed 0x%" PRIx64 ", %d procs, %.0f s: %" PRIu64
	       " commands (%" PRIu64 " raw), %" PRIu64 " errors, %" PRIu64
	       " kills, %" PRIu64 " closes in flight",
	       o->dev, o->seed, o->procs, *elapsed,
	       total(sh, o->procs, offsetof(struct fz_slot, cmds)),
	       total(sh, o->procs, offsetof(struct fz_slot, raw)),
	       total(sh, o->procs, offsetof(struct fz_slot, err)), *kills,
	       total(sh, o->procs, offsetof(struct fz_slot, closes)));
	if (o->bench) {
		uint64_t n = total(sh, o->procs,
				   offsetof(struct fz_slot, cmds));

		printf("bench fuzz-commands %" PRIu64 " cmds\n", n);
		printf("bench fuzz-rate %.0f cmds/s\n", n / *elapsed);
		printf("bench fuzz-kills %" PRIu64 " kills\n", *kills);
		printf("bench fuzz-worker-failures %d count\n", bad);
	}
	munmap(sh, sizeof(*sh));
	return !bad;
}

static int replay(const struct opts *o)
{
	struct fz_slot slot = { 0 };
	struct fz_ctx c;
	uint32_t ops;

	if (setup_ctx(&c, &slot))
		return tap_ok(0, "replay: memory");
	c.rng = o->replay;
	ops = 64 + fz_below(&c, 512);
	if (o->ops)
		ops = o->ops;
	fz_round(&c, o->dev, ops);
	return tap_ok(!slot.failed, "replay of round seed 0x%" PRIx64
		      ": %" PRIu64 " commands%s%s", o->replay, slot.cmds,
		      slot.failed ? ": " : "", slot.why);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: pim-fuzz [--dev PATH] [--seconds S] [--iters N] [--procs P]\n"
"                [--seed S] [--kill-ms MS] [--bench] [--no-check]\n"
"       pim-fuzz [--dev PATH] --replay ROUND_SEED [--ops N]\n"
"Fuzz the ABI of PATH (default $PIM_DEV or /dev/pim0) from P processes\n"
"(default 4) for S seconds (default 10) or N commands, whichever comes\n"
"first; SIGKILL a worker every MS ms on average (default 0: never).\n"
"Afterwards free must equal capacity and a functional check must pass.\n");
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "seconds", required_argument, NULL, 's' },
		{ "iters", required_argument, NULL, 'n' },
		{ "procs", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 'S' },
		{ "kill-ms", required_argument, NULL, 'k' },
		{ "replay", required_argument, NULL, 'r' },
		{ "ops", required_argument, NULL, 'o' },
		{ "bench", no_argument, NULL, 'b' },
		{ "no-check", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int ch;

	o->dev = pimt_dev_path();
	o->seconds = 10;
	o->procs = 4;
	o->check = true;
	o->seed = fz_mix((uint64_t)time(NULL), getpid(), 0);
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		errno = 0;
		end = NULL;
		switch (ch) {
		case 'd':
			o->dev = optarg;
			break;
		case 's':
			o->seconds = strtod(optarg, &end);
			break;
		case 'n':
			o->iters = strtoull(optarg, &end, 0);
			break;
		case 'p':
			o->procs = (int)strtol(optarg, &end, 0);
			break;
		case 'S':
			o->seed = strtoull(optarg, &end, 0);
			break;
		case 'k':
			o->kill_ms = (int)strtol(optarg, &end, 0);
			break;
		case 'r':
			o->replay = strtoull(optarg, &end, 0);
			break;
		case 'o':
			o->ops = (uint32_t)strtoul(optarg, &end, 0);
			break;
		case 'b':
			o->bench = true;
			break;
		case 'C':
			o->check = false;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (errno || (end && *end)) {
			fprintf(stderr, "pim-fuzz: bad number '%s'\n", optarg);
			return -1;
		}
	}
	if (optind != argc || o->procs < 1 || o->procs > MAX_PROCS ||
	    o->seconds <= 0 || o->kill_ms < 0 || !o->seed) {
		usage(stderr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct pimt_dev d;
	uint64_t kills;
	double elapsed;

	if (parse(argc, argv, &o))
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	if (o.replay)
		return replay(&o) ? 0 : 1;
	printf("# pim-fuzz --dev %s --seed 0x%" PRIx64 " --procs %d --seconds %g --iters %" PRIu64 " --kill-ms %d\n",
	       o.dev, o.seed, o.procs, o.seconds, o.iters, o.kill_ms);
	fuzz(&o, &elapsed, &kills);
	setenv("PIM_DEV", o.dev, 1);
	pimt_open(&d);
	/* Rings of killed workers are torn down after they are reaped. */
	tap_ok(pimt_wait_all_free(&d, 30000),
	       "free equals capacity once every fuzzer has exited");
	pimt_close(&d);
	if (o.check)
		fz_check_device(o.dev);
	return tap_done();
}
