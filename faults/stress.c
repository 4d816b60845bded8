/* Kinds "cpu-stress" and "memory-stress" (family "stress", docs/faults.md): stressor
 * processes forked by the agent, placed in the cgroups of a target (or a given
 * cgroup, or the agent's own: system-wide), killed on revert, and dying with the
 * agent by themselves (faults/stress_worker.c explains how).
 *
 * Crash safety: STATE_DIR/stress/FAULT_ID.json is written (fsync'd) before the first
 * fork and rewritten with every stressor's pid and starttime before any of them
 * starts working; recover() and the family's sweep kill what it names through
 * pidfds whose starttime still matches, so a reused pid is never hit. */
#include "faults/stress.h"

#include "common/log.h"
#include "common/size.h"
#include "common/statefile.h"
#include "common/textfile.h"
#include "common/timeutil.h"
#include "faults/process.h"
#include "faults/target.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STRESS_MAX_WORKERS 1024
#define STRESS_MAX_CGROUPS 16
#define STRESS_MIN_BYTES 4096ull
#define STRESS_STATE_SUBDIR "stress"
#define STRESS_EXCLUDE_MAX 64
#define STRESS_EXIT_WAIT_MS 2000
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* ---- arithmetic (faults/stress.h) ---------------------------------------------------- */

int64_t stress_duty_busy_left(int load, int64_t period_ns, int64_t wall_elapsed_ns, int64_t cpu_used_ns)
{
	if (load <= 0 || period_ns <= 0)
		return 0;
	int64_t budget = period_ns / 100 * load;
	int64_t left = budget - cpu_used_ns;
	int64_t until_end = period_ns - wall_elapsed_ns;
	if (until_end < left)
		left = until_end;
	return left > 0 ? left : 0;
}

int64_t stress_duty_next_period(int64_t period_start_ns, int64_t period_ns, int64_t now_ns)
{
	int64_t next = period_start_ns + period_ns;
	if (now_ns >= next)
		next += (now_ns - next) / period_ns * period_ns;
	/* now inside [next, next + period): start the new period now rather than sleep
	 * through it; the grid moves with us */
	if (now_ns > next)
		next = now_ns;
	return next;
}

int stress_load_percent(uint64_t cpu_ticks, long ticks_per_sec, int64_t wall_ns)
{
	if (ticks_per_sec <= 0 || wall_ns <= 0)
		return 0;
	double cpu_ns = (double)cpu_ticks * 1e9 / (double)ticks_per_sec;
	return (int)lround(cpu_ns * 100.0 / (double)wall_ns);
}

int stress_size_parse(const char *text, uint64_t *out)
{
	return size_parse(text, SIZE_LENIENT, out);
}

void stress_size_format(uint64_t bytes, char *buf, size_t len)
{
	static const char *const names[] = { "TiB", "GiB", "MiB", "KiB" };
	for (int i = 0; i < 4; i++) {
		uint64_t unit = 1ull << (10 * (4 - i));
		if (bytes >= unit && bytes % unit == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(bytes / unit), names[i]);
			return;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)bytes);
}

uint64_t stress_status_rss(const char *text)
{
	const char *line = strstr(text, "\nVmRSS:");
	unsigned long long kib;
	if (!line || sscanf(line + 7, " %llu kB", &kib) != 1)
		return 0;
	return (uint64_t)kib * 1024;
}

/* ---- params ------------------------------------------------------------------------- */

enum placement { PLACE_SYSTEM, PLACE_PROCESSES, PLACE_CGROUP };

struct stress_spec {
	enum stress_work work;
	int workers;            /* 0: one per CPU the agent may run on, at apply */
	int load;               /* cpu */
	uint64_t bytes;         /* memory: 0 when percent is given */
	int percent;            /* memory */
	enum placement placement;
	struct target_spec target;  /* PLACE_PROCESSES; PLACE_CGROUP uses its cgroup/unit only */
};

static void stress_spec_free(void *spec_v)
{
	struct stress_spec *spec = spec_v;
	if (!spec)
		return;
	target_spec_clear(&spec->target);
	free(spec);
}

static int parse_int_range(struct json_object *v, const char *key, int min, int max, const char *what, int *out,
			   struct fault_error *err)
{
	if (!json_object_is_type(v, json_type_int)) {
		fault_error_set(err, key, "must be an integer (%s)", what);
		return -EINVAL;
	}
	int64_t x = json_object_get_int64(v);
	if (x < min || x > max) {
		fault_error_set(err, key, "must be between %d and %d (%s), not %lld", min, max, what, (long long)x);
		return -EINVAL;
	}
	*out = (int)x;
	return 0;
}

static int parse_workers(struct json_object *v, struct stress_spec *spec, struct fault_error *err)
{
	if (json_object_is_type(v, json_type_string) && strcmp(json_object_get_string(v), "all") == 0) {
		spec->workers = 0;
		return 0;
	}
	if (!json_object_is_type(v, json_type_int)) {
		fault_error_set(err, "workers", "must be a number of stressor processes (1-%d) or \"all\" (one per CPU)",
				STRESS_MAX_WORKERS);
		return -EINVAL;
	}
	return parse_int_range(v, "workers", 1, STRESS_MAX_WORKERS, "stressor processes; \"all\" for one per CPU",
			       &spec->workers, err);
}

static int parse_size(struct json_object *v, uint64_t *out, struct fault_error *err)
{
	uint64_t bytes = 0;
	int r = -EINVAL;
	if (json_object_is_type(v, json_type_int)) {
		int64_t x = json_object_get_int64(v);
		if (x > 0) {
			bytes = (uint64_t)x;
			r = 0;
		}
	} else if (json_object_is_type(v, json_type_string)) {
		r = stress_size_parse(json_object_get_string(v), &bytes);
	}
	if (r == -ERANGE || (r == 0 && bytes > (uint64_t)SIZE_MAX / 2)) {
		fault_error_set(err, "size", "is larger than any address space");
		return -EINVAL;
	}
	if (r < 0) {
		fault_error_set(err, "size", "must be a size such as \"512MiB\", \"2GiB\" or a number of bytes");
		return -EINVAL;
	}
	if (bytes < STRESS_MIN_BYTES) {
		fault_error_set(err, "size", "must be at least %llu bytes", (unsigned long long)STRESS_MIN_BYTES);
		return -EINVAL;
	}
	*out = bytes;
	return 0;
}

static int parse_cgroup(struct json_object *v, const char *key, struct stress_spec *spec, struct fault_error *err)
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (!s || !*s || strlen(s) >= PATH_MAX || strstr(s, "..")) {
		fault_error_set(err, key, strcmp(key, "unit") == 0 ?
				"must be a systemd unit such as \"db.service\"" :
				"must be a cgroup directory such as \"/sys/fs/cgroup/cpu/batch\" or \"/system.slice/db.service\"");
		return -EINVAL;
	}
	char **field = strcmp(key, "unit") == 0 ? &spec->target.unit : &spec->target.cgroup;
	*field = strdup(s);
	if (!*field) {
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	spec->placement = PLACE_CGROUP;
	return 0;
}

static int stress_parse(enum stress_work work, struct json_object *params, void **spec_out, struct fault_error *err)
{
	void *allocated;
	int r = fault_spec_alloc(params, sizeof(struct stress_spec), &allocated, err);
	if (r < 0)
		return r;
	struct stress_spec *spec = allocated;
	spec->work = work;
	spec->load = 100;
	spec->workers = work == STRESS_CPU ? 0 : 1;
	const char *known = work == STRESS_CPU ? "workers, load, processes, cgroup, unit" :
						 "size, percent, workers, processes, cgroup, unit";
	int placements = 0;
	bool size_given = false, percent_given = false;
	if (params) {
		json_object_object_foreach(params, key, v) {
			if (strcmp(key, "workers") == 0) {
				r = work == STRESS_CPU ? parse_workers(v, spec, err) :
					parse_int_range(v, key, 1, STRESS_MAX_WORKERS, "processes sharing size", &spec->workers, err);
			} else if (work == STRESS_CPU && strcmp(key, "load") == 0) {
				r = parse_int_range(v, key, 1, 100, "percent of one CPU per worker", &spec->load, err);
			} else if (work == STRESS_MEMORY && strcmp(key, "size") == 0) {
				r = parse_size(v, &spec->bytes, err);
				size_given = true;
			} else if (work == STRESS_MEMORY && strcmp(key, "percent") == 0) {
				r = parse_int_range(v, key, 1, 100, "of MemTotal or of the cgroup's memory limit",
						    &spec->percent, err);
				percent_given = true;
			} else if (strcmp(key, "processes") == 0 || strcmp(key, "cgroup") == 0 || strcmp(key, "unit") == 0) {
				if (placements++ > 0) {
					fault_error_set(err, key, "give one placement: processes, cgroup or unit");
					r = -EINVAL;
				} else if (strcmp(key, "processes") == 0) {
					r = target_parse(params, "processes", &spec->target, err);
					spec->placement = PLACE_PROCESSES;
				} else {
					r = parse_cgroup(v, key, spec, err);
				}
			} else {
				fault_error_set(err, key, "unknown parameter (known: %s)", known);
				r = -EINVAL;
			}
			if (r < 0)
				break;
		}
	}
	if (r == 0 && work == STRESS_MEMORY && size_given && percent_given) {
		fault_error_set(err, "percent", "give size or percent, not both");
		r = -EINVAL;
	}
	if (r == 0 && work == STRESS_MEMORY && !size_given && !percent_given) {
		fault_error_set(err, "size", "is required (or percent): how much memory to hold, e.g. \"512MiB\"");
		r = -EINVAL;
	}
	if (r < 0) {
		stress_spec_free(spec);
		return r;
	}
	*spec_out = spec;
	return 0;
}

static int cpu_parse(struct json_object *params, void **spec, struct fault_error *err)
{
	return stress_parse(STRESS_CPU, params, spec, err);
}

static int memory_parse(struct json_object *params, void **spec, struct fault_error *err)
{
	return stress_parse(STRESS_MEMORY, params, spec, err);
}

static struct json_object *stress_spec_to_json(const void *spec_v)
{
	const struct stress_spec *spec = spec_v;
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	if (spec->work == STRESS_CPU) {
		json_object_object_add(o, "workers", spec->workers ? json_object_new_int(spec->workers) :
								 json_object_new_string("all"));
		json_object_object_add(o, "load", json_object_new_int(spec->load));
	} else {
		char size[32];
		if (spec->percent) {
			json_object_object_add(o, "percent", json_object_new_int(spec->percent));
		} else {
			stress_size_format(spec->bytes, size, sizeof(size));
			json_object_object_add(o, "size", json_object_new_string(size));
		}
		json_object_object_add(o, "workers", json_object_new_int(spec->workers));
	}
	if (spec->placement == PLACE_PROCESSES)
		json_object_object_add(o, "processes", target_to_json(&spec->target));
	else if (spec->placement == PLACE_CGROUP && spec->target.cgroup)
		json_object_object_add(o, "cgroup", json_object_new_string(spec->target.cgroup));
	else if (spec->placement == PLACE_CGROUP)
		json_object_object_add(o, "unit", json_object_new_string(spec->target.unit));
	return o;
}

/* ---- helpers on /proc and cgroups ------------------------------------------------------ */

static uint64_t mem_total_bytes(void)
{
	char buf[4096];
	unsigned long long kib;
	if (text_file_read("/proc/meminfo", buf, sizeof(buf)) < 0)
		return 0;
	const char *p = strstr(buf, "MemTotal:");
	if (!p || sscanf(p + 9, " %llu", &kib) != 1)
		return 0;
	return (uint64_t)kib * 1024;
}

/* The memory limit of a cgroup directory (v2 memory.max or v1
 * memory.limit_in_bytes), 0 when it has none or is not a memory cgroup. */
static uint64_t cgroup_memory_limit(const char *dir)
{
	char path[PATH_MAX + 32], buf[64];
	unsigned long long v;
	snprintf(path, sizeof(path), "%s/memory.max", dir);
	if (text_file_read(path, buf, sizeof(buf)) >= 0)
		return strncmp(buf, "max", 3) != 0 && sscanf(buf, "%llu", &v) == 1 ? (uint64_t)v : 0;
	snprintf(path, sizeof(path), "%s/memory.limit_in_bytes", dir);
	/* v1 writes "no limit" as a huge page-aligned number */
	if (text_file_read(path, buf, sizeof(buf)) >= 0 && sscanf(buf, "%llu", &v) == 1 && v < (1ull << 62))
		return (uint64_t)v;
	return 0;
}

static int online_cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* ---- the stressors -------------------------------------------------------------------- */

struct stress_handle {
	enum stress_work work;
	int n;                        /* stressors forked */
	struct process_ident *procs;  /* their pid + starttime */
	int *pidfds;
	int pipe_wr;                  /* closing it tells every stressor to exit */
	int64_t started_ns;           /* when the start bytes went out */
	int load;
	uint64_t bytes;               /* per worker */
	int workers;
	char state_dir[PATH_MAX];
	char fault_id[64];
	bool state_file;
};

static int state_write(const struct stress_handle *h)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "stressors", process_list_to_json(h->procs, h->n));
	json_object_object_add(o, "agent_pid", json_object_new_int((int)getpid()));
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	int r = text ? state_file_write(h->state_dir, STRESS_STATE_SUBDIR, h->fault_id, text) : -ENOMEM;
	json_object_put(o);
	return r;
}

static void state_remove(const char *state_dir, const char *fault_id)
{
	state_file_remove(state_dir, STRESS_STATE_SUBDIR, fault_id, "stress");
}

/* Kills what the list names (pidfd + starttime check) and, for our own children
 * (pidfds given), reaps them. Returns how many were killed. */
static int kill_list(const struct process_ident *list, int n, const int *pidfds)
{
	int killed = 0;
	int64_t deadline = mono_ns() + (int64_t)STRESS_EXIT_WAIT_MS * 1000000;
	for (int i = 0; i < n; i++) {
		int fd = pidfds ? pidfds[i] : process_pidfd_open("/proc", &list[i]);
		if (fd < 0)
			continue; /* gone, or the pid names another process now */
		struct process_stat st;
		if (!pidfds && process_stat_read("/proc", list[i].pid, &st) == 0 && (st.state == 'Z' || st.state == 'X')) {
			close(fd); /* exited already, not reaped yet by its new parent */
			continue;
		}
		int r = process_pidfd_signal(fd, SIGKILL);
		if (r == 0)
			killed++;
		else if (r != -ESRCH)
			log_warn("stress: cannot kill stressor %d: %s", (int)list[i].pid, strerror(-r));
		if (!pidfds) {
			close(fd);
			continue;
		}
		/* Ours: reap it, or it stays a zombie of the agent. Exiting can take a
		 * while (a large memory stressor frees its pages first), so the wait is
		 * bounded; someone else may have reaped it already (ECHILD): fine. */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - mono_ns();
		if (r == 0 && poll(&p, 1, left > 0 ? (int)(left / 1000000) : 0) == 0)
			log_warn("stress: stressor %d has not exited %d ms after SIGKILL", (int)list[i].pid,
				 STRESS_EXIT_WAIT_MS);
		siginfo_t si;
		while (waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) < 0 && errno == EINTR)
			;
	}
	return killed;
}

static void handle_free(struct stress_handle *h)
{
	if (!h)
		return;
	if (h->pipe_wr >= 0)
		close(h->pipe_wr);
	kill_list(h->procs, h->n, h->pidfds);
	for (int i = 0; h->pidfds && i < h->n; i++)
		if (h->pidfds[i] >= 0)
			close(h->pidfds[i]);
	if (h->state_file)
		state_remove(h->state_dir, h->fault_id);
	free(h->procs);
	free(h->pidfds);
	free(h);
}

/* Where the stressors go: every hierarchy of the target's first process, one given
 * cgroup, or (none) wherever the agent is. */
static int placement_dirs(const struct stress_spec *spec, char (*dirs)[PATH_MAX], int *n_dirs,
			  struct json_object *record, struct fault_error *err)
{
	*n_dirs = 0;
	if (spec->placement == PLACE_CGROUP) {
		/* A full path that is not there: say so, rather than how it reads as a v2 path. */
		const char *cg = spec->target.cgroup;
		struct stat st;
		if (cg && strncmp(cg, "/sys/fs/cgroup/", 15) == 0 && stat(cg, &st) < 0) {
			fault_error_set(err, "cgroup", "%s: no such cgroup", cg);
			return -ENOENT;
		}
		int r = target_cgroup_dir(&spec->target, dirs[0], PATH_MAX, err);
		if (r < 0) {
			snprintf(err->key, sizeof(err->key), "%s", spec->target.cgroup ? "cgroup" : "unit");
			return r;
		}
		*n_dirs = 1;
		return 0;
	}
	if (spec->placement != PLACE_PROCESSES)
		return 0;
	pid_t exclude[STRESS_EXCLUDE_MAX];
	struct process_scope scope;
	int r = process_scope_targets(&scope, exclude, STRESS_EXCLUDE_MAX);
	if (r < 0) {
		fault_error_set(err, "processes", "cannot tell which processes this agent may see: %s", strerror(-r));
		return r;
	}
	struct process_ident *found = NULL;
	int n_found = 0;
	r = target_resolve(&spec->target, &scope, &found, &n_found, err);
	if (r < 0)
		return r;
	struct process_ident first = found[0];
	free(found);
	r = target_process_cgroups(first.pid, dirs, STRESS_MAX_CGROUPS);
	if (r < 0) {
		fault_error_set(err, "processes", "cannot read the cgroups of pid %d (%s): %s", (int)first.pid,
				first.comm, strerror(-r));
		return r;
	}
	*n_dirs = r;
	if (record) {
		struct json_object *t = json_object_new_object();
		json_object_object_add(t, "pid", json_object_new_int((int)first.pid));
		json_object_object_add(t, "comm", json_object_new_string(first.comm));
		json_object_object_add(record, "target", t);
	}
	return 0;
}

static int memory_bytes(const struct stress_spec *spec, char (*dirs)[PATH_MAX], int n_dirs, uint64_t *out,
			struct fault_error *err)
{
	uint64_t total = mem_total_bytes();
	if (!spec->percent) {
		if (total && spec->bytes >= total) {
			fault_error_set(err, "size", "%llu bytes is more than this host's memory (%llu bytes)",
					(unsigned long long)spec->bytes, (unsigned long long)total);
			return -EINVAL;
		}
		*out = spec->bytes;
		return 0;
	}
	uint64_t base = total;
	for (int i = 0; i < n_dirs; i++) {
		uint64_t limit = cgroup_memory_limit(dirs[i]);
		if (limit && limit < base)
			base = limit;
	}
	if (!base) {
		fault_error_set(err, "percent", "cannot read MemTotal from /proc/meminfo");
		return -EIO;
	}
	*out = base / 100 * (uint64_t)spec->percent + base % 100 * (uint64_t)spec->percent / 100;
	return 0;
}

static int place(const struct stress_handle *h, int i, char (*dirs)[PATH_MAX], int n_dirs, struct fault_error *err)
{
	char text[32];
	snprintf(text, sizeof(text), "%d\n", (int)h->procs[i].pid);
	for (int d = 0; d < n_dirs; d++) {
		char path[PATH_MAX + 16];
		snprintf(path, sizeof(path), "%s/cgroup.procs", dirs[d]);
		int r = text_file_write(path, text);
		if (r < 0) {
			fault_error_set(err, "", "cannot move stressor %d into %s: %s", (int)h->procs[i].pid, dirs[d],
					strerror(-r));
			return r;
		}
	}
	if (h->work == STRESS_MEMORY) {
		char path[64];
		/* The stressor is what the OOM killer should take first, never the service. */
		snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)h->procs[i].pid);
		int r = text_file_write(path, "1000\n");
		if (r < 0) {
			fault_error_set(err, "", "cannot set oom_score_adj of stressor %d: %s", (int)h->procs[i].pid,
					strerror(-r));
			return r;
		}
	}
	return 0;
}

static int fork_workers(struct stress_handle *h, int pipe_rd, struct fault_error *err)
{
	struct stress_worker_args args = {
		.work = h->work,
		.pipe_fd = pipe_rd,
		.load = h->load,
		.bytes = h->bytes,
		.page_size = sysconf(_SC_PAGESIZE),
	};
	for (int i = 0; i < h->workers; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			int r = -errno;
			fault_error_set(err, "", "cannot fork stressor %d of %d: %s", i + 1, h->workers, strerror(-r));
			return r;
		}
		if (pid == 0)
			stress_worker_main(&args);
		/* Our child, not yet reaped: the pid cannot name anything else until we
		 * wait for it, so opening the pidfd now is race-free. */
		h->procs[h->n].pid = pid;
		h->pidfds[h->n] = (int)syscall(SYS_pidfd_open, pid, 0);
		int r = h->pidfds[h->n] < 0 ? -errno : 0;
		struct process_stat st;
		if (r == 0)
			r = process_stat_read("/proc", pid, &st);
		if (r < 0) {
			if (h->pidfds[h->n] >= 0)
				close(h->pidfds[h->n]);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fault_error_set(err, "", "cannot watch stressor %d: %s", (int)pid, strerror(-r));
			return r;
		}
		h->procs[h->n].starttime = st.starttime;
		snprintf(h->procs[h->n].comm, sizeof(h->procs[h->n].comm), "%s",
			 h->work == STRESS_CPU ? "chaos-cpustress" : "chaos-memstress");
		h->n++;
	}
	return 0;
}

static int stress_apply(const void *spec_v, const struct fault_env *env, void **handle_out,
			struct json_object *record, struct fault_error *err)
{
	const struct stress_spec *spec = spec_v;
	if (!env || !env->state_dir || !env->fault_id || !*env->fault_id) {
		/* Without a state file a crash in the middle could leave stressors unnamed. */
		fault_error_set(err, "", "the agent gave no state directory or fault id");
		return -EINVAL;
	}
	char (*dirs)[PATH_MAX] = calloc(STRESS_MAX_CGROUPS, PATH_MAX);
	struct stress_handle *h = calloc(1, sizeof(*h));
	int pipe_fds[2] = { -1, -1 };
	int r = -ENOMEM;
	if (h)
		h->pipe_wr = -1;
	if (!dirs || !h) {
		fault_error_set(err, "", "out of memory");
		goto fail;
	}
	h->work = spec->work;
	h->load = spec->load;
	h->workers = spec->workers ? spec->workers : online_cpus();
	snprintf(h->state_dir, sizeof(h->state_dir), "%s", env->state_dir);
	snprintf(h->fault_id, sizeof(h->fault_id), "%s", env->fault_id);
	int n_dirs = 0;
	r = placement_dirs(spec, dirs, &n_dirs, record, err);
	if (r < 0)
		goto fail;
	if (spec->work == STRESS_MEMORY) {
		uint64_t total;
		r = memory_bytes(spec, dirs, n_dirs, &total, err);
		if (r < 0)
			goto fail;
		long ps = sysconf(_SC_PAGESIZE);
		h->bytes = total / (uint64_t)h->workers;
		h->bytes -= h->bytes % (uint64_t)(ps > 0 ? ps : 4096);
		if (h->bytes < STRESS_MIN_BYTES) {
			fault_error_set(err, spec->percent ? "percent" : "size", "gives %llu bytes per worker, too little",
					(unsigned long long)h->bytes);
			r = -EINVAL;
			goto fail;
		}
	}
	h->procs = calloc((size_t)h->workers, sizeof(*h->procs));
	h->pidfds = calloc((size_t)h->workers, sizeof(*h->pidfds));
	if (!h->procs || !h->pidfds) {
		r = -ENOMEM;
		fault_error_set(err, "", "out of memory");
		goto fail;
	}
	/* Before the first fork: from here a crash leaves the file for the sweep. */
	r = state_write(h);
	if (r < 0) {
		fault_error_set(err, "", "cannot write the stressor state file in %s: %s", env->state_dir, strerror(-r));
		goto fail;
	}
	h->state_file = true;
	if (pipe2(pipe_fds, O_CLOEXEC) < 0) {
		r = -errno;
		fault_error_set(err, "", "pipe: %s", strerror(-r));
		goto fail;
	}
	h->pipe_wr = pipe_fds[1];
	r = fork_workers(h, pipe_fds[0], err);
	close(pipe_fds[0]);
	if (r < 0)
		goto fail;
	r = state_write(h);
	if (r < 0) {
		fault_error_set(err, "", "cannot record the stressors in %s: %s", env->state_dir, strerror(-r));
		goto fail;
	}
	for (int i = 0; i < h->n; i++)
		if ((r = place(h, i, dirs, n_dirs, err)) < 0)
			goto fail;
	char go[256];
	memset(go, 1, sizeof(go));
	for (int left = h->n; left > 0;) {
		int chunk = left < (int)sizeof(go) ? left : (int)sizeof(go);
		r = fd_write_all(h->pipe_wr, go, (size_t)chunk);
		if (r < 0) {
			fault_error_set(err, "", "cannot start the stressors: %s", strerror(-r));
			goto fail;
		}
		left -= chunk;
	}
	h->started_ns = mono_ns();
	if (record) {
		json_object_object_add(record, "stressors", process_list_to_json(h->procs, h->n));
		struct json_object *cg = json_object_new_array();
		for (int i = 0; i < n_dirs; i++)
			json_object_array_add(cg, json_object_new_string(dirs[i]));
		json_object_object_add(record, "cgroups", cg);
		if (spec->work == STRESS_MEMORY)
			json_object_object_add(record, "bytes_per_worker", json_object_new_int64((int64_t)h->bytes));
	}
	if (spec->work == STRESS_CPU)
		log_info("cpu-stress: %d worker(s) at %d %% started%s", h->n, h->load,
			 n_dirs ? " in the target's cgroups" : " (system-wide)");
	else
		log_info("memory-stress: %d worker(s) holding %llu bytes each%s", h->n, (unsigned long long)h->bytes,
			 n_dirs ? " in the target's cgroups" : " (system-wide)");
	free(dirs);
	*handle_out = h;
	return 0;
fail:
	handle_free(h);
	free(dirs);
	return r;
}

static int stress_revert(void *handle)
{
	handle_free(handle);
	return 0;
}

static int stress_stats(void *handle, struct json_object *out)
{
	struct stress_handle *h = handle;
	uint64_t ticks = 0, rss = 0;
	int running = 0;
	for (int i = 0; i < h->n; i++) {
		char path[64], buf[4096];
		struct process_stat st;
		if (process_stat_read("/proc", h->procs[i].pid, &st) < 0 || st.starttime != h->procs[i].starttime)
			continue;
		ticks += st.cpu_ticks;
		if (st.state != 'Z' && st.state != 'X')
			running++;
		snprintf(path, sizeof(path), "/proc/%d/status", (int)h->procs[i].pid);
		if (text_file_read(path, buf, sizeof(buf)) >= 0)
			rss += stress_status_rss(buf);
	}
	json_object_object_add(out, "workers", json_object_new_int(h->n));
	json_object_object_add(out, "workers_running", json_object_new_int(running));
	if (h->work == STRESS_CPU) {
		json_object_object_add(out, "load_target", json_object_new_int(h->load));
		int64_t wall = mono_ns() - h->started_ns;
		int per_worker = h->n ? stress_load_percent(ticks, sysconf(_SC_CLK_TCK), wall * h->n) : 0;
		json_object_object_add(out, "load_measured", json_object_new_int(per_worker));
	} else {
		json_object_object_add(out, "bytes_requested", json_object_new_int64((int64_t)(h->bytes * (uint64_t)h->n)));
	}
	json_object_object_add(out, "bytes_resident", json_object_new_int64((int64_t)rss));
	return 0;
}

/* Kills the stressors a state file or record lists; returns how many. */
static int kill_named(struct json_object *list_json)
{
	struct process_ident *list = NULL;
	int n = 0;
	if (process_list_from_json(list_json, &list, &n) < 0)
		return 0;
	int killed = kill_list(list, n, NULL);
	free(list);
	return killed;
}

static int stress_recover(struct json_object *record, const struct fault_env *env)
{
	struct json_object *v;
	int killed = 0;
	bool from_record = record && json_object_object_get_ex(record, "stressors", &v);
	if (from_record)
		killed += kill_named(v);
	/* A crash in the middle of apply leaves no record, only the state file (it names
	 * the same stressors as the record when there is one). */
	if (env && env->state_dir && env->fault_id && *env->fault_id) {
		char path[PATH_MAX];
		if (!from_record &&
		    state_file_path(env->state_dir, STRESS_STATE_SUBDIR, env->fault_id, path, sizeof(path)) == 0) {
			struct json_object *state = json_object_from_file(path);
			if (state)
				killed += kill_named(json_object_object_get(state, "stressors"));
			json_object_put(state);
		}
		state_remove(env->state_dir, env->fault_id);
	}
	if (killed)
		log_info("stress: killed %d stressor(s) left running", killed);
	return 0;
}

static int sweep_one(const char *path, void *ctx)
{
	(void)ctx;
	struct json_object *o = json_object_from_file(path);
	int n = o ? kill_named(json_object_object_get(o, "stressors")) : 0;
	log_warn("stress: %s named stressors no fault owns any more; killed %d still running", path, n);
	json_object_put(o);
	unlink(path);
	return n;
}

static int stress_sweep(const struct fault_env *env)
{
	if (!env || !env->state_dir)
		return 0;
	return state_file_each(env->state_dir, STRESS_STATE_SUBDIR, sweep_one, NULL);
}

static int stress_probe(char *reason, size_t len)
{
	(void)reason;
	(void)len;
	return 0;
}

const struct fault_kind cpu_stress_kind = {
	.name = "cpu-stress",
	.family = "stress",
	.summary = "burn CPU: N stressor processes at a load percentage, in a target's cgroups or system-wide",
	.probe = stress_probe,
	.parse = cpu_parse,
	.spec_free = stress_spec_free,
	.spec_to_json = stress_spec_to_json,
	.apply = stress_apply,
	.revert = stress_revert,
	.stats = stress_stats,
	.recover = stress_recover,
};

const struct fault_kind memory_stress_kind = {
	.name = "memory-stress",
	.family = "stress",
	.summary = "hold memory: a stressor touches and keeps a size or percent, in a target's cgroups or system-wide",
	.probe = stress_probe,
	.parse = memory_parse,
	.spec_free = stress_spec_free,
	.spec_to_json = stress_spec_to_json,
	.apply = stress_apply,
	.revert = stress_revert,
	.stats = stress_stats,
	.recover = stress_recover,
};

/* Kills stressors that state files name when no journal entry does (a crash in the
 * middle of apply, or a stressor that survived its agent). */
const struct fault_family stress_family = {
	.name = "stress",
	.sweep = stress_sweep,
};
