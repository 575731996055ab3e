/* SPDX-License-Identifier: GPL-2.0 */
/*
 * client.h - small sd-bus helpers for the pimd tests and the demo client:
 * calls with printf-like signatures, a sealed memfd for a session's
 * buffer, and waiting for the daemon's name.
 */
#ifndef TESTS_DAEMON_CLIENT_H
#define TESTS_DAEMON_CLIENT_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-bus.h>

#define PIM_BUS		"org.l3pim.Pim1"
#define PIM_PATH	"/org/l3pim/Pim1"
#define PIM_MANAGER	"org.l3pim.Pim1.Manager"
#define PIM_SESSION	"org.l3pim.Pim1.Session"
#define PIM_SERVING	"org.l3pim.Pim1.Serving"
#define PIM_ERR(x)	"org.l3pim.Pim1.Error." x

/* The session bus when $DBUS_SESSION_BUS_ADDRESS is set, else the system's. */
static inline int client_open(sd_bus **bus)
{
	if (getenv("DBUS_SESSION_BUS_ADDRESS"))
		return sd_bus_open_user(bus);
	return sd_bus_open_system(bus);
}

/*
 * Call iface.method on path. On failure the D-Bus error is left in *e
 * (which the caller frees); reply may be NULL.
 */
static inline int client_callv(sd_bus *bus, const char *path,
			       const char *iface, const char *method,
			       sd_bus_error *e, sd_bus_message **reply,
			       const char *types, va_list ap)
{
	sd_bus_message *m = NULL;
	int ret;

	ret = sd_bus_message_new_method_call(bus, &m, PIM_BUS, path, iface,
					     method);
	if (ret >= 0 && types && *types)
		ret = sd_bus_message_appendv(m, types, ap);
	if (ret >= 0)
		ret = sd_bus_call(bus, m, 60 * 1000000ULL, e, reply);
	sd_bus_message_unref(m);
	return ret;
}

static inline int client_call(sd_bus *bus, const char *path,
			      const char *iface, const char *method,
			      sd_bus_error *e, sd_bus_message **reply,
			      const char *types, ...)
{
	va_list ap;
	int ret;

	va_start(ap, types);
	ret = client_callv(bus, path, iface, method, e, reply, types, ap);
	va_end(ap);
	return ret;
}

/* A memfd of size bytes, sealed against shrinking, mapped read-write. */
static inline int client_memfd(size_t size, void **map)
{
	int fd = memfd_create("pim-buffer", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size) || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK)) {
		close(fd);
		return -errno;
	}
	*map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*map == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* Wait up to sec seconds for pimd to own its name. */
static inline int client_wait_name(sd_bus *bus, int sec)
{
	int i, ret = -ETIMEDOUT;

	for (i = 0; i < sec * 10; i++) {
		sd_bus_message *r = NULL;
		int has = 0;

		ret = sd_bus_call_method(bus, "org.freedesktop.DBus",
					 "/org/freedesktop/DBus",
					 "org.freedesktop.DBus", "NameHasOwner",
					 NULL, &r, "s", PIM_BUS);
		if (ret >= 0)
			ret = sd_bus_message_read(r, "b", &has);
		sd_bus_message_unref(r);
		if (ret >= 0 && has)
			return 0;
		usleep(100000);
	}
	return ret < 0 ? ret : -ETIMEDOUT;
}

static inline double client_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#endif /* TESTS_DAEMON_CLIENT_H */
