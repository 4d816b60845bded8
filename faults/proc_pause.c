/* Kind "process-pause": stops the processes a target names and resumes them when the
 * fault ends, after the agent's death too. Two methods:
 *
 *   freezer  the target's cgroup is frozen by the kernel (cgroup v2 cgroup.freeze, or
 *            v1 freezer.state when the directory lies under the v1 freezer mount):
 *            the whole subtree, processes forked or moved in later included, and
 *            nothing in it sees a signal;
 *   signal   SIGSTOP to each matched process through a pidfd, SIGCONT at the end.
 *
 * Whatever must be undone after a crash is on disk before the change: the SIGSTOP
 * list as the process family's state file (process_state_write, resumed by that
 * family's sweep), the cgroup and the value to write back as our own state file
 * STATE_DIR/freezer/ID.json (restored by the "freezer" family's sweep). */
#include "faults/fault.h"
#include "faults/process.h"
#include "faults/target.h"

#include "common/log.h"
#include "common/statefile.h"
#include "common/textfile.h"
#include "common/timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAUSE_MAX_EXCLUDE 64
#define PAUSE_STOP_WAIT_MS 1000
#define PAUSE_FREEZE_WAIT_MS 2000
#define PAUSE_MAX_HIERARCHIES 16
#define FREEZER_SUBDIR "freezer"

extern const struct fault_kind process_kill_kind;

enum pause_method { PAUSE_AUTO, PAUSE_FREEZER, PAUSE_SIGNAL };
static const char *const method_names[] = { "auto", "freezer", "signal" };

struct pause_spec {
	struct target_spec target;
	enum pause_method method;
};

static void pause_spec_free(void *spec_v)
{
	struct pause_spec *spec = spec_v;
	if (!spec)
		return;
	target_spec_clear(&spec->target);
	free(spec);
}

/* A freezer freezes a whole cgroup: only a target that names nothing but the cgroup
 * means exactly that set of processes. */
static bool target_is_whole_cgroup(const struct target_spec *t)
{
	return (t->cgroup || t->unit) && !t->pid && !t->name && !t->exe && !t->cmdline && !t->count && !t->percent;
}

static enum pause_method effective_method(const struct pause_spec *spec)
{
	if (spec->method != PAUSE_AUTO)
		return spec->method;
	return target_is_whole_cgroup(&spec->target) ? PAUSE_FREEZER : PAUSE_SIGNAL;
}

static int pause_parse(struct json_object *params, void **spec_out, struct fault_error *err)
{
	void *allocated;
	int r = fault_spec_alloc(params, sizeof(struct pause_spec), &allocated, err);
	if (r < 0)
		return r;
	struct pause_spec *spec = allocated;
	bool have_target = false;
	if (params) {
		json_object_object_foreach(params, key, v) {
			if (strcmp(key, "processes") == 0) {
				r = target_parse(params, "processes", &spec->target, err);
				have_target = r == 0;
			} else if (strcmp(key, "method") == 0) {
				const char *m = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
				int found = -1;
				for (int i = 0; i < 3; i++)
					if (strcmp(m, method_names[i]) == 0)
						found = i;
				if (found < 0) {
					fault_error_set(err, key, "must be \"auto\", \"freezer\" or \"signal\"");
					r = -EINVAL;
				} else {
					spec->method = (enum pause_method)found;
				}
			} else {
				fault_error_set(err, key, "unknown parameter (known: processes, method)");
				r = -EINVAL;
			}
			if (r < 0)
				break;
		}
	}
	if (r == 0 && !have_target) {
		fault_error_set(err, "processes", "is required: name the processes to pause, e.g. {\"name\": \"postgres\"}");
		r = -EINVAL;
	}
	if (r == 0 && spec->method == PAUSE_FREEZER && !spec->target.cgroup && !spec->target.unit) {
		fault_error_set(err, "method", "\"freezer\" freezes a cgroup: give processes.cgroup or processes.unit");
		r = -EINVAL;
	}
	if (r == 0 && spec->method == PAUSE_FREEZER && !target_is_whole_cgroup(&spec->target)) {
		fault_error_set(err, "method", "\"freezer\" freezes the whole cgroup; pid, name, exe, cmdline, count "
			       "and percent cannot narrow it (use method \"signal\")");
		r = -EINVAL;
	}
	if (r < 0) {
		if (have_target)
			target_spec_clear(&spec->target);
		free(spec);
		return r;
	}
	*spec_out = spec;
	return 0;
}

static struct json_object *pause_spec_to_json(const void *spec_v)
{
	const struct pause_spec *spec = spec_v;
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "processes", target_to_json(&spec->target));
	json_object_object_add(o, "method", json_object_new_string(method_names[spec->method]));
	return o;
}

/* --- cgroup files ------------------------------------------------------------------ */

/* The file's text without its trailing newline. */
static int read_text(const char *path, char *buf, size_t len)
{
	ssize_t n = text_file_read(path, buf, len);
	if (n < 0)
		return (int)n;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

static int file_in(const char *dir, const char *name, char *buf, size_t len)
{
	int w = snprintf(buf, len, "%s/%s", dir, name);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

struct freezer_lookup {
	const char *dir;
	const char **file;
	struct fault_error *err;
	int r;
};

static bool freezer_lookup_mount(const struct cgroup_mount *m, void *lookup_v)
{
	struct freezer_lookup *l = lookup_v;
	if (!m->v2 && !target_cgroup_mount_has(m, "freezer"))
		return true;
	size_t ml = strlen(m->dir);
	if (strcmp(l->dir, m->dir) == 0) {
		fault_error_set(l->err, "processes", "%s is the root of a cgroup hierarchy, which cannot be frozen",
				l->dir);
		l->r = -EINVAL;
	} else if (strncmp(l->dir, m->dir, ml) == 0 && l->dir[ml] == '/') {
		*l->file = m->v2 ? "cgroup.freeze" : "freezer.state";
		l->r = 0;
	}
	return l->r == -ENOTSUP;
}

/* How the directory is frozen: "cgroup.freeze" (v2) or "freezer.state" (v1, under
 * the freezer controller's mount). -EINVAL for a hierarchy root (cannot be frozen),
 * -ENOTSUP when the directory is under neither. */
static int freezer_interface(const char *dir, const char **file, struct fault_error *err)
{
	struct freezer_lookup l = { dir, file, err, -ENOTSUP };
	int r = target_cgroup_mounts_each(freezer_lookup_mount, &l);
	if (r < 0) {
		fault_error_set(err, "processes", "cannot read /proc/self/mountinfo: %s", strerror(-r));
		return r;
	}
	if (l.r == -ENOTSUP)
		fault_error_set(err, "processes",
				"%s lies under neither the cgroup v2 mount nor the v1 freezer mount: nothing can freeze it",
				dir);
	return l.r;
}

static bool is_v2(const char *file) { return strcmp(file, "cgroup.freeze") == 0; }

/* True when the kernel reports the cgroup frozen (every task in it stopped). */
static bool cgroup_frozen(const char *dir, const char *file)
{
	char path[PATH_MAX], text[512];
	if (is_v2(file)) {
		if (file_in(dir, "cgroup.events", path, sizeof(path)) < 0 || read_text(path, text, sizeof(text)) < 0)
			return false;
		char *line = strstr(text, "frozen ");
		return line && (line == text || line[-1] == '\n') && line[7] == '1';
	}
	if (file_in(dir, "freezer.state", path, sizeof(path)) < 0 || read_text(path, text, sizeof(text)) < 0)
		return false;
	return strcmp(text, "FROZEN") == 0;
}

static bool same_netns(pid_t pid, const struct process_netns *ns)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if (stat(path, &st) < 0)
		return true; /* exited meanwhile: it belongs to nobody */
	return st.st_ino == ns->ino && st.st_dev == ns->dev;
}

/* Processes in the cgroup and its descendants (every one of them is frozen); with
 * `ns`, those outside that network namespace are counted in *foreign. */
static int count_cgroup_procs(const char *dir, int depth, const struct process_netns *ns, int *foreign)
{
	char path[PATH_MAX];
	int n = 0;
	if (file_in(dir, "cgroup.procs", path, sizeof(path)) == 0) {
		FILE *f = fopen(path, "re");
		if (f) {
			int pid;
			while (fscanf(f, "%d", &pid) == 1) {
				n++;
				if (ns && !same_netns(pid, ns))
					(*foreign)++;
			}
			fclose(f);
		}
	}
	if (depth >= 32)
		return n;
	DIR *d = opendir(dir);
	if (!d)
		return n;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		char sub[PATH_MAX];
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) < (int)sizeof(sub))
			n += count_cgroup_procs(sub, depth + 1, ns, foreign);
	}
	closedir(d);
	return n;
}

/* Writes `value` back into DIR/FILE; a cgroup removed meanwhile has nothing to restore. */
static int freezer_restore(const char *dir, const char *file, const char *value)
{
	if (!dir || !file || !value || dir[0] != '/' || strstr(dir, "/..") ||
	    (strcmp(file, "cgroup.freeze") != 0 && strcmp(file, "freezer.state") != 0))
		return -EINVAL;
	char path[PATH_MAX];
	int r = file_in(dir, file, path, sizeof(path));
	if (r == 0)
		r = text_file_write(path, value);
	if (r == -ENOENT)
		return 0;
	return r;
}

static struct json_object *freezer_state_json(const char *dir, const char *file, const char *restore)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "cgroup", json_object_new_string(dir));
	json_object_object_add(o, "file", json_object_new_string(file));
	json_object_object_add(o, "restore", json_object_new_string(restore));
	return o;
}

static int freezer_restore_json(struct json_object *o)
{
	struct json_object *dir, *file, *value;
	if (!o || !json_object_object_get_ex(o, "cgroup", &dir) || !json_object_object_get_ex(o, "file", &file) ||
	    !json_object_object_get_ex(o, "restore", &value))
		return 0;
	const char *d = json_object_get_string(dir);
	int r = freezer_restore(d, json_object_get_string(file), json_object_get_string(value));
	if (r < 0)
		log_warn("process-pause: cannot write %s back into %s/%s: %s", json_object_get_string(value), d,
			 json_object_get_string(file), strerror(-r));
	return r;
}

static void freezer_state_remove(const char *state_dir, const char *fault_id)
{
	state_file_remove(state_dir, FREEZER_SUBDIR, fault_id, "process-pause");
}

/* --- apply / revert ------------------------------------------------------------------ */

struct pause_handle {
	enum pause_method method;
	char state_dir[PATH_MAX];
	char fault_id[64];
	int n_frozen;
	/* signal */
	struct process_ident *frozen;
	int *frozen_fds;
	bool process_state;
	/* freezer */
	char cgroup[PATH_MAX];
	const char *file;
	char restore[16];
	bool freezer_state;
	bool cgroup_changed;
};

static int thaw(struct pause_handle *h)
{
	int r = 0;
	for (int i = 0; i < h->n_frozen && h->frozen_fds; i++) {
		if (h->frozen_fds[i] < 0)
			continue;
		int s = process_pidfd_signal(h->frozen_fds[i], SIGCONT);
		if (s < 0 && s != -ESRCH) {
			log_warn("process-pause: resuming pid %d (%s): %s", (int)h->frozen[i].pid, h->frozen[i].comm,
				 strerror(-s));
			r = s;
		}
		close(h->frozen_fds[i]);
		h->frozen_fds[i] = -1;
	}
	if (h->process_state)
		process_state_remove(h->state_dir, h->fault_id);
	h->process_state = false;
	if (h->cgroup_changed) {
		int s = freezer_restore(h->cgroup, h->file, h->restore);
		if (s < 0) {
			log_warn("process-pause: cannot write %s back into %s/%s: %s", h->restore, h->cgroup, h->file,
				 strerror(-s));
			r = s;
		} else {
			h->cgroup_changed = false;
		}
	}
	/* Kept when the cgroup could not be restored: the sweep tries again at the next start. */
	if (h->freezer_state && !h->cgroup_changed) {
		freezer_state_remove(h->state_dir, h->fault_id);
		h->freezer_state = false;
	}
	return r;
}

static int handle_free(struct pause_handle *h)
{
	if (!h)
		return 0;
	int r = thaw(h);
	free(h->frozen);
	free(h->frozen_fds);
	free(h);
	return r;
}

/* Refuses a cgroup the agent itself (and so its guardian) runs in: nobody would be
 * left to thaw it. */
static int refuse_own_cgroup(const char *dir, struct fault_error *err)
{
	char (*mine)[PATH_MAX] = malloc(sizeof(*mine) * PAUSE_MAX_HIERARCHIES);
	if (!mine) {
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	int n = target_process_cgroups(getpid(), mine, PAUSE_MAX_HIERARCHIES);
	int r = n < 0 ? n : 0;
	if (n < 0)
		fault_error_set(err, "processes", "cannot read the agent's own cgroups: %s", strerror(-n));
	size_t dl = strlen(dir);
	for (int i = 0; i < n; i++) {
		if (strncmp(mine[i], dir, dl) == 0 && (mine[i][dl] == '\0' || mine[i][dl] == '/')) {
			fault_error_set(err, "processes", "the agent itself runs in %s; freezing it would leave nobody "
				       "to thaw it", mine[i]);
			r = -EPERM;
			break;
		}
	}
	free(mine);
	return r;
}

static int apply_freezer(const struct pause_spec *spec, const struct fault_env *env, struct pause_handle *h,
			 struct fault_error *err)
{
	int r = target_cgroup_dir(&spec->target, h->cgroup, sizeof(h->cgroup), err);
	if (r < 0)
		return r;
	if ((r = freezer_interface(h->cgroup, &h->file, err)) < 0)
		return r;
	if ((r = refuse_own_cgroup(h->cgroup, err)) < 0)
		return r;
	/* An agent that stands for one network namespace (a lab host) freezes nothing of
	 * another: the cgroup must hold only processes it may touch. */
	pid_t exclude[PAUSE_MAX_EXCLUDE];
	struct process_scope scope;
	if ((r = process_scope_targets(&scope, exclude, PAUSE_MAX_EXCLUDE)) < 0) {
		fault_error_set(err, "", "cannot determine which processes this agent may touch: %s", strerror(-r));
		return r;
	}
	int foreign = 0;
	count_cgroup_procs(h->cgroup, 0, scope.any_netns ? NULL : &scope.netns, &foreign);
	if (foreign > 0) {
		fault_error_set(err, "processes", "%s holds %d process(es) outside this agent's network namespace; "
			       "freezing it would stop them too", h->cgroup, foreign);
		return -EPERM;
	}
	char path[PATH_MAX], now[64];
	/* The cgroup's own setting, not what a frozen ancestor makes it look like. */
	const char *own = is_v2(h->file) ? "cgroup.freeze" : "freezer.self_freezing";
	if ((r = file_in(h->cgroup, own, path, sizeof(path))) < 0 || (r = read_text(path, now, sizeof(now))) < 0) {
		fault_error_set(err, "processes", "cannot read %s/%s: %s", h->cgroup, own, strerror(-r));
		return r;
	}
	if (strcmp(now, "0") != 0) {
		fault_error_set(err, "processes", "%s is frozen already (%s is %s): there is nothing to pause",
				h->cgroup, own, now);
		return -EBUSY;
	}
	snprintf(h->restore, sizeof(h->restore), "%s", is_v2(h->file) ? "0" : "THAWED");
	struct json_object *state = freezer_state_json(h->cgroup, h->file, h->restore);
	const char *text = state ? json_object_to_json_string_ext(state, JSON_C_TO_STRING_PLAIN) : NULL;
	r = text ? state_file_write(env->state_dir, FREEZER_SUBDIR, env->fault_id, text) : -ENOMEM;
	json_object_put(state);
	if (r < 0) {
		fault_error_set(err, "processes", "cannot record the cgroup to freeze in %s: %s", env->state_dir,
				strerror(-r));
		return r;
	}
	h->freezer_state = true;
	if ((r = file_in(h->cgroup, h->file, path, sizeof(path))) == 0) {
		h->cgroup_changed = true; /* a failed write may still have frozen it: restore either way */
		r = text_file_write(path, is_v2(h->file) ? "1" : "FROZEN");
	}
	if (r < 0) {
		fault_error_set(err, "processes", "cannot freeze %s through %s: %s", h->cgroup, h->file, strerror(-r));
		return r;
	}
	uint64_t until = mono_ms() + PAUSE_FREEZE_WAIT_MS;
	while (!cgroup_frozen(h->cgroup, h->file) && mono_ms() < until)
		sleep_ms(5);
	if (!cgroup_frozen(h->cgroup, h->file))
		log_warn("process-pause: %s is not frozen yet after %d ms (a task in uninterruptible sleep?); it "
			 "freezes when it can", h->cgroup, PAUSE_FREEZE_WAIT_MS);
	h->n_frozen = count_cgroup_procs(h->cgroup, 0, NULL, NULL);
	return 0;
}

static int apply_signal(const struct pause_spec *spec, const struct fault_env *env, struct pause_handle *h,
			struct fault_error *err)
{
	pid_t exclude[PAUSE_MAX_EXCLUDE];
	struct process_scope scope;
	int r = process_scope_targets(&scope, exclude, PAUSE_MAX_EXCLUDE);
	if (r < 0) {
		fault_error_set(err, "", "cannot determine which processes this agent may touch: %s", strerror(-r));
		return r;
	}
	struct process_ident *found = NULL;
	int n = 0;
	if ((r = target_resolve(&spec->target, &scope, &found, &n, err)) < 0)
		return r;
	/* Someone else stopped these: resuming them at the end would undo that. */
	int kept = 0;
	for (int i = 0; i < n; i++) {
		struct process_stat st;
		if (process_stat_read(scope.proc_root, found[i].pid, &st) < 0 || st.starttime != found[i].starttime)
			continue;
		if (st.state == 'T' || st.state == 't') {
			log_info("process-pause: pid %d (%s) is stopped already; left alone", (int)found[i].pid,
				 found[i].comm);
			continue;
		}
		found[kept++] = found[i];
	}
	if (kept == 0) {
		free(found);
		fault_error_set(err, "processes", "every matched process is stopped already: there is nothing to pause");
		return -EBUSY;
	}
	h->frozen = found;
	h->frozen_fds = malloc(sizeof(int) * (size_t)kept);
	if (!h->frozen_fds) {
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	/* On disk before anything is stopped: a crash from here on leaves the list to
	 * recover() or the process family's sweep. */
	if ((r = process_state_write(env->state_dir, env->fault_id, found, kept)) < 0) {
		fault_error_set(err, "processes", "cannot record the processes to stop in %s: %s", env->state_dir,
				strerror(-r));
		return r;
	}
	h->process_state = true;
	int frozen = 0, failed = 0;
	r = process_freeze(scope.proc_root, found, kept, h->frozen_fds, &frozen, &failed);
	if (r < 0) {
		fault_error_set(err, "processes", "cannot stop pid %d (%s): %s", (int)found[failed].pid,
				found[failed].comm, strerror(-r));
		return r;
	}
	h->n_frozen = frozen;
	for (int i = 0; i < frozen; i++)
		if (process_wait_stopped(scope.proc_root, &h->frozen[i], PAUSE_STOP_WAIT_MS) < 0)
			log_warn("process-pause: pid %d (%s) has not stopped yet (uninterruptible sleep?); it stops "
				 "when it leaves it", (int)h->frozen[i].pid, h->frozen[i].comm);
	if (frozen != kept && (r = process_state_write(env->state_dir, env->fault_id, h->frozen, frozen)) < 0)
		log_warn("process-pause: cannot update %s/processes: %s (it names more processes than were stopped)",
			 env->state_dir, strerror(-r));
	if (frozen == 0) {
		fault_error_set(err, "processes", "every matched process exited before it could be stopped");
		return -ESRCH;
	}
	return 0;
}

static int pause_apply(const void *spec_v, const struct fault_env *env, void **handle_out,
		       struct json_object *record, struct fault_error *err)
{
	const struct pause_spec *spec = spec_v;
	if (!env || !env->state_dir || !env->fault_id || !*env->fault_id) {
		/* Without a state file a crash could leave processes stopped for good. */
		fault_error_set(err, "", "the agent gave no state directory or fault id");
		return -EINVAL;
	}
	struct pause_handle *h = calloc(1, sizeof(*h));
	if (!h) {
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	h->method = effective_method(spec);
	snprintf(h->state_dir, sizeof(h->state_dir), "%s", env->state_dir);
	snprintf(h->fault_id, sizeof(h->fault_id), "%s", env->fault_id);
	int r = h->method == PAUSE_FREEZER ? apply_freezer(spec, env, h, err) : apply_signal(spec, env, h, err);
	if (r < 0) {
		handle_free(h);
		return r;
	}
	if (record) {
		json_object_object_add(record, "method", json_object_new_string(method_names[h->method]));
		if (h->method == PAUSE_FREEZER) {
			json_object_object_add(record, "cgroup", json_object_new_string(h->cgroup));
			json_object_object_add(record, "file", json_object_new_string(h->file));
			json_object_object_add(record, "restore", json_object_new_string(h->restore));
		} else {
			json_object_object_add(record, "frozen", process_list_to_json(h->frozen, h->n_frozen));
		}
	}
	if (h->method == PAUSE_FREEZER)
		log_info("process-pause: %s frozen through %s (%d process(es))", h->cgroup, h->file, h->n_frozen);
	else
		log_info("process-pause: %d process(es) stopped with SIGSTOP", h->n_frozen);
	*handle_out = h;
	return 0;
}

static int pause_revert(void *handle)
{
	return handle_free(handle);
}

static int pause_stats(void *handle, struct json_object *out)
{
	struct pause_handle *h = handle;
	json_object_object_add(out, "processes_frozen", json_object_new_int(h->n_frozen));
	json_object_object_add(out, "method", json_object_new_string(method_names[h->method]));
	if (h->method == PAUSE_FREEZER) {
		json_object_object_add(out, "interface", json_object_new_string(h->file));
		json_object_object_add(out, "cgroup", json_object_new_string(h->cgroup));
	}
	return 0;
}

static int pause_recover(struct json_object *record, const struct fault_env *env)
{
	int r = 0;
	struct json_object *v;
	if (record && json_object_object_get_ex(record, "frozen", &v)) {
		int n, resumed = process_resume_json("/proc", v, &n);
		if (n > 0)
			log_info("process-pause: resumed %d of %d stopped process(es)", resumed, n);
	}
	if (record && json_object_object_get_ex(record, "cgroup", &v)) {
		r = freezer_restore_json(record);
		if (r == 0)
			log_info("process-pause: %s thawed", json_object_get_string(v));
	}
	/* A crash in the middle of apply leaves no record but the state files. */
	if (env && env->state_dir && env->fault_id && *env->fault_id) {
		char path[PATH_MAX];
		process_state_recover(env->state_dir, env->fault_id, "/proc");
		if (state_file_path(env->state_dir, FREEZER_SUBDIR, env->fault_id, path, sizeof(path)) == 0) {
			struct json_object *state = json_object_from_file(path);
			int s = state ? freezer_restore_json(state) : 0;
			json_object_put(state);
			if (s == 0)
				freezer_state_remove(env->state_dir, env->fault_id);
			else
				r = s;
		}
	}
	return r;
}

static int pause_probe(char *reason, size_t len)
{
	return process_kill_kind.probe(reason, len);
}

const struct fault_kind process_pause_kind = {
	.name = "process-pause",
	.family = "process",
	.summary = "stop the processes a target names (cgroup freezer or SIGSTOP) and resume them at the end",
	.probe = pause_probe,
	.parse = pause_parse,
	.spec_free = pause_spec_free,
	.spec_to_json = pause_spec_to_json,
	.apply = pause_apply,
	.revert = pause_revert,
	.stats = pause_stats,
	.recover = pause_recover,
};

static int freezer_sweep_one(const char *path, void *ctx)
{
	(void)ctx;
	int restored = 0;
	struct json_object *o = json_object_from_file(path);
	struct json_object *cg = o ? json_object_object_get(o, "cgroup") : NULL;
	if ((o ? freezer_restore_json(o) : 0) == 0) {
		if (cg) {
			log_warn("process-pause: %s named cgroup %s that no fault owns any more; thawed", path,
				 json_object_get_string(cg));
			restored = 1;
		}
		unlink(path);
	}
	json_object_put(o);
	return restored;
}

/* Thaws every cgroup a freezer state file names: left by a crash between freezing
 * and journaling (or a restore that failed). Returns how many were restored. */
static int freezer_sweep(const struct fault_env *env)
{
	if (!env || !env->state_dir)
		return 0;
	return state_file_each(env->state_dir, FREEZER_SUBDIR, freezer_sweep_one, NULL);
}

const struct fault_family freezer_family = {
	.name = "freezer",
	.sweep = freezer_sweep,
};
