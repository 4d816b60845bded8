/* Which processes a process fault (kill, pause, crash point) or a stressor placed
 * "with a target" acts on: the `processes` object of a fault's params.
 *
 *   processes = { pid = 1234; }                       one process
 *   processes = { name = "postgres"; count = 1; }     comm or executable basename
 *   processes = { exe = "/usr/bin/sqlite3"; }         exact executable path
 *   processes = { cmdline = "worker .*--queue=mail"; percent = 50; seed = 7; }
 *   processes = { cgroup = "/system.slice/db.service"; }   every process of a cgroup
 *   processes = { unit = "db.service"; }              the same through systemd's unit name
 *
 * Criteria given together must all hold (name AND cmdline ...). count or percent picks
 * that many of the matches (percent rounds up, at least one); seed makes the pick
 * repeatable, without it the pick changes per apply.
 *
 * Which processes can be seen at all (process_scope_targets): an agent in the host's
 * own network namespace (that of pid 1) sees the whole host; an agent inside another
 * network namespace (the lab, the tests) sees only the processes of that namespace,
 * the "host" it stands for. Never: the agent and its ancestors, pid 1, kernel
 * threads, zombies. */
#pragma once
#include "faults/fault.h"
#include "faults/process.h"

#include <limits.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct target_spec {
	pid_t pid;            /* 0: not given */
	char *name;           /* NULL: not given; matched like host-outage names */
	char *exe;            /* absolute path, compared with readlink(/proc/PID/exe) */
	char *cmdline;        /* POSIX extended regex, searched in argv joined by single spaces */
	regex_t cmdline_re;   /* compiled when cmdline != NULL */
	char *cgroup;         /* absolute under a cgroup mount, or relative to the v2 mount */
	char *unit;           /* systemd unit, resolved like the network scope's unit */
	int count;            /* 0: all matches */
	int percent;          /* 0: not given; 1-100 */
	bool has_seed;
	uint64_t seed;
};

/* Parses params[key] (an object) into *out. `key` is used for error keys
 * ("processes.cmdline"). At least one of pid/name/exe/cmdline/cgroup/unit is
 * required; count and percent exclude each other. Pure: no /proc access. */
int target_parse(struct json_object *params, const char *key, struct target_spec *out, struct fault_error *err);
void target_spec_clear(struct target_spec *spec);
/* Every field back as JSON, defaults filled in. */
struct json_object *target_to_json(const struct target_spec *spec);

/* The processes this agent may touch (see above). exclude_buf holds the agent's
 * own pid and ancestors. */
int process_scope_targets(struct process_scope *scope, pid_t *exclude_buf, int buf_len);

/* The processes the spec names now, sorted by pid, after count/percent. -ESRCH with
 * err set ("no process matches processes.name \"x\" in this agent's scope") when
 * none. *out is malloc'd. */
int target_resolve(const struct target_spec *spec, const struct process_scope *scope, struct process_ident **out,
		   int *n_out, struct fault_error *err);

/* When the spec names a cgroup (cgroup or unit): its absolute directory. -ENOENT
 * when it names none or it does not exist (err set). */
int target_cgroup_dir(const struct target_spec *spec, char *buf, size_t len, struct fault_error *err);

/* A cgroup hierarchy's mount, from /proc/self/mountinfo. */
struct cgroup_mount {
	char dir[PATH_MAX];   /* where it is mounted */
	char root[PATH_MAX];  /* the part of the hierarchy the mount shows ("/" normally) */
	char options[1024];   /* super options: "rw,cpu,cpuacct", "rw,name=systemd"; "" for v2 */
	bool v2;
};

/* Calls visit() for each cgroup (v1) and cgroup2 mount, in mountinfo's order, until
 * it returns false. 0 or -errno. */
int target_cgroup_mounts_each(bool (*visit)(const struct cgroup_mount *m, void *ctx), void *ctx);
/* True when a mount's options hold every controller of "cpu,cpuacct" (never for v2). */
bool target_cgroup_mount_has(const struct cgroup_mount *m, const char *controllers);

/* The cgroup directories a process belongs to, one per mounted hierarchy (v2 and
 * each v1 controller mount), as absolute paths, read from /proc/PID/cgroup and
 * /proc/self/mountinfo. Returns how many (<= max) or -errno; -ENOENT when this
 * process's mount namespace shows no cgroup hierarchy at all. */
int target_process_cgroups(pid_t pid, char (*dirs)[PATH_MAX], int max);
