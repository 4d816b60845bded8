/* Shared by the test drivers (packet-driver, qdisc-driver): they act on a namespace
 * that the calling test created with `ip netns add`. */
#pragma once
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Moves the calling thread into the named network namespace (/run/netns/NAME). */
static inline int driver_enter_netns(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_err(-errno, "open %s: %s", path, strerror(errno));
	int r = setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return log_err(r, "setns %s: %s", name, strerror(-r));
	return 0;
}
