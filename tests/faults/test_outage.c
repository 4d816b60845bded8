/* host-outage parameters and the process helpers it stands on (faults/process.h):
 * /proc parsing, name matching and scoping on a fake /proc tree, signalling and
 * resuming through pidfds on this test's own child processes (nothing else is
 * ever signalled), and the state files that survive a crash. Unprivileged. */
#include "faults/process.h"
#include "faults/registry.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/faults/params_check.h"

/* --- parameters --------------------------------------------------------------- */

static void expect_error(const char *json, const char *key, const char *msg_part)
{
	fault_expect_parse_error("host-outage", json, key, msg_part);
}

static void test_bad_params(void **state)
{
	(void)state;
	expect_error("[]", "", "object");
	expect_error("{\"colour\": 1}", "colour", "unknown parameter");
	expect_error("{\"blackout\": true}", "blackout", "unknown parameter (known: keep_control_path");
	expect_error("{\"keep_control_path\": \"no\"}", "keep_control_path", "true or false");
	expect_error("{\"freeze\": \"web\"}", "freeze", "list");
	expect_error("{\"freeze\": [\"\"]}", "freeze[0]", "process name");
	expect_error("{\"freeze\": [\"web\", 3]}", "freeze[1]", "process name");
	expect_error("{\"freeze\": [\"/usr/bin/web\"]}", "freeze[0]", "no '/'");
	expect_error("{\"freeze\": [\"web\", \"db\", \"web\"]}", "freeze[2]", "listed twice");
	expect_error("{\"kill\": [\"a\", \"\"]}", "kill[1]", "process name");
	expect_error("{\"kill\": {}}", "kill", "list");
	expect_error("{\"freeze\": [\"web\"], \"kill\": [\"db\", \"web\"]}", "kill[1]", "also in freeze");
	expect_error("{\"kill\": [\"db\"], \"signal\": \"SIGFOO\"}", "signal", "signal name");
	expect_error("{\"kill\": [\"db\"], \"signal\": 9}", "signal", "signal name");
	expect_error("{\"kill\": [\"db\"], \"signal\": \"SIGSTOP\"}", "signal", "use freeze");
	expect_error("{\"kill\": [\"db\"], \"signal\": \"CONT\"}", "signal", "use freeze");
	expect_error("{\"signal\": \"SIGTERM\"}", "signal", "only used with kill");
	expect_error("{\"kill\": [], \"signal\": \"SIGTERM\"}", "signal", "only used with kill");
	/* The interfaces are validated by the packet family, with the same keys. */
	expect_error("{\"interfaces\": []}", "interfaces", "empty");
	expect_error("{\"interfaces\": [\"eth0\", \"eth0\"]}", "interfaces[1]", "twice");
	expect_error("{\"interfaces\": [\"a/b\"]}", "interfaces[0]", "interface name");

	char many[2048] = "{\"freeze\": [";
	for (int i = 0; i <= PROCESS_MAX_NAMES; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s\"p%d\"", i ? ", " : "", i);
	strcat(many, "]}");
	expect_error(many, "freeze", "at most 32");
}

static struct json_object *spec_json(const char *params)
{
	return fault_parsed_json("host-outage", params);
}

static void expect_json(const char *params, const char *expected)
{
	fault_expect_spec_json("host-outage", params, expected);
}

static void test_defaults_and_json(void **state)
{
	(void)state;
	const char *defaults = "{\"keep_control_path\":true,\"freeze\":[],\"kill\":[]}";
	expect_json(NULL, defaults);
	expect_json("{}", defaults);
	expect_json("{\"keep_control_path\": false, \"freeze\": [\"chaos-demo-service\", \"nginx\"], "
		    "\"kill\": [\"redis-server\"], \"signal\": \"TERM\", \"interfaces\": [\"eth0\"]}",
		    "{\"keep_control_path\":false,\"freeze\":[\"chaos-demo-service\",\"nginx\"],"
		    "\"kill\":[\"redis-server\"],\"signal\":\"SIGTERM\",\"interfaces\":[\"eth0\"]}");
	expect_json("{\"kill\": [\"x\"], \"signal\": \"SIGINT\"}",
		    "{\"keep_control_path\":true,\"freeze\":[],\"kill\":[\"x\"],\"signal\":\"SIGINT\"}");
	/* An empty list means none (that is how the JSON form writes the default). */
	expect_json("{\"freeze\": [], \"kill\": []}", defaults);
	/* What spec_to_json gives is accepted again, unchanged. */
	const char *inputs[] = { NULL, "{\"freeze\": [\"a\"], \"kill\": [\"b\"], \"signal\": \"SIGHUP\"}",
				 "{\"keep_control_path\": false, \"interfaces\": [\"v0\", \"v1\"]}" };
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct json_object *o = spec_json(inputs[i]);
		char *first = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		expect_json(first, first);
		free(first);
	}
}

static void test_registered(void **state)
{
	(void)state;
	const struct fault_kind *k = fault_kind_find("host-outage");
	assert_non_null(k);
	assert_string_equal(k->family, "outage");
	bool has_process_family = false;
	for (const struct fault_family *const *f = fault_families(); *f; f++)
		if (strcmp((*f)->name, "process") == 0)
			has_process_family = true;
	assert_true(has_process_family);
}

/* --- /proc parsing and matching ------------------------------------------------ */

static void test_stat_parse(void **state)
{
	(void)state;
	struct process_stat st;
	const char *text = "4242 (we ird) (x) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 "
			   "1000 200 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
	assert_int_equal(process_stat_parse(text, &st), 0);
	assert_string_equal(st.comm, "we ird) (x");
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.ppid, 17);
	assert_int_equal(st.flags, 4194560);
	assert_int_equal(st.starttime, 987654);
	assert_int_equal(process_stat_parse("12 (x S 1", &st), -EINVAL);
	assert_int_equal(process_stat_parse("12 (x) S 1 2", &st), -EINVAL);
	assert_int_equal(process_stat_parse("", &st), -EINVAL);

	/* And the real thing: our own entry. */
	assert_int_equal(process_stat_read("/proc", getpid(), &st), 0);
	assert_int_equal(st.ppid, getppid());
	assert_true(st.starttime > 0);
	assert_int_equal(process_stat_read("/proc", -5, &st), -ENOENT);
}

static void test_name_matches(void **state)
{
	(void)state;
	assert_true(process_name_matches("sleep", "sleep", "/usr/bin/sleep", "sleep"));
	assert_true(process_name_matches("python3.11", "http-srv", "/usr/bin/python3.11", "python3"));
	assert_true(process_name_matches("myscript", "myscript", "/usr/bin/python3.11", "/usr/bin/python3"));
	assert_false(process_name_matches("sleep", "sleeper", "/usr/bin/sleeper", "sleeper"));
	assert_false(process_name_matches("sle", "sleep", "/usr/bin/sleep", "sleep"));
	assert_false(process_name_matches("sleep", "sleep2", NULL, NULL));
	/* comm holds 15 characters: a longer name needs argv[0] (or exe) to agree. */
	assert_true(process_name_matches("chaos-demo-service", "chaos-demo-serv", NULL, "/x/chaos-demo-service"));
	assert_true(process_name_matches("chaos-demo-service", "chaos-demo-serv", "/opt/chaos-demo-service", NULL));
	assert_false(process_name_matches("chaos-demo-service", "chaos-demo-serv", NULL, "chaos-demo-servant"));
	assert_false(process_name_matches("chaos-demo-service", "chaos-demo-serv", NULL, NULL));
	assert_false(process_name_matches("chaos-demo-serv", "chaos-demo", NULL, NULL));
}

static void test_signal_parse(void **state)
{
	(void)state;
	int sig = 0;
	assert_int_equal(process_signal_parse("SIGKILL", &sig), 0);
	assert_int_equal(sig, SIGKILL);
	assert_int_equal(process_signal_parse("TERM", &sig), 0);
	assert_int_equal(sig, SIGTERM);
	assert_int_equal(process_signal_parse("15", &sig), 0);
	assert_int_equal(sig, 15);
	assert_int_equal(process_signal_parse("SIGUSR1", &sig), 0);
	assert_int_equal(sig, SIGUSR1);
	assert_int_equal(process_signal_parse("sigkill", &sig), -EINVAL);
	assert_int_equal(process_signal_parse("SIG", &sig), -EINVAL);
	assert_int_equal(process_signal_parse("0", &sig), -EINVAL);
	assert_int_equal(process_signal_parse("99", &sig), -EINVAL);
	assert_int_equal(process_signal_parse("9x", &sig), -EINVAL);
	assert_int_equal(process_signal_parse("", &sig), -EINVAL);
	char buf[24];
	assert_string_equal(process_signal_name(SIGKILL, buf, sizeof(buf)), "SIGKILL");
}

/* A fake /proc: ns/net files are hard links of one of two files standing for two
 * network namespaces, as stat() sees the real ones (same inode = same namespace). */
struct fake_proc {
	char root[64];
	char ns_here[96], ns_other[96];
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void fake_process(struct fake_proc *fp, int pid, const char *comm, char state, unsigned flags,
			 bool here, const char *exe, const char *argv0)
{
	char dir[160], path[200], text[512];
	snprintf(dir, sizeof(dir), "%s/%d", fp->root, pid);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/stat", dir);
	snprintf(text, sizeof(text), "%d (%s) %c 1 %d %d 0 -1 %u 0 0 0 0 0 0 0 0 20 0 1 0 %d 0 0\n", pid, comm, state,
		 pid, pid, flags, 1000 + pid);
	write_file(path, text);
	snprintf(path, sizeof(path), "%s/ns", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/ns/net", dir);
	assert_int_equal(link(here ? fp->ns_here : fp->ns_other, path), 0);
	if (exe) {
		snprintf(path, sizeof(path), "%s/exe", dir);
		assert_int_equal(symlink(exe, path), 0);
	}
	if (argv0) {
		snprintf(path, sizeof(path), "%s/cmdline", dir);
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fwrite(argv0, 1, strlen(argv0) + 1, f);
		fputs("--flag", f);
		fputc('\0', f);
		fclose(f);
	}
}

static void fake_proc_build(struct fake_proc *fp)
{
	snprintf(fp->root, sizeof(fp->root), "/tmp/ckt-out-proc.XXXXXX");
	assert_non_null(mkdtemp(fp->root));
	snprintf(fp->ns_here, sizeof(fp->ns_here), "%s/netns-here", fp->root);
	snprintf(fp->ns_other, sizeof(fp->ns_other), "%s/netns-other", fp->root);
	write_file(fp->ns_here, "");
	write_file(fp->ns_other, "");
	fake_process(fp, 1, "sleep", 'S', 0, true, "/usr/bin/sleep", "sleep");                /* never pid 1 */
	fake_process(fp, 100, "sleep", 'S', 0, true, "/usr/bin/sleep", "sleep");              /* by comm */
	fake_process(fp, 101, "renamed", 'R', 0, true, "/usr/bin/sleep (deleted)", "x");     /* by exe */
	fake_process(fp, 102, "sleep", 'S', 0, false, "/usr/bin/sleep", "sleep");             /* other netns */
	fake_process(fp, 103, "sleep", 'I', 0x00200000, true, NULL, NULL);                    /* kernel thread */
	fake_process(fp, 104, "sleep", 'Z', 0, true, NULL, NULL);                             /* zombie */
	fake_process(fp, 105, "sleep", 'T', 0, true, "/usr/bin/sleep", "sleep");              /* stopped */
	fake_process(fp, 106, "chaos-demo-serv", 'S', 0, true, "/b/chaos-demo-service", NULL);
	fake_process(fp, 107, "chaos-demo-serv", 'S', 0, true, "/usr/bin/python3", "/x/chaos-demo-service");
	fake_process(fp, 108, "chaos-demo-serv", 'S', 0, true, "/usr/bin/python3", "chaos-demo-servant");
	fake_process(fp, 109, "sleep", 'S', 0, true, "/usr/bin/sleep", "sleep");              /* excluded */
	fake_process(fp, 110, "nginx", 'S', 0, true, "/usr/sbin/nginx", "nginx: worker");
	char path[128];
	snprintf(path, sizeof(path), "%s/self", fp->root);
	assert_int_equal(symlink("110", path), 0);
}

static void fake_proc_remove(struct fake_proc *fp)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fp->root);
	assert_int_equal(system(cmd), 0);
}

static struct fake_proc fake;

static int remove_fake_proc(void **state)
{
	(void)state;
	if (fake.root[0])
		fake_proc_remove(&fake);
	return 0;
}

static void test_find_on_fake_proc(void **state)
{
	(void)state;
	struct fake_proc fp;
	fake_proc_build(&fp);
	fake = fp;
	struct stat st;
	assert_int_equal(stat(fp.ns_here, &st), 0);
	pid_t exclude[] = { 109 };
	struct process_scope scope = { .proc_root = fp.root, .netns = { st.st_ino, st.st_dev },
				       .exclude = exclude, .n_exclude = 1 };

	const char *names[] = { "sleep", "chaos-demo-service", "absent" };
	int matched[3];
	struct process_ident *list = NULL;
	int n = process_find(&scope, names, 3, true, &list, matched);
	assert_int_equal(n, 4);
	assert_int_equal(list[0].pid, 100);
	assert_int_equal(list[0].starttime, 1100);
	assert_string_equal(list[0].comm, "sleep");
	assert_int_equal(list[1].pid, 101);
	assert_int_equal(list[2].pid, 106);
	assert_int_equal(list[3].pid, 107);
	assert_int_equal(matched[0], 2);
	assert_int_equal(matched[1], 2);
	assert_int_equal(matched[2], 0);
	free(list);

	/* A stopped process counts when it is to be killed. */
	n = process_find(&scope, names, 1, false, &list, matched);
	assert_int_equal(n, 3);
	assert_int_equal(list[2].pid, 105);
	free(list);

	const char *none[] = { "absent" };
	list = (void *)1;
	n = process_find(&scope, none, 1, true, &list, NULL);
	assert_int_equal(n, 0);
	assert_null(list);

	/* The other namespace sees only its own process. */
	assert_int_equal(stat(fp.ns_other, &st), 0);
	scope.netns.ino = st.st_ino;
	n = process_find(&scope, names, 3, true, &list, NULL);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].pid, 102);
	free(list);

	scope.proc_root = "/nonexistent-proc";
	assert_int_equal(process_find(&scope, names, 3, true, &list, NULL), -ENOENT);
}

static void test_scope_self(void **state)
{
	(void)state;
	pid_t buf[64];
	struct process_scope scope;
	assert_int_equal(process_scope_self(&scope, buf, 64), 0);
	assert_string_equal(scope.proc_root, "/proc");
	assert_true(scope.n_exclude >= 2);
	assert_int_equal(scope.exclude[0], getpid());
	assert_int_equal(scope.exclude[1], getppid());
	for (int i = 0; i < scope.n_exclude; i++)
		assert_true(scope.exclude[i] > 1);
	struct stat st;
	assert_int_equal(stat("/proc/self/ns/net", &st), 0);
	assert_int_equal(scope.netns.ino, st.st_ino);
}

/* --- signalling this test's own children ----------------------------------------- */

/* A child that waits to be signalled, under a name nothing else on the host has. */
static pid_t start_child(struct process_ident *id)
{
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Dies with this test even when an assertion ends it with the child stopped. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		prctl(PR_SET_NAME, "ckt-out-child");
		close(ready[0]);
		close(ready[1]);
		for (;;)
			pause();
	}
	/* Nothing is signalled before the child has armed PDEATHSIG and taken its name. */
	close(ready[1]);
	char c;
	assert_int_equal(read(ready[0], &c, 1), 0);
	close(ready[0]);
	struct process_stat st;
	assert_int_equal(process_stat_read("/proc", pid, &st), 0);
	id->pid = pid;
	id->starttime = st.starttime;
	snprintf(id->comm, sizeof(id->comm), "%s", st.comm);
	return pid;
}

static char state_of(pid_t pid)
{
	struct process_stat st;
	return process_stat_read("/proc", pid, &st) == 0 ? st.state : '?';
}

static void wait_running(pid_t pid)
{
	for (int i = 0; i < 2000 && state_of(pid) == 'T'; i++)
		usleep(1000);
}

static void test_freeze_resume_child(void **state)
{
	(void)state;
	struct process_ident child;
	pid_t pid = start_child(&child);

	/* A wrong starttime is another process that got the pid: never opened. */
	struct process_ident reused = child;
	reused.starttime++;
	assert_int_equal(process_pidfd_open("/proc", &reused), -ESRCH);

	int fd = process_pidfd_open("/proc", &child);
	assert_true(fd >= 0);
	assert_int_equal(process_pidfd_signal(fd, SIGSTOP), 0);
	assert_int_equal(process_wait_stopped("/proc", &child, 2000), 0);
	assert_int_equal(state_of(pid), 'T');

	/* The reused identity is not resumed; the real one is. */
	assert_int_equal(process_resume_list("/proc", &reused, 1), 0);
	usleep(20000);
	assert_int_equal(state_of(pid), 'T');
	assert_int_equal(process_resume_list("/proc", &child, 1), 1);
	wait_running(pid);
	assert_true(state_of(pid) != 'T');

	/* A running process does not stop within the timeout. */
	assert_int_equal(process_wait_stopped("/proc", &child, 30), -ETIMEDOUT);

	assert_int_equal(process_wait_exited(&fd, 1, 20), 1);
	assert_int_equal(process_pidfd_signal(fd, SIGKILL), 0);
	assert_int_equal(process_wait_exited(&fd, 1, 2000), 0);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* Reaped: the pidfd still names the dead process, never a new one with its pid. */
	assert_int_equal(process_pidfd_signal(fd, SIGCONT), -ESRCH);
	close(fd);
	assert_int_equal(process_pidfd_open("/proc", &child), -ESRCH);
	assert_int_equal(process_resume_list("/proc", &child, 1), 0);
}

static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* A child with a second thread; *tid is that thread's id (not a process: pidfd_open refuses it). */
static pid_t start_threaded_child(struct process_ident *id, pid_t *tid)
{
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		prctl(PR_SET_NAME, "ckt-out-child");
		pthread_t t;
		if (pthread_create(&t, NULL, idle_thread, NULL) != 0)
			_exit(1);
		pid_t thread_id = 0;
		char dir[64];
		snprintf(dir, sizeof(dir), "/proc/%d/task", (int)getpid());
		DIR *d = opendir(dir);
		for (struct dirent *de; d && (de = readdir(d));)
			if (atoi(de->d_name) > 0 && atoi(de->d_name) != getpid())
				thread_id = atoi(de->d_name);
		if (d)
			closedir(d);
		if (write(ready[1], &thread_id, sizeof(thread_id)) != (ssize_t)sizeof(thread_id))
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], tid, sizeof(*tid)), (ssize_t)sizeof(*tid));
	close(ready[0]);
	assert_true(*tid > 0);
	struct process_stat st;
	assert_int_equal(process_stat_read("/proc", pid, &st), 0);
	id->pid = pid;
	id->starttime = st.starttime;
	snprintf(id->comm, sizeof(id->comm), "%s", st.comm);
	return pid;
}

static void test_freeze_all_or_nothing(void **state)
{
	(void)state;
	struct process_ident first, last, threaded, gone;
	pid_t tid;
	pid_t p1 = start_child(&first);
	pid_t p2 = start_threaded_child(&threaded, &tid);
	pid_t p3 = start_child(&last);
	pid_t p4 = start_child(&gone);
	kill(p4, SIGKILL);
	waitpid(p4, NULL, 0);

	/* An exited process is dropped, the others are stopped. */
	struct process_ident list[4] = { first, gone, last };
	int fds[4], n = -1, failed = -1;
	assert_int_equal(process_freeze("/proc", list, 3, fds, &n, &failed), 0);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].pid, p1);
	assert_int_equal(list[1].pid, p3);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(process_wait_stopped("/proc", &list[i], 2000), 0);
		assert_int_equal(process_pidfd_signal(fds[i], SIGCONT), 0);
		close(fds[i]);
	}
	wait_running(p1);
	wait_running(p3);

	/* The second entry cannot be opened (a thread id, not a process; its starttime is
	 * wrong on purpose so that no kernel could ever stop it): the first one, already
	 * stopped, is resumed and the third is never touched. */
	struct process_ident bad = { .pid = tid, .starttime = 1 };
	struct process_ident list2[3] = { first, bad, last };
	int r = process_freeze("/proc", list2, 3, fds, &n, &failed);
	assert_true(r < 0 && r != -ESRCH);
	assert_int_equal(failed, 1);
	wait_running(p1);
	assert_true(state_of(p1) != 'T');
	assert_true(state_of(p3) != 'T');
	assert_true(state_of(p2) != 'T');

	pid_t all[] = { p1, p2, p3 };
	for (int i = 0; i < 3; i++) {
		kill(all[i], SIGKILL);
		waitpid(all[i], NULL, 0);
	}
}

static char state_files_dir[64];

/* Also after a failed assertion (which skips the rest of the test). */
static int remove_state_files_dir(void **state)
{
	(void)state;
	if (state_files_dir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_files_dir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

static void test_state_files(void **state)
{
	(void)state;
	char *dir = state_files_dir;
	snprintf(state_files_dir, sizeof(state_files_dir), "/tmp/ckt-out-state.XXXXXX");
	assert_non_null(mkdtemp(dir));
	struct process_ident child[2];
	pid_t pids[2] = { start_child(&child[0]), start_child(&child[1]) };
	for (int i = 0; i < 2; i++) {
		assert_int_equal(kill(pids[i], SIGSTOP), 0);
		assert_int_equal(process_wait_stopped("/proc", &child[i], 2000), 0);
	}
	assert_int_equal(process_state_write(dir, "f-0000aa", &child[0], 1), 0);
	assert_int_equal(process_state_write(dir, "f-0000bb", &child[1], 1), 0);
	char path[128];
	snprintf(path, sizeof(path), "%s/processes/f-0000cc.json.tmp", dir);
	write_file(path, "{\"frozen\": [");  /* a crash while writing */

	/* The list reads back as written. */
	snprintf(path, sizeof(path), "%s/processes/f-0000aa.json", dir);
	struct json_object *o = json_object_from_file(path);
	assert_non_null(o);
	struct process_ident *list;
	int n;
	assert_int_equal(process_list_from_json(json_object_object_get(o, "frozen"), &list, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].pid, child[0].pid);
	assert_int_equal(list[0].starttime, child[0].starttime);
	assert_string_equal(list[0].comm, "ckt-out-child");
	free(list);
	json_object_put(o);

	process_state_remove(dir, "f-0000aa");
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(process_state_sweep(dir, "/proc"), 1);
	wait_running(pids[1]);
	assert_true(state_of(pids[1]) != 'T');
	assert_int_equal(state_of(pids[0]), 'T');   /* its file was removed: not ours to resume */
	snprintf(path, sizeof(path), "%s/processes", dir);
	assert_int_equal(rmdir(path), 0);          /* the sweep left the directory empty */
	assert_int_equal(process_state_sweep(dir, "/proc"), 0);

	for (int i = 0; i < 2; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
	assert_int_equal(rmdir(dir), 0);
	state_files_dir[0] = '\0';
	assert_int_equal(process_state_write("/nonexistent/dir", "f-1", child, 1), -ENOENT);
}

static void test_list_json(void **state)
{
	(void)state;
	struct json_object *arr = json_tokener_parse(
		"[{\"pid\": 10, \"starttime\": 5, \"comm\": \"a\"}, {\"pid\": 1, \"starttime\": 5},"
		" {\"pid\": 11}, {\"pid\": 12, \"starttime\": 0}, 7, {\"pid\": 13, \"starttime\": 6}]");
	struct process_ident *list;
	int n;
	assert_int_equal(process_list_from_json(arr, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].pid, 10);
	assert_int_equal(list[1].pid, 13);
	assert_string_equal(list[1].comm, "");
	free(list);
	json_object_put(arr);
	assert_int_equal(process_list_from_json(NULL, &list, &n), 0);
	assert_int_equal(n, 0);
	assert_null(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_defaults_and_json),
		cmocka_unit_test(test_registered),
		cmocka_unit_test(test_stat_parse),
		cmocka_unit_test(test_name_matches),
		cmocka_unit_test(test_signal_parse),
		cmocka_unit_test_teardown(test_find_on_fake_proc, remove_fake_proc),
		cmocka_unit_test(test_scope_self),
		cmocka_unit_test(test_freeze_resume_child),
		cmocka_unit_test(test_freeze_all_or_nothing),
		cmocka_unit_test_teardown(test_state_files, remove_state_files_dir),
		cmocka_unit_test(test_list_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
