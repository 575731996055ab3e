// SPDX-License-Identifier: GPL-2.0
/*
 * main.c - pimd: owns the PIM devices, runs the adaptive GPU-PIM
 * scheduler and serves attention jobs and decode work over D-Bus.
 *
 * Start-up order (ratbagd, timedated): signals blocked and given to
 * sd-event, watchdog, udev monitor, first scan, bus objects, the event
 * loop attached, and the name requested last, so a client that sees the
 * name finds everything in place.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libudev.h>

#include "pimd.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pimd [--system | --user] [--backend kernel|inproc]\n"
		"\n"
		"Serves the PIM devices on D-Bus as " PIMD_BUS_NAME ".\n"
		"\n"
		"  --system          the system bus (default)\n"
		"  --user            the session bus of the caller (tests)\n"
		"  --backend NAME    kernel: /dev/pimN (default); inproc: the\n"
		"                    device model inside pimd\n"
		"  --version         print the version and exit\n");
}

static int parse_args(struct pimd *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "system", no_argument, NULL, 's' },
		{ "user", no_argument, NULL, 'u' },
		{ "backend", required_argument, NULL, 'b' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	d->ctx_flags = PIM_CTX_KERNEL;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			d->user_bus = false;
			break;
		case 'u':
			d->user_bus = true;
			break;
		case 'b':
			if (!strcmp(optarg, "kernel")) {
				d->ctx_flags = PIM_CTX_KERNEL;
			} else if (!strcmp(optarg, "inproc")) {
				d->ctx_flags = PIM_CTX_INPROC;
			} else {
				fprintf(stderr,
					"pimd: unknown backend \"%s\"\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'V':
			printf("pimd %s (D-Bus API %d)\n", PIMD_VERSION,
			       PIMD_API_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

static int bus_start(struct pimd *d)
{
	int ret;

	ret = d->user_bus ? sd_bus_open_user(&d->bus) :
			    sd_bus_open_system(&d->bus);
	if (ret < 0) {
		fprintf(stderr, "pimd: cannot connect to the %s bus: %s\n",
			d->user_bus ? "session" : "system", strerror(-ret));
		return ret;
	}
	ret = sd_bus_error_add_map(pimd_error_map);
	ret = ret < 0 ? ret : pimd_manager_register(d);
	ret = ret < 0 ? ret : pimd_session_register(d);
	ret = ret < 0 ? ret : sd_bus_add_object_manager(d->bus, NULL,
							PIMD_PATH);
	ret = ret < 0 ? ret : sd_bus_attach_event(d->bus, d->event, 0);
	if (ret < 0) {
		fprintf(stderr, "pimd: bus objects: %s\n", strerror(-ret));
		return ret;
	}
	ret = sd_bus_request_name(d->bus, PIMD_BUS_NAME, 0);
	if (ret < 0)
		fprintf(stderr, "pimd: cannot own %s: %s\n", PIMD_BUS_NAME,
			strerror(-ret));
	return ret;
}

int main(int argc, char **argv)
{
	struct pimd d = { .pim_gid = (gid_t)-1 };
	struct group *gr;
	sigset_t ss;
	int ret;

	if (parse_args(&d, argc, argv))
		return 2;
	d.uid = geteuid();
	gr = getgrnam("pim");
	if (gr)
		d.pim_gid = gr->gr_gid;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);

	ret = sd_event_default(&d.event);
	ret = ret < 0 ? ret : sd_event_set_watchdog(d.event, true);
	ret = ret < 0 ? ret : sd_event_add_signal(d.event, NULL, SIGTERM,
						  NULL, NULL);
	ret = ret < 0 ? ret : sd_event_add_signal(d.event, NULL, SIGINT,
						  NULL, NULL);
	if (ret < 0) {
		fprintf(stderr, "pimd: event loop: %s\n", strerror(-ret));
		goto out;
	}
	if (d.ctx_flags == PIM_CTX_KERNEL) {
		ret = pimd_udev_start(&d);
		if (ret < 0) {
			fprintf(stderr, "pimd: udev monitor: %s\n",
				strerror(-ret));
			goto out;
		}
	}
	ret = pimd_rescan(&d);
	if (ret) {
		fprintf(stderr, "pimd: %s backend: %s\n",
			d.ctx_flags == PIM_CTX_KERNEL ? "kernel" : "in-process",
			strerror(-ret));
		goto out;
	}
	ret = bus_start(&d);
	if (ret < 0)
		goto out;
	fprintf(stderr, "pimd: serving %s on the %s bus\n", PIMD_BUS_NAME,
		d.user_bus ? "session" : "system");
	ret = sd_event_loop(d.event);
	if (ret < 0)
		fprintf(stderr, "pimd: event loop: %s\n", strerror(-ret));
out:
	pimd_sessions_close_all(&d);
	d.bus = sd_bus_flush_close_unref(d.bus);
	pimd_udev_stop(&d);
	pim_unref(d.ctx);
	sd_event_unref(d.event);
	return ret < 0 ? 1 : 0;
}
