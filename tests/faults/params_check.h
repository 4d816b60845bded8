/* Shared by the fault parameter unit tests: parse a kind's params from JSON text and
 * assert the error a bad one gets. Include after <cmocka.h>. */
#pragma once
#include "faults/registry.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static inline int fault_parse_text(const char *kind_name, const char *json, void **spec,
				   struct fault_error *err)
{
	const struct fault_kind *kind = fault_kind_find(kind_name);
	assert_non_null(kind);
	struct json_object *params = json ? json_tokener_parse(json) : NULL;
	if (json)
		assert_non_null(params);
	memset(err, 0, sizeof(*err));
	int r = kind->parse(params, spec, err);
	json_object_put(params);
	return r;
}

/* The params are refused with -EINVAL, no spec, exactly `key`, and a message containing `msg_part`. */
static inline void fault_expect_parse_error(const char *kind_name, const char *json, const char *key,
					    const char *msg_part)
{
	void *spec = NULL;
	struct fault_error err;
	int r = fault_parse_text(kind_name, json, &spec, &err);
	if (r == 0)
		fail_msg("%s %s was accepted", kind_name, json);
	assert_int_equal(r, -EINVAL);
	assert_null(spec);
	if (strcmp(err.key, key) != 0)
		fail_msg("%s: key [%s], expected [%s] (msg: %s)", json, err.key, key, err.msg);
	if (!strstr(err.msg, msg_part))
		fail_msg("%s: message [%s] lacks [%s]", json, err.msg, msg_part);
}

/* spec_to_json of params the kind must accept (a new object, the caller puts it). */
static inline struct json_object *fault_parsed_json(const char *kind_name, const char *json)
{
	void *spec = NULL;
	struct fault_error err;
	if (fault_parse_text(kind_name, json, &spec, &err) != 0)
		fail_msg("%s %s refused: %s: %s", kind_name, json ? json : "NULL", err.key, err.msg);
	const struct fault_kind *kind = fault_kind_find(kind_name);
	struct json_object *o = kind->spec_to_json(spec);
	kind->spec_free(spec);
	assert_non_null(o);
	return o;
}

/* spec_to_json of params the kind must accept, as plain JSON text, is exactly `want`. */
static inline void fault_expect_spec_json(const char *kind_name, const char *params, const char *want)
{
	struct json_object *o = fault_parsed_json(kind_name, params);
	const char *got = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (strcmp(got, want) != 0)
		fail_msg("%s %s:\n got  %s\n want %s", kind_name, params ? params : "NULL", got, want);
	json_object_put(o);
}

/* The kind is registered in `family`, and that family has a sweep (stale-object removal). */
static inline void fault_expect_family(const char *kind_name, const char *family)
{
	const struct fault_kind *kind = fault_kind_find(kind_name);
	assert_non_null(kind);
	assert_string_equal(kind->family, family);
	bool swept = false;
	for (const struct fault_family *const *f = fault_families(); *f; f++)
		swept |= strcmp((*f)->name, family) == 0 && (*f)->sweep != NULL;
	assert_true(swept);
}
