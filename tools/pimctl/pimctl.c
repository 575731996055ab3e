// SPDX-License-Identifier: GPL-2.0
/*
 * pimctl - inspect and exercise L3 DIMM-PIM devices through libpim.
 *
 * Exit status: 0 success, 1 a check or command failed, EX_USAGE (64) bad
 * usage, EX_UNAVAILABLE (69) no such device, EX_NOPERM (77) permission
 * denied, EX_OSERR (71) other system errors.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "pimctl.h"

static const struct {
	const char *name;
	pimctl_cmd fn;
	const char *help;
} cmds[] = {
	{ "list", cmd_list, "list devices" },
	{ "info", cmd_info, "a device's geometry, capacity and features" },
	{ "topology", cmd_topology, "channels, DIMMs, ranks and ranksets" },
	{ "stats", cmd_stats, "command and traffic counters" },
	{ "selftest", cmd_selftest,
	  "append random KV, run attention, check against a reference" },
	{ "bench", cmd_bench, "submission and attention benchmarks" },
	{ "kv-dump", cmd_kv_dump,
	  "place a KV cache, fill it, show placement and read-back" },
};

#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	unsigned int i;

	fprintf(f,
		"usage: pimctl [OPTIONS] COMMAND [COMMAND OPTIONS]\n\n"
		"options:\n"
		"  -d, --device N       use /dev/pimN (default: the first)\n"
		"  -b, --backend NAME   kernel or inproc (default: $PIM_BACKEND, else kernel)\n"
		"  -j, --json           JSON output\n"
		"  -v, --verbose        library debug messages (PIM_LOG=debug)\n"
		"  -h, --help           this help; COMMAND --help for a command's\n\n"
		"commands:\n");
	for (i = 0; i < NCMDS; i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
}

int pimctl_fail(struct pimctl *pc, const char *what, int err)
{
	const char *dev = pc->dev ? pim_dev_get_devnode(pc->dev) : "pimctl";

	fprintf(stderr, "pimctl: %s: %s: %s\n", dev, what, strerror(-err));
	switch (-err) {
	case EACCES:
	case EPERM:
		return EX_NOPERM;
	case ENODEV:
	case ENOENT:
	case ENXIO:
		return EX_UNAVAILABLE;
	case ENOMEM:
	case EMFILE:
	case ENFILE:
		return EX_OSERR;
	default:
		return 1;
	}
}

unsigned long pimctl_num(const char *opt, const char *arg, unsigned long min,
			 unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 0);
	if (errno || end == arg || *end || arg[0] == '-' || v < min ||
	    v > max) {
		fprintf(stderr, "pimctl: %s: want a number in %lu..%lu, not '%s'\n",
			opt, min, max, arg);
		exit(EX_USAGE);
	}
	return v;
}

bool pimctl_common_opt(struct pimctl *pc, int c, const char *arg)
{
	switch (c) {
	case 'j':
		pc->json = true;
		return true;
	case 'd':
		pc->dev_id = pimctl_num("--device", arg, 0, UINT32_MAX);
		return true;
	default:
		return false;
	}
}

int pimctl_getopt(struct pimctl *pc, int argc, char **argv,
		  const struct option *opts, const char *usage_text)
{
	int c;

	while ((c = getopt_long(argc, argv, PIMCTL_SHORT_OPTS, opts,
				NULL)) != -1) {
		if (pimctl_common_opt(pc, c, optarg))
			continue;
		if (c == 'h') {
			printf("%s", usage_text);
			exit(0);
		}
		if (c == '?' || c == ':') {
			fprintf(stderr, "%s", usage_text);
			exit(EX_USAGE);
		}
		return c;
	}
	return -1;
}

int pimctl_no_operands(int argc, char **argv)
{
	if (optind < argc) {
		fprintf(stderr, "pimctl: %s: unexpected argument '%s'\n",
			argv[0], argv[optind]);
		return EX_USAGE;
	}
	return 0;
}

int pimctl_no_options(struct pimctl *pc, int argc, char **argv,
		      const char *usage_text)
{
	static const struct option opts[] = {
		PIMCTL_COMMON_OPTS,
		{ }
	};

	/* The table has only the common options: nothing comes back. */
	while (pimctl_getopt(pc, argc, argv, opts, usage_text) != -1)
		continue;
	return pimctl_no_operands(argc, argv);
}

static int open_ctx(struct pimctl *pc, const char *backend)
{
	unsigned int flags = 0;
	int ret;

	if (!backend)
		flags = 0;
	else if (!strcmp(backend, "kernel"))
		flags = PIM_CTX_KERNEL;
	else if (!strcmp(backend, "inproc"))
		flags = PIM_CTX_INPROC;
	else {
		fprintf(stderr, "pimctl: --backend: kernel or inproc, not '%s'\n",
			backend);
		return EX_USAGE;
	}
	ret = pim_new_with_flags(&pc->ctx, flags);
	if (ret == -EINVAL && !flags) {
		fprintf(stderr, "pimctl: PIM_BACKEND=%s: want kernel or inproc\n",
			getenv("PIM_BACKEND"));
		return EX_USAGE;
	}
	if (ret)
		return pimctl_fail(pc, "cannot start libpim", ret);
	return 0;
}

int pimctl_open_dev(struct pimctl *pc)
{
	long id = pc->dev_id;

	if (id >= 0)
		pc->dev = pim_dev_get_by_id(pc->ctx, id);
	else
		pc->dev = pim_dev_get_first(pc->ctx);
	if (pc->dev)
		return 0;
	if (id >= 0)
		fprintf(stderr, "pimctl: no device pim%ld (%s backend)\n", id,
			pim_get_backend_name(pc->ctx));
	else
		fprintf(stderr, "pimctl: no PIM devices (%s backend); load pim.ko, or use --backend inproc\n",
			pim_get_backend_name(pc->ctx));
	return EX_UNAVAILABLE;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "backend", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct pimctl pc = { .dev_id = -1 };
	const char *backend = NULL;
	bool verbose = false;
	unsigned int i;
	int c, ret;

	/* '+': stop at the command, whose options are its own. */
	while ((c = getopt_long(argc, argv, "+b:v" PIMCTL_SHORT_OPTS, opts,
				NULL)) != -1) {
		switch (c) {
		case 'b':
			backend = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			if (pimctl_common_opt(&pc, c, optarg))
				break;
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	for (i = 0; i < NCMDS; i++)
		if (!strcmp(argv[optind], cmds[i].name))
			break;
	if (i == NCMDS) {
		fprintf(stderr, "pimctl: unknown command '%s' (see pimctl --help)\n",
			argv[optind]);
		return EX_USAGE;
	}
	ret = open_ctx(&pc, backend);
	if (ret)
		return ret;
	if (verbose)
		pim_set_log_priority(pc.ctx, LOG_DEBUG);
	json_init(&pc.j, stdout);
	argc -= optind;
	argv += optind;
	optind = 0;	/* restart getopt for the command */
	ret = cmds[i].fn(&pc, argc, argv);
	pim_unref(pc.ctx);
	return ret;
}
