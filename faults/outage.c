/* Kind "host-outage": the symptoms of a host losing power (docs/faults.md).
 * The network is cut by a blackhole of the packet family (no match, both
 * directions); named processes are frozen (SIGSTOP, resumed on revert) or killed. */
#include "faults/packet.h"
#include "faults/process.h"

#include "common/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Long enough for a busy host to schedule every stopped task, short enough
 * that apply stays fast; a task in uninterruptible sleep stops later anyway. */
#define OUTAGE_STOP_WAIT_MS 1000
#define OUTAGE_EXIT_WAIT_MS 1000
#define OUTAGE_MAX_EXCLUDE 64

struct outage_spec {
	bool keep_control_path;
	int n_freeze, n_kill;
	char freeze[PROCESS_MAX_NAMES][PROCESS_NAME_MAX + 1];
	char kill[PROCESS_MAX_NAMES][PROCESS_NAME_MAX + 1];
	int signal;
	bool signal_given;
	struct json_object *interfaces;   /* as given, NULL when not */
	struct packet_spec *network;
};

static void outage_spec_free(void *spec_v)
{
	struct outage_spec *spec = spec_v;
	if (!spec)
		return;
	json_object_put(spec->interfaces);
	free(spec->network);
	free(spec);
}

static int parse_names(struct json_object *v, const char *key, char (*names)[PROCESS_NAME_MAX + 1], int *n_out,
		       struct fault_error *err)
{
	if (!json_object_is_type(v, json_type_array)) {
		fault_error_set(err, key, "must be a list of process names");
		return -EINVAL;
	}
	size_t n = json_object_array_length(v);
	if (n > PROCESS_MAX_NAMES) {
		fault_error_set(err, key, "has %zu entries, at most %d are allowed", n, PROCESS_MAX_NAMES);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char item_key[48];
		snprintf(item_key, sizeof(item_key), "%s[%zu]", key, i);
		struct json_object *item = json_object_array_get_idx(v, i);
		const char *name = json_object_is_type(item, json_type_string) ? json_object_get_string(item) : NULL;
		if (!name || !*name || strlen(name) > PROCESS_NAME_MAX || strchr(name, '/')) {
			fault_error_set(err, item_key,
					"must be a process name: its comm or executable's file name (1-%d characters, no '/')",
					PROCESS_NAME_MAX);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(names[j], name) == 0) {
				fault_error_set(err, item_key, "\"%s\" is listed twice", name);
				return -EINVAL;
			}
		}
		snprintf(names[i], PROCESS_NAME_MAX + 1, "%s", name);
	}
	*n_out = (int)n;
	return 0;
}

/* The network half, validated by the packet family itself so that interface
 * errors read the same and carry the same key. */
static int build_network_spec(struct outage_spec *spec, struct fault_error *err)
{
	struct json_object *p = json_object_new_object();
	if (!p)
		return -ENOMEM;
	json_object_object_add(p, "direction", json_object_new_string("both"));
	json_object_object_add(p, "blackout", json_object_new_boolean(!spec->keep_control_path));
	if (spec->interfaces)
		json_object_object_add(p, "interfaces", json_object_get(spec->interfaces));
	int r = packet_spec_parse(p, true, &spec->network, err);
	json_object_put(p);
	return r;
}

static int outage_parse(struct json_object *params, void **spec_out, struct fault_error *err)
{
	void *allocated;
	int r = fault_spec_alloc(params, sizeof(struct outage_spec), &allocated, err);
	if (r < 0)
		return r;
	struct outage_spec *spec = allocated;
	spec->keep_control_path = true;
	spec->signal = SIGKILL;
	if (params) {
		json_object_object_foreach(params, key, v) {
			if (strcmp(key, "keep_control_path") == 0) {
				if (!json_object_is_type(v, json_type_boolean)) {
					fault_error_set(err, key, "must be true or false");
					r = -EINVAL;
				} else {
					spec->keep_control_path = json_object_get_boolean(v);
				}
			} else if (strcmp(key, "freeze") == 0) {
				r = parse_names(v, key, spec->freeze, &spec->n_freeze, err);
			} else if (strcmp(key, "kill") == 0) {
				r = parse_names(v, key, spec->kill, &spec->n_kill, err);
			} else if (strcmp(key, "signal") == 0) {
				r = process_ending_signal_param(v, "freeze", &spec->signal, err);
				spec->signal_given = true;
			} else if (strcmp(key, "interfaces") == 0) {
				spec->interfaces = json_object_get(v);
			} else {
				fault_error_set(err, key, "unknown parameter (known: keep_control_path, freeze, kill, "
					       "signal, interfaces)");
				r = -EINVAL;
			}
			if (r < 0)
				break;
		}
	}
	if (r == 0 && spec->signal_given && spec->n_kill == 0) {
		fault_error_set(err, "signal", "is only used with kill");
		r = -EINVAL;
	}
	for (int i = 0; r == 0 && i < spec->n_kill; i++) {
		for (int j = 0; j < spec->n_freeze; j++) {
			if (strcmp(spec->kill[i], spec->freeze[j]) == 0) {
				char key[32];
				snprintf(key, sizeof(key), "kill[%d]", i);
				fault_error_set(err, key, "\"%s\" is also in freeze; a process is frozen or killed",
						spec->kill[i]);
				r = -EINVAL;
				break;
			}
		}
	}
	if (r == 0)
		r = build_network_spec(spec, err);
	if (r < 0) {
		outage_spec_free(spec);
		return r;
	}
	*spec_out = spec;
	return 0;
}

static struct json_object *names_to_json(const struct outage_spec *spec, bool kill)
{
	int n = kill ? spec->n_kill : spec->n_freeze;
	struct json_object *arr = json_object_new_array();
	for (int i = 0; arr && i < n; i++)
		json_object_array_add(arr, json_object_new_string(kill ? spec->kill[i] : spec->freeze[i]));
	return arr;
}

static struct json_object *outage_spec_to_json(const void *spec_v)
{
	const struct outage_spec *spec = spec_v;
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "keep_control_path", json_object_new_boolean(spec->keep_control_path));
	json_object_object_add(o, "freeze", names_to_json(spec, false));
	json_object_object_add(o, "kill", names_to_json(spec, true));
	/* Only with kill: parse() refuses a signal that nothing would receive. */
	char sig[24];
	if (spec->n_kill > 0)
		json_object_object_add(o, "signal",
				       json_object_new_string(process_signal_name(spec->signal, sig, sizeof(sig))));
	if (spec->interfaces)
		json_object_object_add(o, "interfaces", json_object_get(spec->interfaces));
	return o;
}

struct outage_handle {
	void *network;                   /* the blackhole's handle */
	struct process_ident *frozen;
	int *frozen_fds;
	int n_frozen;
	int n_killed;
	bool state_file;
	char state_dir[256];
	char fault_id[64];
};

static int outage_probe(char *reason, size_t len)
{
	return blackhole_kind.probe(reason, len);
}

/* Resumes what this fault froze; the pidfds make sure only those very processes are hit. */
static void thaw(struct outage_handle *h)
{
	for (int i = 0; i < h->n_frozen; i++) {
		if (h->frozen_fds[i] < 0)
			continue;
		int r = process_pidfd_signal(h->frozen_fds[i], SIGCONT);
		if (r < 0 && r != -ESRCH)
			log_warn("host-outage: resuming pid %d (%s): %s", (int)h->frozen[i].pid, h->frozen[i].comm,
				 strerror(-r));
		close(h->frozen_fds[i]);
		h->frozen_fds[i] = -1;
	}
	if (h->state_file)
		process_state_remove(h->state_dir, h->fault_id);
	h->state_file = false;
}

static int handle_free(struct outage_handle *h)
{
	if (!h)
		return 0;
	thaw(h);
	int r = h->network ? blackhole_kind.revert(h->network) : 0;
	free(h->frozen);
	free(h->frozen_fds);
	free(h);
	return r;
}

static void warn_unmatched(const char *what, const char *const *names, int n, const int *matched,
			   struct json_object *unmatched)
{
	for (int i = 0; i < n; i++) {
		if (matched[i] > 0)
			continue;
		log_warn("host-outage: %s \"%s\" matches no process in this network namespace", what, names[i]);
		json_object_array_add(unmatched, json_object_new_string(names[i]));
	}
}

static int freeze_processes(const struct outage_spec *spec, const struct process_scope *scope,
			    const struct fault_env *env, struct outage_handle *h, struct json_object *unmatched,
			    struct fault_error *err)
{
	const char *names[PROCESS_MAX_NAMES];
	int matched[PROCESS_MAX_NAMES];
	for (int i = 0; i < spec->n_freeze; i++)
		names[i] = spec->freeze[i];
	struct process_ident *found = NULL;
	int n = process_find(scope, names, spec->n_freeze, true, &found, matched);
	if (n < 0) {
		fault_error_set(err, "freeze", "cannot list processes: %s", strerror(-n));
		return n;
	}
	warn_unmatched("freeze", names, spec->n_freeze, matched, unmatched);
	if (n == 0)
		return 0;
	h->frozen = found;
	h->frozen_fds = malloc(sizeof(int) * (size_t)n);
	if (!h->frozen_fds) {
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	/* Written before anything is stopped: a crash from here on leaves the list
	 * for recover() or the sweep. */
	int r = process_state_write(env->state_dir, env->fault_id, found, n);
	if (r < 0) {
		fault_error_set(err, "freeze", "cannot record the processes to freeze in %s: %s", env->state_dir,
				strerror(-r));
		return r;
	}
	h->state_file = true;
	int kept = 0, failed = 0;
	r = process_freeze(scope->proc_root, found, n, h->frozen_fds, &kept, &failed);
	if (r < 0) {
		/* process_freeze resumed what it had stopped; the caller removes the rest. */
		fault_error_set(err, "freeze", "cannot stop pid %d (%s): %s", (int)found[failed].pid,
				found[failed].comm, strerror(-r));
		return r;
	}
	h->n_frozen = kept;
	for (int i = 0; i < h->n_frozen; i++) {
		if (process_wait_stopped(scope->proc_root, &h->frozen[i], OUTAGE_STOP_WAIT_MS) < 0)
			log_warn("host-outage: pid %d (%s) has not stopped yet (uninterruptible sleep?); it stops when "
				 "it leaves it", (int)h->frozen[i].pid, h->frozen[i].comm);
	}
	if (kept != n && (r = process_state_write(env->state_dir, env->fault_id, h->frozen, kept)) < 0)
		log_warn("host-outage: cannot update %s/processes: %s (it names more processes than were frozen)",
			 env->state_dir, strerror(-r));
	return 0;
}

/* Kills come last: they cannot be undone, so everything that can still fail
 * has been done before. */
static int kill_processes(const struct outage_spec *spec, const struct process_scope *scope,
			  struct outage_handle *h, struct json_object **killed_json, struct json_object *unmatched,
			  struct fault_error *err)
{
	const char *names[PROCESS_MAX_NAMES];
	int matched[PROCESS_MAX_NAMES];
	for (int i = 0; i < spec->n_kill; i++)
		names[i] = spec->kill[i];
	struct process_ident *found = NULL;
	int n = process_find(scope, names, spec->n_kill, false, &found, matched);
	if (n < 0) {
		fault_error_set(err, "kill", "cannot list processes: %s", strerror(-n));
		return n;
	}
	warn_unmatched("kill", names, spec->n_kill, matched, unmatched);
	if (n == 0)
		return 0;
	int *fds = malloc(sizeof(int) * (size_t)n);
	if (!fds) {
		free(found);
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	int n_fds, failed = 0;
	bool failed_open = false;
	int r = process_signal_each(scope->proc_root, found, n, spec->signal, fds, &n_fds, &failed, &failed_open);
	if (r < 0)
		fault_error_set(err, "kill", "cannot %s pid %d (%s): %s", failed_open ? "open" : "signal",
				(int)found[failed].pid, found[failed].comm, strerror(-r));
	h->n_killed += n_fds;
	*killed_json = process_list_to_json(found, n_fds);
	int alive = process_wait_exited(fds, n_fds, OUTAGE_EXIT_WAIT_MS);
	if (alive > 0)
		log_warn("host-outage: %d of %d signalled process(es) still run after %d ms", alive, n_fds,
			 OUTAGE_EXIT_WAIT_MS);
	for (int i = 0; i < n_fds; i++)
		close(fds[i]);
	free(fds);
	free(found);
	return r;
}

static int outage_apply(const void *spec_v, const struct fault_env *env, void **handle_out,
			struct json_object *record, struct fault_error *err)
{
	const struct outage_spec *spec = spec_v;
	struct outage_handle *h = calloc(1, sizeof(*h));
	struct json_object *net_record = json_object_new_object();
	struct json_object *killed = NULL;
	struct json_object *unmatched = json_object_new_array();
	int r = -ENOMEM;
	if (!h || !net_record || !unmatched) {
		fault_error_set(err, "", "out of memory");
		goto fail;
	}
	if (spec->n_freeze > 0 && (!env->state_dir || !env->fault_id || !*env->fault_id)) {
		/* Without a state file a crash could leave processes stopped for good. */
		fault_error_set(err, "freeze", "the agent gave no state directory or fault id");
		r = -EINVAL;
		goto fail;
	}
	snprintf(h->state_dir, sizeof(h->state_dir), "%s", env->state_dir ? env->state_dir : "");
	snprintf(h->fault_id, sizeof(h->fault_id), "%s", env->fault_id ? env->fault_id : "");

	r = blackhole_kind.apply(spec->network, env, &h->network, net_record, err);
	if (r < 0)
		goto fail;
	if (spec->n_freeze > 0 || spec->n_kill > 0) {
		pid_t exclude[OUTAGE_MAX_EXCLUDE];
		struct process_scope scope;
		r = process_scope_self(&scope, exclude, OUTAGE_MAX_EXCLUDE);
		if (r < 0) {
			fault_error_set(err, "", "cannot read this agent's network namespace: %s", strerror(-r));
			goto fail;
		}
		if (spec->n_freeze > 0 && (r = freeze_processes(spec, &scope, env, h, unmatched, err)) < 0)
			goto fail;
		if (spec->n_kill > 0 && (r = kill_processes(spec, &scope, h, &killed, unmatched, err)) < 0)
			goto fail;
	}
	if (record) {
		char sig[24];
		json_object_object_add(record, "network", net_record);
		json_object_object_add(record, "frozen", process_list_to_json(h->frozen, h->n_frozen));
		json_object_object_add(record, "killed", killed ? killed : json_object_new_array());
		json_object_object_add(record, "signal",
				       json_object_new_string(process_signal_name(spec->signal, sig, sizeof(sig))));
		json_object_object_add(record, "unmatched", unmatched);
	} else {
		json_object_put(net_record);
		json_object_put(killed);
		json_object_put(unmatched);
	}
	log_info("host-outage: network cut (%s), %d process(es) frozen, %d killed",
		 spec->keep_control_path ? "control path kept" : "blackout", h->n_frozen, h->n_killed);
	*handle_out = h;
	return 0;
fail:
	if (h && h->n_killed > 0)
		log_warn("host-outage: apply failed after %d process(es) were killed; they stay dead", h->n_killed);
	handle_free(h);
	json_object_put(net_record);
	json_object_put(killed);
	json_object_put(unmatched);
	return r;
}

static int outage_revert(void *handle)
{
	return handle_free(handle);
}

static int outage_stats(void *handle, struct json_object *out)
{
	struct outage_handle *h = handle;
	int r = blackhole_kind.stats(h->network, out);
	if (r < 0)
		return r;
	json_object_object_add(out, "processes_frozen", json_object_new_int(h->n_frozen));
	json_object_object_add(out, "processes_killed", json_object_new_int(h->n_killed));
	return 0;
}

static int outage_recover(struct json_object *record, const struct fault_env *env)
{
	int r = 0;
	struct json_object *v;
	if (record && json_object_object_get_ex(record, "frozen", &v)) {
		int n, resumed = process_resume_json("/proc", v, &n);
		if (n > 0)
			log_info("host-outage: resumed %d of %d frozen process(es)", resumed, n);
	}
	/* A crash in the middle of apply leaves no record but the state file. */
	if (env)
		process_state_recover(env->state_dir, env->fault_id, "/proc");
	if (record && json_object_object_get_ex(record, "network", &v))
		r = blackhole_kind.recover(v, env);
	return r;
}

const struct fault_kind host_outage_kind = {
	.name = "host-outage",
	.family = "outage",
	.summary = "power-loss symptoms: cut the host's network both ways, freeze or kill named processes",
	.probe = outage_probe,
	.parse = outage_parse,
	.spec_free = outage_spec_free,
	.spec_to_json = outage_spec_to_json,
	.apply = outage_apply,
	.revert = outage_revert,
	.stats = outage_stats,
	.recover = outage_recover,
};
