#include "scheduler/run.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/duration.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "scheduler/probe.h"
#include "scheduler/sampler.h"

#include <pthread.h>
#include <stdatomic.h>

volatile sig_atomic_t chaos_interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	chaos_interrupted = 1;
}

void interrupt_handlers_install(void)
{
	struct sigaction sa = { .sa_handler = on_interrupt };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

bool wait_or_interrupt(uint64_t ms)
{
	uint64_t until = mono_ms() + ms;
	while (!chaos_interrupted) {
		uint64_t now = mono_ms();
		if (now >= until)
			return true;
		uint64_t left = until - now;
		sleep_ms(left < 100 ? left : 100);
	}
	return false;
}

void progress(const struct report *r, bool quiet, const char *fmt, ...)
{
	if (quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	/* sampling threads report too: one line at a time */
	flockfile(stdout);
	printf("[%6.1fs] ", report_elapsed_s(r));
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	funlockfile(stdout);
	va_end(ap);
}

static const char *answer_str(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static struct json_object *answer_get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (o && json_object_object_get_ex(o, key, &v))
		return v;
	return NULL;
}

static void format_stats(struct json_object *stats, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	if (!stats || !json_object_is_type(stats, json_type_object))
		return;
	json_object_object_foreach(stats, key, val) {
		int w = snprintf(buf + used, len - used, "%s%s=%s", used ? " " : "", key, json_object_get_string(val));
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
}

int wall_ms_parse(const char *text, uint64_t *out)
{
	struct tm tm = { 0 };
	int ms = 0, used = 0;
	if (!text || sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
			    &tm.tm_min, &tm.tm_sec, &ms, &used) != 7 || used != (int)strlen(text) || ms < 0)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t secs = timegm(&tm);
	if (secs < 0)
		return -EINVAL;
	*out = (uint64_t)secs * 1000 + (uint64_t)ms;
	return 0;
}

static char *apply_body(const struct apply_request *req, struct json_object *params)
{
	struct json_object *body = json_object_new_object();
	if (!body)
		return NULL;
	char buf[32];
	json_object_object_add(body, "kind", json_object_new_string(req->kind));
	json_object_object_add(body, "duration",
			       json_object_new_string(duration_format(req->duration_ms, buf, sizeof(buf))));
	json_object_object_add(body, "params", params ? json_object_get(params) : json_object_new_object());
	if (req->lease_id) {
		struct json_object *lease = json_object_new_object();
		json_object_object_add(lease, "id", json_object_new_string(req->lease_id));
		json_object_object_add(lease, "ttl",
				       json_object_new_string(duration_format(req->lease_ttl_ms, buf, sizeof(buf))));
		json_object_object_add(body, "lease", lease);
	}
	char *text = strdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(body);
	return text;
}

size_t faults_apply(struct agent_client *cl, const struct inventory *inv, const size_t *hosts,
		    size_t n_hosts, const struct apply_request *req, struct fault_set *set, struct report *rep,
		    bool quiet)
{
	struct agent_call *calls = calloc(n_hosts + 1, sizeof(*calls));
	struct applied_fault *grown = realloc(set->items, (set->count + n_hosts + 1) * sizeof(*grown));
	if (!calls || !grown) {
		free(calls);
		if (grown)
			set->items = grown;
		struct json_object *ev = report_event(rep, "error");
		if (ev)
			json_object_object_add(ev, "message", json_object_new_string("out of memory"));
		return n_hosts;
	}
	set->items = grown;
	for (size_t i = 0; i < n_hosts; i++) {
		const struct host *h = &inv->hosts[hosts[i]];
		agent_call_init(&calls[i], h->name, h->agent, "POST", "/v1/faults",
				apply_body(req, req->host_params ? req->host_params[i] : req->params));
	}
	uint64_t sent = mono_ms();
	agent_batch(cl, calls, n_hosts);
	size_t failures = 0;
	for (size_t i = 0; i < n_hosts; i++) {
		const struct host *h = &inv->hosts[hosts[i]];
		struct agent_call *c = &calls[i];
		const char *id = answer_str(c->answer, "id");
		if (!agent_call_ok(c) || !id) {
			failures++;
			const char *msg = c->error[0] ? c->error : "answer without a fault id";
			struct json_object *ev = report_event(rep, "fault_apply_failed");
			if (ev) {
				json_object_object_add(ev, "host", json_object_new_string(h->name));
				json_object_object_add(ev, "kind", json_object_new_string(req->kind));
				json_object_object_add(ev, "step", json_object_new_int(req->step));
				json_object_object_add(ev, "error", json_object_new_string(msg));
				json_object_object_add(ev, "reason", json_object_new_string(c->reason));
			}
			if (c->status == 0) {
				struct unanswered_host *u =
					realloc(set->unanswered, (set->n_unanswered + 1) * sizeof(*u));
				if (u) {
					set->unanswered = u;
					u = &u[set->n_unanswered++];
					u->host = h->name;
					u->agent = h->agent;
					snprintf(u->kind, sizeof(u->kind), "%s", req->kind);
					u->step = req->step;
				}
			}
			progress(rep, quiet, "FAILED to apply %s on %s: %s", req->kind, h->name, msg);
			if (quiet)
				fprintf(stderr, "chaos: failed to apply %s on %s: %s\n", req->kind, h->name, msg);
			continue;
		}
		struct applied_fault *f = &set->items[set->count++];
		memset(f, 0, sizeof(*f));
		f->host = h->name;
		f->agent = h->agent;
		snprintf(f->id, sizeof(f->id), "%s", id);
		snprintf(f->kind, sizeof(f->kind), "%s", req->kind);
		f->expires_mono_ms = sent + req->duration_ms;
		f->step = req->step;
		if (wall_ms_parse(answer_str(c->answer, "applied_at"), &f->applied_wall_ms))
			f->applied_wall_ms = 0;
		struct json_object *ev = report_event(rep, "fault_applied");
		if (ev) {
			json_object_object_add(ev, "host", json_object_new_string(h->name));
			json_object_object_add(ev, "id", json_object_new_string(id));
			json_object_object_add(ev, "kind", json_object_new_string(req->kind));
			json_object_object_add(ev, "step", json_object_new_int(req->step));
			json_object_object_add(ev, "duration_ms", json_object_new_int64((int64_t)req->duration_ms));
			struct json_object *params = answer_get(c->answer, "params");
			struct json_object *sent_params = req->host_params ? req->host_params[i] : req->params;
			json_object_object_add(ev, "params", params ? json_object_get(params)
								: sent_params ? json_object_get(sent_params) : NULL);
			const char *applied = answer_str(c->answer, "applied_at");
			const char *expires = answer_str(c->answer, "expires_at");
			json_object_object_add(ev, "applied_at", applied ? json_object_new_string(applied) : NULL);
			json_object_object_add(ev, "expires_at", expires ? json_object_new_string(expires) : NULL);
			if (req->lease_id)
				json_object_object_add(ev, "lease", json_object_new_string(req->lease_id));
		}
		double end_s = (double)(f->expires_mono_ms - rep->start_mono_ms) / 1000.0;
		progress(rep, quiet, "applied %s on %s (%s), until +%.1fs", req->kind, h->name, id, end_s);
	}
	agent_calls_free(calls, n_hosts);
	return failures;
}

/* An apply that timed out may still have happened: adopt every fault on those hosts
 * that carries our lease, so it is reverted like the others. */
static void adopt_unanswered(struct agent_client *cl, struct fault_set *set)
{
	size_t n = set->n_unanswered;
	if (!n || !set->lease_id)
		return;
	struct agent_call *calls = calloc(n, sizeof(*calls));
	if (!calls)
		return;
	for (size_t i = 0; i < n; i++)
		agent_call_init(&calls[i], set->unanswered[i].host, set->unanswered[i].agent, "GET", "/v1/faults", NULL);
	agent_batch(cl, calls, n);
	for (size_t i = 0; i < n; i++) {
		struct json_object *list = answer_get(agent_call_ok(&calls[i]) ? calls[i].answer : NULL, "faults");
		size_t m = list && json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
		for (size_t j = 0; j < m; j++) {
			struct json_object *f = json_object_array_get_idx(list, j);
			const char *id = answer_str(f, "id");
			const char *lease = answer_str(answer_get(f, "lease"), "id");
			if (!id || !lease || strcmp(lease, set->lease_id) != 0)
				continue;
			bool known = false;
			for (size_t k = 0; k < set->count; k++)
				known |= strcmp(set->items[k].id, id) == 0 && strcmp(set->items[k].host, calls[i].host) == 0;
			struct applied_fault *grown = known ? NULL : realloc(set->items, (set->count + 1) * sizeof(*grown));
			if (!grown)
				continue;
			set->items = grown;
			struct applied_fault *a = &set->items[set->count++];
			memset(a, 0, sizeof(*a));
			a->host = set->unanswered[i].host;
			a->agent = set->unanswered[i].agent;
			snprintf(a->id, sizeof(a->id), "%s", id);
			snprintf(a->kind, sizeof(a->kind), "%s", set->unanswered[i].kind);
			a->step = set->unanswered[i].step;
		}
	}
	agent_calls_free(calls, n);
	free(set->unanswered);
	set->unanswered = NULL;
	set->n_unanswered = 0;
}

size_t faults_revert_all(struct agent_client *cl, struct fault_set *set, struct report *rep, bool quiet)
{
	adopt_unanswered(cl, set);
	size_t n = 0;
	for (size_t i = 0; i < set->count; i++)
		n += !set->items[i].ended;
	if (n == 0)
		return 0;
	struct agent_call *gets = calloc(n, sizeof(*gets));
	struct agent_call *dels = calloc(n, sizeof(*dels));
	size_t *which = calloc(n, sizeof(*which));
	if (!gets || !dels || !which) {
		free(gets);
		free(dels);
		free(which);
		return n;
	}
	size_t k = 0;
	for (size_t i = 0; i < set->count; i++) {
		struct applied_fault *f = &set->items[i];
		if (f->ended)
			continue;
		char path[120];
		snprintf(path, sizeof(path), "/v1/faults/%s", f->id);
		agent_call_init(&gets[k], f->host, f->agent, "GET", path, NULL);
		agent_call_init(&dels[k], f->host, f->agent, "DELETE", path, NULL);
		which[k++] = i;
	}
	/* stats first: once reverted, a fault's counters may be gone with its kernel objects */
	agent_batch(cl, gets, n);
	agent_batch(cl, dels, n);
	size_t unconfirmed = 0;
	for (size_t j = 0; j < n; j++) {
		struct applied_fault *f = &set->items[which[j]];
		struct agent_call *g = &gets[j], *d = &dels[j];
		bool gone = d->status == 404;
		bool ok = agent_call_ok(d) || gone;
		struct json_object *obj = agent_call_ok(d) ? d->answer : agent_call_ok(g) ? g->answer : NULL;
		struct json_object *stats = answer_get(agent_call_ok(g) ? g->answer : NULL, "stats");
		if (!stats)
			stats = answer_get(agent_call_ok(d) ? d->answer : NULL, "stats");
		const char *state = answer_str(obj, "state");
		if (!state)
			state = gone ? "gone" : "unknown";
		struct json_object *ev = report_event(rep, "fault_reverted");
		if (ev) {
			json_object_object_add(ev, "host", json_object_new_string(f->host));
			json_object_object_add(ev, "id", json_object_new_string(f->id));
			json_object_object_add(ev, "kind", json_object_new_string(f->kind));
			json_object_object_add(ev, "step", json_object_new_int(f->step));
			json_object_object_add(ev, "ok", json_object_new_boolean(ok));
			json_object_object_add(ev, "state", json_object_new_string(state));
			json_object_object_add(ev, "stats", stats ? json_object_get(stats) : NULL);
			const char *rat = answer_str(obj, "reverted_at");
			const char *rreason = answer_str(obj, "revert_reason");
			json_object_object_add(ev, "reverted_at", rat ? json_object_new_string(rat) : NULL);
			if (rreason)
				json_object_object_add(ev, "revert_reason", json_object_new_string(rreason));
			if (!ok)
				json_object_object_add(ev, "error", json_object_new_string(d->error));
		}
		char counters[300];
		format_stats(stats, counters, sizeof(counters));
		if (ok) {
			f->ended = true;
			progress(rep, quiet, "reverted %s on %s (%s, %s)%s%s", f->kind, f->host, f->id, state,
				 counters[0] ? ": " : "", counters);
		} else {
			unconfirmed++;
			progress(rep, quiet, "FAILED to revert %s on %s (%s): %s", f->kind, f->host, f->id, d->error);
			fprintf(stderr, "chaos: could not revert %s on %s: %s (the agent reverts it when its "
				"lease or deadline runs out)\n", f->id, f->host, d->error);
		}
	}
	agent_calls_free(gets, n);
	agent_calls_free(dels, n);
	free(which);
	return unconfirmed;
}

void fault_set_free(struct fault_set *set)
{
	free(set->items);
	free(set->unanswered);
	memset(set, 0, sizeof(*set));
}

/* ------------------------------------------------------------------ experiment runs */

static const char *phase_verb(const char *phase)
{
	if (strcmp(phase, "before") == 0)
		return "steady state before";
	if (strcmp(phase, "after") == 0)
		return "steady state after";
	return "check";
}

/* Runs the probes named by `idx` (all probes when idx is NULL), concurrently; true when
 * every probe expected to hold is ok (`expect = "deviate"` probes are information).
 * `strict`: those must hold too (before the method). */
struct probe_job {
	const struct probe *probe;
	struct probe_result res;
	pthread_t thread;
	bool threaded;
};

static void *probe_job_main(void *arg)
{
	struct probe_job *j = arg;
	probe_run(j->probe, &j->res);
	return NULL;
}

static bool run_probes(const struct experiment *e, const size_t *idx, size_t n, const char *phase, int step,
		       struct report *rep, struct sampler *smp, bool strict, bool quiet)
{
	bool all_ok = true;
	if (n == 0 || chaos_interrupted)
		return !chaos_interrupted;
	struct probe_job *jobs = calloc(n, sizeof(*jobs));
	if (!jobs)
		return false;
	for (size_t i = 0; i < n; i++) {
		jobs[i].probe = &e->probes[idx ? idx[i] : i];
		jobs[i].threaded = n > 1 && pthread_create(&jobs[i].thread, NULL, probe_job_main, &jobs[i]) == 0;
		if (!jobs[i].threaded)
			probe_run(jobs[i].probe, &jobs[i].res);
	}
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].threaded)
			pthread_join(jobs[i].thread, NULL);
		const struct probe *p = jobs[i].probe;
		const struct probe_result *res = &jobs[i].res;
		if (!res->ok && (strict || p->expect == EXPECT_OK))
			all_ok = false;
		sampler_add(smp, p, strcmp(phase, "during") == 0 ? "check" : phase, res);
		struct json_object *ev = report_event(rep, "probe");
		if (ev) {
			json_object_object_add(ev, "phase", json_object_new_string(phase));
			json_object_object_add(ev, "probe", json_object_new_string(p->name));
			if (step)
				json_object_object_add(ev, "step", json_object_new_int(step));
			json_object_object_add(ev, "ok", json_object_new_boolean(res->ok));
			json_object_object_add(ev, "value", json_object_new_string(res->value));
			json_object_object_add(ev, "reason", json_object_new_string(res->reason));
			json_object_object_add(ev, "latency_ms", json_object_new_int64((int64_t)res->latency_ms));
			if (p->expect == EXPECT_DEVIATE)
				json_object_object_add(ev, "expect", json_object_new_string("deviate"));
		}
		progress(rep, quiet, "%s: %s: %s%s (%s)", phase_verb(phase), p->name, res->ok ? "ok" : "DEVIATED",
			 !res->ok && p->expect == EXPECT_DEVIATE && !strict ? " as expected" : "", res->reason);
	}
	free(jobs);
	return all_ok;
}

static void run_rollbacks(const struct experiment *e, struct report *rep, bool quiet)
{
	for (size_t i = 0; i < e->n_rollbacks; i++) {
		const struct probe *p = &e->rollbacks[i];
		struct probe_result res;
		probe_run(p, &res);
		struct json_object *ev = report_event(rep, "rollback");
		if (ev) {
			json_object_object_add(ev, "name", json_object_new_string(p->name));
			json_object_object_add(ev, "ok", json_object_new_boolean(res.ok));
			json_object_object_add(ev, "value", json_object_new_string(res.value));
			json_object_object_add(ev, "reason", json_object_new_string(res.reason));
			json_object_object_add(ev, "latency_ms", json_object_new_int64((int64_t)res.latency_ms));
		}
		progress(rep, quiet, "rollback %s: %s (%s)", p->name, res.ok ? "ok" : "FAILED", res.reason);
	}
}

static void note(struct report *rep, const char *type, const char *msg)
{
	struct json_object *ev = report_event(rep, type);
	if (ev)
		json_object_object_add(ev, "message", json_object_new_string(msg));
}

static void add_plan(struct json_object *root, const struct experiment *e, const char *lease_id)
{
	struct json_object *targets = json_object_new_object();
	for (size_t i = 0; i < e->n_targets; i++) {
		const struct target *t = &e->targets[i];
		struct json_object *o = json_object_new_object();
		struct json_object *hosts = json_object_new_array();
		for (size_t j = 0; j < t->n_chosen; j++)
			json_object_array_add(hosts, json_object_new_string(e->inv.hosts[t->chosen[j]].name));
		json_object_object_add(o, "select", json_object_new_string(t->select_text));
		json_object_object_add(o, "seed", json_object_new_int64((int64_t)t->seed));
		json_object_object_add(o, "matches", json_object_new_int64((int64_t)t->n_matches));
		json_object_object_add(o, "hosts", hosts);
		json_object_object_add(targets, t->name, o);
	}
	json_object_object_add(root, "targets", targets);
	json_object_object_add(root, "lease", json_object_new_string(lease_id));
	json_object_object_add(root, "planned_duration_ms", json_object_new_int64((int64_t)e->total_ms));
	json_object_object_add(root, "sample_every_ms", json_object_new_int64((int64_t)e->sample_every_ms));
	json_object_object_add(root, "recovery_window_ms", json_object_new_int64((int64_t)e->recovery_window_ms));
}

/* Sleeps `ms`; false as soon as an interrupt or an abort condition stops the run. */
static bool wait_or_stop(struct sampler *smp, uint64_t ms)
{
	uint64_t until = mono_ms() + ms;
	while (!chaos_interrupted && !atomic_load(&smp->abort_requested)) {
		uint64_t now = mono_ms();
		if (now >= until)
			return true;
		uint64_t left = until - now;
		sleep_ms(left < 50 ? left : 50);
	}
	return false;
}

static uint64_t rel_ms(const struct report *rep)
{
	return mono_ms() - rep->start_mono_ms;
}

/* A fault step's record: hosts applied, when, and the start skew across the agents. */
static struct json_object *step_record(const struct experiment *e, size_t i, const struct fault_set *set,
				       uint64_t applied_at_ms, struct json_object *hosts_json, uint64_t *skew)
{
	const struct step *s = &e->steps[i];
	uint64_t lo = UINT64_MAX, hi = 0;
	size_t known = 0;
	for (size_t k = 0; k < set->count; k++) {
		const struct applied_fault *f = &set->items[k];
		if (f->step != (int)i + 1)
			continue;
		json_object_array_add(hosts_json, json_object_new_string(f->host));
		if (!f->applied_wall_ms)
			continue;
		known++;
		lo = f->applied_wall_ms < lo ? f->applied_wall_ms : lo;
		hi = f->applied_wall_ms > hi ? f->applied_wall_ms : hi;
	}
	*skew = known ? hi - lo : 0;
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "step", json_object_new_int((int)i + 1));
	json_object_object_add(o, "kind", json_object_new_string(s->type == STEP_PARTITION ? "partition" : s->kind));
	json_object_object_add(o, "target", json_object_new_string(e->targets[s->target].name));
	if (s->type == STEP_PARTITION) {
		struct json_object *sides = json_object_new_array();
		json_object_array_add(sides, json_object_new_string(e->targets[s->target].name));
		json_object_array_add(sides, json_object_new_string(e->targets[s->target_b].name));
		json_object_object_add(o, "partition", sides);
		json_object_object_add(o, "fault", json_object_new_string(s->kind));
	}
	json_object_object_add(o, "hosts", json_object_get(hosts_json));
	json_object_object_add(o, "applied_at_ms", json_object_new_int64((int64_t)applied_at_ms));
	json_object_object_add(o, "skew_ms", known ? json_object_new_int64((int64_t)*skew) : NULL);
	json_object_object_add(o, "duration_ms", json_object_new_int64((int64_t)s->duration_ms));
	return o;
}

/* Applies a fault or partition step; returns the number of failed applications. */
static size_t apply_step(const struct experiment *e, size_t i, struct agent_client *cl, struct lease_keeper *keeper,
			 const char *lease_id, struct fault_set *set, struct report *rep, struct json_object *steps,
			 bool quiet)
{
	const struct step *s = &e->steps[i];
	const struct target *a = &e->targets[s->target];
	const struct target *b = s->type == STEP_PARTITION ? &e->targets[s->target_b] : NULL;
	size_t n = a->n_chosen + (b ? b->n_chosen : 0);
	size_t *hosts = calloc(n + 1, sizeof(*hosts));
	struct json_object **params = calloc(n + 1, sizeof(*params));
	if (!hosts || !params) {
		free(hosts);
		free(params);
		return n ? n : 1;
	}
	for (size_t j = 0; j < a->n_chosen; j++) {
		hosts[j] = a->chosen[j];
		params[j] = s->params;
	}
	for (size_t j = 0; b && j < b->n_chosen; j++) {
		hosts[a->n_chosen + j] = b->chosen[j];
		params[a->n_chosen + j] = s->params_b;
	}
	struct apply_request req = {
		.kind = s->kind, .duration_ms = s->duration_ms, .params = s->params,
		.host_params = b ? params : NULL,
		.lease_id = lease_id, .lease_ttl_ms = e->safety.lease_ttl_ms, .step = (int)i + 1,
	};
	if (b)
		progress(rep, quiet, "step %zu: partition %s | %s (%zu + %zu hosts)", i + 1, a->name, b->name,
			 a->n_chosen, b->n_chosen);
	/* hosts join the renewal set first: a renewal racing the apply must not miss them */
	uint64_t until = mono_ms() + s->duration_ms;
	for (size_t j = 0; j < n; j++)
		lease_add_host_pending(keeper, e->inv.hosts[hosts[j]].name, e->inv.hosts[hosts[j]].agent, until);
	uint64_t at = rel_ms(rep);
	size_t failed = faults_apply(cl, &e->inv, hosts, n, &req, set, rep, quiet);
	for (size_t k = 0; k < set->count; k++)
		if (set->items[k].step == (int)i + 1)
			lease_confirm_host(keeper, set->items[k].host);
	struct json_object *hosts_json = json_object_new_array();
	uint64_t skew = 0;
	struct json_object *rec = hosts_json ? step_record(e, i, set, at, hosts_json, &skew) : NULL;
	json_object_put(hosts_json);
	if (rec)
		json_object_array_add(steps, rec);
	if (n - failed > 1)
		progress(rep, quiet, "step %zu: %s active on %zu host(s), start skew %llums across the agents", i + 1,
			 s->kind, n - failed, (unsigned long long)skew);
	free(hosts);
	free(params);
	return failed;
}

/* When the first fault of step `step` became active, on the run's timeline: the
 * earliest applied_at the agents reported, within [sent_at, now] (clocks of one fleet
 * differ a little), so detection times do not include the apply's own latency. */
static uint64_t first_active_ms(const struct fault_set *set, int step, const struct report *rep, uint64_t sent_at)
{
	uint64_t now = rel_ms(rep), first = UINT64_MAX;
	for (size_t k = 0; k < set->count; k++)
		if (set->items[k].step == step && set->items[k].applied_wall_ms && set->items[k].applied_wall_ms < first)
			first = set->items[k].applied_wall_ms;
	if (first == UINT64_MAX)
		return sent_at;
	uint64_t at = first > rep->start_wall_ms ? first - rep->start_wall_ms : 0;
	return at < sent_at ? sent_at : at > now ? now : at;
}

static void fmt_ms(int64_t ms, char *buf, size_t len)
{
	if (ms < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1fs", (double)ms / 1000.0);
}

/* The figures a game day is for: per probe, detection after the injection and recovery
 * after the revert. Printed as a table and kept in the journal. */
static bool add_recovery(const struct experiment *e, struct sampler *smp, struct json_object *root,
			 uint64_t injected, uint64_t reverted, uint64_t ended, bool quiet)
{
	bool deviated = false;
	struct json_object *arr = json_object_new_array();
	if (!quiet && e->n_probes) {
		printf("\nrecovery (probes sampled every %.1fs; detect = after the injection, recover = after the "
		       "revert, window %.0fs):\n", (double)e->sample_every_ms / 1000.0,
		       (double)e->recovery_window_ms / 1000.0);
		printf("  %-32s %-8s %-9s %-8s %-8s %s\n", "PROBE", "EXPECTED", "DEVIATED", "DETECT", "RECOVER", "");
	}
	for (size_t i = 0; i < e->n_probes; i++) {
		const struct probe *p = &e->probes[i];
		struct recovery r;
		sampler_recovery(smp, p, injected, reverted, ended, &r);
		bool counts = p->expect == EXPECT_OK;
		if (counts && (r.failed_during_method || !r.recovered))
			deviated = true;
		struct json_object *o = json_object_new_object();
		if (o) {
			json_object_object_add(o, "probe", json_object_new_string(p->name));
			json_object_object_add(o, "expect", json_object_new_string(counts ? "ok" : "deviate"));
			json_object_object_add(o, "deviated", json_object_new_boolean(r.deviated));
			json_object_object_add(o, "detected_after_ms",
					       r.detected_after_ms >= 0 ? json_object_new_int64(r.detected_after_ms) : NULL);
			json_object_object_add(o, "recovered_after_ms",
					       r.recovered_after_ms >= 0 ? json_object_new_int64(r.recovered_after_ms) : NULL);
			json_object_object_add(o, "recovered", json_object_new_boolean(r.recovered));
			json_object_object_add(o, "failed_during_method", json_object_new_boolean(r.failed_during_method));
			json_object_array_add(arr, o);
		}
		if (!quiet) {
			char d[32], rc[32];
			fmt_ms(r.detected_after_ms, d, sizeof(d));
			fmt_ms(r.recovered_after_ms, rc, sizeof(rc));
			const char *verdict = !r.deviated ? "held" : !r.recovered ? "NOT RECOVERED"
					      : counts ? "DEVIATED" : "deviated as expected";
			printf("  %-32.32s %-8s %-9s %-8s %-8s %s\n", p->name, counts ? "ok" : "deviate",
			       r.deviated ? "YES" : "no", d, r.deviated && !r.recovered ? "never" : rc, verdict);
		}
	}
	if (!quiet && e->n_probes)
		putchar('\n');
	json_object_object_add(root, "recovery", arr);
	return deviated;
}

int run_experiment(const struct experiment *e, const struct run_opts *o)
{
	if (e->is_matrix) {
		fprintf(stderr, "%s: a matrix file: run it with chaos matrix\n", e->file);
		return EXIT_INVALID;
	}
	struct report rep;
	if (report_init(&rep, e->title, e->file))
		return EXIT_ABORTED;
	struct sampler smp;
	if (sampler_init(&smp, &rep, o->quiet)) {
		report_free(&rep);
		return EXIT_ABORTED;
	}
	struct agent_client cl;
	agent_client_defaults(&cl, e->inv.has_tls ? &e->inv.tls : NULL);
	char lease_id[48];
	lease_make_id(lease_id, sizeof(lease_id));
	add_plan(rep.root, e, lease_id);
	struct json_object *steps = json_object_new_array();
	json_object_object_add(rep.root, "steps", steps);
	bool quiet = o->quiet;
	struct fault_set set = { .lease_id = lease_id };
	struct lease_keeper keeper = { 0 };
	bool deviated = false, aborted = false, injected = false;
	uint64_t injected_at = 0, reverted_at = 0, ended_at = 0;
	char buf[400];

	progress(&rep, quiet, "experiment \"%s\" (%s), lease %s", e->title, e->file, lease_id);
	if (!run_probes(e, NULL, e->n_probes, "before", 0, &rep, &smp, true, quiet)) {
		aborted = true;
		note(&rep, "aborted", chaos_interrupted ? "interrupted before the method"
				      : "the steady state does not hold before the method: nothing was injected");
		goto finish_no_faults;
	}
	if (chaos_interrupted) {
		aborted = true;
		note(&rep, "aborted", "interrupted before the method: nothing was injected");
		goto finish_no_faults;
	}
	int r = lease_start(&keeper, &cl, lease_id, e->safety.lease_ttl_ms);
	if (r) {
		aborted = true;
		note(&rep, "error", "cannot start the lease renewal thread");
		goto finish_no_faults;
	}
	keeper.quiet = quiet;

	for (size_t i = 0; i < e->n_steps && !aborted; i++) {
		const struct step *s = &e->steps[i];
		if (chaos_interrupted || atomic_load(&smp.abort_requested))
			break;
		if (s->type == STEP_WAIT) {
			progress(&rep, quiet, "step %zu: wait %s", i + 1, duration_format(s->wait_ms, buf, sizeof(buf)));
			wait_or_stop(&smp, s->wait_ms);
		} else if (s->type == STEP_CHECK) {
			if (!run_probes(e, s->probes, s->n_probes, "during", (int)i + 1, &rep, &smp, false, quiet))
				deviated = true;
		} else {
			bool first = !injected;
			uint64_t sent_at = rel_ms(&rep);
			if (first) {
				/* sampling and abort conditions run from the first injection */
				injected = true;
				injected_at = sent_at;
				if (sampler_start(&smp, e))
					note(&rep, "error", "cannot start every sampling thread");
			}
			size_t n = e->targets[s->target].n_chosen +
				   (s->type == STEP_PARTITION ? e->targets[s->target_b].n_chosen : 0);
			size_t failed = apply_step(e, i, &cl, &keeper, lease_id, &set, &rep, steps, quiet);
			if (first)
				injected_at = first_active_ms(&set, (int)i + 1, &rep, sent_at);
			if (failed) {
				aborted = true;
				snprintf(buf, sizeof(buf), "%zu of %zu applications failed", failed, n);
				note(&rep, "aborted", buf);
			}
		}
	}
	if (!aborted && !chaos_interrupted && !atomic_load(&smp.abort_requested)) {
		uint64_t last = 0;
		for (size_t i = 0; i < set.count; i++)
			if (set.items[i].expires_mono_ms > last)
				last = set.items[i].expires_mono_ms;
		uint64_t now = mono_ms();
		if (last > now) {
			progress(&rep, quiet, "waiting %s for the faults' deadlines",
				 duration_format(last - now, buf, sizeof(buf)));
			wait_or_stop(&smp, last - now);
		}
	}
	bool abort_condition = atomic_load(&smp.abort_requested);
	if (abort_condition && !aborted) {
		aborted = true;
		pthread_mutex_lock(&smp.lock);
		snprintf(buf, sizeof(buf), "abort condition \"%.100s\" failed: %.250s", smp.aborted_by->name, smp.abort_reason);
		pthread_mutex_unlock(&smp.lock);
		note(&rep, "aborted", buf);
		progress(&rep, quiet, "ABORT: %s: reverting everything", buf);
	}
	if (chaos_interrupted && !aborted) {
		aborted = true;
		note(&rep, "aborted", "interrupted (SIGINT/SIGTERM): reverting everything");
		progress(&rep, quiet, "interrupted: reverting everything");
	}
	size_t unconfirmed = faults_revert_all(&cl, &set, &rep, quiet);
	reverted_at = rel_ms(&rep);
	sampler_set_reverted(&smp, reverted_at);
	sampler_stop_aborts(&smp);
	lease_stop(&keeper);
	unsigned lost = keeper.lost; /* read after the renewal thread was joined */
	if (lost) {
		/* the agent reverted early: the faults did not last as planned */
		aborted = true;
		note(&rep, "error", "an agent lost the lease before the faults' deadlines (renewals failed), "
				    "so it reverted them early");
	}
	if (unconfirmed) {
		aborted = true;
		note(&rep, "error", "some faults could not be confirmed reverted");
	}
	run_rollbacks(e, &rep, quiet);
	if (injected && e->n_probes && !chaos_interrupted) {
		progress(&rep, quiet, "recovery: sampling until every probe passes again (at most %s)",
			 duration_format(e->recovery_window_ms, buf, sizeof(buf)));
		uint64_t until = mono_ms() + e->recovery_window_ms;
		while (!chaos_interrupted && mono_ms() < until && !sampler_all_recovered(&smp, e))
			sleep_ms(50);
	}
	sampler_stop_steady(&smp);
	ended_at = rel_ms(&rep);
	if (!aborted && !chaos_interrupted) {
		if (!run_probes(e, NULL, e->n_probes, "after", 0, &rep, &smp, false, quiet))
			deviated = true;
	}
	if (chaos_interrupted)
		aborted = true;
	if (injected) {
		if (add_recovery(e, &smp, rep.root, injected_at, reverted_at, ended_at, quiet))
			deviated = true;
		struct json_object *phases = json_object_new_object();
		json_object_object_add(phases, "injected_at_ms", json_object_new_int64((int64_t)injected_at));
		json_object_object_add(phases, "reverted_at_ms", json_object_new_int64((int64_t)reverted_at));
		json_object_object_add(phases, "ended_at_ms", json_object_new_int64((int64_t)ended_at));
		json_object_object_add(rep.root, "phases", phases);
	}
	goto finish;

finish_no_faults:
	/* nothing was injected, so there is nothing for the rollbacks to undo */
finish:;
	if (!json_object_object_get_ex(rep.root, "recovery", NULL))
		json_object_object_add(rep.root, "recovery", json_object_new_array());
	if (!json_object_object_get_ex(rep.root, "phases", NULL))
		json_object_object_add(rep.root, "phases", NULL);
	json_object_object_add(rep.root, "samples", sampler_samples_json(&smp));
	json_object_object_add(rep.root, "aborted_by",
			       smp.aborted_by ? json_object_new_string(smp.aborted_by->name) : NULL);
	int code = aborted ? EXIT_ABORTED : deviated ? EXIT_DEVIATED : EXIT_HELD;
	const char *verdict = aborted ? "aborted" : deviated ? "deviated" : "held";
	report_finish(&rep, verdict, code);
	if (o->journal_path && (r = report_write_journal(&rep, o->journal_path)))
		fprintf(stderr, "chaos: cannot write the journal %s: %s\n", o->journal_path, strerror(-r));
	if (o->junit_path && (r = junit_write_file(rep.root, o->junit_path)))
		fprintf(stderr, "chaos: cannot write the JUnit report %s: %s\n", o->junit_path, strerror(-r));
	if (smp.aborted_by)
		printf("aborted by: %s (%s)\n", smp.aborted_by->name, smp.abort_reason);
	printf("verdict: %s (exit %d): %s\n", verdict, code,
	       aborted ? "the experiment was aborted; every applied fault was reverted"
	       : deviated ? "the steady-state hypothesis did not hold"
			  : "the steady-state hypothesis held");
	fflush(stdout);
	if (o->journal_out)
		*o->journal_out = json_object_get(rep.root);
	sampler_free(&smp);
	fault_set_free(&set);
	report_free(&rep);
	agent_client_close(&cl);
	return code;
}
