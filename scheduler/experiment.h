/* Experiment files: loading, validating everything with file:line, and resolving
 * targets to hosts. Also inventory files on their own (inject, halt, status). */
#pragma once
#include <json-c/json.h>
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scheduler/diag.h"
#include "scheduler/selector.h"

#define DEFAULT_LEASE_TTL_MS 15000
#define DEFAULT_PROBE_TIMEOUT_MS 5000
#define DEFAULT_COMMAND_TIMEOUT_MS 30000
#define DEFAULT_SAMPLE_EVERY_MS 2000
#define DEFAULT_RECOVERY_WINDOW_MS 30000
/* ^ and $ also match at line breaks: "^ok$" accepts the body "ok\n" */
#define PROBE_REGEX_FLAGS (REG_EXTENDED | REG_NOSUB | REG_NEWLINE)

struct tls_files {
	char *ca, *cert, *key; /* absolute or relative to the cwd, resolved at load */
};

struct host {
	char *name;
	char *agent;           /* "unix:/path" or "https://host:port" */
	char **label_keys;     /* includes the implicit "name" unless set explicitly */
	char **label_values;
	size_t n_labels;
	/* where the host's traffic comes from, for partitions: given as `addresses`, or the
	 * agent URL's host when it is an IP literal; may be empty (unix agents) */
	char **addresses;
	size_t n_addresses;
};

struct inventory {
	struct tls_files tls;
	bool has_tls;
	struct host *hosts;
	size_t n_hosts;
};

enum target_mode { TARGET_ALL, TARGET_COUNT, TARGET_PERCENT };

struct target {
	char *name;
	char *select_text;
	struct selector sel;
	enum target_mode mode;
	long count;
	double percent;
	uint64_t seed;
	bool seed_given;
	size_t n_matches;
	size_t *chosen;        /* indices into the inventory's hosts, in chosen order */
	size_t n_chosen;
};

enum probe_type { PROBE_HTTP, PROBE_TCP, PROBE_COMMAND, PROBE_PROMETHEUS };

enum probe_expect { EXPECT_OK, EXPECT_DEVIATE };

struct probe {
	char *name;
	enum probe_type type;
	uint64_t timeout_ms;
	enum probe_expect expect; /* EXPECT_DEVIATE: a known dependency, its failures are information */
	uint64_t every_ms;     /* abort conditions: evaluation interval */
	/* http: `url` is urls[0]; the probe is ok when any of the urls answers (tried in order) */
	char *url;
	char **urls;
	size_t n_urls;
	long *statuses;        /* empty: any 2xx */
	size_t n_statuses;
	uint64_t max_latency_ms; /* 0: no limit */
	/* tcp */
	char *address;
	/* command */
	char *run;
	int exit_code;
	/* prometheus: base URL (GET URL/api/v1/query?query=...), query and tolerance */
	char *prom_url;
	char *query;
	bool has_below, has_above, has_equals;
	double below, above, equals, within;
	/* http body or command stdout, POSIX extended regex */
	char *regex_text;
	regex_t regex;
	bool has_regex;
};

enum step_type { STEP_FAULT, STEP_WAIT, STEP_CHECK, STEP_PARTITION };

struct step {
	enum step_type type;
	char *file;
	int line;
	uint64_t offset_ms;    /* planned start, from the start of the method */
	/* fault (and partition: kind "blackhole", target = side A, target_b = side B) */
	char *kind;
	size_t target;
	size_t target_b;
	uint64_t duration_ms;
	struct json_object *params;      /* as written */
	struct json_object *params_full; /* every default filled in (kind's spec_to_json) */
	struct json_object *params_b;    /* partition: side B's params (match.peers = side A) */
	/* wait */
	uint64_t wait_ms;
	/* check */
	size_t *probes;
	size_t n_probes;
};

struct safety {
	size_t max_hosts;         /* 0: no limit */
	uint64_t max_duration_ms; /* 0: no limit */
	uint64_t lease_ttl_ms;
};

struct experiment {
	char *file;
	char *title;
	char *description;
	char **tags;
	size_t n_tags;
	struct inventory inv;
	char *inventory_source;   /* file the inventory came from */
	/* Targets exist but no inventory was given (it is expected on the command line):
	 * everything else is validated, targets are not resolved. run and plan refuse. */
	bool inventory_missing;
	struct target *targets;
	size_t n_targets;
	struct probe *probes;
	size_t n_probes;
	struct step *steps;
	size_t n_steps;
	uint64_t sample_every_ms;     /* steady-state sampling interval */
	uint64_t recovery_window_ms;
	struct probe *aborts;     /* abort_conditions: probes with `every` */
	size_t n_aborts;
	/* a `matrix = {...}` file (chaos matrix): one target and one fault step per domain,
	 * each step's target is 0 in the per-domain view (matrix_domain_view) */
	bool is_matrix;
	uint64_t recovery_wait_ms;
	struct probe *rollbacks;  /* command probes */
	size_t n_rollbacks;
	struct safety safety;
	uint64_t total_ms;        /* planned length of the method */
};

/* Loads and validates `path`. `inventory_path` (may be NULL) replaces the file's own
 * inventory. Returns 0, or -EINVAL with every problem in `d` (and *out left empty). */
int experiment_load(const char *path, const char *inventory_path, struct experiment *out,
		    struct diags *d);
void experiment_free(struct experiment *e);

/* The experiment a matrix runs for domain `i`: shares everything with `e` (no copy,
 * nothing to free), targets and method reduced to that domain's outage. */
void matrix_domain_view(const struct experiment *e, size_t i, struct experiment *view);

/* A file that defines `inventory = { tls = {...}; hosts = (...); };`, or a directory
 * whose *.cfg files (sorted) each define `hosts = (...)` (at most one `tls = {...}`). */
int inventory_load(const char *path, struct inventory *out, struct diags *d);
void inventory_free(struct inventory *inv);
struct label_set host_labels(const struct host *h);

/* Maps a fault_error key ("match.dst[1]") to the setting inside `params` it names,
 * or the deepest existing parent. Exposed for tests. */
struct config_setting_t;
const struct config_setting_t *params_setting_for_key(const struct config_setting_t *params,
							 const char *key);
/* libconfig setting -> JSON (group: object, list/array: array). NULL on allocation failure. */
struct json_object *setting_to_json(const struct config_setting_t *s);
