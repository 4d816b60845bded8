/* Continuous checks during a run: every steady-state probe and every abort condition
 * gets its own thread that runs it at its interval, so a slow or timing-out probe
 * delays only its own samples. Results are kept as samples (also the before, check
 * and after results the run adds) and turned into detection and recovery figures. */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "scheduler/experiment.h"
#include "scheduler/probe.h"
#include "scheduler/report.h"

struct sample {
	const struct probe *probe;  /* borrowed from the experiment */
	bool is_abort;
	const char *phase;          /* "before", "sample", "check", "after", "abort" */
	uint64_t t_ms;              /* probe start, relative to the run's start */
	bool ok;
	uint64_t latency_ms;
	char reason[512];
};

struct monitor;

struct sampler {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop_steady, stop_aborts;
	struct sample *samples;
	size_t n_samples, cap;
	uint64_t start_mono_ms;     /* the report's start */
	uint64_t reverted_at_ms;    /* 0 until the revert: samples started after it count as recovery */
	atomic_bool abort_requested;
	const struct probe *aborted_by;
	char abort_reason[512];
	struct monitor *monitors;
	size_t n_monitors;
	const struct report *rep;   /* for progress lines (elapsed time only) */
	bool quiet;
};

int sampler_init(struct sampler *s, const struct report *rep, bool quiet);
/* Starts a thread per steady-state probe (every `e->sample_every_ms`) and per abort
 * condition (its `every`). */
int sampler_start(struct sampler *s, const struct experiment *e);
/* Stops and joins the abort-condition threads (the faults are reverted). */
void sampler_stop_aborts(struct sampler *s);
/* Stops and joins the steady-state threads. */
void sampler_stop_steady(struct sampler *s);
void sampler_free(struct sampler *s);

/* Records a result taken outside the sampler threads (before/check/after). */
void sampler_add(struct sampler *s, const struct probe *p, const char *phase, const struct probe_result *res);
void sampler_set_reverted(struct sampler *s, uint64_t t_ms);
/* True when every probe of `e` passed a sample started at or after the revert. */
bool sampler_all_recovered(struct sampler *s, const struct experiment *e);

struct recovery {
	bool deviated;
	bool recovered;
	int64_t detected_after_ms;   /* -1: null */
	int64_t recovered_after_ms;  /* -1: null */
	bool failed_during_method;   /* a failing sample or check between injection and revert */
};

/* Figures for probe `p` from the samples in [injected_ms, ended_ms]. */
void sampler_recovery(struct sampler *s, const struct probe *p, uint64_t injected_ms, uint64_t reverted_ms,
		      uint64_t ended_ms, struct recovery *out);
/* The journal's "samples" array. */
struct json_object *sampler_samples_json(struct sampler *s);
