/* io-fault parameters: what parse() accepts, the defaults it fills in, the key and
 * message of every refusal, and the `files` matching. Unprivileged: parse() touches
 * no kernel and no file. */
#include "faults/registry.h"
#include "faults/iofault.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tests/faults/params_check.h"

static struct json_object *parsed_json(const char *json)
{
	return fault_parsed_json("io-fault", json);
}

static void expect_json(const char *params, const char *want)
{
	fault_expect_spec_json("io-fault", params, want);
}

static void test_registered(void **state)
{
	(void)state;
	fault_expect_family("io-fault", "io");
}

#define ALL_OPS "[\"lookup\",\"getattr\",\"setattr\",\"truncate\",\"readlink\",\"mknod\",\"mkdir\",\"unlink\"," \
		"\"rmdir\",\"symlink\",\"rename\",\"link\",\"open\",\"create\",\"read\",\"write\",\"flush\",\"fsync\"," \
		"\"opendir\",\"readdir\",\"statfs\",\"fallocate\"]"

static void test_defaults(void **state)
{
	(void)state;
	/* EIO on every operation when neither errno nor latency is given */
	expect_json("{\"path\": \"/var/lib/app\"}",
		    "{\"path\":\"\\/var\\/lib\\/app\",\"operations\":" ALL_OPS ",\"probability\":1.0,\"errno\":\"EIO\","
		    "\"latency\":\"0s\",\"jitter\":\"0s\",\"distribution\":\"constant\",\"backend\":\"fuse\"}");
	/* latency alone: a delay, no error; jitter makes it uniform */
	expect_json("{\"path\": \"//srv//db/\", \"operations\": [\"fsync\"], \"latency\": \"20ms\", \"jitter\": \"500us\"}",
		    "{\"path\":\"\\/srv\\/db\",\"operations\":[\"fsync\"],\"probability\":1.0,"
		    "\"latency\":\"20ms\",\"jitter\":\"500us\",\"distribution\":\"uniform\",\"backend\":\"fuse\"}");
	expect_json("{\"path\": \"/srv\", \"operations\": [\"write\", \"fsync\"], \"errno\": \"enospc\", "
		    "\"latency\": \"1s\", \"jitter\": \"2s\", \"distribution\": \"normal\", \"probability\": 0.25, "
		    "\"files\": [\"*.db\", \"wal/\"], \"backend\": \"auto\"}",
		    "{\"path\":\"\\/srv\",\"operations\":[\"write\",\"fsync\"],\"files\":[\"*.db\",\"wal\\/\"],"
		    "\"probability\":0.25,\"errno\":\"ENOSPC\",\"latency\":\"1s\",\"jitter\":\"2s\","
		    "\"distribution\":\"normal\",\"backend\":\"fuse\"}");
	expect_json("{\"path\": \"/srv\", \"operations\": [\"all\"], \"errno\": \"EROFS\", \"probability\": 1}",
		    "{\"path\":\"\\/srv\",\"operations\":" ALL_OPS ",\"probability\":1.0,\"errno\":\"EROFS\","
		    "\"latency\":\"0s\",\"jitter\":\"0s\",\"distribution\":\"constant\",\"backend\":\"fuse\"}");
}

static void test_bad_path(void **state)
{
	(void)state;
	fault_expect_parse_error("io-fault", "{}", "path", "is required");
	fault_expect_parse_error("io-fault", "{\"path\": \"var/lib\"}", "path", "absolute");
	fault_expect_parse_error("io-fault", "{\"path\": 3}", "path", "absolute");
	fault_expect_parse_error("io-fault", "{\"path\": \"/\"}", "path", "root directory");
	fault_expect_parse_error("io-fault", "{\"path\": \"///\"}", "path", "root directory");
	fault_expect_parse_error("io-fault", "{\"path\": \"/proc\"}", "path", "/proc");
	fault_expect_parse_error("io-fault", "{\"path\": \"/proc/self/fd\"}", "path", "/proc");
	fault_expect_parse_error("io-fault", "{\"path\": \"/sys/fs/cgroup\"}", "path", "/sys");
	fault_expect_parse_error("io-fault", "{\"path\": \"/dev/\"}", "path", "/dev");
	fault_expect_parse_error("io-fault", "{\"path\": \"/run/user\"}", "path", "/run");
	fault_expect_parse_error("io-fault", "{\"path\": \"/boot\"}", "path", "/boot");
	fault_expect_parse_error("io-fault", "{\"path\": \"/tmp/../proc\"}", "path", "\"..\"");
	fault_expect_parse_error("io-fault", "{\"path\": \"/tmp/./x\"}", "path", "\"..\"");
	/* a name that only starts like a refused tree is fine */
	struct json_object *o = parsed_json("{\"path\": \"/procedures\"}");
	json_object_put(o);
	o = parsed_json("{\"path\": \"/devices/x\"}");
	json_object_put(o);
}

static void test_bad_values(void **state)
{
	(void)state;
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"errno\": \"EWHAT\"}", "errno", "unknown errno");
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"errno\": 5}", "errno", "unknown errno");
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"probability\": 0}", "probability", "(0, 1]");
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"probability\": 1.5}", "probability", "(0, 1]");
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"probability\": -0.1}", "probability", "(0, 1]");
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"probability\": \"half\"}", "probability",
				 "number");
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"operations\": [\"fsync\", \"sync\"]}",
				 "operations[1]", "unknown operation \"sync\"");
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"operations\": []}", "operations", "non-empty");
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"operations\": \"fsync\"}", "operations",
				 "non-empty list");
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"latency\": \"20\"}", "latency", "duration");
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"latency\": \"2m\"}", "latency", "60s");
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"latency\": \"1ms\", \"jitter\": \"2ms\"}",
				 "jitter", "must not exceed latency");
	fault_expect_parse_error("io-fault",
				 "{\"path\": \"/srv\", \"latency\": \"1ms\", \"jitter\": \"1ms\", \"distribution\": \"constant\"}",
				 "jitter", "uniform");
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"distribution\": \"pareto\"}", "distribution",
				 "normal");
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"backend\": \"bpf-lsm\"}", "backend", "not built");
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"size\": 1}", "size", "unknown parameter");
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"files\": \"/etc/passwd\"}", "files", "relative");
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"files\": \"\"}", "files", "non-empty");
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"files\": [\"a\", \"../x\"]}", "files[1]", "\"..\"");
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"files\": []}", "files", "glob or prefix");
	fault_expect_parse_error("io-fault", "{\"path\": \"/srv\", \"files\": 7}", "files", "glob or prefix");
	fault_expect_parse_error("io-fault", "[1]", "", "must be an object");
}

static bool matches(const char *files_json, const char *rel)
{
	char json[512];
	snprintf(json, sizeof(json), "{\"path\": \"/srv\", \"files\": %s}", files_json);
	void *spec = NULL;
	struct fault_error err;
	assert_int_equal(fault_parse_text("io-fault", json, &spec, &err), 0);
	bool m = iofault_files_match(spec, rel);
	fault_kind_find("io-fault")->spec_free(spec);
	return m;
}

static void test_files_match(void **state)
{
	(void)state;
	/* a glob without '/' matches the name at any depth */
	assert_true(matches("\"*.log\"", "app.log"));
	assert_true(matches("\"*.log\"", "sub/dir/app.log"));
	assert_false(matches("\"*.log\"", "app.log.1"));
	/* with '/', the whole relative path */
	assert_true(matches("\"db/*.wal\"", "db/x.wal"));
	assert_false(matches("\"db/*.wal\"", "other/x.wal"));
	/* no glob characters: a prefix */
	assert_true(matches("\"full/\"", "full/db"));
	assert_false(matches("\"full/\"", "full"));
	assert_true(matches("\"data\"", "data.db"));
	assert_false(matches("\"data\"", "x/data.db"));
	assert_true(matches("[\"a\", \"b*\"]", "bee"));
	assert_false(matches("[\"a\", \"b*\"]", "cab"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registered),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_bad_path),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_files_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
