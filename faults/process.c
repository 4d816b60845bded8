/* Finding and signalling processes for faults (see faults/process.h). */
#include "faults/process.h"

#include "common/statefile.h"
#include "common/log.h"
#include "common/textfile.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PF_KTHREAD_FLAG 0x00200000u
#define PROCESS_STATE_SUBDIR "processes"

int process_stat_parse(const char *text, struct process_stat *out)
{
	/* comm is whatever the process chose (spaces and parentheses included):
	 * it ends at the LAST ')'. */
	const char *open = strchr(text, '(');
	const char *close = strrchr(text, ')');
	if (!open || !close || close < open)
		return -EINVAL;
	struct process_stat st = { 0 };
	size_t len = (size_t)(close - open - 1);
	if (len > PROCESS_COMM_LEN)
		len = PROCESS_COMM_LEN;
	memcpy(st.comm, open + 1, len);
	st.comm[len] = '\0';
	int ppid;
	unsigned long long utime, stime, starttime;
	/* fields 3..22: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	 * utime stime cutime cstime priority nice num_threads itrealvalue starttime */
	int n = sscanf(close + 1, " %c %d %*d %*d %*d %*d %u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu",
		       &st.state, &ppid, &st.flags, &utime, &stime, &starttime);
	if (n != 6)
		return -EINVAL;
	st.ppid = ppid;
	st.cpu_ticks = utime + stime;
	st.starttime = starttime;
	*out = st;
	return 0;
}

int process_stat_read(const char *proc_root, pid_t pid, struct process_stat *out)
{
	char path[PATH_MAX], buf[1024];
	snprintf(path, sizeof(path), "%s/%d/stat", proc_root, (int)pid);
	ssize_t n = text_file_read(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	return process_stat_parse(buf, out);
}

int process_netns_of(const char *path, struct process_netns *out)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	out->ino = st.st_ino;
	out->dev = st.st_dev;
	return 0;
}

int process_netns_self(struct process_netns *out)
{
	return process_netns_of("/proc/thread-self/ns/net", out);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

bool process_name_matches(const char *name, const char *comm, const char *exe, const char *argv0)
{
	if (comm && strcmp(comm, name) == 0)
		return true;
	if (exe && strcmp(base_name(exe), name) == 0)
		return true;
	/* comm holds 15 characters: "chaos-demo-service" shows as "chaos-demo-serv".
	 * The prefix alone could name another program; argv[0] settles it. */
	if (comm && strlen(name) > PROCESS_COMM_LEN && strncmp(comm, name, PROCESS_COMM_LEN) == 0 &&
	    strlen(comm) == PROCESS_COMM_LEN && argv0 && strcmp(base_name(argv0), name) == 0)
		return true;
	return false;
}

int process_scope_self(struct process_scope *scope, pid_t *exclude_buf, int buf_len)
{
	struct process_scope s = { .proc_root = "/proc", .exclude = exclude_buf };
	int r = process_netns_self(&s.netns);
	if (r < 0)
		return r;
	pid_t pid = getpid();
	/* Bounded walk: a pid namespace boundary shows ppid 0. */
	while (pid > 1 && s.n_exclude < buf_len) {
		exclude_buf[s.n_exclude++] = pid;
		struct process_stat st;
		if (process_stat_read("/proc", pid, &st) < 0)
			break;
		pid = st.ppid;
	}
	*scope = s;
	return 0;
}

bool process_excluded(const struct process_scope *scope, pid_t pid)
{
	for (int i = 0; i < scope->n_exclude; i++)
		if (scope->exclude[i] == pid)
			return true;
	return false;
}

/* exe's target ("/usr/bin/sleep"), without the " (deleted)" an upgraded binary shows. */
bool process_read_exe(const char *proc_root, pid_t pid, char *buf, size_t len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%d/exe", proc_root, (int)pid);
	ssize_t n = readlink(path, buf, len - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	static const char deleted[] = " (deleted)";
	size_t dl = sizeof(deleted) - 1;
	if ((size_t)n > dl && strcmp(buf + n - dl, deleted) == 0)
		buf[n - dl] = '\0';
	return true;
}

static bool read_argv0(const char *proc_root, pid_t pid, char *buf, size_t len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%d/cmdline", proc_root, (int)pid);
	if (text_file_read(path, buf, len) <= 0)
		return false;
	return true; /* the first NUL ends argv[0] */
}

static int cmp_pid(const void *a, const void *b)
{
	const struct process_ident *x = a, *y = b;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

bool process_in_netns(const struct process_scope *scope, pid_t pid)
{
	if (scope->any_netns)
		return true;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%d/ns/net", scope->proc_root, (int)pid);
	struct process_netns ns = { 0 };
	return process_netns_of(path, &ns) == 0 && ns.ino == scope->netns.ino && ns.dev == scope->netns.dev;
}

int process_scan(const struct process_scope *scope, process_scan_keep keep, void *ctx, struct process_ident **out)
{
	*out = NULL;
	DIR *dir = opendir(scope->proc_root);
	if (!dir)
		return -errno;
	struct process_ident *list = NULL;
	int n = 0, cap = 0, r = 0;
	struct dirent *de;
	while ((de = readdir(dir))) {
		char *end;
		long pid_l = strtol(de->d_name, &end, 10);
		if (!isdigit((unsigned char)de->d_name[0]) || *end || pid_l <= 1 || pid_l > INT_MAX)
			continue;
		pid_t pid = (pid_t)pid_l;
		if (process_excluded(scope, pid))
			continue;
		struct process_stat st;
		if (process_stat_read(scope->proc_root, pid, &st) < 0)
			continue; /* exited meanwhile */
		if ((st.flags & PF_KTHREAD_FLAG) || st.state == 'Z' || st.state == 'X')
			continue;
		if (!process_in_netns(scope, pid) || !keep(pid, &st, ctx))
			continue;
		if (n == cap) {
			int ncap = cap ? cap * 2 : 16;
			struct process_ident *grown = realloc(list, sizeof(*list) * (size_t)ncap);
			if (!grown) {
				r = -ENOMEM;
				break;
			}
			list = grown;
			cap = ncap;
		}
		list[n].pid = pid;
		list[n].starttime = st.starttime;
		memcpy(list[n].comm, st.comm, sizeof(list[n].comm));
		n++;
	}
	closedir(dir);
	if (r < 0) {
		free(list);
		return r;
	}
	process_list_sort(list, n);
	*out = list;
	return n;
}

void process_list_sort(struct process_ident *list, int n)
{
	if (n > 1)
		qsort(list, (size_t)n, sizeof(*list), cmp_pid);
}

struct find_ctx {
	const struct process_scope *scope;
	const char *const *names;
	int n_names;
	bool skip_stopped;
	int *matched;
};

static bool find_keep(pid_t pid, const struct process_stat *st, void *ctx_v)
{
	const struct find_ctx *ctx = ctx_v;
	if (ctx->skip_stopped && (st->state == 'T' || st->state == 't'))
		return false;
	char exe[PATH_MAX], argv0[PATH_MAX];
	bool have_exe = false, have_argv0 = false, tried = false;
	int hit = -1;
	for (int i = 0; i < ctx->n_names && hit < 0; i++) {
		if (!tried && strcmp(st->comm, ctx->names[i]) != 0) {
			have_exe = process_read_exe(ctx->scope->proc_root, pid, exe, sizeof(exe));
			have_argv0 = read_argv0(ctx->scope->proc_root, pid, argv0, sizeof(argv0));
			tried = true;
		}
		if (process_name_matches(ctx->names[i], st->comm, have_exe ? exe : NULL, have_argv0 ? argv0 : NULL))
			hit = i;
	}
	if (hit >= 0 && ctx->matched)
		ctx->matched[hit]++;
	return hit >= 0;
}

int process_find(const struct process_scope *scope, const char *const *names, int n_names, bool skip_stopped,
		 struct process_ident **out, int *matched)
{
	if (matched)
		memset(matched, 0, sizeof(*matched) * (size_t)n_names);
	struct find_ctx ctx = { scope, names, n_names, skip_stopped, matched };
	return process_scan(scope, find_keep, &ctx, out);
}

int process_pidfd_open(const char *proc_root, const struct process_ident *p)
{
	int fd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (fd < 0)
		return -errno;
	/* Checked after opening: the pidfd now pins the process it names, so if the
	 * starttime still matches it is the process we meant. */
	struct process_stat st;
	if (process_stat_read(proc_root, p->pid, &st) < 0 || st.starttime != p->starttime) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

int process_pidfd_signal(int pidfd, int sig)
{
	if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
		return -errno;
	return 0;
}

int process_signal_each(const char *proc_root, struct process_ident *list, int n, int sig, int *fds,
			int *n_signalled, int *failed, bool *failed_open)
{
	int kept = 0, r = 0;
	for (int i = 0; i < n; i++) {
		struct process_ident p = list[i];
		int fd = process_pidfd_open(proc_root, &p);
		if (fd == -ESRCH)
			continue; /* exited since it was found */
		if (fd < 0) {
			r = fd;
			*failed = i;
			if (failed_open)
				*failed_open = true;
			break;
		}
		r = process_pidfd_signal(fd, sig);
		if (r == -ESRCH) {
			close(fd);
			r = 0;
			continue;
		}
		if (r < 0) {
			close(fd);
			*failed = i;
			if (failed_open)
				*failed_open = false;
			break;
		}
		list[kept] = p;
		fds[kept++] = fd;
	}
	*n_signalled = kept;
	return r;
}

int process_freeze(const char *proc_root, struct process_ident *list, int n, int *fds, int *n_frozen, int *failed)
{
	int kept;
	int r = process_signal_each(proc_root, list, n, SIGSTOP, fds, &kept, failed, NULL);
	if (r < 0) {
		for (int i = 0; i < kept; i++) {
			process_pidfd_signal(fds[i], SIGCONT);
			close(fds[i]);
		}
		return r;
	}
	*n_frozen = kept;
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int process_wait_stopped(const char *proc_root, const struct process_ident *p, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		struct process_stat st;
		if (process_stat_read(proc_root, p->pid, &st) < 0 || st.starttime != p->starttime ||
		    st.state == 'T' || st.state == 'Z' || st.state == 'X')
			return 0;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(1000);
	}
}

int process_wait_exited(const int *pidfds, int n, int timeout_ms)
{
	if (n <= 0)
		return 0;
	struct pollfd *fds = calloc((size_t)n, sizeof(*fds));
	if (!fds)
		return n;
	for (int i = 0; i < n; i++) {
		fds[i].fd = pidfds[i];
		fds[i].events = POLLIN;
	}
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	int alive = n;
	for (;;) {
		uint64_t now = now_ms();
		int r = poll(fds, (nfds_t)n, now >= deadline ? 0 : (int)(deadline - now));
		if (r < 0 && errno != EINTR)
			break;
		alive = 0;
		for (int i = 0; i < n; i++) {
			if (fds[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
				fds[i].fd = -1; /* poll() ignores negative fds from now on */
			if (fds[i].fd >= 0)
				alive++;
		}
		if (alive == 0 || now_ms() >= deadline)
			break;
	}
	free(fds);
	return alive;
}

int process_resume_list(const char *proc_root, const struct process_ident *list, int n)
{
	int resumed = 0;
	for (int i = 0; i < n; i++) {
		int fd = process_pidfd_open(proc_root, &list[i]);
		if (fd < 0)
			continue; /* exited, or the pid belongs to another process now */
		if (process_pidfd_signal(fd, SIGCONT) == 0)
			resumed++;
		close(fd);
	}
	return resumed;
}

int process_signal_parse(const char *text, int *sig)
{
	if (!text || !*text)
		return -EINVAL;
	if (isdigit((unsigned char)text[0])) {
		char *end;
		long v = strtol(text, &end, 10);
		if (*end || v < 1 || v >= SIGRTMIN)
			return -EINVAL;
		*sig = (int)v;
		return 0;
	}
	const char *bare = strncmp(text, "SIG", 3) == 0 ? text + 3 : text;
	for (int s = 1; s < SIGRTMIN; s++) {
		const char *abbrev = sigabbrev_np(s);
		if (abbrev && strcmp(abbrev, bare) == 0) {
			*sig = s;
			return 0;
		}
	}
	return -EINVAL;
}

int process_ending_signal_param(struct json_object *v, const char *stop_hint, int *sig,
				struct fault_error *err)
{
	const char *text = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (!text || process_signal_parse(text, sig) < 0) {
		fault_error_set(err, "signal", "must be a signal name such as \"SIGKILL\" or \"SIGTERM\"");
		return -EINVAL;
	}
	if (*sig == SIGSTOP || *sig == SIGCONT || *sig == SIGTSTP || *sig == SIGTTIN || *sig == SIGTTOU) {
		fault_error_set(err, "signal", "\"%s\" stops or resumes a process; use %s to stop processes",
				text, stop_hint);
		return -EINVAL;
	}
	return 0;
}

const char *process_signal_name(int sig, char *buf, size_t len)
{
	const char *abbrev = sigabbrev_np(sig);
	if (abbrev)
		snprintf(buf, len, "SIG%s", abbrev);
	else
		snprintf(buf, len, "%d", sig);
	return buf;
}

struct json_object *process_list_to_json(const struct process_ident *list, int n)
{
	struct json_object *arr = json_object_new_array();
	for (int i = 0; arr && i < n; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "pid", json_object_new_int(list[i].pid));
		json_object_object_add(o, "starttime", json_object_new_int64((int64_t)list[i].starttime));
		json_object_object_add(o, "comm", json_object_new_string(list[i].comm));
		json_object_array_add(arr, o);
	}
	return arr;
}

int process_list_from_json(struct json_object *arr, struct process_ident **out, int *n_out)
{
	*out = NULL;
	*n_out = 0;
	if (!arr || !json_object_is_type(arr, json_type_array))
		return 0;
	size_t len = json_object_array_length(arr);
	if (len == 0)
		return 0;
	struct process_ident *list = calloc(len, sizeof(*list));
	if (!list)
		return -ENOMEM;
	int n = 0;
	for (size_t i = 0; i < len; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i), *pid, *start, *comm;
		if (!json_object_object_get_ex(o, "pid", &pid) || !json_object_object_get_ex(o, "starttime", &start))
			continue;
		int64_t p = json_object_get_int64(pid), s = json_object_get_int64(start);
		if (p <= 1 || p > INT_MAX || s <= 0)
			continue;
		list[n].pid = (pid_t)p;
		list[n].starttime = (uint64_t)s;
		if (json_object_object_get_ex(o, "comm", &comm))
			snprintf(list[n].comm, sizeof(list[n].comm), "%s", json_object_get_string(comm));
		n++;
	}
	*out = list;
	*n_out = n;
	return 0;
}

int process_state_write(const char *state_dir, const char *fault_id, const struct process_ident *list, int n)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "frozen", process_list_to_json(list, n));
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	int r = text ? state_file_write(state_dir, PROCESS_STATE_SUBDIR, fault_id, text) : -ENOMEM;
	json_object_put(o);
	return r;
}

void process_state_remove(const char *state_dir, const char *fault_id)
{
	state_file_remove(state_dir, PROCESS_STATE_SUBDIR, fault_id, "process");
}

int process_resume_json(const char *proc_root, struct json_object *list_json, int *n_listed)
{
	struct process_ident *list = NULL;
	int n = 0, resumed = 0;
	if (process_list_from_json(list_json, &list, &n) == 0)
		resumed = process_resume_list(proc_root, list, n);
	free(list);
	if (n_listed)
		*n_listed = n;
	return resumed;
}

int process_state_recover(const char *state_dir, const char *fault_id, const char *proc_root)
{
	char path[PATH_MAX];
	if (!state_dir || !fault_id || !*fault_id ||
	    state_file_path(state_dir, PROCESS_STATE_SUBDIR, fault_id, path, sizeof(path)) < 0)
		return 0;
	struct json_object *state = json_object_from_file(path);
	int resumed = state ? process_resume_json(proc_root, json_object_object_get(state, "frozen"), NULL) : 0;
	json_object_put(state);
	process_state_remove(state_dir, fault_id);
	return resumed;
}

static int sweep_one(const char *path, void *proc_root)
{
	struct json_object *o = json_object_from_file(path);
	int n = 0, done = 0;
	if (o) {
		done = process_resume_json(proc_root, json_object_object_get(o, "frozen"), &n);
		log_warn("process: %s named %d frozen process(es) no fault owns any more; resumed %d", path, n, done);
	}
	json_object_put(o);
	unlink(path);
	return done;
}

int process_state_sweep(const char *state_dir, const char *proc_root)
{
	if (!state_dir)
		return 0;
	return state_file_each(state_dir, PROCESS_STATE_SUBDIR, sweep_one, (void *)proc_root);
}

static int process_sweep(const struct fault_env *env)
{
	return process_state_sweep(env ? env->state_dir : NULL, "/proc");
}

/* Resumes processes a fault froze when no journal record says so (a crash in the
 * middle of apply). */
const struct fault_family process_family = {
	.name = "process",
	.sweep = process_sweep,
};
