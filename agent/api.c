#include "agent/api.h"

#include "agent/metrics.h"
#include "agent/request.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void respond_json(struct api_response *out, int status, struct json_object *body)
{
	const char *text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	out->status = status;
	out->content_type = "application/json";
	out->len = strlen(text) + 1;
	out->body = malloc(out->len + 1);
	if (out->body) {
		memcpy(out->body, text, out->len - 1);
		out->body[out->len - 1] = '\n';
		out->body[out->len] = '\0';
	} else {
		out->status = 500;
		out->len = 0;
	}
	json_object_put(body);
}

void api_respond_error(struct api_response *out, const struct api_error *err)
{
	respond_json(out, err->status, api_error_to_json(err));
}

void api_response_release(struct api_response *resp)
{
	free(resp->body);
	resp->body = NULL;
}

static void respond_simple_error(struct api_response *out, int status, const char *reason, const char *fmt,
				 const char *arg)
{
	struct api_error err;
	api_error_set(&err, status, reason, NULL, fmt, arg);
	api_respond_error(out, &err);
}

static void handle_info(struct api *api, struct api_response *out)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(api->cfg->name));
	json_object_object_add(o, "version", json_object_new_string(CHAOSKIT_VERSION));
	struct json_object *labels = json_object_new_object();
	for (int i = 0; i < api->cfg->n_labels; i++)
		json_object_object_add(labels, api->cfg->labels[i].key, json_object_new_string(api->cfg->labels[i].value));
	json_object_object_add(o, "labels", labels);
	struct json_object *ports = json_object_new_array();
	for (int i = 0; i < api->n_control_ports; i++)
		json_object_array_add(ports, json_object_new_int(api->control_ports[i]));
	json_object_object_add(o, "control_ports", ports);
	struct json_object *kinds = json_object_new_array();
	for (size_t i = 0; api->kinds[i]; i++) {
		const struct fault_kind *k = api->kinds[i];
		char reason[256] = "";
		int r = k->probe ? k->probe(reason, sizeof(reason)) : 0;
		struct json_object *ko = json_object_new_object();
		json_object_object_add(ko, "name", json_object_new_string(k->name));
		json_object_object_add(ko, "family", json_object_new_string(k->family));
		json_object_object_add(ko, "summary", json_object_new_string(k->summary));
		json_object_object_add(ko, "supported", json_object_new_boolean(r == 0));
		json_object_object_add(ko, "reason", json_object_new_string(r == 0 ? "" : reason[0] ? reason : strerror(-r)));
		if (k->describe) {
			struct fault_env env = {
				.state_dir = api->cfg->state_dir,
				.packet_backend = api->cfg->packet_backend,
				.shape_backend = api->cfg->shape_backend,
			};
			k->describe(&env, ko);
		}
		json_object_array_add(kinds, ko);
	}
	json_object_object_add(o, "kinds", kinds);
	respond_json(out, 200, o);
}

static void handle_metrics(struct api *api, struct api_response *out)
{
	struct json_object *snap = fault_table_metrics(api->table);
	json_object_object_add(snap, "name", json_object_new_string(api->cfg->name));
	json_object_object_add(snap, "version", json_object_new_string(CHAOSKIT_VERSION));
	char *text = metrics_render(snap);
	json_object_put(snap);
	if (!text) {
		respond_simple_error(out, 500, "internal", "%s", "out of memory");
		return;
	}
	out->status = 200;
	out->content_type = "text/plain; version=0.0.4; charset=utf-8";
	out->body = text;
	out->len = strlen(text);
}

static void handle_apply(struct api *api, const char *body, size_t len, struct api_response *out)
{
	struct fault_request req;
	struct api_error err;
	if (fault_request_parse(body, len, api->kinds, api->cfg->max_fault_duration_ms, &req, &err) < 0) {
		log_info("POST /v1/faults refused: %s: %s", err.reason, err.message);
		api_respond_error(out, &err);
		return;
	}
	struct json_object *fault;
	if (fault_table_apply(api->table, &req, &fault, &err) < 0) {
		api_respond_error(out, &err);
		return;
	}
	respond_json(out, 201, fault);
}

static void no_such_fault(struct api_response *out, const char *id)
{
	respond_simple_error(out, 404, "no_such_fault", "no fault %.40s (active or recently ended)", id);
}

/* Routes one request. `path` excludes the query string. */
void api_handle(struct api *api, const char *method, const char *path, const char *body, size_t len,
		struct api_response *out)
{
	memset(out, 0, sizeof(*out));
	bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0,
	     del = strcmp(method, "DELETE") == 0;
	struct api_error err;
	struct json_object *answer = NULL;
	const char *fault_prefix = "/v1/faults/", *lease_prefix = "/v1/leases/";

	if (strcmp(path, "/v1/info") == 0) {
		if (get)
			{ handle_info(api, out); return; }
	} else if (strcmp(path, "/metrics") == 0) {
		if (get)
			{ handle_metrics(api, out); return; }
	} else if (strcmp(path, "/v1/faults") == 0) {
		if (get)
			{ respond_json(out, 200, fault_table_list(api->table)); return; }
		if (post)
			{ handle_apply(api, body, len, out); return; }
	} else if (strncmp(path, fault_prefix, strlen(fault_prefix)) == 0) {
		const char *id = path + strlen(fault_prefix);
		if (get || del) {
			if (!fault_id_valid(id))
				{ no_such_fault(out, id); return; }
			int r = del ? fault_table_revert(api->table, id, &answer) : fault_table_get(api->table, id, &answer);
			if (r < 0)
				{ no_such_fault(out, id); return; }
			{ respond_json(out, 200, answer); return; }
		}
	} else if (strcmp(path, "/v1/halt") == 0) {
		if (post) {
			if (empty_body_check(body, len, &err) < 0)
				{ api_respond_error(out, &err); return; }
			int n = fault_table_revert_all(api->table, "halted");
			log_info("halt: %d fault(s) reverted", n);
			answer = json_object_new_object();
			json_object_object_add(answer, "reverted", json_object_new_int(n));
			{ respond_json(out, 200, answer); return; }
		}
	} else if (strncmp(path, lease_prefix, strlen(lease_prefix)) == 0) {
		const char *id = path + strlen(lease_prefix);
		if (post) {
			uint64_t ttl_ms;
			if (lease_renew_parse(body, len, api->cfg->max_fault_duration_ms, &ttl_ms, &err) < 0)
				{ api_respond_error(out, &err); return; }
			if (!lease_id_valid(id) || fault_table_renew_lease(api->table, id, ttl_ms, &answer) < 0)
				{ respond_simple_error(out, 404, "no_such_lease",
							    "no lease %.64s (it ended with its last fault, or expired)", id); return; }
			{ respond_json(out, 200, answer); return; }
		}
	} else {
		{ respond_simple_error(out, 404, "not_found", "no such path %.100s (see docs/agent-api.md)", path); return; }
	}
	respond_simple_error(out, 405, "method_not_allowed", "%.16s is not allowed on this path", method);
}
