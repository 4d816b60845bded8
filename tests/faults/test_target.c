/* Process targets (faults/target.h): the `processes` parameters, and resolving
 * them against this test's own child processes (each with a command line no other
 * process has), their cgroups, count/percent picks with a seed. Unprivileged:
 * nothing is signalled but the children. */
#include "faults/target.h"

#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

static int parse(const char *json, struct target_spec *out, struct fault_error *err)
{
	struct json_object *params = json_tokener_parse(json);
	assert_non_null(params);
	int r = target_parse(params, "processes", out, err);
	json_object_put(params);
	return r;
}

static void expect_error(const char *json, const char *key, const char *msg_part)
{
	struct target_spec t;
	struct fault_error err = { 0 };
	int r = parse(json, &t, &err);
	if (r != -EINVAL || strcmp(err.key, key) != 0 || !strstr(err.msg, msg_part))
		fail_msg("%s: got %d key \"%s\" msg \"%s\"; want key \"%s\" containing \"%s\"", json, r, err.key,
			 err.msg, key, msg_part);
}

static void test_bad_params(void **state)
{
	(void)state;
	expect_error("{}", "processes", "is required");
	expect_error("{\"processes\": 3}", "processes", "must be an object");
	expect_error("{\"processes\": {}}", "processes", "must name processes");
	expect_error("{\"processes\": {\"count\": 2}}", "processes", "must name processes");
	expect_error("{\"processes\": {\"pid\": 1}}", "processes.pid", "between 2 and");
	expect_error("{\"processes\": {\"pid\": \"12\"}}", "processes.pid", "integer");
	expect_error("{\"processes\": {\"name\": \"\"}}", "processes.name", "1 to 255");
	expect_error("{\"processes\": {\"exe\": \"bin/x\"}}", "processes.exe", "absolute");
	expect_error("{\"processes\": {\"cmdline\": \"a(b\"}}", "processes.cmdline", "regular expression");
	expect_error("{\"processes\": {\"unit\": \"a/b.service\"}}", "processes.unit", "unit name");
	expect_error("{\"processes\": {\"name\": \"x\", \"count\": 0}}", "processes.count", "between 1 and");
	expect_error("{\"processes\": {\"name\": \"x\", \"percent\": 101}}", "processes.percent", "between 1 and 100");
	expect_error("{\"processes\": {\"name\": \"x\", \"count\": 1, \"percent\": 5}}", "processes", "count or percent");
	expect_error("{\"processes\": {\"cgroup\": \"/a\", \"unit\": \"b.service\"}}", "processes", "cgroup or unit");
	expect_error("{\"processes\": {\"name\": \"x\", \"colour\": 1}}", "processes.colour", "unknown parameter");
}

static void test_to_json_round_trip(void **state)
{
	(void)state;
	struct target_spec t;
	struct fault_error err = { 0 };
	assert_int_equal(parse("{\"processes\": {\"name\": \"db\", \"cmdline\": \"--role=(primary|replica)\", "
			       "\"percent\": 50, \"seed\": 7}}", &t, &err), 0);
	struct json_object *j = target_to_json(&t);
	struct json_object *params = json_object_new_object();
	json_object_object_add(params, "processes", j);
	struct target_spec again;
	assert_int_equal(target_parse(params, "processes", &again, &err), 0);
	assert_string_equal(again.name, "db");
	assert_string_equal(again.cmdline, "--role=(primary|replica)");
	assert_int_equal(again.percent, 50);
	assert_true(again.has_seed);
	assert_int_equal(again.seed, 7);
	json_object_put(params);
	target_spec_clear(&t);
	target_spec_clear(&again);
}

/* --- resolving against real children --------------------------------------- */

#define N_CHILDREN 6
static pid_t children[N_CHILDREN];
static char tag[64];

/* Children are `sleep 300.PID` started by bash's `exec -a ckt-sleeper`: comm "sleep",
 * command line "ckt-sleeper 300.PID" (PID: this test's), which no other process has. */
static int start_children(void **state)
{
	(void)state;
	snprintf(tag, sizeof(tag), "^ckt-sleeper 300.%d$", (int)getpid());
	for (int i = 0; i < N_CHILDREN; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return -1;
		if (pid == 0) {
			char arg[96];
			snprintf(arg, sizeof(arg), "exec -a ckt-sleeper sleep 300.%d", (int)getppid());
			execl("/bin/bash", "bash", "-c", arg, (char *)NULL);
			_exit(127);
		}
		children[i] = pid;
	}
	/* until every child shows the exec'd command line */
	for (int tries = 0; tries < 200; tries++) {
		int ready = 0;
		for (int i = 0; i < N_CHILDREN; i++) {
			char path[64], buf[64] = "";
			snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)children[i]);
			FILE *f = fopen(path, "r");
			if (f) {
				size_t n = fread(buf, 1, sizeof(buf) - 1, f);
				buf[n] = '\0';
				fclose(f);
			}
			ready += strcmp(buf, "ckt-sleeper") == 0;
		}
		if (ready == N_CHILDREN)
			return 0;
		usleep(10000);
	}
	return -1;
}

static int stop_children(void **state)
{
	(void)state;
	for (int i = 0; i < N_CHILDREN; i++)
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
		}
	return 0;
}

static int resolve_json(const char *json, struct process_ident **out, int *n, struct fault_error *err)
{
	struct target_spec t;
	int r = parse(json, &t, err);
	if (r < 0)
		return r;
	pid_t exclude[64];
	struct process_scope scope;
	assert_int_equal(process_scope_targets(&scope, exclude, 64), 0);
	r = target_resolve(&t, &scope, out, n, err);
	target_spec_clear(&t);
	return r;
}

static bool ours(pid_t pid)
{
	for (int i = 0; i < N_CHILDREN; i++)
		if (children[i] == pid)
			return true;
	return false;
}

/* Resolves the json and checks that exactly `want` processes came back, all ours. */
static void expect_ours(const char *json, int want)
{
	struct process_ident *list = NULL;
	int n = 0;
	struct fault_error err = { 0 };
	int r = resolve_json(json, &list, &n, &err);
	if (r < 0)
		fail_msg("%s: %d %s: %s", json, r, err.key, err.msg);
	int mine = 0;
	for (int i = 0; i < n; i++)
		mine += ours(list[i].pid);
	if (mine != want || n != want)
		fail_msg("%s: %d processes, %d of them ours; want %d", json, n, mine, want);
	for (int i = 1; i < n; i++)
		assert_true(list[i - 1].pid < list[i].pid);
	free(list);
}

static void test_resolve_by_pid_cmdline_exe(void **state)
{
	(void)state;
	char json[PATH_MAX + 256];
	snprintf(json, sizeof(json), "{\"processes\": {\"pid\": %d}}", (int)children[2]);
	expect_ours(json, 1);
	snprintf(json, sizeof(json), "{\"processes\": {\"cmdline\": \"%s\"}}", tag);
	expect_ours(json, N_CHILDREN);
	snprintf(json, sizeof(json), "{\"processes\": {\"pid\": %d, \"cmdline\": \"^nothing-else$\"}}",
		 (int)children[2]);
	struct process_ident *list = NULL;
	int n = 0;
	struct fault_error err = { 0 };
	assert_int_equal(resolve_json(json, &list, &n, &err), -ESRCH);
	assert_string_equal(err.key, "processes");
	assert_non_null(strstr(err.msg, "no process matches pid"));
	/* exe: the children's executable, whatever the distribution links sleep to */
	char exe[PATH_MAX], path[64];
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)children[0]);
	ssize_t len = readlink(path, exe, sizeof(exe) - 1);
	assert_true(len > 0);
	exe[len] = '\0';
	assert_true(snprintf(json, sizeof(json), "{\"processes\": {\"exe\": \"%s\", \"cmdline\": \"%s\"}}", exe,
				tag) < (int)sizeof(json));
	expect_ours(json, N_CHILDREN);
	snprintf(json, sizeof(json), "{\"processes\": {\"exe\": \"/nonexistent/sleep\", \"cmdline\": \"%s\"}}", tag);
	list = NULL;
	assert_int_equal(resolve_json(json, &list, &n, &err), -ESRCH);
	/* name: comm is "sleep" for every sleeper on the machine; with the cmdline it is ours */
	snprintf(json, sizeof(json), "{\"processes\": {\"name\": \"sleep\", \"cmdline\": \"%s\"}}", tag);
	expect_ours(json, N_CHILDREN);
}

static void pick(int count, int percent, uint64_t seed, pid_t *got, int *n_got)
{
	char json[256];
	if (count)
		snprintf(json, sizeof(json), "{\"processes\": {\"cmdline\": \"%s\", \"count\": %d, \"seed\": %llu}}",
			 tag, count, (unsigned long long)seed);
	else
		snprintf(json, sizeof(json), "{\"processes\": {\"cmdline\": \"%s\", \"percent\": %d, \"seed\": %llu}}",
			 tag, percent, (unsigned long long)seed);
	struct process_ident *list = NULL;
	struct fault_error err = { 0 };
	int r = resolve_json(json, &list, n_got, &err);
	if (r < 0)
		fail_msg("%s: %s", json, err.msg);
	for (int i = 0; i < *n_got; i++) {
		assert_true(ours(list[i].pid));
		got[i] = list[i].pid;
	}
	free(list);
}

static void test_count_percent_seed(void **state)
{
	(void)state;
	pid_t a[N_CHILDREN], b[N_CHILDREN];
	int na, nb;
	pick(2, 0, 42, a, &na);
	assert_int_equal(na, 2);
	pick(2, 0, 42, b, &nb);
	assert_int_equal(nb, 2);
	assert_memory_equal(a, b, sizeof(pid_t) * 2);   /* same seed, same pick */
	pick(0, 50, 1, a, &na);
	assert_int_equal(na, 3);                         /* 50 % of 6 */
	pick(0, 1, 1, a, &na);
	assert_int_equal(na, 1);                         /* rounds up to one */
	pick(10, 0, 1, a, &na);
	assert_int_equal(na, N_CHILDREN);                /* more than there are: all */
	/* different seeds do not always give the same pair */
	bool differs = false;
	pid_t first[2];
	pick(2, 0, 0, first, &na);
	for (uint64_t s = 1; s < 20 && !differs; s++) {
		pick(2, 0, s, b, &nb);
		differs = memcmp(first, b, sizeof(first)) != 0;
	}
	assert_true(differs);
}

static void test_cgroups_of_a_process(void **state)
{
	(void)state;
	char dirs[16][PATH_MAX];
	int n = target_process_cgroups(children[0], dirs, 16);
	assert_true(n >= 1);
	char mine[32];
	snprintf(mine, sizeof(mine), "%d", (int)children[0]);
	for (int i = 0; i < n; i++) {
		/* every directory is a cgroup whose cgroup.procs lists the child */
		char path[PATH_MAX + 16], line[32];
		assert_true(snprintf(path, sizeof(path), "%s/cgroup.procs", dirs[i]) < (int)sizeof(path));
		FILE *f = fopen(path, "r");
		if (!f)
			fail_msg("%s: %s", path, strerror(errno));
		bool found = false;
		while (!found && fgets(line, sizeof(line), f))
			found = strtol(line, NULL, 10) == children[0];
		fclose(f);
		if (!found)
			fail_msg("%s does not list %s", path, mine);
	}
	/* resolving by the first of those cgroups (absolute, under its mount) finds the
	 * child among its members */
	char json[PATH_MAX + 128];
	snprintf(json, sizeof(json), "{\"processes\": {\"cgroup\": \"%s\", \"cmdline\": \"%s\"}}", dirs[0], tag);
	expect_ours(json, N_CHILDREN);
	struct target_spec t;
	struct fault_error err = { 0 };
	snprintf(json, sizeof(json), "{\"processes\": {\"cgroup\": \"%s\"}}", dirs[0]);
	assert_int_equal(parse(json, &t, &err), 0);
	char dir[PATH_MAX];
	assert_int_equal(target_cgroup_dir(&t, dir, sizeof(dir), &err), 0);
	assert_string_equal(dir, dirs[0]);
	target_spec_clear(&t);
	assert_int_equal(parse("{\"processes\": {\"cgroup\": \"/ckt-target-no-such-cgroup\"}}", &t, &err), 0);
	int r = target_cgroup_dir(&t, dir, sizeof(dir), &err);
	assert_true(r < 0);
	assert_string_equal(err.key, "processes.cgroup");
	target_spec_clear(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_to_json_round_trip),
		cmocka_unit_test(test_resolve_by_pid_cmdline_exe),
		cmocka_unit_test(test_count_percent_seed),
		cmocka_unit_test(test_cgroups_of_a_process),
	};
	return cmocka_run_group_tests(tests, start_children, stop_children);
}
