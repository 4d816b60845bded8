#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/request.h"
#include "tests/agent/fake_kind.h"

static const struct fault_kind *const kinds[] = { &fake_kind, NULL };
#define MAX_MS (10 * 60 * 1000)

static void expect_refused(const char *body, int status, const char *reason, const char *key)
{
	struct fault_request req;
	memset(&req, 0x5a, sizeof(req));
	struct api_error err = { 0 };
	assert_int_equal(fault_request_parse(body, strlen(body), kinds, MAX_MS, &req, &err), -EINVAL);
	if (err.status != status || strcmp(err.reason, reason) != 0 || (key && strcmp(err.key, key) != 0))
		fail_msg("%s: expected %d %s key [%s], got %d %s key [%s] (%s)", body, status, reason, key ? key : "*",
			 err.status, err.reason, err.key, err.message);
	assert_true(err.message[0] != '\0');
}

static void accepts_a_full_request(void **state)
{
	(void)state;
	const char *body = "{\"kind\":\"fake\",\"duration\":\"1m30s\",\"params\":{\"level\":3},"
			   "\"lease\":{\"id\":\"run-42\",\"ttl\":\"15s\"}}";
	struct fault_request req;
	struct api_error err;
	assert_int_equal(fault_request_parse(body, strlen(body), kinds, MAX_MS, &req, &err), 0);
	assert_ptr_equal(req.kind, &fake_kind);
	assert_int_equal(req.duration_ms, 90000);
	assert_true(req.has_lease);
	assert_string_equal(req.lease_id, "run-42");
	assert_int_equal(req.lease_ttl_ms, 15000);
	struct json_object *p = fake_kind.spec_to_json(req.spec);
	assert_int_equal(json_object_get_int(json_object_object_get(p, "level")), 3);
	json_object_put(p);
	fault_request_release(&req);
	assert_null(req.spec);
}

static void params_and_lease_are_optional(void **state)
{
	(void)state;
	const char *body = " {\"kind\": \"fake\", \"duration\": \"250ms\"}\n";
	struct fault_request req;
	struct api_error err;
	assert_int_equal(fault_request_parse(body, strlen(body), kinds, MAX_MS, &req, &err), 0);
	assert_false(req.has_lease);
	assert_int_equal(req.duration_ms, 250);
	fault_request_release(&req);
}

static void unknown_keys(void **state)
{
	(void)state;
	expect_refused("{\"kind\":\"fake\",\"duration\":\"1s\",\"durration\":\"2s\"}", 400, "unknown_key", "durration");
	expect_refused("{\"kind\":\"fake\",\"duration\":\"1s\",\"lease\":{\"id\":\"a\",\"ttl\":\"1s\",\"x\":1}}", 400,
		       "unknown_key", "lease.x");
}

static void duration_rules(void **state)
{
	(void)state;
	expect_refused("{\"kind\":\"fake\"}", 400, "invalid_duration", "duration");
	expect_refused("{\"kind\":\"fake\",\"duration\":30}", 400, "invalid_duration", "duration");
	expect_refused("{\"kind\":\"fake\",\"duration\":\"30\"}", 400, "invalid_duration", "duration");
	expect_refused("{\"kind\":\"fake\",\"duration\":\"soon\"}", 400, "invalid_duration", "duration");
	expect_refused("{\"kind\":\"fake\",\"duration\":\"0s\"}", 400, "invalid_duration", "duration");
	expect_refused("{\"kind\":\"fake\",\"duration\":\"11m\"}", 400, "invalid_duration", "duration");
}

static void kind_rules(void **state)
{
	(void)state;
	expect_refused("{\"duration\":\"1s\"}", 400, "unknown_kind", "kind");
	expect_refused("{\"kind\":\"netem\",\"duration\":\"1s\"}", 400, "unknown_kind", "kind");
	expect_refused("{\"kind\":[\"fake\"],\"duration\":\"1s\"}", 400, "unknown_kind", "kind");
}

static void params_errors_come_from_the_kind(void **state)
{
	(void)state;
	expect_refused("{\"kind\":\"fake\",\"duration\":\"1s\",\"params\":{\"level\":11}}", 400, "invalid_params", "level");
	expect_refused("{\"kind\":\"fake\",\"duration\":\"1s\",\"params\":{\"colour\":1}}", 400, "invalid_params",
		       "colour");
	expect_refused("{\"kind\":\"fake\",\"duration\":\"1s\",\"params\":[1]}", 400, "invalid_params", "params");
}

static void lease_rules(void **state)
{
	(void)state;
	expect_refused("{\"kind\":\"fake\",\"duration\":\"1s\",\"lease\":\"run\"}", 400, "invalid_lease", "lease");
	expect_refused("{\"kind\":\"fake\",\"duration\":\"1s\",\"lease\":{\"ttl\":\"1s\"}}", 400, "invalid_lease", "lease.id");
	expect_refused("{\"kind\":\"fake\",\"duration\":\"1s\",\"lease\":{\"id\":\"a b\",\"ttl\":\"1s\"}}", 400,
		       "invalid_lease", "lease.id");
	expect_refused("{\"kind\":\"fake\",\"duration\":\"1s\",\"lease\":{\"id\":\"a\"}}", 400, "invalid_lease",
		       "lease.ttl");
}

static void malformed_json(void **state)
{
	(void)state;
	expect_refused("", 400, "bad_request", NULL);
	expect_refused("{\"kind\":\"fake\",", 400, "bad_request", NULL);
	expect_refused("{\"kind\":\"fake\",\"duration\":\"1s\"} {}", 400, "bad_request", NULL);
	expect_refused("[1,2]", 400, "bad_request", NULL);
	expect_refused("{'kind':'fake'}", 400, "bad_request", NULL);
}

static void too_large(void **state)
{
	(void)state;
	size_t n = API_MAX_BODY + 10;
	char *big = malloc(n + 1);
	memset(big, ' ', n);
	memcpy(big, "{\"kind\":\"fake\",\"duration\":\"1s\"}", 31);
	big[n] = '\0';
	expect_refused(big, 413, "body_too_large", NULL);
	free(big);
}

static void lease_renewal_bodies(void **state)
{
	(void)state;
	uint64_t ttl = 99;
	struct api_error err;
	assert_int_equal(lease_renew_parse(NULL, 0, MAX_MS, &ttl, &err), 0);
	assert_int_equal(ttl, 0);
	assert_int_equal(lease_renew_parse("{}", 2, MAX_MS, &ttl, &err), 0);
	assert_int_equal(ttl, 0);
	assert_int_equal(lease_renew_parse("{\"ttl\":\"20s\"}", 13, MAX_MS, &ttl, &err), 0);
	assert_int_equal(ttl, 20000);
	assert_int_equal(lease_renew_parse("{\"tll\":\"20s\"}", 13, MAX_MS, &ttl, &err), -EINVAL);
	assert_string_equal(err.reason, "unknown_key");
	assert_int_equal(lease_renew_parse("{\"ttl\":\"x\"}", 11, MAX_MS, &ttl, &err), -EINVAL);
	assert_string_equal(err.reason, "invalid_lease");
	assert_int_equal(empty_body_check("", 0, &err), 0);
	assert_int_equal(empty_body_check("{}", 2, &err), 0);
	assert_int_equal(empty_body_check("{\"all\":true}", 12, &err), -EINVAL);
	assert_int_equal(err.status, 400);
}

static void ids(void **state)
{
	(void)state;
	assert_true(fault_id_valid("f-3c9a1e"));
	assert_true(fault_id_valid("f-0123456789abcdef"));
	assert_false(fault_id_valid("f-3c9a1"));
	assert_false(fault_id_valid("f-0123456789abcdef0"));
	assert_false(fault_id_valid("f-3C9A1E"));
	assert_false(fault_id_valid("g-3c9a1e"));
	assert_false(fault_id_valid("f-../../x"));
	assert_true(lease_id_valid("run-42.a_b"));
	assert_false(lease_id_valid(""));
	assert_false(lease_id_valid("a/b"));
}

static void error_json_shape(void **state)
{
	(void)state;
	struct api_error err;
	api_error_set(&err, 400, "invalid_params", "match.dst[2]", "bad %s", "cidr");
	struct json_object *o = api_error_to_json(&err);
	struct json_object *e = json_object_object_get(o, "error");
	assert_string_equal(json_object_get_string(json_object_object_get(e, "reason")), "invalid_params");
	assert_string_equal(json_object_get_string(json_object_object_get(e, "key")), "match.dst[2]");
	assert_string_equal(json_object_get_string(json_object_object_get(e, "message")), "bad cidr");
	json_object_put(o);
	api_error_set(&err, 404, "no_such_fault", NULL, "gone");
	o = api_error_to_json(&err);
	assert_null(json_object_object_get(json_object_object_get(o, "error"), "key"));
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepts_a_full_request),
		cmocka_unit_test(params_and_lease_are_optional),
		cmocka_unit_test(unknown_keys),
		cmocka_unit_test(duration_rules),
		cmocka_unit_test(kind_rules),
		cmocka_unit_test(params_errors_come_from_the_kind),
		cmocka_unit_test(lease_rules),
		cmocka_unit_test(malformed_json),
		cmocka_unit_test(too_large),
		cmocka_unit_test(lease_renewal_bodies),
		cmocka_unit_test(ids),
		cmocka_unit_test(error_json_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
