/* crash-point parameters and its syscall table (faults/crashpoint.c). Unprivileged:
 * nothing is loaded or attached here (tests/faults/crashpoint-*.sh do that). */
#include "faults/crashpoint.h"
#include "faults/registry.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/faults/params_check.h"

#define PROCS "\"processes\": {\"name\": \"db\"}"

static void expect_error(const char *json, const char *key, const char *msg_part)
{
	fault_expect_parse_error("crash-point", json, key, msg_part);
}

static struct json_object *spec_json(const char *params)
{
	void *spec = NULL;
	struct fault_error err;
	int r = fault_parse_text("crash-point", params, &spec, &err);
	if (r < 0)
		fail_msg("%s rejected: %s: %s", params, err.key, err.msg);
	const struct fault_kind *kind = fault_kind_find("crash-point");
	struct json_object *o = kind->spec_to_json(spec);
	kind->spec_free(spec);
	assert_non_null(o);
	return o;
}

static const char *field(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static void test_bad_params(void **state)
{
	(void)state;
	expect_error("[]", "", "object");
	expect_error("{\"syscall\": \"fsync\"}", "processes", "required");
	expect_error("{" PROCS "}", "syscall", "required");
	expect_error("{" PROCS ", \"syscall\": \"fsyncc\"}", "syscall", "unknown syscall \"fsyncc\" (known: fsync,");
	expect_error("{" PROCS ", \"syscall\": 3}", "syscall", "unknown syscall (known:");
	expect_error("{" PROCS ", \"syscall\": \"FSYNC\"}", "syscall", "unknown syscall");
	expect_error("{" PROCS ", \"syscall\": \"fsync\", \"nth\": 0}", "nth", "integer >= 1");
	expect_error("{" PROCS ", \"syscall\": \"fsync\", \"nth\": -3}", "nth", "integer >= 1");
	expect_error("{" PROCS ", \"syscall\": \"fsync\", \"nth\": \"5\"}", "nth", "integer >= 1");
	expect_error("{" PROCS ", \"syscall\": \"fsync\", \"nth\": 1.5}", "nth", "integer >= 1");
	expect_error("{" PROCS ", \"syscall\": \"fsync\", \"action\": \"crash\"}", "action", "\"kill\", \"stop\"");
	expect_error("{" PROCS ", \"syscall\": \"fsync\", \"action\": 9}", "action", "\"kill\", \"stop\"");
	expect_error("{" PROCS ", \"syscall\": \"fsync\", \"action\": \"SIGCONT\"}", "action", "ignored by default");
	expect_error("{" PROCS ", \"syscall\": \"fsync\", \"action\": \"SIGCHLD\"}", "action", "ignored by default");
	expect_error("{" PROCS ", \"syscall\": \"fsync\", \"action\": \"SIGTSTP\"}", "action", "use \"stop\"");
	expect_error("{" PROCS ", \"syscall\": \"fsync\", \"path_prefix\": \"data/db\"}", "path_prefix", "absolute");
	expect_error("{" PROCS ", \"syscall\": \"fsync\", \"path_prefix\": \"\"}", "path_prefix", "absolute");
	expect_error("{" PROCS ", \"syscall\": \"fsync\", \"path_prefix\": 1}", "path_prefix", "absolute");
	expect_error("{" PROCS ", \"syscall\": \"connect\", \"path_prefix\": \"/data\"}", "path_prefix",
		     "connect has no file or path argument");
	expect_error("{" PROCS ", \"syscall\": \"sync\", \"path_prefix\": \"/data\"}", "path_prefix", "sync has no");
	expect_error("{" PROCS ", \"syscall\": \"fsync\", \"colour\": 1}", "colour", "unknown parameter (known: processes");
	/* The processes object is validated by faults/target.c, with its keys. */
	expect_error("{\"processes\": {}, \"syscall\": \"fsync\"}", "processes", "");
	expect_error("{\"processes\": \"db\", \"syscall\": \"fsync\"}", "processes", "");

	char long_prefix[512] = "{" PROCS ", \"syscall\": \"fsync\", \"path_prefix\": \"/";
	for (int i = 0; i < CRASHPOINT_PREFIX_MAX; i++)
		strcat(long_prefix, "a");
	strcat(long_prefix, "\"}");
	expect_error(long_prefix, "path_prefix", "longer than 200");
}

static void test_defaults_and_round_trip(void **state)
{
	(void)state;
	struct json_object *o = spec_json("{" PROCS ", \"syscall\": \"fsync\"}");
	assert_string_equal(field(o, "syscall"), "fsync");
	assert_string_equal(field(o, "nth"), "1");
	assert_string_equal(field(o, "action"), "kill");
	assert_null(field(o, "path_prefix"));
	assert_non_null(json_object_object_get(o, "processes"));
	json_object_put(o);

	o = spec_json("{" PROCS ", \"syscall\": \"renameat2\", \"nth\": 7, \"action\": \"stop\", "
		      "\"path_prefix\": \"/var/lib/db///\"}");
	assert_string_equal(field(o, "nth"), "7");
	assert_string_equal(field(o, "action"), "stop");
	assert_string_equal(field(o, "path_prefix"), "/var/lib/db");
	/* What spec_to_json gives parses again to the same thing. The processes object is
	 * target.c's (its "count": 0 for "all" does not parse back today): the original goes in. */
	json_object_object_add(o, "processes", json_tokener_parse("{\"name\": \"db\"}"));
	const char *text = json_object_to_json_string(o);
	struct json_object *again = spec_json(text);
	json_object_object_add(again, "processes", json_tokener_parse("{\"name\": \"db\"}"));
	assert_string_equal(json_object_to_json_string(again), text);
	json_object_put(again);
	json_object_put(o);

	o = spec_json("{" PROCS ", \"syscall\": \"write\", \"action\": \"ABRT\"}");
	assert_string_equal(field(o, "action"), "SIGABRT");
	json_object_put(o);
	o = spec_json("{" PROCS ", \"syscall\": \"write\", \"action\": \"SIGKILL\"}");
	assert_string_equal(field(o, "action"), "kill");
	json_object_put(o);
	o = spec_json("{" PROCS ", \"syscall\": \"write\", \"path_prefix\": \"/\"}");
	assert_string_equal(field(o, "path_prefix"), "/");
	json_object_put(o);
}

static void test_prefix_rules(void **state)
{
	(void)state;
	char out[CRASHPOINT_PREFIX_MAX + 1];
	assert_int_equal(crashpoint_prefix_normalize("/data/", out, sizeof(out)), 0);
	assert_string_equal(out, "/data");
	assert_int_equal(crashpoint_prefix_normalize("///", out, sizeof(out)), 0);
	assert_string_equal(out, "/");
	assert_int_equal(crashpoint_prefix_normalize("data", out, sizeof(out)), -EINVAL);
	assert_int_equal(crashpoint_prefix_normalize("/abc", out, 4), -ENAMETOOLONG);

	assert_true(crashpoint_path_under("/data", "/data"));
	assert_true(crashpoint_path_under("/data/x/y", "/data"));
	assert_false(crashpoint_path_under("/database", "/data"));
	assert_false(crashpoint_path_under("/dat", "/data"));
	assert_false(crashpoint_path_under("data/x", "/data"));
	assert_true(crashpoint_path_under("/anything", "/"));
	assert_false(crashpoint_path_under("socket:[1234]", "/"));
}

static void test_syscall_table(void **state)
{
	(void)state;
	size_t n;
	const struct crashpoint_syscall *all = crashpoint_syscalls(&n);
	assert_true(n >= 20);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++)
			if (strcmp(all[i].name, all[j].name) == 0)
				fail_msg("%s is listed twice", all[i].name);
		assert_ptr_equal(crashpoint_syscall_find(all[i].name), &all[i]);
		for (int k = 0; k < 2; k++) {
			assert_true(all[i].path_arg[k] < 6 || all[i].path_arg[k] == CRASHPOINT_NO_ARG);
			assert_true(all[i].dirfd_arg[k] < 6 || all[i].dirfd_arg[k] == CRASHPOINT_NO_ARG);
			/* a dirfd belongs to a path */
			if (all[i].dirfd_arg[k] != CRASHPOINT_NO_ARG)
				assert_true(all[i].path_arg[k] != CRASHPOINT_NO_ARG);
		}
		if (all[i].args == CRASHPOINT_ARGS_NONE)
			assert_int_equal(all[i].path_arg[0], CRASHPOINT_NO_ARG);
		else
			assert_true(all[i].path_arg[0] < 6);
	}
	/* The ones the contract names, with what their arguments are. */
	const char *required[] = { "fsync", "fdatasync", "sync_file_range", "write", "pwrite64", "writev", "read",
				   "pread64", "open", "openat", "creat", "rename", "renameat", "renameat2", "unlink",
				   "unlinkat", "ftruncate", "close", "connect", "sendto", "mkdir" };
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!crashpoint_syscall_find(required[i]))
			fail_msg("%s is missing", required[i]);
	assert_int_equal(crashpoint_syscall_find("fsync")->args, CRASHPOINT_ARGS_FD);
	const struct crashpoint_syscall *r2 = crashpoint_syscall_find("renameat2");
	assert_int_equal(r2->args, CRASHPOINT_ARGS_PATH);
	assert_int_equal(r2->path_arg[0], 1);
	assert_int_equal(r2->dirfd_arg[0], 0);
	assert_int_equal(r2->path_arg[1], 3);
	assert_int_equal(r2->dirfd_arg[1], 2);
	const struct crashpoint_syscall *rn = crashpoint_syscall_find("rename");
	assert_int_equal(rn->path_arg[0], 0);
	assert_int_equal(rn->path_arg[1], 1);
	assert_int_equal(rn->dirfd_arg[0], CRASHPOINT_NO_ARG);
	assert_int_equal(crashpoint_syscall_find("openat")->path_arg[0], 1);
	assert_int_equal(crashpoint_syscall_find("connect")->args, CRASHPOINT_ARGS_NONE);
	assert_null(crashpoint_syscall_find("execve"));
	assert_null(crashpoint_syscall_find(NULL));
}

/* When tracefs is readable (root, mounted), every x86_64 entry must name a real
 * tracepoint whose record has the layout the BPF side reads: args at 16, 24, ... */
static void test_table_against_kernel(void **state)
{
	(void)state;
	const char *dirs[] = { "/sys/kernel/tracing/events/syscalls", "/sys/kernel/debug/tracing/events/syscalls" };
	const char *dir = NULL;
	for (int i = 0; i < 2 && !dir; i++)
		if (access(dirs[i], R_OK) == 0)
			dir = dirs[i];
	if (!dir) {
		printf("# tracefs not readable here: the table is not checked against the kernel\n");
		skip();
	}
#if !defined(__x86_64__)
	skip();
#endif
	size_t n;
	const struct crashpoint_syscall *all = crashpoint_syscalls(&n);
	for (size_t i = 0; i < n; i++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/sys_enter_%s/format", dir, all[i].name);
		FILE *f = fopen(path, "r");
		if (!f)
			fail_msg("no tracepoint %s", path);
		char line[512];
		int args = 0;
		while (fgets(line, sizeof(line), f)) {
			char *off = strstr(line, "offset:");
			if (!strstr(line, "field:") || !off || strstr(line, "common_") || strstr(line, "__syscall_nr"))
				continue;
			int offset = atoi(off + 7);
			if (offset != 16 + 8 * args)
				fail_msg("%s: argument %d at offset %d", path, args, offset);
			args++;
		}
		fclose(f);
		for (int k = 0; k < 2; k++) {
			if (all[i].path_arg[k] != CRASHPOINT_NO_ARG && all[i].path_arg[k] >= args)
				fail_msg("%s has %d arguments, the table reads argument %d", all[i].name, args,
					 all[i].path_arg[k]);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_defaults_and_round_trip),
		cmocka_unit_test(test_prefix_rules),
		cmocka_unit_test(test_syscall_table),
		cmocka_unit_test(test_table_against_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
