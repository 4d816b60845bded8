/* Kind "process-kill": signals the processes a target names (faults/target.h), once
 * at apply or again every `interval` until the fault ends (a supervisor restarting
 * its service gets it killed again). Every signal goes through a pidfd opened for
 * the (pid, starttime) just resolved, so a pid the kernel reused is never hit.
 * Nothing is left to restore: the interval thread belongs to the agent and dies
 * with it. */
#include "faults/fault.h"
#include "faults/process.h"
#include "faults/target.h"

#include "common/duration.h"
#include "common/log.h"
#include "common/timeutil.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KILL_MIN_INTERVAL_MS 100ULL
#define KILL_MAX_INTERVAL_MS (3600ULL * 1000)
/* apply() waits this long for the first round's processes to exit, so that its
 * answer says whether they are gone; one that handles the signal is left running. */
#define KILL_EXIT_WAIT_MS 500
#define KILL_MAX_EXCLUDE 64

struct kill_spec {
	struct target_spec target;
	int signal;
	uint64_t interval_ms; /* 0: once, at apply */
};

static void kill_spec_free(void *spec_v)
{
	struct kill_spec *spec = spec_v;
	if (!spec)
		return;
	target_spec_clear(&spec->target);
	free(spec);
}

static int kill_parse(struct json_object *params, void **spec_out, struct fault_error *err)
{
	void *allocated;
	int r = fault_spec_alloc(params, sizeof(struct kill_spec), &allocated, err);
	if (r < 0)
		return r;
	struct kill_spec *spec = allocated;
	spec->signal = SIGKILL;
	bool have_target = false;
	if (params) {
		json_object_object_foreach(params, key, v) {
			if (strcmp(key, "processes") == 0) {
				r = target_parse(params, "processes", &spec->target, err);
				have_target = r == 0;
			} else if (strcmp(key, "signal") == 0) {
				r = process_ending_signal_param(v, "process-pause", &spec->signal, err);
			} else if (strcmp(key, "interval") == 0) {
				r = fault_duration_param(v, key, "10s", KILL_MIN_INTERVAL_MS, KILL_MAX_INTERVAL_MS,
							 &spec->interval_ms, err);
			} else {
				fault_error_set(err, key, "unknown parameter (known: processes, signal, interval)");
				r = -EINVAL;
			}
			if (r < 0)
				break;
		}
	}
	if (r == 0 && !have_target) {
		fault_error_set(err, "processes", "is required: name the processes to signal, e.g. {\"name\": \"postgres\"}");
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

static struct json_object *kill_spec_to_json(const void *spec_v)
{
	const struct kill_spec *spec = spec_v;
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	char buf[32];
	json_object_object_add(o, "processes", target_to_json(&spec->target));
	json_object_object_add(o, "signal", json_object_new_string(process_signal_name(spec->signal, buf, sizeof(buf))));
	if (spec->interval_ms)
		json_object_object_add(o, "interval",
				       json_object_new_string(duration_format(spec->interval_ms, buf, sizeof(buf))));
	return o;
}

struct kill_handle {
	struct target_spec target;      /* the handle's own copy: the thread outlives no spec */
	int signal;
	uint64_t interval_ms;
	char fault_id[64];
	pid_t exclude[KILL_MAX_EXCLUDE];
	struct process_scope scope;     /* points into exclude */

	pthread_t thread;
	bool thread_running;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;                      /* under lock */
	uint64_t processes_signalled;   /* under lock */
	uint64_t rounds;                /* under lock */
};

/* The target spec again, through its JSON form: the handle must not point into
 * the caller's spec, whose lifetime is not ours. */
static int target_copy(const struct target_spec *from, struct target_spec *to)
{
	struct json_object *params = json_object_new_object();
	if (!params)
		return -ENOMEM;
	struct json_object *target = target_to_json(from);
	json_object_object_add(params, "processes", target);
	struct fault_error err = { { 0 }, { 0 } };
	int r = target_parse(params, "processes", to, &err);
	json_object_put(params);
	if (r < 0)
		log_error("process-kill: copying the target failed: %s: %s", err.key, err.msg);
	return r;
}

/* One round: resolve the target now and signal every match. Returns how many were
 * signalled (their pidfds in *fds_out when given, else closed), -ESRCH with err set
 * when nothing matches, or -errno. */
static int signal_round(struct kill_handle *h, int **fds_out, struct process_ident **list_out,
			struct fault_error *err)
{
	struct process_ident *list = NULL;
	int n = 0;
	int r = target_resolve(&h->target, &h->scope, &list, &n, err);
	if (r < 0) {
		if (r == -ESRCH) { /* a round that found nothing to signal is still a round */
			pthread_mutex_lock(&h->lock);
			h->rounds++;
			pthread_mutex_unlock(&h->lock);
		}
		return r;
	}
	int *fds = malloc(sizeof(int) * (size_t)(n ? n : 1));
	if (!fds) {
		free(list);
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	int signalled = 0, failed = 0;
	bool failed_open = false;
	r = process_signal_each(h->scope.proc_root, list, n, h->signal, fds, &signalled, &failed, &failed_open);
	if (r < 0)
		fault_error_set(err, "processes", "cannot %s pid %d (%s): %s", failed_open ? "open" : "signal",
				(int)list[failed].pid, list[failed].comm, strerror(-r));
	pthread_mutex_lock(&h->lock);
	h->processes_signalled += (uint64_t)signalled;
	h->rounds++;
	pthread_mutex_unlock(&h->lock);
	if (fds_out) {
		*fds_out = fds;
	} else {
		for (int i = 0; i < signalled; i++)
			close(fds[i]);
		free(fds);
	}
	if (list_out)
		*list_out = list;
	else
		free(list);
	return r < 0 ? r : signalled;
}

/* Waits `ms` or until stop is set; true when stopping. Called with the lock held. */
static bool wait_or_stop(struct kill_handle *h, uint64_t ms)
{
	struct timespec until = mono_after_ms(ms);
	while (!h->stop) {
		if (pthread_cond_timedwait(&h->wake, &h->lock, &until) == ETIMEDOUT)
			break;
	}
	return h->stop;
}

static void *interval_thread(void *arg)
{
	struct kill_handle *h = arg;
	pthread_mutex_lock(&h->lock);
	while (!wait_or_stop(h, h->interval_ms)) {
		pthread_mutex_unlock(&h->lock);
		struct fault_error err = { { 0 }, { 0 } };
		int r = signal_round(h, NULL, NULL, &err);
		if (r < 0 && r != -ESRCH)
			log_warn("process-kill %s: round failed: %s", h->fault_id, err.msg[0] ? err.msg : strerror(-r));
		else if (r > 0)
			log_info("process-kill %s: signalled %d process(es)", h->fault_id, r);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static void handle_free(struct kill_handle *h)
{
	if (!h)
		return;
	if (h->thread_running) {
		pthread_mutex_lock(&h->lock);
		h->stop = true;
		pthread_cond_broadcast(&h->wake);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->thread, NULL);
	}
	target_spec_clear(&h->target);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static int handle_new(const struct kill_spec *spec, const struct fault_env *env, struct kill_handle **out,
		      struct fault_error *err)
{
	struct kill_handle *h = calloc(1, sizeof(*h));
	if (!h) {
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&h->wake, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&h->lock, NULL);
	h->signal = spec->signal;
	h->interval_ms = spec->interval_ms;
	snprintf(h->fault_id, sizeof(h->fault_id), "%s", env && env->fault_id ? env->fault_id : "");
	int r = target_copy(&spec->target, &h->target);
	if (r < 0) {
		pthread_cond_destroy(&h->wake);
		pthread_mutex_destroy(&h->lock);
		free(h);
		fault_error_set(err, "processes", "cannot copy the target: %s", strerror(-r));
		return r;
	}
	r = process_scope_targets(&h->scope, h->exclude, KILL_MAX_EXCLUDE);
	if (r < 0) {
		handle_free(h);
		fault_error_set(err, "", "cannot determine which processes this agent may touch: %s", strerror(-r));
		return r;
	}
	*out = h;
	return 0;
}

static int kill_apply(const void *spec_v, const struct fault_env *env, void **handle_out, struct json_object *record,
		      struct fault_error *err)
{
	const struct kill_spec *spec = spec_v;
	struct kill_handle *h = NULL;
	int r = handle_new(spec, env, &h, err);
	if (r < 0)
		return r;
	int *fds = NULL;
	struct process_ident *list = NULL;
	int signalled = signal_round(h, &fds, &list, err);
	if (signalled < 0) {
		/* A partial round cannot be undone; say so rather than hide it. */
		pthread_mutex_lock(&h->lock);
		uint64_t done = h->processes_signalled;
		pthread_mutex_unlock(&h->lock);
		if (done > 0)
			log_warn("process-kill: apply failed after %llu process(es) were signalled",
				 (unsigned long long)done);
		free(fds);
		free(list);
		handle_free(h);
		return signalled;
	}
	int alive = process_wait_exited(fds, signalled, KILL_EXIT_WAIT_MS);
	for (int i = 0; i < signalled; i++)
		close(fds[i]);
	free(fds);
	char sig[24];
	process_signal_name(h->signal, sig, sizeof(sig));
	if (record) {
		json_object_object_add(record, "signal", json_object_new_string(sig));
		json_object_object_add(record, "signalled", process_list_to_json(list, signalled));
	}
	free(list);
	log_info("process-kill: %s sent to %d process(es), %d still running after %d ms%s", sig, signalled, alive,
		 KILL_EXIT_WAIT_MS, h->interval_ms ? "; again every interval" : "");
	if (h->interval_ms) {
		r = pthread_create(&h->thread, NULL, interval_thread, h);
		if (r != 0) {
			fault_error_set(err, "interval", "cannot start the interval thread: %s", strerror(r));
			handle_free(h);
			return -r;
		}
		h->thread_running = true;
	}
	*handle_out = h;
	return 0;
}

static int kill_revert(void *handle)
{
	handle_free(handle);
	return 0;
}

static int kill_stats(void *handle, struct json_object *out)
{
	struct kill_handle *h = handle;
	pthread_mutex_lock(&h->lock);
	uint64_t signalled = h->processes_signalled, rounds = h->rounds;
	pthread_mutex_unlock(&h->lock);
	char sig[24];
	json_object_object_add(out, "processes_signalled", json_object_new_int64((int64_t)signalled));
	json_object_object_add(out, "rounds", json_object_new_int64((int64_t)rounds));
	json_object_object_add(out, "signal", json_object_new_string(process_signal_name(h->signal, sig, sizeof(sig))));
	return 0;
}

/* A signal cannot be taken back and the interval thread died with the agent. */
static int kill_recover(struct json_object *record, const struct fault_env *env)
{
	(void)record;
	(void)env;
	return 0;
}

static int kill_probe(char *reason, size_t len)
{
	/* pidfd_open (5.3) and pidfd_send_signal (5.1): probe on ourselves. */
	struct process_ident self = { .pid = getpid() };
	struct process_stat st;
	int r = process_stat_read("/proc", self.pid, &st);
	if (r == 0) {
		self.starttime = st.starttime;
		int fd = process_pidfd_open("/proc", &self);
		if (fd < 0)
			r = fd;
		else {
			r = process_pidfd_signal(fd, 0);
			close(fd);
		}
	}
	if (r < 0)
		snprintf(reason, len, "pidfds do not work here (needs Linux >= 5.3): %s", strerror(-r));
	return r;
}

const struct fault_kind process_kill_kind = {
	.name = "process-kill",
	.family = "process",
	.summary = "signal (by default SIGKILL) the processes a target names, once or again every interval",
	.probe = kill_probe,
	.parse = kill_parse,
	.spec_free = kill_spec_free,
	.spec_to_json = kill_spec_to_json,
	.apply = kill_apply,
	.revert = kill_revert,
	.stats = kill_stats,
	.recover = kill_recover,
};
