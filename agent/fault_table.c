#include "agent/fault_table.h"

#include "agent/journal.h"
#include "common/duration.h"
#include "common/log.h"
#include "common/timeutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

enum fault_state { FAULT_APPLYING, FAULT_ACTIVE, FAULT_ENDED };

/* Why a fault ended; the name is also the `revert_reason` and the metric label. */
enum end_reason { END_DELETED, END_HALTED, END_EXPIRED, END_LEASE_LOST, END_SHUTDOWN, END_COUNT };
static const char *const end_reason_names[END_COUNT] = { "deleted", "halted", "expired", "lease_lost", "shutdown" };

struct fault {
	struct fault *next;
	char id[24];
	const struct fault_kind *kind;
	void *spec;
	void *handle;
	struct json_object *params;       /* spec_to_json */
	struct json_object *final_stats;  /* stats taken just before revert */
	enum fault_state state;
	const char *ended_state;          /* "reverted", "expired", "lease_lost", "failed" */
	enum end_reason end_reason;
	char revert_error[256];
	uint64_t applied_wall, deadline_mono, deadline_wall, ended_wall;
	char lease_id[LEASE_ID_MAX + 1];  /* "" without lease */
	struct fault_env env;             /* fault_id points at id */
};

struct lease {
	struct lease *next;
	char id[LEASE_ID_MAX + 1];
	uint64_t ttl_ms, expires_mono;
};

struct fault_table {
	struct fault_table_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t wake;              /* on CLOCK_MONOTONIC */
	pthread_t reaper;
	bool reaper_running, stopping;
	struct fault *active;             /* newest first */
	int n_active;
	struct fault **ended;             /* ring of cfg.max_ended */
	int ended_next, n_ended;
	struct lease *leases;
	uint64_t applied_total;
	uint64_t ended_total[END_COUNT];
	uint64_t revert_failures;
};

int fault_table_new(const struct fault_table_config *cfg, struct fault_table **out)
{
	struct fault_table *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cfg = *cfg;
	if (t->cfg.max_ended <= 0)
		t->cfg.max_ended = 64;
	t->ended = calloc((size_t)t->cfg.max_ended, sizeof(*t->ended));
	pthread_condattr_t attr;
	if (!t->ended || pthread_condattr_init(&attr) != 0) {
		free(t->ended);
		free(t);
		return -ENOMEM;
	}
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&t->wake, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&t->lock, NULL);
	*out = t;
	return 0;
}

static void fault_free(struct fault *f)
{
	if (!f)
		return;
	if (f->spec)
		f->kind->spec_free(f->spec);
	json_object_put(f->params);
	json_object_put(f->final_stats);
	free(f);
}

void fault_table_free(struct fault_table *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stopping = true;
	pthread_cond_broadcast(&t->wake);
	pthread_mutex_unlock(&t->lock);
	if (t->reaper_running)
		pthread_join(t->reaper, NULL);
	for (struct fault *f = t->active, *next; f; f = next) {
		next = f->next;
		if (f->handle)
			log_warn("%s: still active when the agent stops; the journal keeps it", f->id);
		fault_free(f);
	}
	for (int i = 0; i < t->cfg.max_ended; i++)
		fault_free(t->ended[i]);
	for (struct lease *l = t->leases, *next; l; l = next) {
		next = l->next;
		free(l);
	}
	free(t->ended);
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static void env_init(const struct fault_table *t, struct fault_env *env, const char *fault_id)
{
	memset(env, 0, sizeof(*env));
	env->fault_id = fault_id;
	env->state_dir = t->cfg.state_dir;
	env->packet_backend = t->cfg.packet_backend ? t->cfg.packet_backend : "auto";
	env->shape_backend = t->cfg.shape_backend ? t->cfg.shape_backend : "auto";
	env->n_control_ports = t->cfg.n_control_ports;
	memcpy(env->control_ports, t->cfg.control_ports, sizeof(env->control_ports));
}

/* --- recovery at start ------------------------------------------------------- */

struct recovery {
	struct fault_table *t;
	int recovered, failed;
};

static const struct fault_kind *kind_by_name(const struct fault_table *t, const char *name)
{
	for (size_t i = 0; name && t->cfg.kinds[i]; i++)
		if (strcmp(t->cfg.kinds[i]->name, name) == 0)
			return t->cfg.kinds[i];
	return NULL;
}

static int recover_entry(const char *id, struct json_object *entry, void *ctx)
{
	struct recovery *rc = ctx;
	struct fault_table *t = rc->t;
	if (!entry) {
		/* Unreadable: written half-way at most, so apply never ran for it. The sweep
		 * still removes anything of its family. */
		log_warn("journal: %s is unreadable; removing it (the sweep covers what it named)", id);
		journal_remove(t->cfg.journal_dir, id);
		return 0;
	}
	struct json_object *kind_name = json_object_object_get(entry, "kind");
	const struct fault_kind *kind = kind_by_name(t, kind_name ? json_object_get_string(kind_name) : NULL);
	if (!kind) {
		log_error("journal: %s names kind \"%s\" that this agent does not know; leaving the entry", id,
			  kind_name ? json_object_get_string(kind_name) : "?");
		rc->failed++;
		return 0;
	}
	struct json_object *record = json_object_object_get(entry, "record");
	struct json_object *empty = NULL;
	if (!record || !json_object_is_type(record, json_type_object))
		record = empty = json_object_new_object();
	struct fault_env env;
	env_init(t, &env, id);
	int r = kind->recover(record, &env);
	json_object_put(empty);
	struct json_object *deadline = json_object_object_get(entry, "deadline");
	if (r < 0) {
		log_error("journal: recovering %s (%s, deadline %s) failed: %s; the entry stays for the next start",
			  id, kind->name, deadline ? json_object_get_string(deadline) : "?", strerror(-r));
		rc->failed++;
		return 0;
	}
	journal_remove(t->cfg.journal_dir, id);
	log_info("journal: recovered %s (%s, params %s, deadline %s): reverted", id, kind->name,
		 json_object_to_json_string_ext(json_object_object_get(entry, "params"), JSON_C_TO_STRING_PLAIN),
		 deadline ? json_object_get_string(deadline) : "?");
	rc->recovered++;
	return 0;
}

int fault_table_recover(struct fault_table *t)
{
	struct recovery rc = { .t = t };
	int r = journal_for_each(t->cfg.journal_dir, recover_entry, &rc);
	if (r < 0)
		return log_err(r, "journal: cannot read %s: %s", t->cfg.journal_dir, strerror(-r));
	if (rc.recovered || rc.failed)
		log_info("journal: %d fault(s) recovered, %d could not be", rc.recovered, rc.failed);
	struct fault_env env;
	env_init(t, &env, "");
	for (size_t i = 0; t->cfg.families && t->cfg.families[i]; i++) {
		const struct fault_family *fam = t->cfg.families[i];
		if (!fam->sweep)
			continue;
		int s = fam->sweep(&env);
		if (s < 0)
			log_error("sweep: family %s: %s", fam->name, strerror(-s));
		else if (s > 0)
			log_warn("sweep: family %s removed %d leftover object(s) no journal entry named", fam->name, s);
		else
			log_info("sweep: family %s: done", fam->name);
	}
	return rc.recovered;
}

/* --- JSON views -------------------------------------------------------------- */

static struct lease *lease_find(struct fault_table *t, const char *id)
{
	for (struct lease *l = t->leases; l; l = l->next)
		if (strcmp(l->id, id) == 0)
			return l;
	return NULL;
}

static uint64_t mono_to_wall(uint64_t mono)
{
	uint64_t now_mono = mono_ms(), now_wall = wall_ms();
	return mono >= now_mono ? now_wall + (mono - now_mono) : now_wall - (now_mono - mono);
}

static void add_time(struct json_object *o, const char *key, uint64_t wall)
{
	char buf[40];
	json_object_object_add(o, key, json_object_new_string(wall_ms_format(wall, buf, sizeof(buf))));
}

static struct json_object *fault_stats(const struct fault *f)
{
	if (f->state != FAULT_ACTIVE) {
		struct json_object *copy = NULL;
		if (f->final_stats)
			json_object_deep_copy(f->final_stats, &copy, NULL);
		return copy ? copy : json_object_new_object();
	}
	struct json_object *stats = json_object_new_object();
	if (f->kind->stats && f->kind->stats(f->handle, stats) < 0) {
		json_object_put(stats);
		stats = json_object_new_object();
	}
	return stats;
}

static struct json_object *fault_to_json(struct fault_table *t, const struct fault *f)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(f->id));
	json_object_object_add(o, "kind", json_object_new_string(f->kind->name));
	const char *state = f->state == FAULT_ENDED ? f->ended_state : f->state == FAULT_ACTIVE ? "active" : "applying";
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "params", json_object_get(f->params));
	add_time(o, "applied_at", f->applied_wall);
	add_time(o, "expires_at", f->deadline_wall);
	if (f->lease_id[0]) {
		struct json_object *lo = json_object_new_object();
		json_object_object_add(lo, "id", json_object_new_string(f->lease_id));
		struct lease *l = f->state == FAULT_ACTIVE ? lease_find(t, f->lease_id) : NULL;
		if (l)
			add_time(lo, "expires_at", mono_to_wall(l->expires_mono));
		json_object_object_add(o, "lease", lo);
	}
	json_object_object_add(o, "stats", fault_stats(f));
	if (f->state == FAULT_ENDED) {
		add_time(o, "reverted_at", f->ended_wall);
		json_object_object_add(o, "revert_reason", json_object_new_string(end_reason_names[f->end_reason]));
		if (f->revert_error[0])
			json_object_object_add(o, "revert_error", json_object_new_string(f->revert_error));
	}
	return o;
}

/* --- ending faults (lock held) ----------------------------------------------- */

static void unlink_active(struct fault_table *t, struct fault *f)
{
	for (struct fault **p = &t->active; *p; p = &(*p)->next)
		if (*p == f) {
			*p = f->next;
			f->next = NULL;
			t->n_active--;
			return;
		}
}

static void drop_lease_if_unused(struct fault_table *t, const char *lease_id)
{
	if (!lease_id[0])
		return;
	for (struct fault *f = t->active; f; f = f->next)
		if (strcmp(f->lease_id, lease_id) == 0)
			return;
	for (struct lease **p = &t->leases; *p; p = &(*p)->next)
		if (strcmp((*p)->id, lease_id) == 0) {
			struct lease *gone = *p;
			*p = gone->next;
			free(gone);
			return;
		}
}

static void remember_ended(struct fault_table *t, struct fault *f)
{
	fault_free(t->ended[t->ended_next]);
	t->ended[t->ended_next] = f;
	t->ended_next = (t->ended_next + 1) % t->cfg.max_ended;
	if (t->n_ended < t->cfg.max_ended)
		t->n_ended++;
}

/* Reverts an active fault and moves it to the ended ring. The journal entry is
 * removed only when the kind reverted cleanly, so a failed revert is retried
 * (kind->recover) on the next start. */
static void end_fault(struct fault_table *t, struct fault *f, enum end_reason why)
{
	uint64_t started = mono_ms();
	uint64_t late = started > f->deadline_mono ? started - f->deadline_mono : 0;
	struct json_object *stats = json_object_new_object();
	if (f->kind->stats && f->kind->stats(f->handle, stats) < 0) {
		json_object_put(stats);
		stats = NULL;
	}
	f->final_stats = stats;
	int r = f->kind->revert(f->handle);
	f->handle = NULL;
	f->state = FAULT_ENDED;
	f->ended_wall = wall_ms();
	f->end_reason = why;
	unlink_active(t, f);
	if (r < 0) {
		snprintf(f->revert_error, sizeof(f->revert_error), "%s", strerror(-r));
		f->ended_state = "failed";
		t->revert_failures++;
		log_error("%s: revert (%s) failed: %s; the journal entry stays so the next start retries",
			  f->id, end_reason_names[why], strerror(-r));
	} else {
		f->ended_state = why == END_EXPIRED ? "expired" : why == END_LEASE_LOST ? "lease_lost" : "reverted";
		int jr = journal_remove(t->cfg.journal_dir, f->id);
		if (jr < 0)
			log_warn("%s: removing the journal entry: %s", f->id, strerror(-jr));
	}
	t->ended_total[why]++;
	uint64_t now = mono_ms();
	if (why == END_EXPIRED)
		log_info("%s: reverted (%s): reaper woke %llu ms after the deadline, revert took %llu ms", f->id,
			 end_reason_names[why], (unsigned long long)late,
			 (unsigned long long)(now - started));
	else
		log_info("%s: reverted (%s) in %llu ms", f->id, end_reason_names[why],
			 (unsigned long long)(now - started));
	drop_lease_if_unused(t, f->lease_id);
	remember_ended(t, f);
}

/* --- the reaper -------------------------------------------------------------- */

static void reap_due(struct fault_table *t, uint64_t now)
{
	struct fault *f = t->active;
	while (f) {
		struct fault *next = f->next;
		if (f->state == FAULT_ACTIVE && f->deadline_mono <= now)
			end_fault(t, f, END_EXPIRED);
		f = next;
	}
	struct lease *l = t->leases;
	while (l) {
		struct lease *next_lease = l->next;
		if (l->expires_mono <= now) {
			char id[sizeof(l->id)];
			snprintf(id, sizeof(id), "%s", l->id);
			log_warn("lease %s: not renewed for %llu ms; reverting its faults", id,
				 (unsigned long long)l->ttl_ms);
			/* end_fault frees the lease with its last fault */
			for (f = t->active; f;) {
				struct fault *next = f->next;
				if (f->state == FAULT_ACTIVE && strcmp(f->lease_id, id) == 0)
					end_fault(t, f, END_LEASE_LOST);
				f = next;
			}
			/* the list may have changed under us: start over */
			l = t->leases;
			continue;
		}
		l = next_lease;
	}
}

static uint64_t next_wakeup(const struct fault_table *t)
{
	uint64_t next = UINT64_MAX;
	for (const struct fault *f = t->active; f; f = f->next)
		if (f->deadline_mono < next)
			next = f->deadline_mono;
	for (const struct lease *l = t->leases; l; l = l->next)
		if (l->expires_mono < next)
			next = l->expires_mono;
	return next;
}

static void *reaper_main(void *arg)
{
	struct fault_table *t = arg;
	pthread_mutex_lock(&t->lock);
	while (!t->stopping) {
		reap_due(t, mono_ms());
		uint64_t next = next_wakeup(t);
		if (next == UINT64_MAX) {
			pthread_cond_wait(&t->wake, &t->lock);
			continue;
		}
		struct timespec ts = { .tv_sec = (time_t)(next / 1000), .tv_nsec = (long)(next % 1000) * 1000000L };
		pthread_cond_timedwait(&t->wake, &t->lock, &ts);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int fault_table_start(struct fault_table *t)
{
	int r = pthread_create(&t->reaper, NULL, reaper_main, t);
	if (r != 0)
		return -r;
	t->reaper_running = true;
	return 0;
}

/* --- API operations ---------------------------------------------------------- */

static struct fault *find_fault(struct fault_table *t, const char *id, bool include_ended)
{
	for (struct fault *f = t->active; f; f = f->next)
		if (strcmp(f->id, id) == 0)
			return f;
	if (include_ended)
		for (int i = 0; i < t->cfg.max_ended; i++)
			if (t->ended[i] && strcmp(t->ended[i]->id, id) == 0)
				return t->ended[i];
	return NULL;
}

static int new_fault_id(struct fault_table *t, char *id, size_t len)
{
	for (int attempt = 0; attempt < 16; attempt++) {
		uint32_t v;
		if (getrandom(&v, sizeof(v), 0) != sizeof(v))
			v = (uint32_t)(mono_ms() * 2654435761u) ^ (uint32_t)wall_ms();
		snprintf(id, len, "f-%08x", v);
		if (!find_fault(t, id, true))
			return 0;
	}
	return -EEXIST;
}

static int apply_errno_to_api(const struct fault_kind *kind, int r, const struct fault_error *ferr,
			      struct api_error *err)
{
	const char *msg = ferr->msg[0] ? ferr->msg : strerror(-r);
	if (r == -EOPNOTSUPP || r == -ENOTSUP || r == -ENOSYS)
		return api_error_set(err, 422, "unsupported", ferr->key, "%s: %s", kind->name, msg);
	if (r == -EEXIST || r == -EBUSY)
		return api_error_set(err, 409, "conflict", ferr->key, "%s: %s", kind->name, msg);
	/* Valid params that do not fit this host: nothing matches, a path is missing or
	 * refused. The caller's request must change, not the agent. */
	if (r == -ESRCH || r == -ENOENT || r == -EINVAL || r == -ENOTDIR || r == -EROFS || r == -ENODEV)
		return api_error_set(err, 422, "not_applicable", ferr->key, "%s: %s (nothing is left applied)",
				     kind->name, msg);
	return api_error_set(err, 500, "apply_failed", ferr->key, "%s: %s (nothing is left applied)", kind->name, msg);
}

int fault_table_apply(struct fault_table *t, struct fault_request *req, struct json_object **out,
		      struct api_error *err)
{
	const struct fault_kind *kind = req->kind;
	char reason[256] = "";
	int r = kind->probe ? kind->probe(reason, sizeof(reason)) : 0;
	if (r < 0) {
		fault_request_release(req);
		return api_error_set(err, 422, "unsupported", NULL, "%s is not supported on this host: %s", kind->name,
				     reason[0] ? reason : strerror(-r));
	}
	struct fault *f = calloc(1, sizeof(*f));
	if (!f) {
		fault_request_release(req);
		return api_error_set(err, 500, "internal", NULL, "out of memory");
	}
	f->kind = kind;
	f->spec = req->spec;
	req->spec = NULL;
	f->params = kind->spec_to_json(f->spec);

	pthread_mutex_lock(&t->lock);
	if (t->stopping) {
		r = api_error_set(err, 503, "shutting_down", NULL, "the agent is shutting down");
		goto fail_unlocked_entry;
	}
	if (t->n_active >= t->cfg.max_faults) {
		r = api_error_set(err, 409, "too_many_faults", NULL, "the agent already has max_faults = %d active faults",
				  t->cfg.max_faults);
		goto fail_unlocked_entry;
	}
	if ((r = new_fault_id(t, f->id, sizeof(f->id))) < 0) {
		api_error_set(err, 500, "internal", NULL, "cannot pick a unique fault id");
		goto fail_unlocked_entry;
	}
	env_init(t, &f->env, f->id);
	uint64_t now_mono = mono_ms(), now_wall = wall_ms();
	f->applied_wall = now_wall;
	f->deadline_mono = now_mono + req->duration_ms;
	f->deadline_wall = now_wall + req->duration_ms;
	f->state = FAULT_APPLYING;
	if (req->has_lease)
		snprintf(f->lease_id, sizeof(f->lease_id), "%s", req->lease_id);

	/* The revert timer is armed before anything is applied: the entry (with its
	 * deadline) is in the table the reaper scans; it cannot act before we unlock. */
	f->next = t->active;
	t->active = f;
	t->n_active++;

	struct json_object *entry = journal_entry_new(f->id, kind->name, f->params, f->deadline_wall,
						      f->lease_id[0] ? f->lease_id : NULL, NULL);
	r = journal_write(t->cfg.journal_dir, f->id, entry);
	json_object_put(entry);
	if (r < 0) {
		api_error_set(err, 500, "journal_failed", NULL, "cannot write the journal entry in %s: %s",
			      t->cfg.journal_dir, strerror(-r));
		goto fail_in_table;
	}

	struct json_object *record = json_object_new_object();
	struct fault_error ferr = { "", "" };
	uint64_t apply_started = mono_ms();
	r = kind->apply(f->spec, &f->env, &f->handle, record, &ferr);
	if (r < 0) {
		json_object_put(record);
		apply_errno_to_api(kind, r, &ferr, err);
		log_warn("%s: apply of %s failed: %s", f->id, kind->name, err->message);
		journal_remove(t->cfg.journal_dir, f->id);
		goto fail_in_table;
	}
	entry = journal_entry_new(f->id, kind->name, f->params, f->deadline_wall, f->lease_id[0] ? f->lease_id : NULL,
				  record);
	int jr = journal_write(t->cfg.journal_dir, f->id, entry);
	json_object_put(entry);
	json_object_put(record);
	if (jr < 0)
		log_warn("%s: journal entry without its record (%s); a crash now leaves it to the sweep", f->id,
			 strerror(-jr));

	f->state = FAULT_ACTIVE;
	t->applied_total++;
	if (req->has_lease) {
		struct lease *l = lease_find(t, req->lease_id);
		if (!l && (l = calloc(1, sizeof(*l)))) {
			snprintf(l->id, sizeof(l->id), "%s", req->lease_id);
			l->next = t->leases;
			t->leases = l;
		}
		if (l) {
			l->ttl_ms = req->lease_ttl_ms;
			l->expires_mono = mono_ms() + req->lease_ttl_ms;
		}
	}
	char dur[32];
	log_info("%s: applied %s for %s in %llu ms%s%s: %s", f->id, kind->name,
		 duration_format(req->duration_ms, dur, sizeof(dur)), (unsigned long long)(mono_ms() - apply_started),
		 f->lease_id[0] ? ", lease " : "", f->lease_id,
		 json_object_to_json_string_ext(f->params, JSON_C_TO_STRING_PLAIN));
	*out = fault_to_json(t, f);
	pthread_cond_broadcast(&t->wake);
	pthread_mutex_unlock(&t->lock);
	return 0;

fail_in_table:
	unlink_active(t, f);
fail_unlocked_entry:
	pthread_mutex_unlock(&t->lock);
	fault_free(f);
	return r < 0 ? r : -EINVAL;
}

struct json_object *fault_table_list(struct fault_table *t)
{
	struct json_object *arr = json_object_new_array();
	pthread_mutex_lock(&t->lock);
	for (struct fault *f = t->active; f; f = f->next)
		if (f->state == FAULT_ACTIVE)
			json_object_array_add(arr, fault_to_json(t, f));
	pthread_mutex_unlock(&t->lock);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "faults", arr);
	return o;
}

int fault_table_get(struct fault_table *t, const char *id, struct json_object **out)
{
	pthread_mutex_lock(&t->lock);
	struct fault *f = find_fault(t, id, true);
	if (f)
		*out = fault_to_json(t, f);
	pthread_mutex_unlock(&t->lock);
	return f ? 0 : -ENOENT;
}

int fault_table_revert(struct fault_table *t, const char *id, struct json_object **out)
{
	pthread_mutex_lock(&t->lock);
	struct fault *f = find_fault(t, id, true);
	if (f && f->state == FAULT_ACTIVE)
		end_fault(t, f, END_DELETED);
	if (f)
		*out = fault_to_json(t, f);
	pthread_mutex_unlock(&t->lock);
	return f ? 0 : -ENOENT;
}

int fault_table_revert_all(struct fault_table *t, const char *reason)
{
	enum end_reason why = strcmp(reason, "shutdown") == 0 ? END_SHUTDOWN : END_HALTED;
	int n = 0;
	pthread_mutex_lock(&t->lock);
	for (struct fault *f = t->active, *next; f; f = next) {
		next = f->next;
		if (f->state == FAULT_ACTIVE) {
			end_fault(t, f, why);
			n++;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}

int fault_table_renew_lease(struct fault_table *t, const char *lease_id, uint64_t ttl_ms,
			    struct json_object **answer)
{
	pthread_mutex_lock(&t->lock);
	struct lease *l = lease_find(t, lease_id);
	if (!l) {
		pthread_mutex_unlock(&t->lock);
		return -ENOENT;
	}
	if (ttl_ms)
		l->ttl_ms = ttl_ms;
	l->expires_mono = mono_ms() + l->ttl_ms;
	int n = 0;
	for (struct fault *f = t->active; f; f = f->next)
		n += f->state == FAULT_ACTIVE && strcmp(f->lease_id, lease_id) == 0;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "lease", json_object_new_string(l->id));
	json_object_object_add(o, "faults", json_object_new_int(n));
	add_time(o, "expires_at", mono_to_wall(l->expires_mono));
	pthread_cond_broadcast(&t->wake);
	pthread_mutex_unlock(&t->lock);
	*answer = o;
	return 0;
}

struct json_object *fault_table_metrics(struct fault_table *t)
{
	struct json_object *o = json_object_new_object();
	struct json_object *faults = json_object_new_array();
	struct json_object *ended = json_object_new_object();
	pthread_mutex_lock(&t->lock);
	int active = 0;
	for (struct fault *f = t->active; f; f = f->next) {
		if (f->state != FAULT_ACTIVE)
			continue;
		active++;
		struct json_object *fo = json_object_new_object();
		json_object_object_add(fo, "id", json_object_new_string(f->id));
		json_object_object_add(fo, "kind", json_object_new_string(f->kind->name));
		json_object_object_add(fo, "stats", fault_stats(f));
		json_object_array_add(faults, fo);
	}
	for (int i = 0; i < END_COUNT; i++)
		json_object_object_add(ended, end_reason_names[i], json_object_new_int64((int64_t)t->ended_total[i]));
	json_object_object_add(o, "active", json_object_new_int(active));
	json_object_object_add(o, "applied_total", json_object_new_int64((int64_t)t->applied_total));
	json_object_object_add(o, "revert_failures_total", json_object_new_int64((int64_t)t->revert_failures));
	pthread_mutex_unlock(&t->lock);
	json_object_object_add(o, "reverted_total", ended);
	json_object_object_add(o, "faults", faults);
	return o;
}
