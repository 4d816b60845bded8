/* Process helpers for faults that freeze or kill processes (host-outage today,
 * the process fault family later): finding processes by name inside the agent's
 * own network namespace, and signalling them through pidfds so that a pid the
 * kernel reused for another process is never hit.
 *
 * A process is identified by (pid, starttime): starttime is field 22 of
 * /proc/PID/stat (clock ticks after boot) and never changes for a process, so a
 * reused pid shows a different starttime. */
#pragma once
#include "faults/fault.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCESS_MAX_NAMES 32
#define PROCESS_NAME_MAX 255     /* a file name */
#define PROCESS_COMM_LEN 15      /* the kernel truncates comm to this many characters */

struct process_ident {
	pid_t pid;
	uint64_t starttime;
	char comm[PROCESS_COMM_LEN + 1];
};

/* What /proc/PID/stat says about a process. */
struct process_stat {
	char comm[PROCESS_COMM_LEN + 1];
	char state;              /* 'R', 'S', 'D', 'T', 't', 'Z', ... */
	pid_t ppid;
	unsigned flags;          /* PF_* */
	uint64_t cpu_ticks;      /* utime + stime, in clock ticks */
	uint64_t starttime;
};

/* A network namespace, as the inode and device of its /proc/PID/ns/net. */
struct process_netns {
	uint64_t ino;
	uint64_t dev;
};

/* Parses the text of a /proc/PID/stat file (comm may hold spaces and ')'). */
int process_stat_parse(const char *text, struct process_stat *out);
/* Reads PROC_ROOT/PID/stat ("/proc" on a real host). */
int process_stat_read(const char *proc_root, pid_t pid, struct process_stat *out);

/* The network namespace of the calling thread. */
int process_netns_self(struct process_netns *out);
/* The network namespace a /proc/PID/ns/net path names. */
int process_netns_of(const char *path, struct process_netns *out);

/* PROC_ROOT/PID/exe's target ("/usr/bin/sleep"), without the " (deleted)" an
 * upgraded binary shows; false when unreadable. */
bool process_read_exe(const char *proc_root, pid_t pid, char *buf, size_t len);

/* True when `name` (as written in freeze/kill) names the process: its comm, the
 * basename of its executable, or for names longer than comm can hold, comm is the
 * name's first 15 characters and argv[0]'s basename is the name. `exe` and
 * `argv0` may be NULL when unreadable. */
bool process_name_matches(const char *name, const char *comm, const char *exe, const char *argv0);

/* Where to look and what never to touch. */
struct process_scope {
	const char *proc_root;          /* "/proc"; tests use a fake tree */
	struct process_netns netns;     /* only processes in this namespace */
	const pid_t *exclude;           /* never these (the agent and its ancestors) */
	int n_exclude;
	bool any_netns;                 /* the whole host: netns is not checked */
};

/* True when the scope says never to touch pid (the agent or an ancestor). */
bool process_excluded(const struct process_scope *scope, pid_t pid);
/* True when pid lives in the scope's network namespace (always with any_netns). */
bool process_in_netns(const struct process_scope *scope, pid_t pid);

/* The scope of the calling agent: /proc, its own network namespace, itself and
 * every ancestor up to pid 1 excluded. Pid 1 and kernel threads are always left out. */
int process_scope_self(struct process_scope *scope, pid_t *exclude_buf, int buf_len);

/* Every process in scope that one of `names` matches, sorted by pid, with
 * matched[i] counting the processes name i matched (may be NULL). Zombies are
 * left out; so are stopped processes when skip_stopped (someone else stopped
 * them, and resuming them later would undo that). Returns the count or -errno;
 * *out is malloc'd (NULL when none). */
int process_find(const struct process_scope *scope, const char *const *names, int n_names, bool skip_stopped,
		 struct process_ident **out, int *matched);

/* Walks PROC_ROOT: every process in scope (not excluded, in its network namespace;
 * neither pid 1, a kernel thread nor a zombie) for which keep() says true, sorted by
 * pid. Returns the count or -errno; *out is malloc'd (NULL when none). */
typedef bool (*process_scan_keep)(pid_t pid, const struct process_stat *st, void *ctx);
int process_scan(const struct process_scope *scope, process_scan_keep keep, void *ctx, struct process_ident **out);
void process_list_sort(struct process_ident *list, int n);

/* A pidfd for exactly this process: -ESRCH when it is gone or the pid now
 * belongs to another process (starttime differs). */
int process_pidfd_open(const char *proc_root, const struct process_ident *p);
/* Signals through the pidfd; 0, -ESRCH when the process has exited, or -errno. */
int process_pidfd_signal(int pidfd, int sig);

/* Sends `sig` to every process of `list` through a pidfd each. Processes that exited
 * meanwhile (or whose pid now names another process) are dropped: `list` is compacted,
 * fds[i] holding list[i]'s pidfd (the caller closes them), and *n_signalled says how
 * many were signalled, on failure too: those stay signalled, the caller decides. On
 * failure *failed is the index in the ORIGINAL list that failed, *failed_open (may be
 * NULL) whether its pidfd could not be opened rather than signalled, and -errno is
 * returned. */
int process_signal_each(const char *proc_root, struct process_ident *list, int n, int sig, int *fds,
			int *n_signalled, int *failed, bool *failed_open);

/* Stops every process of `list` with SIGSTOP through a pidfd each. Processes that
 * exited meanwhile (or whose pid now names another process) are dropped: `list` is
 * compacted and *n_frozen says how many remain, fds[i] holding list[i]'s pidfd
 * (the caller closes them). All or nothing: on failure every process already
 * stopped is resumed, the pidfds are closed, *failed is the index in the ORIGINAL
 * list that failed, and -errno is returned. */
int process_freeze(const char *proc_root, struct process_ident *list, int n, int *fds, int *n_frozen, int *failed);

/* Polls /proc until the process is stopped (state 'T'), gone, or timeout_ms passed.
 * Returns 0 when stopped or gone, -ETIMEDOUT otherwise. */
int process_wait_stopped(const char *proc_root, const struct process_ident *p, int timeout_ms);
/* Waits until every pidfd's process has exited or timeout_ms passed; returns how
 * many are still alive. */
int process_wait_exited(const int *pidfds, int n, int timeout_ms);

/* Sends SIGCONT to each process of `list` that still exists with the same
 * starttime (a resumed or exited one is skipped). Returns how many were signalled. */
int process_resume_list(const char *proc_root, const struct process_ident *list, int n);

/* Signal names: "SIGKILL", "KILL" or "9" -> 9. -EINVAL for anything else. */
int process_signal_parse(const char *text, int *sig);
const char *process_signal_name(int sig, char *buf, size_t len);
/* The "signal" param of a kind that ends processes: a signal name, never one that only stops or
 * resumes (those are left in place by kinds that restore nothing). stop_hint says which kind or
 * param stops processes instead. */
int process_ending_signal_param(struct json_object *v, const char *stop_hint, int *sig,
				struct fault_error *err);

/* JSON form used in journal records and state files: [{"pid": N, "starttime": N, "comm": "..."}]. */
struct json_object *process_list_to_json(const struct process_ident *list, int n);
/* Entries without a valid pid/starttime are skipped. *out is malloc'd. */
int process_list_from_json(struct json_object *arr, struct process_ident **out, int *n_out);
/* process_resume_list() on a list in that JSON form (NULL or not an array: none).
 * Returns how many were resumed; *n_listed (may be NULL) how many it named. */
int process_resume_json(const char *proc_root, struct json_object *list_json, int *n_listed);

/* Processes frozen by a fault, written to STATE_DIR/processes/FAULT_ID.json
 * (fsync'd) BEFORE they are stopped, so that a crash in the middle of apply (before
 * the agent journals the record) still leaves a way to resume them: the family's
 * sweep resumes every list it finds at agent start. */
int process_state_write(const char *state_dir, const char *fault_id, const struct process_ident *list, int n);
void process_state_remove(const char *state_dir, const char *fault_id);
/* recover() without a record (a crash in the middle of apply): resumes what the fault's
 * state file names and removes it. Returns how many were resumed. */
int process_state_recover(const char *state_dir, const char *fault_id, const char *proc_root);
/* Resumes and removes every leftover state file; returns how many processes were resumed. */
int process_state_sweep(const char *state_dir, const char *proc_root);
