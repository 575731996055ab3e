/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pimctl.h - shared by pimctl's commands.
 */
#ifndef PIMCTL_H
#define PIMCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <getopt.h>
#include <sysexits.h>
#include <libpim.h>

#include "json.h"

/* Options shared by the commands, set by main() and the command parsers. */
struct pimctl {
	struct pim_ctx *ctx;
	struct pim_dev *dev;		/* after pimctl_open_dev() */
	long dev_id;			/* -d N, or -1 for the first */
	bool json;
	struct json j;
};

/*
 * -j/--json and -d/--device work before and after the command name: every
 * command's option table starts with these.
 */
#define PIMCTL_SHORT_OPTS	"jd:h"
#define PIMCTL_COMMON_OPTS					\
	{ "json", no_argument, NULL, 'j' },			\
	{ "device", required_argument, NULL, 'd' },		\
	{ "help", no_argument, NULL, 'h' }

/* Handles -j and -d; false for any other option. */
bool pimctl_common_opt(struct pimctl *pc, int c, const char *arg);
/* The device the command works on; EX_UNAVAILABLE when there is none. */
int pimctl_open_dev(struct pimctl *pc);

/* A command: parses its own options from argv[0] = its name. */
typedef int (*pimctl_cmd)(struct pimctl *pc, int argc, char **argv);

int cmd_list(struct pimctl *pc, int argc, char **argv);
int cmd_info(struct pimctl *pc, int argc, char **argv);
int cmd_topology(struct pimctl *pc, int argc, char **argv);
int cmd_stats(struct pimctl *pc, int argc, char **argv);
int cmd_selftest(struct pimctl *pc, int argc, char **argv);
int cmd_bench(struct pimctl *pc, int argc, char **argv);
int cmd_kv_dump(struct pimctl *pc, int argc, char **argv);

/* Exit status for a -errno from libpim, with a message naming what. */
int pimctl_fail(struct pimctl *pc, const char *what, int err);
/* Parse a number option; exits with EX_USAGE when it is not one. */
unsigned long pimctl_num(const char *opt, const char *arg,
			 unsigned long min, unsigned long max);
/*
 * The next of a command's own options from opts (a table that ends with
 * PIMCTL_COMMON_OPTS), -1 after the last. Handles -j and -d itself; -h
 * prints usage_text and exits 0, an unknown option or a missing argument
 * prints it to stderr and exits EX_USAGE.
 */
int pimctl_getopt(struct pimctl *pc, int argc, char **argv,
		  const struct option *opts, const char *usage_text);
/* After the options: EX_USAGE, naming it, if an operand is left. */
int pimctl_no_operands(int argc, char **argv);
/* Only the common options: parse and reject anything else. */
int pimctl_no_options(struct pimctl *pc, int argc, char **argv,
		      const char *usage);

#endif /* PIMCTL_H */
