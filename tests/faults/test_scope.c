/* Per-service scope (faults/scope.c) and connection-refused parameters: parsing
 * is pure; resolution is checked against the real cgroup v2 hierarchy when the
 * test may create directories there (root), else those tests are skipped. */
#include "faults/packet.h"
#include "faults/registry.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/faults/params_check.h"

static void test_scope_parse_errors(void **state)
{
	(void)state;
	const char *bh = "blackhole";
	fault_expect_parse_error(bh, "{\"scope\": \"x.service\"}", "scope", "object");
	fault_expect_parse_error(bh, "{\"scope\": {}}", "scope", "must name a cgroup or a unit");
	fault_expect_parse_error(bh, "{\"scope\": {\"cgroup\": \"a\", \"unit\": \"b.service\"}}", "scope", "not both");
	fault_expect_parse_error(bh, "{\"scope\": {\"cgroup\": \"\"}}", "scope.cgroup", "non-empty");
	fault_expect_parse_error(bh, "{\"scope\": {\"cgroup\": 3}}", "scope.cgroup", "non-empty string");
	fault_expect_parse_error(bh, "{\"scope\": {\"cgroup\": \"system.slice/../x\"}}", "scope.cgroup", "\"..\"");
	fault_expect_parse_error(bh, "{\"scope\": {\"cgroup\": \"./x\"}}", "scope.cgroup", "\"..\"");
	fault_expect_parse_error(bh, "{\"scope\": {\"unit\": \"system.slice/x.service\"}}", "scope.unit", "unit name");
	fault_expect_parse_error(bh, "{\"scope\": {\"unit\": \"..\"}}", "scope.unit", "unit name");
	fault_expect_parse_error(bh, "{\"scope\": {\"pid\": 1}}", "scope.pid", "unknown parameter (known: cgroup, unit)");
	char long_path[400];
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	char json[512];
	snprintf(json, sizeof(json), "{\"scope\": {\"cgroup\": \"%s\"}}", long_path);
	fault_expect_parse_error(bh, json, "scope.cgroup", "longer than");
}

static void expect_json(const char *kind_name, const char *params, const char *key, const char *expected)
{
	struct json_object *o = fault_parsed_json(kind_name, params);
	struct json_object *v;
	assert_true(json_object_object_get_ex(o, key, &v));
	const char *got = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (strcmp(got, expected) != 0)
		fail_msg("%s %s: %s is %s, expected %s", kind_name, params, key, got, expected);
	json_object_put(o);
}

static void test_scope_json(void **state)
{
	(void)state;
	expect_json("blackhole", "{\"scope\": {\"cgroup\": \"system.slice/nginx.service\"}}", "scope",
		    "{\"cgroup\":\"system.slice/nginx.service\"}");
	expect_json("packet-loss", "{\"probability\": 0.5, \"scope\": {\"unit\": \"nginx.service\"}}", "scope",
		    "{\"unit\":\"nginx.service\"}");
}

static void test_connrefuse_params(void **state)
{
	(void)state;
	const char *cr = "connection-refused";
	const char *scope = "\"scope\": {\"unit\": \"x.service\"}";
	char json[256];
	void *spec = NULL;
	struct fault_error err;
	assert_int_equal(fault_parse_text(cr, NULL, &spec, &err), -EINVAL);
	assert_string_equal(err.key, "scope");
	fault_expect_parse_error(cr, "{}", "scope", "required");
	fault_expect_parse_error(cr, "{\"match\": {\"dst_ports\": [80]}}", "scope", "required");
	snprintf(json, sizeof(json), "{%s, \"match\": {\"src\": [\"10.0.0.0/8\"]}}", scope);
	fault_expect_parse_error(cr, json, "match.src", "not known at connect()");
	snprintf(json, sizeof(json), "{%s, \"match\": {\"protocol\": \"icmp\"}}", scope);
	fault_expect_parse_error(cr, json, "match.protocol", "\"tcp\" (default)");
	snprintf(json, sizeof(json), "{%s, \"errno\": \"ENOENT\"}", scope);
	fault_expect_parse_error(cr, json, "errno", "ECONNREFUSED");
	snprintf(json, sizeof(json), "{%s, \"allow_root_cgroup\": 1}", scope);
	fault_expect_parse_error(cr, json, "allow_root_cgroup", "true or false");
	snprintf(json, sizeof(json), "{%s, \"direction\": \"egress\"}", scope);
	fault_expect_parse_error(cr, json, "direction", "unknown parameter");

	snprintf(json, sizeof(json), "{%s}", scope);
	expect_json(cr, json, "errno", "\"ECONNREFUSED\"");
	expect_json(cr, json, "match", "{\"protocol\":\"tcp\"}");
	expect_json(cr, json, "allow_root_cgroup", "false");
	snprintf(json, sizeof(json), "{%s, \"errno\": \"EPERM\", \"match\": {\"protocol\": \"udp\", \"dst\": [\"fd00::/8\"], "
		 "\"dst_ports\": [\"53\"]}}", scope);
	expect_json(cr, json, "errno", "\"EPERM\"");
	expect_json(cr, json, "match", "{\"protocol\":\"udp\",\"dst\":[\"fd00::/8\"],\"dst_ports\":[\"53\"]}");
}

/* A scratch directory tree in the cgroup v2 hierarchy, removed by the test. */
static char mount_dir[256];

static int have_writable_hierarchy(void)
{
	if (scope_cgroup2_mount(mount_dir, sizeof(mount_dir)) < 0)
		return 0;
	return geteuid() == 0 && access(mount_dir, W_OK) == 0;
}

static void test_resolve(void **state)
{
	(void)state;
	if (!have_writable_hierarchy())
		skip();
	char top[512], mid[1024], leaf[1536], twin[1536];
	char unit[64];
	snprintf(unit, sizeof(unit), "ckt-cg-unit-%d.service", (int)getpid());
	snprintf(top, sizeof(top), "%s/ckt-cg-test-%d", mount_dir, (int)getpid());
	snprintf(mid, sizeof(mid), "%s/app.slice", top);
	snprintf(leaf, sizeof(leaf), "%s/%s", mid, unit);
	snprintf(twin, sizeof(twin), "%s/%s", top, unit);
	assert_int_equal(mkdir(top, 0755), 0);
	assert_int_equal(mkdir(mid, 0755), 0);
	assert_int_equal(mkdir(leaf, 0755), 0);

	struct packet_scope s;
	uint64_t id;
	uint32_t level;
	struct fault_error err = { "", "" };

	/* The root: level 0. */
	memset(&s, 0, sizeof(s));
	snprintf(s.cgroup, sizeof(s.cgroup), "/");
	assert_int_equal(scope_resolve(&s, &id, &level, &err), 0);
	assert_int_equal(level, 0);

	/* A unit found two levels down; its id is the directory's inode. */
	memset(&s, 0, sizeof(s));
	snprintf(s.unit, sizeof(s.unit), "%s", unit);
	int r = scope_resolve(&s, &id, &level, &err);
	if (r != 0)
		fail_msg("unit %s: %s", unit, err.msg);
	struct stat st;
	assert_int_equal(stat(leaf, &st), 0);
	assert_true(id == (uint64_t)st.st_ino);
	assert_int_equal(level, 3);

	/* The same by relative path, by absolute path and as /proc/PID/cgroup shows it. */
	const char *rel = leaf + strlen(mount_dir) + 1;
	const char *forms[3] = { rel, leaf, rel - 1 };
	for (int i = 0; i < 3; i++) {
		memset(&s, 0, sizeof(s));
		snprintf(s.cgroup, sizeof(s.cgroup), "%s", forms[i]);
		uint64_t id2;
		uint32_t level2;
		if (scope_resolve(&s, &id2, &level2, &err) != 0)
			fail_msg("cgroup %s: %s", forms[i], err.msg);
		assert_true(id2 == id);
		assert_int_equal(level2, 3);
	}

	/* Two directories of that name: ambiguous. */
	assert_int_equal(mkdir(twin, 0755), 0);
	memset(&s, 0, sizeof(s));
	snprintf(s.unit, sizeof(s.unit), "%s", unit);
	assert_int_equal(scope_resolve(&s, &id, &level, &err), -EINVAL);
	assert_string_equal(err.key, "scope.unit");
	assert_non_null(strstr(err.msg, "several"));
	rmdir(twin);

	/* Missing ones. */
	memset(&s, 0, sizeof(s));
	snprintf(s.unit, sizeof(s.unit), "ckt-cg-no-such-%d.service", (int)getpid());
	assert_int_equal(scope_resolve(&s, &id, &level, &err), -ENOENT);
	assert_string_equal(err.key, "scope.unit");
	memset(&s, 0, sizeof(s));
	snprintf(s.cgroup, sizeof(s.cgroup), "ckt-cg-no-such-%d", (int)getpid());
	assert_int_equal(scope_resolve(&s, &id, &level, &err), -ENOENT);
	assert_string_equal(err.key, "scope.cgroup");

	rmdir(leaf);
	rmdir(mid);
	rmdir(top);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scope_parse_errors),
		cmocka_unit_test(test_scope_json),
		cmocka_unit_test(test_connrefuse_params),
		cmocka_unit_test(test_resolve),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
