#include "scheduler/sampler.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/timeutil.h"
#include "scheduler/run.h"

struct monitor {
	struct sampler *s;
	const struct probe *probe;
	bool is_abort;
	uint64_t every_ms;
	pthread_t thread;
	bool started;
	bool last_ok;     /* for progress lines on changes only */
};

int sampler_init(struct sampler *s, const struct report *rep, bool quiet)
{
	memset(s, 0, sizeof(*s));
	pthread_condattr_t attr;
	if (pthread_condattr_init(&attr))
		return -ENOMEM;
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	int r = pthread_cond_init(&s->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (r)
		return -r;
	pthread_mutex_init(&s->lock, NULL);
	atomic_init(&s->abort_requested, false);
	s->rep = rep;
	s->start_mono_ms = rep->start_mono_ms;
	s->quiet = quiet;
	return 0;
}

static void add_locked(struct sampler *s, const struct probe *p, bool is_abort, const char *phase,
		       const struct probe_result *res, uint64_t started_mono)
{
	if (s->n_samples == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct sample *grown = realloc(s->samples, cap * sizeof(*grown));
		if (!grown)
			return;
		s->samples = grown;
		s->cap = cap;
	}
	struct sample *x = &s->samples[s->n_samples++];
	x->probe = p;
	x->is_abort = is_abort;
	x->phase = phase;
	x->t_ms = started_mono > s->start_mono_ms ? started_mono - s->start_mono_ms : 0;
	x->ok = res->ok;
	x->latency_ms = res->latency_ms;
	snprintf(x->reason, sizeof(x->reason), "%s", res->reason);
}

void sampler_add(struct sampler *s, const struct probe *p, const char *phase, const struct probe_result *res)
{
	/* the result's own start: wall clock, mapped onto the monotonic timeline */
	uint64_t now_wall = wall_ms(), now_mono = mono_ms();
	uint64_t ago = now_wall > res->started_wall_ms ? now_wall - res->started_wall_ms : 0;
	uint64_t started = now_mono > ago ? now_mono - ago : now_mono;
	pthread_mutex_lock(&s->lock);
	add_locked(s, p, false, phase, res, started);
	pthread_mutex_unlock(&s->lock);
}

void sampler_set_reverted(struct sampler *s, uint64_t t_ms)
{
	pthread_mutex_lock(&s->lock);
	s->reverted_at_ms = t_ms;
	pthread_mutex_unlock(&s->lock);
}

static bool stopping(struct monitor *m)
{
	return m->is_abort ? m->s->stop_aborts : m->s->stop_steady;
}

static void *monitor_main(void *arg)
{
	struct monitor *m = arg;
	struct sampler *s = m->s;
	uint64_t next = mono_ms();
	m->last_ok = true;
	for (;;) {
		pthread_mutex_lock(&s->lock);
		bool stop = stopping(m);
		pthread_mutex_unlock(&s->lock);
		if (stop)
			break;
		uint64_t started = mono_ms();
		struct probe_result res;
		probe_run(m->probe, &res);
		pthread_mutex_lock(&s->lock);
		/* a result that arrives after the stop still counts: it was taken while running */
		add_locked(s, m->probe, m->is_abort, m->is_abort ? "abort" : "sample", &res, started);
		bool first_abort = false;
		if (m->is_abort && !res.ok && !s->aborted_by && !s->stop_aborts) {
			s->aborted_by = m->probe;
			snprintf(s->abort_reason, sizeof(s->abort_reason), "%s", res.reason);
			atomic_store(&s->abort_requested, true);
			first_abort = true;
		}
		if (res.ok != m->last_ok || first_abort)
			progress(s->rep, s->quiet, "%s %s: %s (%s)", m->is_abort ? "abort condition" : "sample", m->probe->name,
				 res.ok ? "ok again" : "DEVIATED", res.reason);
		m->last_ok = res.ok;
		pthread_mutex_unlock(&s->lock);
		if (first_abort)
			break;
		/* fixed ticks; ticks a slow probe overran are skipped, not run back to back */
		next += m->every_ms;
		uint64_t now = mono_ms();
		if (next < now)
			next = now + (m->every_ms - (now - next) % m->every_ms) % m->every_ms;
		struct timespec until = { .tv_sec = (time_t)(next / 1000), .tv_nsec = (long)(next % 1000) * 1000000L };
		pthread_mutex_lock(&s->lock);
		while (!stopping(m) && mono_ms() < next)
			pthread_cond_timedwait(&s->wake, &s->lock, &until);
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

int sampler_start(struct sampler *s, const struct experiment *e)
{
	size_t n = e->n_probes + e->n_aborts;
	if (n == 0)
		return 0;
	s->monitors = calloc(n, sizeof(*s->monitors));
	if (!s->monitors)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct monitor *m = &s->monitors[i];
		bool is_abort = i >= e->n_probes;
		m->s = s;
		m->is_abort = is_abort;
		m->probe = is_abort ? &e->aborts[i - e->n_probes] : &e->probes[i];
		m->every_ms = is_abort ? m->probe->every_ms : e->sample_every_ms;
		if (m->every_ms == 0)
			m->every_ms = DEFAULT_SAMPLE_EVERY_MS;
		int r = pthread_create(&m->thread, NULL, monitor_main, m);
		if (r)
			return -r;
		m->started = true;
		s->n_monitors++;
	}
	return 0;
}

static void stop_some(struct sampler *s, bool aborts)
{
	pthread_mutex_lock(&s->lock);
	if (aborts)
		s->stop_aborts = true;
	else
		s->stop_steady = true;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < s->n_monitors; i++) {
		struct monitor *m = &s->monitors[i];
		if (m->started && m->is_abort == aborts) {
			pthread_join(m->thread, NULL);
			m->started = false;
		}
	}
}

void sampler_stop_aborts(struct sampler *s)
{
	stop_some(s, true);
}

void sampler_stop_steady(struct sampler *s)
{
	stop_some(s, false);
}

void sampler_free(struct sampler *s)
{
	sampler_stop_aborts(s);
	sampler_stop_steady(s);
	free(s->monitors);
	free(s->samples);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	memset(s, 0, sizeof(*s));
}

bool sampler_all_recovered(struct sampler *s, const struct experiment *e)
{
	pthread_mutex_lock(&s->lock);
	bool all = true;
	for (size_t i = 0; i < e->n_probes && all; i++) {
		bool found = false;
		for (size_t k = 0; k < s->n_samples && !found; k++) {
			const struct sample *x = &s->samples[k];
			found = x->probe == &e->probes[i] && !x->is_abort && x->ok && x->t_ms >= s->reverted_at_ms;
		}
		all = found;
	}
	pthread_mutex_unlock(&s->lock);
	return all;
}

static bool counts_for_recovery(const struct sample *x, const struct probe *p, uint64_t from, uint64_t to)
{
	return x->probe == p && !x->is_abort && x->t_ms >= from && x->t_ms <= to &&
	       (strcmp(x->phase, "sample") == 0 || strcmp(x->phase, "check") == 0);
}

void sampler_recovery(struct sampler *s, const struct probe *p, uint64_t injected_ms, uint64_t reverted_ms,
		      uint64_t ended_ms, struct recovery *out)
{
	memset(out, 0, sizeof(*out));
	out->detected_after_ms = -1;
	out->recovered_after_ms = -1;
	pthread_mutex_lock(&s->lock);
	for (size_t k = 0; k < s->n_samples; k++) {
		const struct sample *x = &s->samples[k];
		if (!counts_for_recovery(x, p, injected_ms, ended_ms) || x->ok)
			continue;
		/* detected when the failing result was known: its start plus its latency */
		if (!out->deviated)
			out->detected_after_ms = (int64_t)(x->t_ms + x->latency_ms - injected_ms);
		out->deviated = true;
		if (x->t_ms < reverted_ms)
			out->failed_during_method = true;
	}
	if (out->deviated) {
		for (size_t k = 0; k < s->n_samples; k++) {
			const struct sample *x = &s->samples[k];
			if (counts_for_recovery(x, p, reverted_ms, ended_ms) && x->ok) {
				out->recovered_after_ms = (int64_t)(x->t_ms + x->latency_ms - reverted_ms);
				break;
			}
		}
		out->recovered = out->recovered_after_ms >= 0;
	} else {
		out->recovered = true;
	}
	pthread_mutex_unlock(&s->lock);
}

static int by_time(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;
	if (x->t_ms != y->t_ms)
		return x->t_ms < y->t_ms ? -1 : 1;
	return strcmp(x->probe->name, y->probe->name);
}

struct json_object *sampler_samples_json(struct sampler *s)
{
	struct json_object *arr = json_object_new_array();
	if (!arr)
		return NULL;
	pthread_mutex_lock(&s->lock);
	if (s->n_samples > 1)
		qsort(s->samples, s->n_samples, sizeof(*s->samples), by_time);
	for (size_t k = 0; k < s->n_samples; k++) {
		const struct sample *x = &s->samples[k];
		struct json_object *o = json_object_new_object();
		if (!o)
			break;
		json_object_object_add(o, "probe", json_object_new_string(x->probe->name));
		json_object_object_add(o, "phase", json_object_new_string(x->phase));
		json_object_object_add(o, "t_ms", json_object_new_int64((int64_t)x->t_ms));
		json_object_object_add(o, "ok", json_object_new_boolean(x->ok));
		json_object_object_add(o, "latency_ms", json_object_new_int64((int64_t)x->latency_ms));
		json_object_object_add(o, "reason", json_object_new_string(x->reason));
		if (x->is_abort)
			json_object_object_add(o, "abort_condition", json_object_new_boolean(true));
		json_object_array_add(arr, o);
	}
	pthread_mutex_unlock(&s->lock);
	return arr;
}
