/* Settings and map layouts of the crash-point programs (faults/crashpoint.bpf.c),
 * one layout for the BPF side and user space (faults/crashpoint.c). Only
 * fixed-width kernel types: compiled by clang -target bpf and the host compiler. */
#pragma once
#include <linux/types.h>

/* The prefix and the paths compared with it; longer paths are cut here and then
 * compared on what fits (the prefix always fits: parse refuses longer ones). */
#define CRASHPOINT_PATH_MAX 256
#define CRASHPOINT_PREFIX_MAX 200
#define CRASHPOINT_MAX_TARGETS 4096
#define CRASHPOINT_MAX_FDS 16384       /* preallocated: about 1 MiB, only when path_prefix needs it */

/* What a syscall's arguments say about a file. */
enum crashpoint_arg_kind {
	CRASHPOINT_ARGS_NONE = 0,   /* no file (sync, connect, ...): path_prefix refused */
	CRASHPOINT_ARGS_PATH = 1,   /* path arguments (and dirfds for the *at calls) */
	CRASHPOINT_ARGS_FD = 2,     /* a file descriptor argument */
};

#define CRASHPOINT_NO_ARG 0xff

struct crashpoint_config {
	__u64 nth;                  /* fire at this matching entry of each target (1 = the first) */
	__s32 signal;
	__u8 filter_path;           /* path_prefix given */
	__u8 arg_kind;              /* enum crashpoint_arg_kind of the chosen syscall */
	/* PATH: up to two paths (rename's old and new name); either under the prefix
	 * makes the call count. dirfd_arg: the *at calls' directory fd argument
	 * (CRASHPOINT_NO_ARG: relative to the cwd). FD: path_arg[0] is the fd argument. */
	__u8 path_arg[2];
	__u8 dirfd_arg[2];
	__u8 use_pidns;             /* the agent is not in the initial pid namespace */
	__u8 n_args;                /* arguments the program reads: 1 + the highest index used */
	__u32 prefix_len;           /* without a trailing '/' ("/" itself: 0) */
	__u64 pidns_dev;
	__u64 pidns_ino;
	char prefix[CRASHPOINT_PREFIX_MAX + 1];
};

/* targets map value, per target tgid (in the agent's pid namespace). */
struct crashpoint_target {
	__u64 calls;                /* matching entries seen */
	__u32 fired;                /* 1 once the signal went out */
	__s32 send_error;           /* bpf_send_signal's error, 0 if it worked */
	__u8 cwd_under_prefix;      /* relative paths count (the cwd at apply was under the prefix) */
	__u8 pad[7];
};

/* fds map key: a target's file descriptors that name a file under the prefix. */
struct crashpoint_fd_key {
	__u32 tgid;
	__s32 fd;
};
