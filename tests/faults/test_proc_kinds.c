/* process-kill and process-pause (faults/proc_kill.c, faults/proc_pause.c): parameter
 * validation, spec_to_json with every default, and apply/revert/recover on this test's
 * own child processes (each with a command line no other process has, so nothing else
 * is ever signalled). The freezer method needs root and a cgroup: the integration
 * tests (tests/faults/proc-*.sh) cover it. */
#include "faults/process.h"
#include "faults/registry.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
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

#include "tests/faults/params_check.h"

/* --- parameters --------------------------------------------------------------------- */

static void test_kill_bad_params(void **state)
{
	(void)state;
	const char *k = "process-kill";
	fault_expect_parse_error(k, "[]", "", "object");
	fault_expect_parse_error(k, "{}", "processes", "is required");
	fault_expect_parse_error(k, NULL, "processes", "is required");
	fault_expect_parse_error(k, "{\"signal\": \"SIGTERM\"}", "processes", "is required");
	fault_expect_parse_error(k, "{\"processes\": \"db\"}", "processes", "must be an object");
	fault_expect_parse_error(k, "{\"processes\": {}}", "processes", "must name processes");
	fault_expect_parse_error(k, "{\"processes\": {\"name\": \"db\", \"colour\": 1}}", "processes.colour",
				 "unknown parameter");
	fault_expect_parse_error(k, "{\"processes\": {\"cmdline\": \"(\"}}", "processes.cmdline", "regular expression");
	fault_expect_parse_error(k, "{\"processes\": {\"name\": \"db\"}, \"colour\": 1}", "colour",
				 "unknown parameter (known: processes, signal, interval)");
	fault_expect_parse_error(k, "{\"processes\": {\"name\": \"db\"}, \"signal\": \"SIGFOO\"}", "signal",
				 "signal name");
	fault_expect_parse_error(k, "{\"processes\": {\"name\": \"db\"}, \"signal\": 9}", "signal", "signal name");
	fault_expect_parse_error(k, "{\"processes\": {\"name\": \"db\"}, \"signal\": \"\"}", "signal", "signal name");
	fault_expect_parse_error(k, "{\"processes\": {\"name\": \"db\"}, \"signal\": \"0\"}", "signal", "signal name");
	fault_expect_parse_error(k, "{\"processes\": {\"name\": \"db\"}, \"signal\": \"SIGSTOP\"}", "signal",
				 "use process-pause");
	fault_expect_parse_error(k, "{\"processes\": {\"name\": \"db\"}, \"signal\": \"CONT\"}", "signal",
				 "use process-pause");
	fault_expect_parse_error(k, "{\"processes\": {\"name\": \"db\"}, \"interval\": \"soon\"}", "interval",
				 "duration");
	fault_expect_parse_error(k, "{\"processes\": {\"name\": \"db\"}, \"interval\": \"10\"}", "interval",
				 "duration");
	fault_expect_parse_error(k, "{\"processes\": {\"name\": \"db\"}, \"interval\": 10}", "interval", "duration");
	fault_expect_parse_error(k, "{\"processes\": {\"name\": \"db\"}, \"interval\": \"50ms\"}", "interval",
				 "between 100ms and 1h");
	fault_expect_parse_error(k, "{\"processes\": {\"name\": \"db\"}, \"interval\": \"2h\"}", "interval",
				 "between 100ms and 1h");
	fault_expect_parse_error(k, "{\"processes\": {\"name\": \"db\", \"count\": 1, \"percent\": 5}}", "processes",
				 "count or percent");
}

static void test_pause_bad_params(void **state)
{
	(void)state;
	const char *p = "process-pause";
	fault_expect_parse_error(p, "7", "", "object");
	fault_expect_parse_error(p, "{}", "processes", "is required");
	fault_expect_parse_error(p, "{\"method\": \"signal\"}", "processes", "is required");
	fault_expect_parse_error(p, "{\"processes\": {\"name\": \"db\"}, \"signal\": \"SIGSTOP\"}", "signal",
				 "unknown parameter (known: processes, method)");
	fault_expect_parse_error(p, "{\"processes\": {\"name\": \"db\"}, \"method\": \"sigstop\"}", "method",
				 "\"auto\", \"freezer\" or \"signal\"");
	fault_expect_parse_error(p, "{\"processes\": {\"name\": \"db\"}, \"method\": 1}", "method",
				 "\"auto\", \"freezer\" or \"signal\"");
	fault_expect_parse_error(p, "{\"processes\": {\"name\": \"db\"}, \"method\": \"freezer\"}", "method",
				 "give processes.cgroup or processes.unit");
	fault_expect_parse_error(p, "{\"processes\": {\"pid\": 42}, \"method\": \"freezer\"}", "method",
				 "give processes.cgroup or processes.unit");
	fault_expect_parse_error(p, "{\"processes\": {\"cgroup\": \"/a\", \"name\": \"db\"}, \"method\": \"freezer\"}",
				 "method", "cannot narrow it");
	fault_expect_parse_error(p, "{\"processes\": {\"unit\": \"db.service\", \"count\": 1}, \"method\": \"freezer\"}",
				 "method", "cannot narrow it");
	fault_expect_parse_error(p, "{\"processes\": {\"cgroup\": \"/a\", \"unit\": \"db.service\"}}", "processes",
				 "cgroup or unit");
}

/* spec_to_json of the params, as a compact string. */
static char *spec_text(const char *kind_name, const char *params)
{
	struct json_object *o = fault_parsed_json(kind_name, params);
	char *text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return text;
}

/* The listing is exactly `want`, and parsing the listing again gives the same listing. */
static void expect_round_trip(const char *kind_name, const char *params, const char *want)
{
	char *first = spec_text(kind_name, params);
	if (strcmp(first, want) != 0)
		fail_msg("%s %s: spec_to_json %s, expected %s", kind_name, params, first, want);
	struct json_object *again = json_tokener_parse(first);
	char *second = spec_text(kind_name, json_object_to_json_string_ext(again, JSON_C_TO_STRING_PLAIN));
	assert_string_equal(first, second);
	json_object_put(again);
	free(first);
	free(second);
}

static void test_spec_to_json(void **state)
{
	(void)state;
	expect_round_trip("process-kill", "{\"processes\": {\"name\": \"db\"}}",
			  "{\"processes\":{\"name\":\"db\"},\"signal\":\"SIGKILL\"}");
	expect_round_trip("process-kill",
			  "{\"processes\": {\"cmdline\": \"worker .*--queue=mail\", \"percent\": 50, \"seed\": 7}, "
			  "\"signal\": \"TERM\", \"interval\": \"1500ms\"}",
			  "{\"processes\":{\"cmdline\":\"worker .*--queue=mail\",\"percent\":50,\"seed\":7},"
			  "\"signal\":\"SIGTERM\",\"interval\":\"1s500ms\"}");
	expect_round_trip("process-kill", "{\"processes\": {\"pid\": 4242}, \"signal\": \"15\", \"interval\": \"1m\"}",
			  "{\"processes\":{\"pid\":4242},\"signal\":\"SIGTERM\",\"interval\":\"1m\"}");
	expect_round_trip("process-kill", "{\"processes\": {\"exe\": \"/usr/bin/sqlite3\", \"count\": 2}, \"signal\": \"SIGUSR1\"}",
			  "{\"processes\":{\"exe\":\"/usr/bin/sqlite3\",\"count\":2},\"signal\":\"SIGUSR1\"}");
	expect_round_trip("process-pause", "{\"processes\": {\"name\": \"db\"}}",
			  "{\"processes\":{\"name\":\"db\"},\"method\":\"auto\"}");
	expect_round_trip("process-pause", "{\"processes\": {\"unit\": \"db.service\"}, \"method\": \"freezer\"}",
			  "{\"processes\":{\"unit\":\"db.service\"},\"method\":\"freezer\"}");
	expect_round_trip("process-pause", "{\"processes\": {\"cgroup\": \"/x\", \"count\": 1}, \"method\": \"signal\"}",
			  "{\"processes\":{\"cgroup\":\"/x\",\"count\":1},\"method\":\"signal\"}");
}

/* --- apply on our own children ---------------------------------------------------------- */

#define N_CHILDREN 4
static pid_t children[N_CHILDREN];
static char tag[64];
static char state_dir[PATH_MAX];

static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execlp("sleep", "sleep", tag, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static bool cmdline_is(pid_t pid, const char *want)
{
	char path[64], buf[128] = "";
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	/* "sleep\0TAG\0" */
	return strcmp(buf, "sleep") == 0 && n > 6 && strcmp(buf + 6, want) == 0;
}

static int start_children(void **state)
{
	(void)state;
	/* sleep takes "300.PID" as seconds: a command line nothing else on the machine has */
	snprintf(tag, sizeof(tag), "300.%d%d", (int)getpid(), 424242);
	for (int i = 0; i < N_CHILDREN; i++)
		children[i] = spawn_sleeper();
	for (int tries = 0; tries < 300; tries++) {
		int ready = 0;
		for (int i = 0; i < N_CHILDREN; i++)
			ready += cmdline_is(children[i], tag);
		if (ready == N_CHILDREN)
			break;
		usleep(10000);
	}
	snprintf(state_dir, sizeof(state_dir), "/tmp/ckt-pk-unit.XXXXXX");
	assert_non_null(mkdtemp(state_dir));
	return 0;
}

static void reap(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

static int stop_children(void **state)
{
	(void)state;
	for (int i = 0; i < N_CHILDREN; i++)
		reap(children[i]);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", state_dir);
	return 0;
}

static char proc_state(pid_t pid)
{
	struct process_stat st;
	return process_stat_read("/proc", pid, &st) == 0 ? st.state : 0;
}

/* Exited: waitpid collects it (our child), within 2 s. */
static bool exited_within(pid_t pid, int *status)
{
	for (int i = 0; i < 200; i++) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
		usleep(10000);
	}
	return false;
}

static void *apply_ok(const char *kind_name, const char *params, struct json_object *record, const char *id)
{
	const struct fault_kind *kind = fault_kind_find(kind_name);
	void *spec = NULL, *handle = NULL;
	struct fault_error err;
	if (fault_parse_text(kind_name, params, &spec, &err) < 0)
		fail_msg("%s rejected: %s: %s", params, err.key, err.msg);
	struct fault_env env = { .fault_id = id, .state_dir = state_dir };
	memset(&err, 0, sizeof(err));
	int r = kind->apply(spec, &env, &handle, record, &err);
	kind->spec_free(spec);
	if (r < 0)
		fail_msg("%s: apply %d: %s: %s", params, r, err.key, err.msg);
	return handle;
}

static int64_t stat_int(const char *kind_name, void *handle, const char *key)
{
	struct json_object *out = json_object_new_object();
	assert_int_equal(fault_kind_find(kind_name)->stats(handle, out), 0);
	struct json_object *v = json_object_object_get(out, key);
	assert_non_null(v);
	int64_t x = json_object_get_int64(v);
	json_object_put(out);
	return x;
}

static void test_kill_picks_count_and_signal(void **state)
{
	(void)state;
	char params[256];
	snprintf(params, sizeof(params),
		 "{\"processes\": {\"cmdline\": \"^sleep %s$\", \"count\": 2, \"seed\": 3}, \"signal\": \"SIGTERM\"}",
		 tag);
	struct json_object *record = json_object_new_object();
	void *h = apply_ok("process-kill", params, record, "pk-unit-1");
	assert_int_equal(stat_int("process-kill", h, "processes_signalled"), 2);
	assert_int_equal(stat_int("process-kill", h, "rounds"), 1);
	assert_int_equal(fault_kind_find("process-kill")->revert(h), 0);
	assert_string_equal(json_object_get_string(json_object_object_get(record, "signal")), "SIGTERM");
	assert_int_equal(json_object_array_length(json_object_object_get(record, "signalled")), 2);
	/* exactly two of the four die, of SIGTERM; the other two live on */
	int dead = 0, status = 0;
	bool died[N_CHILDREN] = { false };
	for (int loops = 0; loops < 200 && dead < 2; loops++) {
		for (int i = 0; i < N_CHILDREN; i++) {
			if (!died[i] && waitpid(children[i], &status, WNOHANG) == children[i]) {
				assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
				died[i] = true;
				dead++;
			}
		}
		usleep(10000);
	}
	assert_int_equal(dead, 2);
	usleep(100000);
	for (int i = 0; i < N_CHILDREN; i++) {
		if (died[i])
			children[i] = spawn_sleeper(); /* for the next tests */
		else
			assert_int_equal(waitpid(children[i], &status, WNOHANG), 0);
	}
	/* recover has nothing to do and says so */
	assert_int_equal(fault_kind_find("process-kill")->recover(record, NULL), 0);
	json_object_put(record);
	/* nothing matches: apply fails with -ESRCH and the key */
	const struct fault_kind *kind = fault_kind_find("process-kill");
	void *spec = NULL, *handle = NULL;
	struct fault_error err;
	assert_int_equal(fault_parse_text("process-kill", "{\"processes\": {\"cmdline\": \"^no such ckt-pk process$\"}}",
					  &spec, &err), 0);
	struct fault_env env = { .fault_id = "pk-unit-2", .state_dir = state_dir };
	assert_int_equal(kind->apply(spec, &env, &handle, NULL, &err), -ESRCH);
	assert_null(handle);
	assert_string_equal(err.key, "processes");
	kind->spec_free(spec);
}

static void test_kill_interval_rounds(void **state)
{
	(void)state;
	/* one victim, restarted by us after each kill: the interval kills it again */
	char params[256];
	snprintf(params, sizeof(params), "{\"processes\": {\"cmdline\": \"^sleep %s$\", \"pid\": %d}, \"interval\": \"200ms\"}",
		 tag, (int)children[0]);
	void *h = apply_ok("process-kill", params, NULL, "pk-unit-3");
	int status = 0;
	assert_true(exited_within(children[0], &status));
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	children[0] = spawn_sleeper();
	/* the pid criterion names the dead one: later rounds find nothing, and still count */
	usleep(700000);
	int64_t rounds = stat_int("process-kill", h, "rounds");
	assert_true(rounds >= 3 && rounds <= 5);
	assert_int_equal(stat_int("process-kill", h, "processes_signalled"), 1);
	assert_int_equal(fault_kind_find("process-kill")->revert(h), 0);

	/* by cmdline: every round kills what runs then */
	snprintf(params, sizeof(params), "{\"processes\": {\"cmdline\": \"^sleep %s$\", \"count\": 1}, \"interval\": \"200ms\"}",
		 tag);
	h = apply_ok("process-kill", params, NULL, "pk-unit-4");
	int killed = 0;
	for (int loops = 0; loops < 300 && killed < 3; loops++) {
		for (int i = 0; i < N_CHILDREN; i++) {
			if (waitpid(children[i], &status, WNOHANG) == children[i]) {
				assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
				killed++;
				children[i] = spawn_sleeper();
			}
		}
		usleep(10000);
	}
	assert_int_equal(fault_kind_find("process-kill")->revert(h), 0);
	assert_true(killed >= 3);
	/* after revert no round runs: a new child lives on */
	usleep(500000);
	for (int i = 0; i < N_CHILDREN; i++)
		assert_int_equal(waitpid(children[i], &status, WNOHANG), 0);
}

static bool state_file_exists(const char *subdir, const char *id)
{
	char path[PATH_MAX + 128];
	snprintf(path, sizeof(path), "%s/%s/%s.json", state_dir, subdir, id);
	return access(path, F_OK) == 0;
}

static bool all_running(int n)
{
	for (int i = 0; i < n; i++) {
		char s = proc_state(children[i]);
		if (s != 'S' && s != 'R')
			return false;
	}
	return true;
}

static void test_pause_signal_revert_recover(void **state)
{
	(void)state;
	/* all children should have exec'd by now (a new one from the kill tests) */
	for (int tries = 0; tries < 300; tries++) {
		int ready = 0;
		for (int i = 0; i < N_CHILDREN; i++)
			ready += cmdline_is(children[i], tag);
		if (ready == N_CHILDREN)
			break;
		usleep(10000);
	}
	char params[256];
	snprintf(params, sizeof(params), "{\"processes\": {\"cmdline\": \"^sleep %s$\"}}", tag);
	struct json_object *record = json_object_new_object();
	void *h = apply_ok("process-pause", params, record, "pk-unit-5");
	assert_int_equal(stat_int("process-pause", h, "processes_frozen"), N_CHILDREN);
	for (int i = 0; i < N_CHILDREN; i++)
		assert_int_equal(proc_state(children[i]), 'T');
	assert_true(state_file_exists("processes", "pk-unit-5"));
	assert_string_equal(json_object_get_string(json_object_object_get(record, "method")), "signal");
	assert_int_equal(json_object_array_length(json_object_object_get(record, "frozen")), N_CHILDREN);
	/* a second pause finds them stopped already and refuses */
	const struct fault_kind *kind = fault_kind_find("process-pause");
	void *spec = NULL, *h2 = NULL;
	struct fault_error err;
	assert_int_equal(fault_parse_text("process-pause", params, &spec, &err), 0);
	struct fault_env env = { .fault_id = "pk-unit-6", .state_dir = state_dir };
	assert_int_equal(kind->apply(spec, &env, &h2, NULL, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "stopped already"));
	assert_false(state_file_exists("processes", "pk-unit-6"));
	kind->spec_free(spec);

	assert_int_equal(kind->revert(h), 0);
	for (int i = 0; i < 100 && !all_running(N_CHILDREN); i++)
		usleep(10000);
	assert_true(all_running(N_CHILDREN));
	assert_false(state_file_exists("processes", "pk-unit-5"));

	/* recover from the record alone (what the guardian does after kill -9) */
	h = apply_ok("process-pause", params, NULL, "pk-unit-7");
	for (int i = 0; i < N_CHILDREN; i++)
		assert_int_equal(proc_state(children[i]), 'T');
	/* the handle is lost with the "dead agent": only its pidfds are closed here */
	struct fault_env env7 = { .fault_id = "pk-unit-7", .state_dir = state_dir };
	assert_int_equal(kind->recover(record, &env7), 0);
	for (int i = 0; i < 100 && !all_running(N_CHILDREN); i++)
		usleep(10000);
	assert_true(all_running(N_CHILDREN));
	assert_false(state_file_exists("processes", "pk-unit-7"));
	assert_int_equal(kind->revert(h), 0); /* SIGCONT to running processes: harmless */
	json_object_put(record);

	/* a crash before the journal: only the state file; the process family sweep resumes */
	h = apply_ok("process-pause", params, NULL, "pk-unit-8");
	assert_true(state_file_exists("processes", "pk-unit-8"));
	assert_int_equal(process_state_sweep(state_dir, "/proc"), N_CHILDREN);
	for (int i = 0; i < 100 && !all_running(N_CHILDREN); i++)
		usleep(10000);
	assert_true(all_running(N_CHILDREN));
	assert_false(state_file_exists("processes", "pk-unit-8"));
	assert_int_equal(kind->revert(h), 0);
}

static void test_families_registered(void **state)
{
	(void)state;
	bool freezer = false, process = false;
	for (const struct fault_family *const *f = fault_families(); *f; f++) {
		freezer |= strcmp((*f)->name, "freezer") == 0;
		process |= strcmp((*f)->name, "process") == 0;
	}
	assert_true(freezer && process);
	assert_string_equal(fault_kind_find("process-kill")->family, "process");
	assert_string_equal(fault_kind_find("process-pause")->family, "process");
	char reason[256] = "";
	assert_int_equal(fault_kind_find("process-kill")->probe(reason, sizeof(reason)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_bad_params),
		cmocka_unit_test(test_pause_bad_params),
		cmocka_unit_test(test_spec_to_json),
		cmocka_unit_test(test_families_registered),
		cmocka_unit_test(test_kill_picks_count_and_signal),
		cmocka_unit_test(test_kill_interval_rounds),
		cmocka_unit_test(test_pause_signal_revert_recover),
	};
	return cmocka_run_group_tests(tests, start_children, stop_children);
}
