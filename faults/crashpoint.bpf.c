// SPDX-License-Identifier: GPL-2.0
/* Kind "crash-point": one program on the chosen syscall's sys_enter tracepoint
 * counts the entries of the target processes (optionally only those about a file
 * under a path prefix) and at the Nth one of each process sends it the signal.
 * The fd-tracking programs keep the fds map (which fds of a target name a file
 * under the prefix) current across open/openat/creat/close. The settings are
 * read-only globals written before load, so the verifier prunes what a fault
 * does not use. */
#include <linux/bpf.h>
#include <linux/types.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>

#include "crashpoint_config.h"

#define AT_FDCWD_VALUE -100

const volatile struct crashpoint_config cp_cfg = {};

/* The sys_enter_* and sys_exit_* records: the same layout for every syscall
 * (see /sys/kernel/tracing/events/syscalls/sys_enter_fsync/format). */
struct sys_enter_record {
	__u64 common;
	__s32 syscall_nr;
	__u32 pad;
	__u64 args[6];
};

struct sys_exit_record {
	__u64 common;
	__s32 syscall_nr;
	__u32 pad;
	__s64 ret;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CRASHPOINT_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct crashpoint_target);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CRASHPOINT_MAX_FDS);
	__type(key, struct crashpoint_fd_key);
	__type(value, __u8);
} fds SEC(".maps");

/* Whether the file an open is about lies under the prefix, from its enter to its
 * exit, per thread (kernel thread id). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CRASHPOINT_MAX_TARGETS);
	__type(key, __u32);
	__type(value, __u8);
} opening SEC(".maps");

struct path_buf {
	char text[CRASHPOINT_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_buf);
} scratch SEC(".maps");

/* ctx->args[i] with i from the settings: the verifier refuses a ctx pointer moved by
 * a register (and clang folds a switch of constant offsets back into one), so the
 * arguments are copied to the stack, where a bounded variable index is fine. Only
 * those the syscall has: attaching fails with EACCES when a program reads past the
 * end of the tracepoint's record (n_args is a constant, the rest is pruned). */
static __always_inline __u64 arg_at(const struct sys_enter_record *ctx, __u8 i)
{
	__u64 args[6] = {};
	if (cp_cfg.n_args > 0)
		args[0] = ctx->args[0];
	if (cp_cfg.n_args > 1)
		args[1] = ctx->args[1];
	if (cp_cfg.n_args > 2)
		args[2] = ctx->args[2];
	if (cp_cfg.n_args > 3)
		args[3] = ctx->args[3];
	if (cp_cfg.n_args > 4)
		args[4] = ctx->args[4];
	if (cp_cfg.n_args > 5)
		args[5] = ctx->args[5];
	return i < 6 ? args[i] : 0;
}

/* The tgid as the agent sees it: pids in /proc and the targets map are those of
 * the agent's pid namespace. 0 when the task is not visible there. */
static __always_inline __u32 current_tgid(void)
{
	if (!cp_cfg.use_pidns)
		return (__u32)(bpf_get_current_pid_tgid() >> 32);
	struct bpf_pidns_info ns;
	if (bpf_get_ns_current_pid_tgid(cp_cfg.pidns_dev, cp_cfg.pidns_ino, &ns, sizeof(ns)))
		return 0;
	return ns.tgid;
}

/* "/a/b" is under "/a" and "/a/b" but not under "/a/bc". */
static __always_inline bool text_under_prefix(const char *text)
{
	for (__u32 i = 0; i < CRASHPOINT_PREFIX_MAX; i++) {
		if (i >= cp_cfg.prefix_len)
			break;
		if (text[i] != cp_cfg.prefix[i])
			return false;
	}
	__u32 end = cp_cfg.prefix_len;
	if (end >= CRASHPOINT_PATH_MAX)
		return false;
	char next = text[end];
	return next == '/' || next == 0;
}

static __always_inline bool fd_under_prefix(__u32 tgid, __s64 fd)
{
	struct crashpoint_fd_key key = { .tgid = tgid, .fd = (__s32)fd };
	return bpf_map_lookup_elem(&fds, &key) != NULL;
}

/* An absolute path is compared as written (no symlinks or ".." resolved); a
 * relative one counts when its directory does: the dirfd's file, or the cwd the
 * process had at apply. */
static __always_inline bool path_under_prefix(const char *user_path, bool has_dirfd, __s64 dirfd, __u32 tgid,
					      const struct crashpoint_target *t)
{
	__u32 zero = 0;
	struct path_buf *buf = bpf_map_lookup_elem(&scratch, &zero);
	if (!buf || !user_path)
		return false;
	if (bpf_probe_read_user_str(buf->text, sizeof(buf->text), user_path) <= 0)
		return false;
	if (buf->text[0] == '/')
		return text_under_prefix(buf->text);
	if (has_dirfd && (__s32)dirfd != AT_FDCWD_VALUE)
		return fd_under_prefix(tgid, (__s32)dirfd);
	return t->cwd_under_prefix;
}

static __always_inline bool arg_path_matches(const struct sys_enter_record *ctx, int i, __u32 tgid,
					     const struct crashpoint_target *t)
{
	__u8 path_arg = cp_cfg.path_arg[i], dirfd_arg = cp_cfg.dirfd_arg[i];
	if (path_arg >= 6)
		return false;
	bool has_dirfd = dirfd_arg < 6;
	__s64 dirfd = has_dirfd ? (__s64)arg_at(ctx, dirfd_arg) : AT_FDCWD_VALUE;
	return path_under_prefix((const char *)arg_at(ctx, path_arg), has_dirfd, dirfd, tgid, t);
}

static __always_inline bool call_matches(const struct sys_enter_record *ctx, __u32 tgid,
					 const struct crashpoint_target *t)
{
	if (!cp_cfg.filter_path)
		return true;
	if (cp_cfg.arg_kind == CRASHPOINT_ARGS_FD)
		return cp_cfg.path_arg[0] < 6 && fd_under_prefix(tgid, (__s32)arg_at(ctx, cp_cfg.path_arg[0]));
	if (cp_cfg.arg_kind == CRASHPOINT_ARGS_PATH)
		return arg_path_matches(ctx, 0, tgid, t) || arg_path_matches(ctx, 1, tgid, t);
	return false;
}

SEC("tp")
int crashpoint_enter(struct sys_enter_record *ctx)
{
	__u32 tgid = current_tgid();
	if (!tgid)
		return 0;
	struct crashpoint_target *t = bpf_map_lookup_elem(&targets, &tgid);
	if (!t || !call_matches(ctx, tgid, t))
		return 0;
	/* One thread's entry is the Nth even when several threads race here. */
	__u64 seen = __sync_fetch_and_add(&t->calls, 1) + 1;
	if (seen != cp_cfg.nth)
		return 0;
	/* The whole process gets it; the syscall itself still runs (a tracepoint
	 * cannot stop it) and the signal is acted on before it returns to user space. */
	t->send_error = (__s32)bpf_send_signal((__u32)cp_cfg.signal);
	t->fired = 1;
	return 0;
}

/* --- the fd table, for fd-argument syscalls and dirfds ------------------------- */

static __always_inline void remember_open(const char *user_path, bool has_dirfd, __s64 dirfd)
{
	__u32 tgid = current_tgid();
	if (!tgid)
		return;
	struct crashpoint_target *t = bpf_map_lookup_elem(&targets, &tgid);
	if (!t)
		return;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u8 under = path_under_prefix(user_path, has_dirfd, dirfd, tgid, t);
	bpf_map_update_elem(&opening, &tid, &under, BPF_ANY);
}

/* open(path, ...), creat(path, ...) */
SEC("tp")
int crashpoint_track_open(struct sys_enter_record *ctx)
{
	remember_open((const char *)ctx->args[0], false, AT_FDCWD_VALUE);
	return 0;
}

/* openat(dirfd, path, ...), openat2(dirfd, path, ...) */
SEC("tp")
int crashpoint_track_openat(struct sys_enter_record *ctx)
{
	remember_open((const char *)ctx->args[1], true, (__s64)ctx->args[0]);
	return 0;
}

SEC("tp")
int crashpoint_track_open_exit(struct sys_exit_record *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u8 *under = bpf_map_lookup_elem(&opening, &tid);
	if (!under)
		return 0;
	__u8 value = *under;
	bpf_map_delete_elem(&opening, &tid);
	if (ctx->ret < 0)
		return 0;
	struct crashpoint_fd_key key = { .tgid = current_tgid(), .fd = (__s32)ctx->ret };
	if (value)
		bpf_map_update_elem(&fds, &key, &value, BPF_ANY);
	else
		bpf_map_delete_elem(&fds, &key);   /* the number named another file before */
	return 0;
}

SEC("tp")
int crashpoint_track_close(struct sys_enter_record *ctx)
{
	__u32 tgid = current_tgid();
	if (!tgid || !bpf_map_lookup_elem(&targets, &tgid))
		return 0;
	struct crashpoint_fd_key key = { .tgid = tgid, .fd = (__s32)ctx->args[0] };
	bpf_map_delete_elem(&fds, &key);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
