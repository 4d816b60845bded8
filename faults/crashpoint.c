/* Kind "crash-point" (family "crashpoint", docs/draft/crashpoint.md): the target
 * processes get a signal (SIGKILL by default) at their Nth entry into one
 * syscall, optionally counting only calls about files under a path prefix.
 * One program on tp/syscalls/sys_enter_<syscall> (faults/crashpoint.bpf.c),
 * attached with BPF links: the kernel detaches them when the agent's last fd
 * closes, so a dead agent leaves no program behind. What does outlive the
 * agent is a process the fault stopped (action "stop"): the record and a state
 * file written before the program is attached name the targets, and recover()
 * and the sweep resume those still stopped. */
#include "faults/crashpoint.h"
#include "faults/crashpoint.skel.h"
#include "faults/process.h"
#include "faults/target.h"

#include "common/log.h"
#include "common/statefile.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define CRASHPOINT_STATE_SUBDIR "crashpoint"
#define CRASHPOINT_MAX_EXCLUDE 64
#define CRASHPOINT_MAX_LINKS 12
#define TRACEFS_DIR "/sys/kernel/tracing"
#define DEBUGFS_TRACING_DIR "/sys/kernel/debug/tracing"
/* The inode of the initial pid namespace (PROC_PID_INIT_INO in the kernel). */
#define INIT_PIDNS_INO 0xEFFFFFFCu

#define N CRASHPOINT_NO_ARG
static const struct crashpoint_syscall syscall_table[] = {
	{ "fsync", CRASHPOINT_ARGS_FD, { 0, N }, { N, N } },
	{ "fdatasync", CRASHPOINT_ARGS_FD, { 0, N }, { N, N } },
	{ "sync_file_range", CRASHPOINT_ARGS_FD, { 0, N }, { N, N } },
	{ "syncfs", CRASHPOINT_ARGS_FD, { 0, N }, { N, N } },
	{ "sync", CRASHPOINT_ARGS_NONE, { N, N }, { N, N } },
	{ "msync", CRASHPOINT_ARGS_NONE, { N, N }, { N, N } },
	{ "write", CRASHPOINT_ARGS_FD, { 0, N }, { N, N } },
	{ "pwrite64", CRASHPOINT_ARGS_FD, { 0, N }, { N, N } },
	{ "writev", CRASHPOINT_ARGS_FD, { 0, N }, { N, N } },
	{ "pwritev", CRASHPOINT_ARGS_FD, { 0, N }, { N, N } },
	{ "pwritev2", CRASHPOINT_ARGS_FD, { 0, N }, { N, N } },
	{ "read", CRASHPOINT_ARGS_FD, { 0, N }, { N, N } },
	{ "pread64", CRASHPOINT_ARGS_FD, { 0, N }, { N, N } },
	{ "readv", CRASHPOINT_ARGS_FD, { 0, N }, { N, N } },
	{ "preadv", CRASHPOINT_ARGS_FD, { 0, N }, { N, N } },
	{ "fallocate", CRASHPOINT_ARGS_FD, { 0, N }, { N, N } },
	{ "ftruncate", CRASHPOINT_ARGS_FD, { 0, N }, { N, N } },
	{ "close", CRASHPOINT_ARGS_FD, { 0, N }, { N, N } },
	{ "truncate", CRASHPOINT_ARGS_PATH, { 0, N }, { N, N } },
	{ "open", CRASHPOINT_ARGS_PATH, { 0, N }, { N, N } },
	{ "creat", CRASHPOINT_ARGS_PATH, { 0, N }, { N, N } },
	{ "openat", CRASHPOINT_ARGS_PATH, { 1, N }, { 0, N } },
	{ "openat2", CRASHPOINT_ARGS_PATH, { 1, N }, { 0, N } },
	{ "rename", CRASHPOINT_ARGS_PATH, { 0, 1 }, { N, N } },
	{ "renameat", CRASHPOINT_ARGS_PATH, { 1, 3 }, { 0, 2 } },
	{ "renameat2", CRASHPOINT_ARGS_PATH, { 1, 3 }, { 0, 2 } },
	{ "unlink", CRASHPOINT_ARGS_PATH, { 0, N }, { N, N } },
	{ "unlinkat", CRASHPOINT_ARGS_PATH, { 1, N }, { 0, N } },
	{ "mkdir", CRASHPOINT_ARGS_PATH, { 0, N }, { N, N } },
	{ "mkdirat", CRASHPOINT_ARGS_PATH, { 1, N }, { 0, N } },
	{ "rmdir", CRASHPOINT_ARGS_PATH, { 0, N }, { N, N } },
	{ "link", CRASHPOINT_ARGS_PATH, { 0, 1 }, { N, N } },
	{ "linkat", CRASHPOINT_ARGS_PATH, { 1, 3 }, { 0, 2 } },
	{ "symlink", CRASHPOINT_ARGS_PATH, { 1, N }, { N, N } },
	{ "connect", CRASHPOINT_ARGS_NONE, { N, N }, { N, N } },
	{ "accept4", CRASHPOINT_ARGS_NONE, { N, N }, { N, N } },
	{ "sendto", CRASHPOINT_ARGS_NONE, { N, N }, { N, N } },
	{ "sendmsg", CRASHPOINT_ARGS_NONE, { N, N }, { N, N } },
	{ "recvfrom", CRASHPOINT_ARGS_NONE, { N, N }, { N, N } },
	{ "recvmsg", CRASHPOINT_ARGS_NONE, { N, N }, { N, N } },
};
#undef N

const struct crashpoint_syscall *crashpoint_syscalls(size_t *n)
{
	*n = sizeof(syscall_table) / sizeof(syscall_table[0]);
	return syscall_table;
}

const struct crashpoint_syscall *crashpoint_syscall_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(syscall_table) / sizeof(syscall_table[0]); i++)
		if (strcmp(syscall_table[i].name, name) == 0)
			return &syscall_table[i];
	return NULL;
}

int crashpoint_prefix_normalize(const char *in, char *out, size_t len)
{
	if (!in || in[0] != '/')
		return -EINVAL;
	size_t n = strlen(in);
	while (n > 1 && in[n - 1] == '/')
		n--;
	if (n > CRASHPOINT_PREFIX_MAX || n + 1 > len)
		return -ENAMETOOLONG;
	memcpy(out, in, n);
	out[n] = 0;
	return 0;
}

int crashpoint_path_under(const char *path, const char *prefix)
{
	if (strcmp(prefix, "/") == 0)
		return path[0] == '/';
	size_t n = strlen(prefix);
	return strncmp(path, prefix, n) == 0 && (path[n] == '/' || path[n] == 0);
}

/* --- parameters ---------------------------------------------------------------- */

struct crashpoint_spec {
	struct target_spec processes;
	const struct crashpoint_syscall *syscall;
	uint64_t nth;
	int signal;
	char path_prefix[CRASHPOINT_PREFIX_MAX + 1];   /* "" when not given */
};

static void crashpoint_spec_free(void *spec_v)
{
	struct crashpoint_spec *spec = spec_v;
	if (!spec)
		return;
	target_spec_clear(&spec->processes);
	free(spec);
}

static int parse_syscall(struct json_object *v, struct crashpoint_spec *spec, struct fault_error *err)
{
	const char *name = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	spec->syscall = crashpoint_syscall_find(name);
	if (spec->syscall)
		return 0;
	char known[1024] = "";
	size_t n;
	const struct crashpoint_syscall *all = crashpoint_syscalls(&n);
	for (size_t i = 0; i < n; i++)
		snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s", i ? ", " : "", all[i].name);
	fault_error_set(err, "syscall", "unknown syscall%s%s%s (known: %s)", name ? " \"" : "", name ? name : "",
			name ? "\"" : "", known);
	return -EINVAL;
}

static int parse_nth(struct json_object *v, uint64_t *nth, struct fault_error *err)
{
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 1) {
		fault_error_set(err, "nth", "must be an integer >= 1 (the Nth call of each process fires)");
		return -EINVAL;
	}
	*nth = (uint64_t)json_object_get_int64(v);
	return 0;
}

static int parse_action(struct json_object *v, int *sig, struct fault_error *err)
{
	const char *text = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (text && strcmp(text, "kill") == 0) {
		*sig = SIGKILL;
		return 0;
	}
	if (text && strcmp(text, "stop") == 0) {
		*sig = SIGSTOP;
		return 0;
	}
	if (!text || process_signal_parse(text, sig) < 0) {
		fault_error_set(err, "action", "must be \"kill\", \"stop\" or a signal name such as \"SIGABRT\"");
		return -EINVAL;
	}
	if (*sig == SIGCONT || *sig == SIGCHLD || *sig == SIGURG || *sig == SIGWINCH) {
		fault_error_set(err, "action", "%s is ignored by default; a crash point needs a signal that ends or "
				"stops the process", text);
		return -EINVAL;
	}
	if (*sig == SIGTSTP || *sig == SIGTTIN || *sig == SIGTTOU) {
		fault_error_set(err, "action", "%s can be caught; use \"stop\" (SIGSTOP, resumed at revert)", text);
		return -EINVAL;
	}
	return 0;
}

static int parse_prefix(struct json_object *v, char *out, struct fault_error *err)
{
	const char *text = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	int r = text ? crashpoint_prefix_normalize(text, out, CRASHPOINT_PREFIX_MAX + 1) : -EINVAL;
	if (r == -ENAMETOOLONG)
		fault_error_set(err, "path_prefix", "is longer than %d characters", CRASHPOINT_PREFIX_MAX);
	else if (r < 0)
		fault_error_set(err, "path_prefix", "must be an absolute path (\"/var/lib/db\"); relative paths in "
				"calls are matched through the process's directory");
	return r < 0 ? -EINVAL : 0;
}

static int crashpoint_parse(struct json_object *params, void **spec_out, struct fault_error *err)
{
	void *allocated;
	int r = fault_spec_alloc(params, sizeof(struct crashpoint_spec), &allocated, err);
	if (r < 0)
		return r;
	struct crashpoint_spec *spec = allocated;
	spec->nth = 1;
	spec->signal = SIGKILL;
	bool have_processes = false;
	if (params) {
		json_object_object_foreach(params, key, v) {
			if (strcmp(key, "processes") == 0) {
				r = target_parse(params, "processes", &spec->processes, err);
				have_processes = r == 0;
			} else if (strcmp(key, "syscall") == 0) {
				r = parse_syscall(v, spec, err);
			} else if (strcmp(key, "nth") == 0) {
				r = parse_nth(v, &spec->nth, err);
			} else if (strcmp(key, "action") == 0) {
				r = parse_action(v, &spec->signal, err);
			} else if (strcmp(key, "path_prefix") == 0) {
				r = parse_prefix(v, spec->path_prefix, err);
			} else {
				fault_error_set(err, key, "unknown parameter (known: processes, syscall, nth, action, "
					       "path_prefix)");
				r = -EINVAL;
			}
			if (r < 0)
				break;
		}
	}
	if (r == 0 && !have_processes) {
		fault_error_set(err, "processes", "is required: { name = \"db\"; } or pid, exe, cmdline, cgroup, unit");
		r = -EINVAL;
	}
	if (r == 0 && !spec->syscall) {
		fault_error_set(err, "syscall", "is required (\"fsync\", \"rename\", \"write\", ...)");
		r = -EINVAL;
	}
	if (r == 0 && spec->path_prefix[0] && spec->syscall->args == CRASHPOINT_ARGS_NONE) {
		fault_error_set(err, "path_prefix", "%s has no file or path argument to compare", spec->syscall->name);
		r = -EINVAL;
	}
	if (r < 0) {
		crashpoint_spec_free(spec);
		return r == -ENOMEM ? r : -EINVAL;
	}
	*spec_out = spec;
	return 0;
}

static const char *action_name(int sig, char *buf, size_t len)
{
	if (sig == SIGKILL)
		return "kill";
	if (sig == SIGSTOP)
		return "stop";
	return process_signal_name(sig, buf, len);
}

static struct json_object *crashpoint_spec_to_json(const void *spec_v)
{
	const struct crashpoint_spec *spec = spec_v;
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	char sig[24];
	json_object_object_add(o, "processes", target_to_json(&spec->processes));
	json_object_object_add(o, "syscall", json_object_new_string(spec->syscall->name));
	json_object_object_add(o, "nth", json_object_new_int64((int64_t)spec->nth));
	json_object_object_add(o, "action", json_object_new_string(action_name(spec->signal, sig, sizeof(sig))));
	if (spec->path_prefix[0])
		json_object_object_add(o, "path_prefix", json_object_new_string(spec->path_prefix));
	return o;
}

/* --- the host ---------------------------------------------------------------------- */

/* libbpf finds a tracepoint's id under tracefs: /sys/kernel/debug/tracing when
 * that exists, else /sys/kernel/tracing, which nothing mounts on some hosts. The
 * ids are read only while attaching: *mounted_here says whether the caller must
 * unmount it again once the links exist (they do not need it). */
static int ensure_tracefs(bool *mounted_here, struct fault_error *err)
{
	*mounted_here = false;
	if (access(DEBUGFS_TRACING_DIR "/events", F_OK) == 0 || access(TRACEFS_DIR "/events", F_OK) == 0)
		return 0;
	if (mount("nodev", TRACEFS_DIR, "tracefs", 0, NULL) < 0) {
		int r = -errno;
		fault_error_set(err, "", "tracefs is not mounted and mounting it at %s failed: %s (syscall "
				"tracepoints are found there)", TRACEFS_DIR, strerror(-r));
		return r;
	}
	*mounted_here = true;
	return 0;
}

static void unmount_tracefs(void)
{
	if (umount2(TRACEFS_DIR, MNT_DETACH) < 0)
		log_warn("crash-point: cannot unmount the tracefs mounted at %s for attaching: %s", TRACEFS_DIR,
			 strerror(errno));
	else
		log_info("crash-point: mounted tracefs at %s for attaching (libbpf reads tracepoint ids there) "
			 "and unmounted it again", TRACEFS_DIR);
}

static int tracepoint_exists(const char *event)
{
	char path[PATH_MAX];
	const char *dir = access(DEBUGFS_TRACING_DIR "/events", F_OK) == 0 ? DEBUGFS_TRACING_DIR : TRACEFS_DIR;
	snprintf(path, sizeof(path), "%s/events/syscalls/%s", dir, event);
	return access(path, F_OK) == 0;
}

/* The mount point exists whenever the kernel has tracefs, mounted or not. */
static int crashpoint_probe(char *reason, size_t len)
{
	if (access(TRACEFS_DIR, F_OK) < 0 && access(DEBUGFS_TRACING_DIR, F_OK) < 0) {
		snprintf(reason, len, "kernel without tracefs (%s missing): no syscall tracepoints", TRACEFS_DIR);
		return -ENOTSUP;
	}
	return 0;
}

/* --- apply / revert ---------------------------------------------------------------- */

struct crashpoint_handle {
	struct crashpoint_bpf *skel;
	struct bpf_link *links[CRASHPOINT_MAX_LINKS];
	int n_links;
	struct process_ident *targets;
	int *pidfds;
	int n_targets;
	int signal;
	const char *syscall;
	bool state_file;
	char state_dir[PATH_MAX];
	char fault_id[64];
};

static bool fired_for(const struct crashpoint_handle *h, pid_t pid)
{
	__u32 key = (__u32)pid;
	struct crashpoint_target t;
	if (bpf_map__lookup_elem(h->skel->maps.targets, &key, sizeof(key), &t, sizeof(t), 0) < 0)
		return false;
	return t.fired != 0;
}

/* Detaches first so that nothing fires any more, then resumes what this fault
 * stopped (its pidfds: only those very processes). Returns how many were resumed. */
static int handle_free(struct crashpoint_handle *h)
{
	if (!h)
		return 0;
	for (int i = 0; i < h->n_links; i++)
		bpf_link__destroy(h->links[i]);
	h->n_links = 0;
	int resumed = 0;
	for (int i = 0; i < h->n_targets; i++) {
		if (h->pidfds[i] < 0)
			continue;
		if (h->signal == SIGSTOP && h->skel && fired_for(h, h->targets[i].pid)) {
			int r = process_pidfd_signal(h->pidfds[i], SIGCONT);
			if (r == 0)
				resumed++;
			else if (r != -ESRCH)
				log_warn("crash-point: resuming pid %d (%s): %s", (int)h->targets[i].pid,
					 h->targets[i].comm, strerror(-r));
		}
		close(h->pidfds[i]);
	}
	if (h->state_file)
		state_file_remove(h->state_dir, CRASHPOINT_STATE_SUBDIR, h->fault_id, "crash-point");
	crashpoint_bpf__destroy(h->skel);
	free(h->targets);
	free(h->pidfds);
	free(h);
	return resumed;
}

static void fill_config(const struct crashpoint_spec *spec, struct crashpoint_config *c)
{
	memset(c, 0, sizeof(*c));
	c->nth = spec->nth;
	c->signal = spec->signal;
	c->filter_path = spec->path_prefix[0] != 0;
	c->arg_kind = (__u8)spec->syscall->args;
	for (int i = 0; i < 2; i++) {
		c->path_arg[i] = spec->syscall->path_arg[i];
		c->dirfd_arg[i] = spec->syscall->dirfd_arg[i];
		if (c->path_arg[i] != CRASHPOINT_NO_ARG && c->path_arg[i] + 1 > c->n_args)
			c->n_args = (__u8)(c->path_arg[i] + 1);
		if (c->dirfd_arg[i] != CRASHPOINT_NO_ARG && c->dirfd_arg[i] + 1 > c->n_args)
			c->n_args = (__u8)(c->dirfd_arg[i] + 1);
	}
	if (c->filter_path) {
		c->prefix_len = strcmp(spec->path_prefix, "/") == 0 ? 0 : (__u32)strlen(spec->path_prefix);
		memcpy(c->prefix, spec->path_prefix, c->prefix_len);
	}
	struct stat st;
	if (stat("/proc/self/ns/pid", &st) == 0 && st.st_ino != INIT_PIDNS_INO) {
		c->use_pidns = 1;
		c->pidns_dev = (__u64)st.st_dev;
		c->pidns_ino = (__u64)st.st_ino;
	}
}

/* The fd table is needed for fd-argument calls and for *at calls relative to a dirfd. */
static bool needs_fd_table(const struct crashpoint_spec *spec)
{
	if (!spec->path_prefix[0])
		return false;
	const struct crashpoint_syscall *s = spec->syscall;
	return s->args == CRASHPOINT_ARGS_FD || s->dirfd_arg[0] != CRASHPOINT_NO_ARG;
}

static int load_programs(const struct crashpoint_spec *spec, struct crashpoint_bpf **out, struct fault_error *err)
{
	struct crashpoint_bpf *skel = crashpoint_bpf__open();
	if (!skel) {
		int r = errno ? -errno : -ENOMEM;
		fault_error_set(err, "", "cannot open the BPF object: %s", strerror(-r));
		return r;
	}
	fill_config(spec, &skel->rodata->cp_cfg);
	if (!needs_fd_table(spec)) {
		bpf_program__set_autoload(skel->progs.crashpoint_track_open, false);
		bpf_program__set_autoload(skel->progs.crashpoint_track_openat, false);
		bpf_program__set_autoload(skel->progs.crashpoint_track_open_exit, false);
		bpf_program__set_autoload(skel->progs.crashpoint_track_close, false);
		bpf_map__set_max_entries(skel->maps.fds, 1);
		bpf_map__set_max_entries(skel->maps.opening, 1);
	}
	if (crashpoint_bpf__load(skel) < 0) {
		int r = -errno;
		fault_error_set(err, "", "cannot load the crash-point program: %s", strerror(-r));
		crashpoint_bpf__destroy(skel);
		return r;
	}
	*out = skel;
	return 0;
}

static int attach(struct crashpoint_handle *h, struct bpf_program *prog, const char *event, bool optional,
		  struct fault_error *err)
{
	if (optional && !tracepoint_exists(event))
		return 0;   /* e.g. no open() or creat() on arm64 */
	if (h->n_links == CRASHPOINT_MAX_LINKS) {
		fault_error_set(err, "", "too many tracepoint links");
		return -E2BIG;
	}
	struct bpf_link *link = bpf_program__attach_tracepoint(prog, "syscalls", event);
	if (!link) {
		int r = -errno;
		fault_error_set(err, "syscall", "cannot attach to tracepoint syscalls/%s: %s", event, strerror(-r));
		return r;
	}
	h->links[h->n_links++] = link;
	return 0;
}

static int attach_fd_tracking(struct crashpoint_handle *h, struct fault_error *err)
{
	struct crashpoint_bpf *s = h->skel;
	const struct {
		struct bpf_program *prog;
		const char *event;
		bool optional;
	} points[] = {
		{ s->progs.crashpoint_track_open, "sys_enter_open", true },
		{ s->progs.crashpoint_track_open, "sys_enter_creat", true },
		{ s->progs.crashpoint_track_openat, "sys_enter_openat", false },
		{ s->progs.crashpoint_track_openat, "sys_enter_openat2", true },
		{ s->progs.crashpoint_track_open_exit, "sys_exit_open", true },
		{ s->progs.crashpoint_track_open_exit, "sys_exit_creat", true },
		{ s->progs.crashpoint_track_open_exit, "sys_exit_openat", false },
		{ s->progs.crashpoint_track_open_exit, "sys_exit_openat2", true },
		{ s->progs.crashpoint_track_close, "sys_enter_close", false },
	};
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		int r = attach(h, points[i].prog, points[i].event, points[i].optional, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The fds a target holds now that name a file under the prefix; from here on
 * the tracking programs keep the table current. */
static int fill_fd_table(struct crashpoint_handle *h, pid_t pid, const char *prefix)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char link[PATH_MAX], target[PATH_MAX];
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		if (!crashpoint_path_under(target, prefix))
			continue;
		struct crashpoint_fd_key key = { .tgid = (__u32)pid, .fd = (__s32)atoi(de->d_name) };
		__u8 one = 1;
		if (bpf_map__update_elem(h->skel->maps.fds, &key, sizeof(key), &one, sizeof(one), BPF_ANY) < 0) {
			int r = -errno;
			closedir(d);
			return r == -E2BIG ? -ENOSPC : r;   /* the table is full */
		}
		n++;
	}
	closedir(d);
	return n;
}

static bool cwd_under(pid_t pid, const char *prefix)
{
	char link[64], cwd[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/%d/cwd", (int)pid);
	ssize_t len = readlink(link, cwd, sizeof(cwd) - 1);
	if (len <= 0)
		return false;
	cwd[len] = 0;
	return crashpoint_path_under(cwd, prefix);
}

static int resolve_targets(const struct crashpoint_spec *spec, struct crashpoint_handle *h, struct fault_error *err)
{
	struct process_scope scope;
	pid_t exclude[CRASHPOINT_MAX_EXCLUDE];
	int r = process_scope_targets(&scope, exclude, CRASHPOINT_MAX_EXCLUDE);
	if (r < 0) {
		fault_error_set(err, "processes", "cannot determine this agent's process scope: %s", strerror(-r));
		return r;
	}
	struct process_ident *list = NULL;
	int n = 0;
	r = target_resolve(&spec->processes, &scope, &list, &n, err);
	if (r < 0)
		return r;
	if (n > CRASHPOINT_MAX_TARGETS) {
		free(list);
		fault_error_set(err, "processes", "matches %d processes, at most %d are allowed", n,
				CRASHPOINT_MAX_TARGETS);
		return -E2BIG;
	}
	h->targets = list;
	h->pidfds = malloc(sizeof(int) * (size_t)(n ? n : 1));
	if (!h->pidfds) {
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	/* A pidfd each: the pid this fault resumes or reports is exactly this process. */
	int kept = 0;
	for (int i = 0; i < n; i++) {
		int fd = process_pidfd_open("/proc", &list[i]);
		if (fd < 0)
			continue;   /* exited meanwhile */
		list[kept] = list[i];
		h->pidfds[kept++] = fd;
	}
	h->n_targets = kept;
	if (kept == 0) {
		fault_error_set(err, "processes", "every matching process exited before the crash point was set");
		return -ESRCH;
	}
	return 0;
}

static struct json_object *state_json(const struct crashpoint_handle *h)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "targets", process_list_to_json(h->targets, h->n_targets));
	char sig[24];
	json_object_object_add(o, "signal", json_object_new_string(process_signal_name(h->signal, sig, sizeof(sig))));
	return o;
}

static int write_state_file(struct crashpoint_handle *h, const struct fault_env *env, struct fault_error *err)
{
	struct json_object *o = state_json(h);
	const char *text = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
	int r = text ? state_file_write(env->state_dir, CRASHPOINT_STATE_SUBDIR, env->fault_id, text) : -ENOMEM;
	json_object_put(o);
	if (r < 0) {
		fault_error_set(err, "", "cannot record the targets in %s: %s", env->state_dir, strerror(-r));
		return r;
	}
	snprintf(h->state_dir, sizeof(h->state_dir), "%s", env->state_dir);
	snprintf(h->fault_id, sizeof(h->fault_id), "%s", env->fault_id);
	h->state_file = true;
	return 0;
}

static int crashpoint_apply(const void *spec_v, const struct fault_env *env, void **handle_out,
			    struct json_object *record, struct fault_error *err)
{
	const struct crashpoint_spec *spec = spec_v;
	struct crashpoint_handle *h = calloc(1, sizeof(*h));
	if (!h) {
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	h->signal = spec->signal;
	h->syscall = spec->syscall->name;
	char event[64];
	snprintf(event, sizeof(event), "sys_enter_%s", spec->syscall->name);
	bool tracefs_mounted = false;
	int r = resolve_targets(spec, h, err);
	if (r == 0)
		r = ensure_tracefs(&tracefs_mounted, err);
	if (r == 0 && !tracepoint_exists(event)) {
		fault_error_set(err, "syscall", "this kernel has no tracepoint syscalls/%s (no such syscall on this "
				"architecture, or CONFIG_FTRACE_SYSCALLS is off)", event);
		r = -ENOENT;
	}
	/* Before anything can fire: a process stopped after this point is found
	 * again from the file even if the agent dies before journaling the record. */
	if (r == 0 && spec->signal == SIGSTOP)
		r = write_state_file(h, env, err);
	if (r == 0)
		r = load_programs(spec, &h->skel, err);
	for (int i = 0; r == 0 && i < h->n_targets; i++) {
		struct crashpoint_target t = { 0 };
		t.cwd_under_prefix = spec->path_prefix[0] && cwd_under(h->targets[i].pid, spec->path_prefix);
		__u32 key = (__u32)h->targets[i].pid;
		if (bpf_map__update_elem(h->skel->maps.targets, &key, sizeof(key), &t, sizeof(t), BPF_NOEXIST) < 0) {
			r = -errno;
			fault_error_set(err, "", "cannot fill the targets map: %s", strerror(-r));
		}
	}
	int tracked_fds = 0;
	if (r == 0 && needs_fd_table(spec)) {
		/* Tracking first, then the scan: an open between the two is seen by both. */
		r = attach_fd_tracking(h, err);
		for (int i = 0; r == 0 && i < h->n_targets; i++) {
			int n = fill_fd_table(h, h->targets[i].pid, spec->path_prefix);
			if (n < 0) {
				r = n;
				fault_error_set(err, "path_prefix", "cannot enter the open files of pid %d in the fd "
						"table (%d entries at most): %s", (int)h->targets[i].pid,
						CRASHPOINT_MAX_FDS, strerror(-r));
			} else {
				tracked_fds += n;
			}
		}
	}
	if (r == 0)
		r = attach(h, h->skel->progs.crashpoint_enter, event, false, err);
	if (tracefs_mounted)
		unmount_tracefs();
	if (r < 0) {
		handle_free(h);
		return r;
	}
	char sig[24];
	json_object_object_add(record, "targets", process_list_to_json(h->targets, h->n_targets));
	json_object_object_add(record, "syscall", json_object_new_string(h->syscall));
	json_object_object_add(record, "signal",
			       json_object_new_string(process_signal_name(h->signal, sig, sizeof(sig))));
	log_info("crash-point: %d process(es) get %s at their call %llu of %s%s%s (%d open fds under the prefix)",
		 h->n_targets, sig, (unsigned long long)spec->nth, h->syscall, spec->path_prefix[0] ? " under " : "",
		 spec->path_prefix, tracked_fds);
	*handle_out = h;
	return 0;
}

static int crashpoint_revert(void *handle)
{
	struct crashpoint_handle *h = handle;
	int resumed = handle_free(h);
	if (resumed > 0)
		log_info("crash-point: resumed %d stopped process(es)", resumed);
	return 0;
}

static int crashpoint_stats(void *handle, struct json_object *out)
{
	struct crashpoint_handle *h = handle;
	uint64_t calls = 0;
	int fired = 0, send_errors = 0;
	struct json_object *pids = json_object_new_array();
	if (!pids)
		return -ENOMEM;
	for (int i = 0; i < h->n_targets; i++) {
		struct crashpoint_target t;
		if (bpf_map__lookup_elem(h->skel->maps.targets, &(__u32){ (__u32)h->targets[i].pid }, sizeof(__u32),
					 &t, sizeof(t), 0) < 0)
			continue;
		calls += t.calls;
		if (t.fired) {
			fired++;
			json_object_array_add(pids, json_object_new_int(h->targets[i].pid));
		}
		if (t.send_error)
			send_errors++;
	}
	json_object_object_add(out, "calls_seen", json_object_new_int64((int64_t)calls));
	json_object_object_add(out, "fired", json_object_new_int(fired));
	json_object_object_add(out, "signal_errors", json_object_new_int(send_errors));
	json_object_object_add(out, "targets", json_object_new_int(h->n_targets));
	json_object_object_add(out, "pids_fired", pids);
	json_object_object_add(out, "syscall", json_object_new_string(h->syscall));
	return 0;
}

/* Resumes the targets of a list that are stopped now. Only after a fault with
 * action "stop": nothing else of this fault outlives the agent. */
static int resume_stopped(struct json_object *targets)
{
	struct process_ident *list = NULL;
	int n = 0, r = process_list_from_json(targets, &list, &n);
	if (r < 0)
		return r;
	int resumed = 0;
	for (int i = 0; i < n; i++) {
		struct process_stat st;
		if (process_stat_read("/proc", list[i].pid, &st) < 0 || st.starttime != list[i].starttime ||
		    st.state != 'T')
			continue;
		resumed += process_resume_list("/proc", &list[i], 1);
	}
	free(list);
	return resumed;
}

static bool signal_is_stop(struct json_object *o)
{
	struct json_object *sig;
	return json_object_object_get_ex(o, "signal", &sig) && strcmp(json_object_get_string(sig), "SIGSTOP") == 0;
}

static int crashpoint_recover(struct json_object *record, const struct fault_env *env)
{
	struct json_object *targets;
	if (signal_is_stop(record) && json_object_object_get_ex(record, "targets", &targets)) {
		int n = resume_stopped(targets);
		if (n > 0)
			log_info("crash-point: resumed %d process(es) the fault had stopped", n);
	}
	/* A crash between the state file and the journal record leaves only the file. */
	char path[PATH_MAX];
	if (env && env->state_dir && env->fault_id &&
	    state_file_path(env->state_dir, CRASHPOINT_STATE_SUBDIR, env->fault_id, path, sizeof(path)) == 0) {
		struct json_object *o = json_object_from_file(path);
		if (o && signal_is_stop(o) && json_object_object_get_ex(o, "targets", &targets))
			resume_stopped(targets);
		json_object_put(o);
		state_file_remove(env->state_dir, CRASHPOINT_STATE_SUBDIR, env->fault_id, "crash-point");
	}
	return 0;
}

static int sweep_one(const char *path, void *ctx)
{
	(void)ctx;
	struct json_object *o = json_object_from_file(path), *targets;
	if (o && signal_is_stop(o) && json_object_object_get_ex(o, "targets", &targets)) {
		int n = resume_stopped(targets);
		log_warn("crash-point: %s is owned by no fault any more; resumed %d stopped process(es)", path,
			 n > 0 ? n : 0);
	}
	json_object_put(o);
	unlink(path);
	return 0;
}

static int crashpoint_sweep(const struct fault_env *env)
{
	if (!env || !env->state_dir)
		return 0;
	return state_file_each(env->state_dir, CRASHPOINT_STATE_SUBDIR, sweep_one, NULL);
}

const struct fault_kind crash_point_kind = {
	.name = "crash-point",
	.family = "crashpoint",
	.summary = "kills (or stops) processes at their Nth call of a syscall, optionally about files under a path",
	.probe = crashpoint_probe,
	.parse = crashpoint_parse,
	.spec_free = crashpoint_spec_free,
	.spec_to_json = crashpoint_spec_to_json,
	.apply = crashpoint_apply,
	.revert = crashpoint_revert,
	.stats = crashpoint_stats,
	.recover = crashpoint_recover,
};

/* The programs are BPF links that die with the agent; what can outlive it is a
 * process stopped by a fault whose record was never journaled. */
const struct fault_family crashpoint_family = {
	.name = "crashpoint",
	.sweep = crashpoint_sweep,
};
