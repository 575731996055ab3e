/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pimd.h - state shared by the parts of pimd: the daemon object, sessions,
 * the serving loop, and the bus names (docs/daemon.md is the reference).
 */
#ifndef PIMD_H
#define PIMD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <libpim.h>

#define PIMD_BUS_NAME		"org.l3pim.Pim1"
#define PIMD_PATH		"/org/l3pim/Pim1"
#define PIMD_DEVICE_PATH	PIMD_PATH "/device"
#define PIMD_SESSION_PATH	PIMD_PATH "/session"
#define PIMD_IFACE_MANAGER	"org.l3pim.Pim1.Manager"
#define PIMD_IFACE_DEVICE	"org.l3pim.Pim1.Device"
#define PIMD_IFACE_SESSION	"org.l3pim.Pim1.Session"
#define PIMD_API_VERSION	1
#define PIMD_VERSION		"1.0.0"

/* Limits that keep one client from taking the daemon down. */
#define PIMD_MAX_SESSIONS	256
#define PIMD_MAX_CACHES		256	/* per session */
#define PIMD_MAX_JOBS		4096	/* per Attend call */
#define PIMD_QUEUE_DEPTH	16	/* Attend calls in flight */
#define PIMD_BUF_MIN		4096
#define PIMD_BUF_MAX		(1ULL << 30)

struct session;
struct serve;

struct pimd_stats {
	uint64_t sessions;	/* created since start */
	uint64_t jobs;		/* attention jobs completed */
	uint64_t jobs_failed;
	uint64_t kv_bytes;	/* KV appended through sessions */
	uint64_t device_ns;	/* modeled device time of all of it */
	uint64_t iterations;	/* serving iterations run */
	uint64_t tokens;	/* tokens generated */
};

struct pimd {
	sd_event *event;
	sd_bus *bus;
	bool user_bus;
	unsigned int ctx_flags;		/* PIM_CTX_KERNEL or _INPROC */
	struct pim_ctx *ctx;		/* the devices as last seen */
	struct udev *udev;
	struct udev_monitor *monitor;
	sd_event_source *monitor_src;
	uid_t uid;			/* the daemon's own */
	gid_t pim_gid;			/* group "pim", or (gid_t)-1 */
	struct session *sessions;
	unsigned int nr_sessions;
	uint64_t next_session;
	struct pimd_stats stats;
};

/* errors.c */
#define PIMD_ERR		"org.l3pim.Pim1.Error."
extern const sd_bus_error_map pimd_error_map[];
/* Set error to our name for -err (or a generic one); returns err. */
int pimd_error(sd_bus_error *error, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* manager.c */
int pimd_manager_register(struct pimd *d);
int pimd_devices_changed(struct pimd *d);
/* 0 when the caller may use privileged methods, else -EACCES. */
int pimd_check_privileged(struct pimd *d, sd_bus_message *m);
int pimd_check_member(struct pimd *d, sd_bus_message *m);

/* udev.c */
int pimd_udev_start(struct pimd *d);
void pimd_udev_stop(struct pimd *d);
int pimd_rescan(struct pimd *d);

/* session.c */
int pimd_session_register(struct pimd *d);
int session_new(struct pimd *d, sd_bus_message *m, struct pim_dev *dev,
		struct session **out);
struct session *session_find_path(struct pimd *d, const char *path);
const char *session_path(struct session *s);
const char *session_owner(struct session *s);
void session_close(struct session *s);
void pimd_sessions_close_all(struct pimd *d);

#endif /* PIMD_H */
