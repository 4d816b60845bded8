/* link-down and link-flap parameters: what parse() accepts, the defaults it fills in,
 * and the key and message of every refusal. Unprivileged: parse() touches no kernel. */
#include "faults/registry.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tests/faults/params_check.h"

static void test_kinds_registered(void **state)
{
	(void)state;
	fault_expect_family("link-down", "link");
	fault_expect_family("link-flap", "link");
}

static void test_good_params(void **state)
{
	(void)state;
	struct json_object *o = fault_parsed_json("link-down", "{\"interfaces\": [\"eth1\", \"bond0.12\"]}");
	assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			    "{\"interfaces\":[\"eth1\",\"bond0.12\"]}");
	json_object_put(o);
	o = fault_parsed_json("link-flap", "{\"interfaces\": [\"eth1\"]}");
	assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			    "{\"interfaces\":[\"eth1\"],\"down\":\"2s\",\"up\":\"2s\"}");
	json_object_put(o);
	o = fault_parsed_json("link-flap", "{\"interfaces\": [\"eth1\"], \"down\": \"100ms\", \"up\": \"1m30s\"}");
	assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			    "{\"interfaces\":[\"eth1\"],\"down\":\"100ms\",\"up\":\"1m30s\"}");
	json_object_put(o);
}

static void test_interfaces_errors(void **state)
{
	(void)state;
	const char *kinds[] = { "link-down", "link-flap" };
	for (size_t k = 0; k < 2; k++) {
		const char *kind = kinds[k];
		void *spec = NULL;
		struct fault_error err;
		assert_int_equal(fault_parse_text(kind, NULL, &spec, &err), -EINVAL); /* no params at all */
		assert_null(spec);
		assert_string_equal(err.key, "interfaces");
		fault_expect_parse_error(kind, "{}", "interfaces", "is required");
		fault_expect_parse_error(kind, "{\"interfaces\": []}", "interfaces", "non-empty list");
		fault_expect_parse_error(kind, "{\"interfaces\": \"eth0\"}", "interfaces", "non-empty list");
		fault_expect_parse_error(kind, "{\"interfaces\": [\"lo\"]}", "interfaces[0]", "loopback");
		fault_expect_parse_error(kind, "{\"interfaces\": [\"eth1\", \"eth1\"]}", "interfaces[1]",
					 "listed twice");
		fault_expect_parse_error(kind, "{\"interfaces\": [\"eth1\", 3]}", "interfaces[1]", "interface name");
		fault_expect_parse_error(kind, "{\"interfaces\": [\"\"]}", "interfaces[0]", "interface name");
		fault_expect_parse_error(kind, "{\"interfaces\": [\"a-name-of-16-chr\"]}", "interfaces[0]",
					 "1-15 characters");
		fault_expect_parse_error(kind, "{\"interfaces\": [\"eth0/1\"]}", "interfaces[0]", "no '/'");
		fault_expect_parse_error(kind, "{\"interfaces\": [\"eth0:1\"]}", "interfaces[0]", "interface name");
		fault_expect_parse_error(kind, "{\"interfaces\": [\"e th\"]}", "interfaces[0]", "interface name");
		fault_expect_parse_error(kind, "{\"interfaces\": [\"eth1\"], \"all\": true}", "all",
					 "unknown parameter");
		fault_expect_parse_error(kind, "[\"eth1\"]", "", "params must be an object");
	}
	char many[600] = "{\"interfaces\": [";
	for (int i = 0; i < 33; i++) {
		char item[16];
		snprintf(item, sizeof(item), "%s\"e%d\"", i ? "," : "", i);
		strcat(many, item);
	}
	strcat(many, "]}");
	fault_expect_parse_error("link-down", many, "interfaces", "at most 32");
}

static void test_phase_errors(void **state)
{
	(void)state;
	/* down/up belong to link-flap only: link-down lists what it knows. */
	fault_expect_parse_error("link-down", "{\"interfaces\": [\"eth1\"], \"down\": \"2s\"}", "down",
				 "unknown parameter (known: interfaces)");
	fault_expect_parse_error("link-flap", "{\"interfaces\": [\"eth1\"], \"down\": \"99ms\"}", "down",
				 "between 100ms and 1h");
	fault_expect_parse_error("link-flap", "{\"interfaces\": [\"eth1\"], \"up\": \"2h\"}", "up",
				 "between 100ms and 1h");
	fault_expect_parse_error("link-flap", "{\"interfaces\": [\"eth1\"], \"up\": \"2\"}", "up",
				 "must be a duration");
	fault_expect_parse_error("link-flap", "{\"interfaces\": [\"eth1\"], \"up\": 2}", "up", "must be a duration");
	fault_expect_parse_error("link-flap", "{\"interfaces\": [\"eth1\"], \"period\": \"1s\"}", "period",
				 "unknown parameter (known: interfaces, down, up)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds_registered),
		cmocka_unit_test(test_good_params),
		cmocka_unit_test(test_interfaces_errors),
		cmocka_unit_test(test_phase_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
