#include "agent/request.h"

#include "common/duration.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int api_error_set(struct api_error *err, int status, const char *reason, const char *key,
		  const char *fmt, ...)
{
	if (!err)
		return -EINVAL;
	err->status = status;
	snprintf(err->reason, sizeof(err->reason), "%s", reason);
	snprintf(err->key, sizeof(err->key), "%s", key ? key : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

struct json_object *api_error_to_json(const struct api_error *err)
{
	struct json_object *inner = json_object_new_object();
	json_object_object_add(inner, "reason", json_object_new_string(err->reason));
	json_object_object_add(inner, "message", json_object_new_string(err->message));
	if (err->key[0])
		json_object_object_add(inner, "key", json_object_new_string(err->key));
	struct json_object *outer = json_object_new_object();
	json_object_object_add(outer, "error", inner);
	return outer;
}

static bool only_space(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return false;
	return true;
}

struct json_object *request_parse_json(const char *body, size_t len, struct api_error *err)
{
	if (!body || only_space(body, len)) {
		api_error_set(err, 400, "bad_request", NULL, "the request needs a JSON body");
		return NULL;
	}
	if (len > API_MAX_BODY) {
		api_error_set(err, 413, "body_too_large", NULL, "request bodies are limited to %d bytes",
			      API_MAX_BODY);
		return NULL;
	}
	if (memchr(body, '\0', len)) {
		api_error_set(err, 400, "bad_request", NULL, "the body contains a NUL byte");
		return NULL;
	}
	struct json_tokener *tok = json_tokener_new();
	if (!tok) {
		api_error_set(err, 500, "internal", NULL, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	struct json_object *obj = json_tokener_parse_ex(tok, body, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t used = json_tokener_get_parse_end(tok);
	if (!obj && jerr == json_tokener_continue)
		api_error_set(err, 400, "bad_request", NULL, "invalid JSON: the body ends too early");
	else if (!obj)
		api_error_set(err, 400, "bad_request", NULL, "invalid JSON at byte %zu: %s", used,
			      json_tokener_error_desc(jerr));
	else if (!only_space(body + used, len - used)) {
		api_error_set(err, 400, "bad_request", NULL, "invalid JSON: unexpected text after byte %zu", used);
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

bool lease_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > LEASE_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool fault_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n < 8 || n > 18 || strncmp(id, "f-", 2) != 0)
		return false;
	for (size_t i = 2; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

/* A duration string: mandatory, > 0 and <= max. */
static int parse_duration_value(struct json_object *v, const char *key, const char *reason, uint64_t max_ms,
				uint64_t *out, struct api_error *err)
{
	if (!v)
		return api_error_set(err, 400, reason, key, "%s is required (a duration like \"30s\")", key);
	if (!json_object_is_type(v, json_type_string))
		return api_error_set(err, 400, reason, key, "%s must be a duration string like \"30s\"", key);
	uint64_t ms;
	const char *text = json_object_get_string(v);
	if (duration_parse(text, &ms) < 0)
		return api_error_set(err, 400, reason, key, "%s: \"%.64s\" is not a duration like \"250ms\", \"30s\", \"5m\"",
				     key, text);
	if (ms == 0)
		return api_error_set(err, 400, reason, key, "%s must be longer than 0", key);
	if (ms > max_ms) {
		char limit[32];
		return api_error_set(err, 400, reason, key, "%s %s exceeds the agent's max_fault_duration %s", key,
				     text, duration_format(max_ms, limit, sizeof(limit)));
	}
	*out = ms;
	return 0;
}

static int parse_lease(struct json_object *lease, uint64_t max_ms, struct fault_request *req, struct api_error *err)
{
	if (!json_object_is_type(lease, json_type_object))
		return api_error_set(err, 400, "invalid_lease", "lease", "lease must be an object {\"id\", \"ttl\"}");
	json_object_object_foreach(lease, key, val) {
		(void)val;
		if (strcmp(key, "id") && strcmp(key, "ttl")) {
			char path[128];
			snprintf(path, sizeof(path), "lease.%.100s", key);
			return api_error_set(err, 400, "unknown_key", path, "unknown key %s (lease has id and ttl)", path);
		}
	}
	struct json_object *id = json_object_object_get(lease, "id");
	if (!id || !json_object_is_type(id, json_type_string) || !lease_id_valid(json_object_get_string(id)))
		return api_error_set(err, 400, "invalid_lease", "lease.id",
				     "lease.id must be 1 to %d characters of A-Z a-z 0-9 . _ -", LEASE_ID_MAX);
	uint64_t ttl;
	int r = parse_duration_value(json_object_object_get(lease, "ttl"), "lease.ttl", "invalid_lease", max_ms, &ttl,
				     err);
	if (r < 0)
		return r;
	req->has_lease = true;
	snprintf(req->lease_id, sizeof(req->lease_id), "%s", json_object_get_string(id));
	req->lease_ttl_ms = ttl;
	return 0;
}

int fault_request_parse(const char *body, size_t len, const struct fault_kind *const *kinds,
			uint64_t max_duration_ms, struct fault_request *out, struct api_error *err)
{
	struct json_object *root = request_parse_json(body, len, err);
	if (!root)
		return -EINVAL;
	struct fault_request req = { 0 };
	int r = -EINVAL;
	if (!json_object_is_type(root, json_type_object)) {
		api_error_set(err, 400, "bad_request", NULL, "the body must be a JSON object {\"kind\", \"duration\", ...}");
		goto out;
	}
	json_object_object_foreach(root, key, val) {
		(void)val;
		if (strcmp(key, "kind") && strcmp(key, "duration") && strcmp(key, "params") && strcmp(key, "lease")) {
			api_error_set(err, 400, "unknown_key", key, "unknown key %.64s (known: kind, duration, params, lease)",
				      key);
			goto out;
		}
	}
	struct json_object *kind = json_object_object_get(root, "kind");
	if (!kind || !json_object_is_type(kind, json_type_string)) {
		api_error_set(err, 400, "unknown_kind", "kind", "kind is required and must be a string");
		goto out;
	}
	for (size_t i = 0; kinds && kinds[i]; i++)
		if (strcmp(kinds[i]->name, json_object_get_string(kind)) == 0)
			req.kind = kinds[i];
	if (!req.kind) {
		api_error_set(err, 400, "unknown_kind", "kind", "no fault kind \"%.64s\" (GET /v1/info lists them)",
			      json_object_get_string(kind));
		goto out;
	}
	if (parse_duration_value(json_object_object_get(root, "duration"), "duration", "invalid_duration",
				 max_duration_ms, &req.duration_ms, err) < 0)
		goto out;
	struct json_object *lease = json_object_object_get(root, "lease");
	if (lease && parse_lease(lease, max_duration_ms, &req, err) < 0)
		goto out;
	struct json_object *params = json_object_object_get(root, "params");
	if (params && !json_object_is_type(params, json_type_object)) {
		api_error_set(err, 400, "invalid_params", "params", "params must be an object");
		goto out;
	}
	struct fault_error ferr = { "", "" };
	int pr = req.kind->parse(params, &req.spec, &ferr);
	if (pr < 0) {
		api_error_set(err, 400, "invalid_params", ferr.key, "%s: %s", req.kind->name,
			      ferr.msg[0] ? ferr.msg : strerror(-pr));
		goto out;
	}
	*out = req;
	r = 0;
out:
	json_object_put(root);
	return r;
}

void fault_request_release(struct fault_request *req)
{
	if (req->spec && req->kind)
		req->kind->spec_free(req->spec);
	req->spec = NULL;
}

int lease_renew_parse(const char *body, size_t len, uint64_t max_ttl_ms, uint64_t *ttl_ms, struct api_error *err)
{
	if (!body || only_space(body, len)) {
		*ttl_ms = 0;
		return 0;
	}
	struct json_object *root = request_parse_json(body, len, err);
	if (!root)
		return -EINVAL;
	int r = -EINVAL;
	uint64_t ttl = 0;
	if (!json_object_is_type(root, json_type_object)) {
		api_error_set(err, 400, "bad_request", NULL, "the body must be a JSON object {\"ttl\"?}");
		goto out;
	}
	json_object_object_foreach(root, key, val) {
		(void)val;
		if (strcmp(key, "ttl")) {
			api_error_set(err, 400, "unknown_key", key, "unknown key %.64s (known: ttl)", key);
			goto out;
		}
	}
	struct json_object *v = json_object_object_get(root, "ttl");
	if (v && parse_duration_value(v, "ttl", "invalid_lease", max_ttl_ms, &ttl, err) < 0)
		goto out;
	*ttl_ms = ttl;
	r = 0;
out:
	json_object_put(root);
	return r;
}

int empty_body_check(const char *body, size_t len, struct api_error *err)
{
	if (!body || only_space(body, len))
		return 0;
	struct json_object *root = request_parse_json(body, len, err);
	if (!root)
		return -EINVAL;
	int r = 0;
	if (!json_object_is_type(root, json_type_object) || json_object_object_length(root) != 0)
		r = api_error_set(err, 400, "bad_request", NULL, "this request takes no body (or {})");
	json_object_put(root);
	return r;
}
