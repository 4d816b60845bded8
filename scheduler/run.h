/* Running experiments and ad-hoc faults: applying on many hosts at once, keeping
 * leases, reverting everything on every path, and reporting as it goes. */
#pragma once
#include <signal.h>
#include <stdbool.h>

#include "scheduler/agent_client.h"
#include "scheduler/experiment.h"
#include "scheduler/lease.h"
#include "scheduler/report.h"

enum exit_code { EXIT_HELD = 0, EXIT_DEVIATED = 1, EXIT_ABORTED = 2, EXIT_INVALID = 3 };

extern volatile sig_atomic_t chaos_interrupted;
/* SIGINT/SIGTERM set chaos_interrupted instead of killing us: we must revert first. */
void interrupt_handlers_install(void);
/* Sleeps `ms`, returning false as soon as an interrupt arrives. */
bool wait_or_interrupt(uint64_t ms);

/* "[  3.2s] message" on stdout unless quiet. */
__attribute__((format(printf, 3, 4)))
void progress(const struct report *r, bool quiet, const char *fmt, ...);

struct applied_fault {
	const char *host;   /* borrowed from the inventory */
	const char *agent;
	char id[40];
	char kind[40];
	uint64_t expires_mono_ms;
	uint64_t applied_wall_ms; /* the agent's own applied_at; 0 if it did not say */
	int step;           /* 1-based method step, 0 for ad-hoc faults */
	bool ended;         /* reverted (or found gone) already */
};

struct unanswered_host {
	const char *host;
	const char *agent;
	char kind[40];
	int step;
};

struct fault_set {
	struct applied_fault *items;
	size_t count;
	/* Hosts whose apply got no answer (timeout, connection lost): the fault may exist
	 * there all the same. The revert looks for faults carrying our lease on them. */
	struct unanswered_host *unanswered;
	size_t n_unanswered;
	const char *lease_id;   /* borrowed; NULL for faults without lease */
};

struct apply_request {
	const char *kind;
	uint64_t duration_ms;
	struct json_object *params;  /* borrowed; NULL means {} */
	/* per host params (n_hosts entries, borrowed), replacing `params`: partitions */
	struct json_object *const *host_params;
	const char *lease_id;        /* NULL: no lease (deadline only) */
	uint64_t lease_ttl_ms;
	int step;
};

/* Applies one fault on each host of `hosts` (indices into inv) concurrently; adds
 * what succeeded to `set`, logs events, returns the number of failures. */
size_t faults_apply(struct agent_client *cl, const struct inventory *inv, const size_t *hosts,
		    size_t n_hosts, const struct apply_request *req, struct fault_set *set, struct report *rep,
		    bool quiet);
/* Fetches stats, then DELETEs every fault not ended yet. Returns the number of faults
 * that could not be confirmed reverted (an agent unreachable). */
size_t faults_revert_all(struct agent_client *cl, struct fault_set *set, struct report *rep, bool quiet);
void fault_set_free(struct fault_set *set);

struct run_opts {
	const char *journal_path;
	const char *junit_path;
	bool quiet;
	/* if set, receives a reference to the journal (json_object_put it) */
	struct json_object **journal_out;
};

/* "2026-11-25T08:39:23.123Z" -> ms since the epoch; -EINVAL if not that form. */
int wall_ms_parse(const char *text, uint64_t *out);

/* Runs the experiment; returns the exit code (enum exit_code). */
int run_experiment(const struct experiment *e, const struct run_opts *o);
