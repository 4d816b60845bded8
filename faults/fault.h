/* The fault interface: every fault kind implements this contract and nothing else.
 * The agent drives kinds only through it; the scheduler uses parse() to validate
 * experiment files exactly as the agent will. See docs/architecture.md. */
#pragma once
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

/* Where a parse or apply problem lies. `key` is the dotted path of the offending
 * parameter inside `params` ("match.dst[2]", "probability"), or "" when the
 * problem is not about one key. The scheduler maps `key` back to file:line. */
struct fault_error {
	char key[96];
	char msg[256];
};

__attribute__((format(printf, 3, 4)))
void fault_error_set(struct fault_error *err, const char *key, const char *fmt, ...);

/* parse()'s common opening: `params` is NULL or an object, and *out a zeroed
 * spec of `size` bytes. 0, or -EINVAL / -ENOMEM with err set. */
int fault_spec_alloc(struct json_object *params, size_t size, void **out, struct fault_error *err);

/* A duration param ("10s", "500ms") of `key` within [min_ms, max_ms] into *ms; `example` is the
 * first example the error message gives. 0, or -EINVAL with err set. */
int fault_duration_param(struct json_object *v, const char *key, const char *example, uint64_t min_ms,
			 uint64_t max_ms, uint64_t *ms, struct fault_error *err);

#define FAULT_MAX_CONTROL_PORTS 4

/* What the agent tells a kind about the host it runs on. */
struct fault_env {
	const char *fault_id;    /* unique, [a-z0-9-], <= 32 chars; usable in kernel object names */
	const char *state_dir;   /* agent state directory (exists, root-owned) */
	/* TCP ports of the agent's own API. Network faults let this traffic through
	 * unless the fault's params ask for a true blackout. */
	uint16_t control_ports[FAULT_MAX_CONTROL_PORTS];
	int n_control_ports;
	/* Backend preference from the agent config for kinds that have several
	 * ("auto" when not set). A kind ignores a preference that is not its own. */
	const char *packet_backend;
	/* Same for the shaping kinds (delay, reorder, bandwidth): "auto", "netem"
	 * or "delay-line". NULL means auto. */
	const char *shape_backend;
};

struct fault_kind {
	const char *name;     /* "packet-loss", "blackhole", ... as written in experiments */
	const char *family;   /* module that implements it: "packet" */
	const char *summary;  /* one line for `chaos-agent --list-kinds` and /v1/info */

	/* Can this kind work on this host? 0 if yes; else -errno with a reason a
	 * person can act on ("kernel lacks tcx and cls_bpf"). Cached by the kind. */
	int (*probe)(char *reason, size_t len);

	/* Validates `params` (NULL means {}) and builds a spec. Pure: no side
	 * effects, no privileges, so the scheduler can call it at validate time. */
	int (*parse)(struct json_object *params, void **spec, struct fault_error *err);
	void (*spec_free)(void *spec);
	/* The spec back as JSON with every default filled in (journal, listings). */
	struct json_object *(*spec_to_json)(const void *spec);

	/* Applies the fault. All or nothing: on failure everything already created
	 * is removed before returning -errno. On success *handle owns the kernel
	 * objects. `record` is a JSON object the kind fills with what it created and
	 * needs to find again after a crash; the agent journals it. */
	int (*apply)(const void *spec, const struct fault_env *env, void **handle,
		     struct json_object *record, struct fault_error *err);
	/* Removes the fault and frees the handle. Returns 0 or -errno; the handle
	 * is freed in every case and kernel objects are removed as far as possible. */
	int (*revert)(void *handle);
	/* Counters for the API and /metrics, e.g. {"packets_matched": 12,
	 * "packets_dropped": 4, "backend": "tcx"}. Integer values become metrics
	 * (keys are metric-name safe); strings are shown by the API only. */
	int (*stats)(void *handle, struct json_object *out);

	/* After a crash or SIGKILL: remove what a journaled fault left in the
	 * kernel. `record` is what apply() filled (possibly empty when the crash
	 * came mid-apply). Must be idempotent and succeed if nothing is left. */
	int (*recover)(struct json_object *record, const struct fault_env *env);

	/* Optional (may be NULL): what the kind would use on this host, added to
	 * `out` for /v1/info and --list-kinds, e.g. {"backend": "delay-line",
	 * "backends": {"netem": "kernel lacks sch_netem", "delay-line": "ok"}}. */
	void (*describe)(const struct fault_env *env, struct json_object *out);
};

/* A family may also own kernel objects that no journal names (crash between
 * creating an object and journaling it). sweep() removes every object carrying
 * the family's marker. Called by the agent at start, after recovery. */
struct fault_family {
	const char *name;
	int (*sweep)(const struct fault_env *env);
};
