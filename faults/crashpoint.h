/* Kind "crash-point" (family "crashpoint"): the syscalls it can stop a process
 * at, and what their arguments say about a file (for path_prefix). */
#pragma once
#include "faults/crashpoint_config.h"

#include <stddef.h>
#include <stdint.h>

struct crashpoint_syscall {
	const char *name;            /* as in the tracepoint sys_enter_<name> */
	enum crashpoint_arg_kind args;
	/* PATH: argument indexes of up to two paths and of their dirfds
	 * (CRASHPOINT_NO_ARG when absent); FD: path_arg[0] is the fd argument. */
	uint8_t path_arg[2];
	uint8_t dirfd_arg[2];
};

/* The table, in the order the docs list it. */
const struct crashpoint_syscall *crashpoint_syscalls(size_t *n);
/* NULL when `name` is not in the table. */
const struct crashpoint_syscall *crashpoint_syscall_find(const char *name);

/* Normalizes an absolute path prefix for the BPF comparison: "/" stays "/",
 * trailing slashes go ("/data/" -> "/data"). -EINVAL when not absolute or
 * empty, -ENAMETOOLONG when longer than CRASHPOINT_PREFIX_MAX. */
int crashpoint_prefix_normalize(const char *in, char *out, size_t len);
/* The same rule as the BPF side: `path` is `prefix` or lies below it. */
int crashpoint_path_under(const char *path, const char *prefix);
