/* Validation of API request bodies: pure functions, no side effects, so a bad
 * request is rejected before anything changes (and so they are unit-testable). */
#pragma once
#include "faults/fault.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_MAX_BODY (64 * 1024)
/* Oversized bodies up to this size are read and dropped so the client sees the 413;
 * past it the connection is closed. */
#define API_DRAIN_LIMIT (1024 * 1024)
#define LEASE_ID_MAX 64

/* An API error: HTTP status, machine-readable reason, message for people, and
 * the dotted key it is about ("" when none). Reasons are listed in docs/agent-api.md. */
struct api_error {
	int status;
	char reason[48];
	char message[320];
	char key[128];
};

__attribute__((format(printf, 5, 6)))
int api_error_set(struct api_error *err, int status, const char *reason, const char *key,
		  const char *fmt, ...);
/* {"error": {"reason", "message", "key"?}} */
struct json_object *api_error_to_json(const struct api_error *err);

struct fault_request {
	const struct fault_kind *kind;
	void *spec;                     /* owned: release with fault_request_release() */
	uint64_t duration_ms;
	bool has_lease;
	char lease_id[LEASE_ID_MAX + 1];
	uint64_t lease_ttl_ms;
};

/* Parses a JSON text strictly: one value, nothing after it. NULL + err on failure. */
struct json_object *request_parse_json(const char *body, size_t len, struct api_error *err);

/* POST /v1/faults body. `kinds` is the NULL-terminated list the agent serves. Returns 0
 * and fills *out, or a negative errno and err (status 400 with reason unknown_key,
 * bad_request, unknown_kind, invalid_params, invalid_duration or invalid_lease). */
int fault_request_parse(const char *body, size_t len, const struct fault_kind *const *kinds,
			uint64_t max_duration_ms, struct fault_request *out, struct api_error *err);
void fault_request_release(struct fault_request *req);

/* POST /v1/leases/{id} body: empty, {} or {"ttl": "15s"}. *ttl_ms is 0 when not given. */
int lease_renew_parse(const char *body, size_t len, uint64_t max_ttl_ms, uint64_t *ttl_ms,
		      struct api_error *err);

/* Bodies of requests that take none (POST /v1/halt): empty or {}. */
int empty_body_check(const char *body, size_t len, struct api_error *err);

/* Lease ids: 1..64 of [A-Za-z0-9._-]. Fault ids: ^f-[0-9a-f]{6,16}$. */
bool lease_id_valid(const char *id);
bool fault_id_valid(const char *id);
