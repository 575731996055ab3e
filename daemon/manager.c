// SPDX-License-Identifier: GPL-2.0
/*
 * manager.c - /org/l3pim/Pim1 (org.l3pim.Pim1.Manager): version, devices,
 * statistics, sessions; and one object per device under
 * /org/l3pim/Pim1/device/NAME (org.l3pim.Pim1.Device).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pimd.h"

static int sender_creds(sd_bus_message *m, uid_t *uid, gid_t *gid,
			const gid_t **gids, int *ngids, sd_bus_creds **c)
{
	int ret;

	ret = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID |
					SD_BUS_CREDS_EGID |
					SD_BUS_CREDS_SUPPLEMENTARY_GIDS |
					SD_BUS_CREDS_AUGMENT, c);
	ret = ret < 0 ? ret : sd_bus_creds_get_euid(*c, uid);
	ret = ret < 0 ? ret : sd_bus_creds_get_egid(*c, gid);
	if (ret < 0)
		return ret;
	*ngids = sd_bus_creds_get_supplementary_gids(*c, gids);
	if (*ngids < 0)
		*ngids = 0;
	return 0;
}

/* root, or the daemon's own user (a --user bus). */
int pimd_check_privileged(struct pimd *d, sd_bus_message *m)
{
	sd_bus_creds *c = NULL;
	const gid_t *gids;
	uid_t uid;
	gid_t gid;
	int n, ret;

	ret = sender_creds(m, &uid, &gid, &gids, &n, &c);
	if (!ret && uid != 0 && uid != d->uid)
		ret = -EACCES;
	sd_bus_creds_unref(c);
	return ret;
}

/* Privileged, or a member of group pim: who may use the devices. */
int pimd_check_member(struct pimd *d, sd_bus_message *m)
{
	sd_bus_creds *c = NULL;
	const gid_t *gids;
	uid_t uid;
	gid_t gid;
	int i, n, ret;

	ret = sender_creds(m, &uid, &gid, &gids, &n, &c);
	if (ret)
		goto out;
	ret = -EACCES;
	if (uid == 0 || uid == d->uid)
		ret = 0;
	else if (d->pim_gid != (gid_t)-1 && gid == d->pim_gid)
		ret = 0;
	for (i = 0; i < n && ret && d->pim_gid != (gid_t)-1; i++)
		if (gids[i] == d->pim_gid)
			ret = 0;
out:
	sd_bus_creds_unref(c);
	return ret;
}

static int append_devices(struct pimd *d, sd_bus_message *reply)
{
	struct pim_dev *dev;
	char path[128];
	int ret;

	ret = sd_bus_message_open_container(reply, 'a', "o");
	pim_dev_foreach(d->ctx, dev) {
		if (ret < 0)
			break;
		snprintf(path, sizeof(path), PIMD_DEVICE_PATH "/%s",
			 pim_dev_get_devname(dev));
		ret = sd_bus_message_append(reply, "o", path);
	}
	return ret < 0 ? ret : sd_bus_message_close_container(reply);
}

static int method_list_devices(sd_bus_message *m, void *userdata,
			       sd_bus_error *error)
{
	sd_bus_message *reply = NULL;
	int ret;

	ret = sd_bus_message_new_method_return(m, &reply);
	ret = ret < 0 ? ret : append_devices(userdata, reply);
	ret = ret < 0 ? ret : sd_bus_send(NULL, reply, NULL);
	sd_bus_message_unref(reply);
	return ret;
}

static int method_create_session(sd_bus_message *m, void *userdata,
				 sd_bus_error *error)
{
	struct pimd *d = userdata;
	struct pim_dev *dev = NULL;
	struct session *s;
	const char *name;
	int ret;

	ret = sd_bus_message_read(m, "s", &name);
	if (ret < 0)
		return ret;
	if (pimd_check_member(d, m))
		return pimd_error(error, -EACCES,
				  "sessions are for root and group pim");
	if (!*name) {
		dev = pim_dev_get_first(d->ctx);
	} else {
		pim_dev_foreach(d->ctx, dev)
			if (!strcmp(pim_dev_get_devname(dev), name))
				break;
	}
	if (!dev)
		return pimd_error(error, -ENODEV, "no device \"%s\"", name);
	ret = session_new(d, m, dev, &s);
	if (ret)
		return pimd_error(error, ret, "new session");
	return sd_bus_reply_method_return(m, "o", session_path(s));
}

static int method_close_session(sd_bus_message *m, void *userdata,
				sd_bus_error *error)
{
	struct pimd *d = userdata;
	const char *path, *sender = sd_bus_message_get_sender(m);
	struct session *s;
	int ret;

	ret = sd_bus_message_read(m, "o", &path);
	if (ret < 0)
		return ret;
	s = session_find_path(d, path);
	if (!s)
		return pimd_error(error, -ESRCH, "no session %s", path);
	if ((!sender || strcmp(sender, session_owner(s))) &&
	    pimd_check_privileged(d, m))
		return pimd_error(error, -EACCES,
				  "%s belongs to %s: only it or root may close it",
				  path, session_owner(s));
	session_close(s);
	return sd_bus_reply_method_return(m, NULL);
}

static int method_get_stats(sd_bus_message *m, void *userdata,
			    sd_bus_error *error)
{
	struct pimd *d = userdata;
	const struct pimd_stats *st = &d->stats;
	sd_bus_message *reply = NULL;
	int ret;

	ret = sd_bus_message_new_method_return(m, &reply);
	ret = ret < 0 ? ret : sd_bus_message_append(reply, "a{st}", 8,
			"sessions", (uint64_t)d->nr_sessions,
			"sessions_created", st->sessions,
			"jobs", st->jobs,
			"jobs_failed", st->jobs_failed,
			"kv_bytes", st->kv_bytes,
			"device_ns", st->device_ns,
			"iterations", st->iterations,
			"tokens", st->tokens);
	ret = ret < 0 ? ret : sd_bus_send(NULL, reply, NULL);
	sd_bus_message_unref(reply);
	return ret;
}

static int prop_get(sd_bus *bus, const char *path, const char *iface,
		    const char *prop, sd_bus_message *reply, void *userdata,
		    sd_bus_error *error)
{
	struct pimd *d = userdata;

	if (!strcmp(prop, "Version"))
		return sd_bus_message_append(reply, "s", PIMD_VERSION);
	if (!strcmp(prop, "APIVersion"))
		return sd_bus_message_append(reply, "u", PIMD_API_VERSION);
	if (!strcmp(prop, "Backend"))
		return sd_bus_message_append(reply, "s",
					     pim_get_backend_name(d->ctx));
	if (!strcmp(prop, "Sessions"))
		return sd_bus_message_append(reply, "u", d->nr_sessions);
	return append_devices(d, reply);
}

static const sd_bus_vtable manager_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Version", "s", prop_get, 0,
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("APIVersion", "u", prop_get, 0,
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Backend", "s", prop_get, 0,
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Devices", "ao", prop_get, 0,
			SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Sessions", "u", prop_get, 0, 0),
	SD_BUS_METHOD_WITH_ARGS("ListDevices", SD_BUS_NO_ARGS,
				SD_BUS_RESULT("ao", devices),
				method_list_devices,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetStats", SD_BUS_NO_ARGS,
				SD_BUS_RESULT("a{st}", stats),
				method_get_stats, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("CreateSession", SD_BUS_ARGS("s", device),
				SD_BUS_RESULT("o", session),
				method_create_session,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("CloseSession", SD_BUS_ARGS("o", session),
				SD_BUS_NO_RESULT, method_close_session,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END
};

/* ---- devices ---- */

static int device_find(sd_bus *bus, const char *path, const char *iface,
		       void *userdata, void **found, sd_bus_error *error)
{
	struct pimd *d = userdata;
	const char *name = path + strlen(PIMD_DEVICE_PATH "/");
	struct pim_dev *dev;

	if (strncmp(path, PIMD_DEVICE_PATH "/", strlen(PIMD_DEVICE_PATH "/")))
		return 0;
	pim_dev_foreach(d->ctx, dev) {
		if (!strcmp(pim_dev_get_devname(dev), name)) {
			*found = dev;
			return 1;
		}
	}
	return 0;
}

static int device_enumerate(sd_bus *bus, const char *path, void *userdata,
			    char ***nodes, sd_bus_error *error)
{
	struct pimd *d = userdata;
	struct pim_dev *dev;
	size_t n = 0;
	char **v;

	pim_dev_foreach(d->ctx, dev)
		n++;
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	n = 0;
	pim_dev_foreach(d->ctx, dev) {
		if (asprintf(&v[n], PIMD_DEVICE_PATH "/%s",
			     pim_dev_get_devname(dev)) < 0) {
			v[n] = NULL;
			while (n--)
				free(v[n]);
			free(v);
			return -ENOMEM;
		}
		n++;
	}
	*nodes = v;
	return 0;
}

static int dev_prop(sd_bus *bus, const char *path, const char *iface,
		    const char *prop, sd_bus_message *reply, void *userdata,
		    sd_bus_error *error)
{
	struct pim_dev *dev = userdata;
	const struct pim_geometry *g = pim_dev_get_geometry(dev);
	struct pim_dev_stats st = { 0 };

	if (!strcmp(prop, "Name"))
		return sd_bus_message_append(reply, "s",
					     pim_dev_get_devname(dev));
	if (!strcmp(prop, "DevNode"))
		return sd_bus_message_append(reply, "s",
					     pim_dev_get_devnode(dev) ?: "");
	if (!strcmp(prop, "Backing"))
		return sd_bus_message_append(reply, "s",
					     pim_dev_get_backing(dev) ?: "");
	if (!strcmp(prop, "Channels"))
		return sd_bus_message_append(reply, "u", g->channels);
	if (!strcmp(prop, "Ranks"))
		return sd_bus_message_append(reply, "u", g->channels *
					     g->dimms_per_channel *
					     g->ranks_per_dimm);
	if (!strcmp(prop, "Ranksets"))
		return sd_bus_message_append(reply, "u", g->ranksets);
	if (!strcmp(prop, "Features"))
		return sd_bus_message_append(reply, "t",
					     pim_dev_get_features(dev));
	if (pim_dev_get_stats(dev, &st))
		return pimd_error(error, -EIO, "statistics of %s",
				  pim_dev_get_devname(dev));
	if (!strcmp(prop, "Capacity"))
		return sd_bus_message_append(reply, "t", st.capacity);
	if (!strcmp(prop, "Free"))
		return sd_bus_message_append(reply, "t", st.free);
	if (!strcmp(prop, "Commands"))
		return sd_bus_message_append(reply, "t", st.commands);
	return sd_bus_message_append(reply, "t", st.device_ns);
}

static const sd_bus_vtable device_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Name", "s", dev_prop, 0,
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("DevNode", "s", dev_prop, 0,
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Backing", "s", dev_prop, 0,
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Channels", "u", dev_prop, 0,
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Ranks", "u", dev_prop, 0,
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Ranksets", "u", dev_prop, 0,
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Features", "t", dev_prop, 0,
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Capacity", "t", dev_prop, 0,
			SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Free", "t", dev_prop, 0, 0),
	SD_BUS_PROPERTY("Commands", "t", dev_prop, 0, 0),
	SD_BUS_PROPERTY("DeviceTime", "t", dev_prop, 0, 0),
	SD_BUS_VTABLE_END
};

int pimd_devices_changed(struct pimd *d)
{
	return sd_bus_emit_properties_changed(d->bus, PIMD_PATH,
					      PIMD_IFACE_MANAGER, "Devices",
					      NULL);
}

int pimd_manager_register(struct pimd *d)
{
	int ret;

	ret = sd_bus_add_object_vtable(d->bus, NULL, PIMD_PATH,
				       PIMD_IFACE_MANAGER, manager_vtable, d);
	ret = ret < 0 ? ret :
		sd_bus_add_fallback_vtable(d->bus, NULL, PIMD_DEVICE_PATH,
					   PIMD_IFACE_DEVICE, device_vtable,
					   device_find, d);
	return ret < 0 ? ret :
		sd_bus_add_node_enumerator(d->bus, NULL, PIMD_DEVICE_PATH,
					   device_enumerate, d);
}
