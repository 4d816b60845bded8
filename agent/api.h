/* The agent's HTTP API, independent of the HTTP server: a request (method, path,
 * body) in, a response (status, content type, body) out. See docs/agent-api.md. */
#pragma once
#include "agent/config.h"
#include "agent/fault_table.h"
#include "faults/fault.h"

#include <stddef.h>

struct api {
	const struct agent_config *cfg;
	const struct fault_kind *const *kinds;
	struct fault_table *table;
	uint16_t control_ports[FAULT_MAX_CONTROL_PORTS];
	int n_control_ports;
};

struct api_response {
	int status;
	const char *content_type;   /* static string */
	char *body;                 /* malloc'd; api_response_release() frees it */
	size_t len;
};

void api_handle(struct api *api, const char *method, const char *path, const char *body, size_t len,
		struct api_response *out);
/* An error response, for refusals made before api_handle (auth, body size). */
void api_respond_error(struct api_response *out, const struct api_error *err);
void api_response_release(struct api_response *resp);
