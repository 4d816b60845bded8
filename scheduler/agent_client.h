/* Talking to many chaos-agents at once: a batch of HTTP calls run concurrently with
 * the curl multi interface (bounded parallelism, per-call timeout), each call ending
 * with either a parsed JSON answer or a clear per-host error. Reused by every command
 * that fans out (run, inject, halt, status, lease renewal). */
#pragma once
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scheduler/experiment.h"

struct agent_client {
	const struct tls_files *tls; /* client cert, key and CA for https agents; may be NULL */
	long timeout_ms;             /* whole call, connect included */
	long connect_timeout_ms;
	int max_parallel;            /* calls in flight at once */
	/* curl multi handle kept between batches: its connection cache lets the next
	 * batch reuse each agent's connection (and TLS session). Used by one thread at a
	 * time; give every thread its own client. Freed by agent_client_close(). */
	void *multi;
};

#define AGENT_DEFAULT_TIMEOUT_MS 10000
#define AGENT_DEFAULT_PARALLEL 64

struct agent_call {
	/* in */
	const char *host;       /* name, for messages */
	const char *agent;      /* "unix:/path" or "https://host:port" */
	const char *method;     /* "GET", "POST", "DELETE" */
	char path[200];         /* "/v1/faults/f-1a2b3c" */
	char *body;             /* JSON text or NULL; owned by the call (freed by agent_call_clear) */
	/* out */
	long status;            /* HTTP status, 0 when no answer came */
	struct json_object *answer; /* parsed body, NULL if none or not JSON */
	char reason[64];        /* agent's error.reason ("no_such_fault"), or a transport tag */
	char error[400];        /* empty on success (2xx); otherwise "h1: ..." for people */
	uint64_t latency_ms;
};

static inline bool agent_call_ok(const struct agent_call *c) { return c->status >= 200 && c->status < 300; }

void agent_client_defaults(struct agent_client *cl, const struct tls_files *tls);
/* Closes the cached connections. The client can be used again afterwards. */
void agent_client_close(struct agent_client *cl);
/* Fills `c` for a call; takes ownership of `body` (may be NULL). */
void agent_call_init(struct agent_call *c, const char *host, const char *agent, const char *method,
		     const char *path, char *body);
/* Runs all calls; returns 0 when every call got an answer (any status), else the
 * number of calls that failed at the transport level. Never leaves a call pending. */
int agent_batch(struct agent_client *cl, struct agent_call *calls, size_t n);
void agent_call_clear(struct agent_call *c);
void agent_calls_free(struct agent_call *calls, size_t n);
