// SPDX-License-Identifier: GPL-2.0
/*
 * errors.c - pimd's named D-Bus errors. One table serves both directions:
 * the daemon turns an errno into our name, and clients that register the
 * same map (sd_bus_error_add_map) get the errno back.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pimd.h"

const sd_bus_error_map pimd_error_map[] = {
	SD_BUS_ERROR_MAP(PIMD_ERR "InvalidArgument", EINVAL),
	SD_BUS_ERROR_MAP(PIMD_ERR "NoDevice", ENODEV),
	SD_BUS_ERROR_MAP(PIMD_ERR "NoSuchSession", ESRCH),
	SD_BUS_ERROR_MAP(PIMD_ERR "NoSuchObject", ENOENT),
	SD_BUS_ERROR_MAP(PIMD_ERR "NotOwner", EPERM),
	SD_BUS_ERROR_MAP(PIMD_ERR "NoBuffer", ENODATA),
	SD_BUS_ERROR_MAP(PIMD_ERR "BadBuffer", EBADFD),
	SD_BUS_ERROR_MAP(PIMD_ERR "BufferExists", EEXIST),
	SD_BUS_ERROR_MAP(PIMD_ERR "OutOfRange", ERANGE),
	SD_BUS_ERROR_MAP(PIMD_ERR "TooLarge", E2BIG),
	SD_BUS_ERROR_MAP(PIMD_ERR "TooMany", EMFILE),
	SD_BUS_ERROR_MAP(PIMD_ERR "Busy", EBUSY),
	SD_BUS_ERROR_MAP(PIMD_ERR "NoSpace", ENOSPC),
	SD_BUS_ERROR_MAP(PIMD_ERR "NotConfigured", ENOEXEC),
	SD_BUS_ERROR_MAP(PIMD_ERR "Mismatch", EILSEQ),
	SD_BUS_ERROR_MAP(PIMD_ERR "DeviceFailed", EIO),
	SD_BUS_ERROR_MAP_END
};

int pimd_error(sd_bus_error *error, int err, const char *fmt, ...)
{
	const sd_bus_error_map *e;
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err >= 0)
		err = -EIO;
	for (e = pimd_error_map; e->name; e++)
		if (e->code == -err)
			break;
	if (e->name)
		sd_bus_error_setf(error, e->name, "%s", msg);
	else if (err == -EACCES)
		sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "%s", msg);
	else
		sd_bus_error_setf(error, PIMD_ERR "DeviceFailed", "%s: %s",
				  msg, strerror(-err));
	return err;
}
