/* crash-point parameters, its syscall table, and what outlives the agent: recover()
 * and the family's sweep resuming stopped targets (on this test's own children, nothing
 * else is ever signalled). Unprivileged: nothing is loaded or attached here
 * (tests/faults/crashpoint-*.sh do that). */
#include "faults/crashpoint.h"
#include "faults/process.h"
#include "faults/registry.h"
#include "common/statefile.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <ftw.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
	return fault_parsed_json("crash-point", params);
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
	/* What spec_to_json gives parses again to the same thing. */
	const char *text = json_object_to_json_string(o);
	struct json_object *again = spec_json(text);
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

/* --- recover and sweep ------------------------------------------------------------ */

/* The state directory of a recover/sweep test, removed by the teardown even when an
 * assertion failed half-way. */
static char state_dir[64];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static int make_state_dir(void **state)
{
	(void)state;
	snprintf(state_dir, sizeof(state_dir), "/tmp/ckt-cp-unit.XXXXXX");
	return mkdtemp(state_dir) ? 0 : -1;
}

static int remove_state_dir(void **state)
{
	(void)state;
	nftw(state_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static pid_t stopped_child(void)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	kill(pid, SIGSTOP);
	int status;
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status));
	return pid;
}

/* True when the child was resumed (SIGCONT) within ms milliseconds. */
static bool resumed_within(pid_t pid, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		int status;
		pid_t r = waitpid(pid, &status, WCONTINUED | WNOHANG);
		if (r == pid && WIFCONTINUED(status))
			return true;
		usleep(10000);
	}
	return false;
}

static bool resumed(pid_t pid)
{
	return resumed_within(pid, 1000);
}

/* recover() and the sweep signal synchronously: 200 ms is plenty to see a wrong SIGCONT. */
static bool not_resumed(pid_t pid)
{
	return !resumed_within(pid, 200);
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static struct json_object *targets_json(pid_t pid, const char *signal)
{
	struct process_ident ident = { .pid = pid };
	struct process_stat st;
	assert_int_equal(process_stat_read("/proc", pid, &st), 0);
	ident.starttime = st.starttime;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "targets", process_list_to_json(&ident, 1));
	json_object_object_add(o, "signal", json_object_new_string(signal));
	return o;
}

static const struct fault_family *family(void)
{
	const struct fault_family *const *all = fault_families();
	for (size_t i = 0; all[i]; i++)
		if (strcmp(all[i]->name, "crashpoint") == 0)
			return all[i];
	fail_msg("no crashpoint family registered");
	return NULL;
}

static void test_recover_resumes_stopped_targets(void **state)
{
	(void)state;
	const char *dir = state_dir;
	struct fault_env env = { .fault_id = "cp-1", .state_dir = dir };
	const struct fault_kind *kind = fault_kind_find("crash-point");

	pid_t pid = stopped_child();
	/* A kill fault's record: nothing to resume (the target was killed, or someone else stopped it). */
	struct json_object *rec = targets_json(pid, "SIGKILL");
	assert_int_equal(kind->recover(rec, &env), 0);
	json_object_put(rec);
	assert_true(not_resumed(pid));

	rec = targets_json(pid, "SIGSTOP");
	assert_int_equal(kind->recover(rec, &env), 0);
	json_object_put(rec);
	assert_true(resumed(pid));

	/* A reused pid (other start time) is not touched. */
	kill(pid, SIGSTOP);
	int status;
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	rec = targets_json(pid, "SIGSTOP");
	struct json_object *t = json_object_array_get_idx(json_object_object_get(rec, "targets"), 0);
	json_object_object_add(t, "starttime",
			       json_object_new_int64(json_object_get_int64(json_object_object_get(t, "starttime")) + 1));
	assert_int_equal(kind->recover(rec, &env), 0);
	json_object_put(rec);
	assert_true(not_resumed(pid));

	/* Empty record (crash in the middle of apply): the state file alone names the target. */
	struct json_object *file = targets_json(pid, "SIGSTOP");
	assert_int_equal(state_file_write(dir, "crashpoint", "cp-1",
					  json_object_to_json_string_ext(file, JSON_C_TO_STRING_PLAIN)), 0);
	json_object_put(file);
	rec = json_object_new_object();
	assert_int_equal(kind->recover(rec, &env), 0);
	json_object_put(rec);
	assert_true(resumed(pid));
	char path[512];
	snprintf(path, sizeof(path), "%s/crashpoint/cp-1.json", dir);
	assert_int_equal(access(path, F_OK), -1);
	reap(pid);

	/* Nothing to do is success. */
	rec = json_object_new_object();
	assert_int_equal(kind->recover(rec, &env), 0);
	json_object_put(rec);
	char sub[512];
	snprintf(sub, sizeof(sub), "%s/crashpoint", dir);
	assert_int_equal(rmdir(sub), 0);   /* the state file is gone */
}

static void test_sweep_resumes_leftovers(void **state)
{
	(void)state;
	const char *dir = state_dir;
	struct fault_env env = { .fault_id = "", .state_dir = dir };
	assert_int_equal(family()->sweep(&env), 0);   /* no directory yet */

	pid_t pid = stopped_child();
	struct json_object *o = targets_json(pid, "SIGSTOP");
	assert_int_equal(state_file_write(dir, "crashpoint", "cp-2",
					  json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)), 0);
	json_object_put(o);
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s/crashpoint/cp-3.json.tmp", dir);
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	fputs("{\"targets\": [", f);   /* half written */
	fclose(f);

	assert_int_equal(family()->sweep(&env), 0);
	assert_true(resumed(pid));
	char sub[512];
	snprintf(sub, sizeof(sub), "%s/crashpoint", dir);
	reap(pid);
	assert_int_equal(rmdir(sub), 0);   /* both files gone */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_defaults_and_round_trip),
		cmocka_unit_test(test_prefix_rules),
		cmocka_unit_test(test_syscall_table),
		cmocka_unit_test(test_table_against_kernel),
		cmocka_unit_test_setup_teardown(test_recover_resumes_stopped_targets, make_state_dir, remove_state_dir),
		cmocka_unit_test_setup_teardown(test_sweep_resumes_leftovers, make_state_dir, remove_state_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
