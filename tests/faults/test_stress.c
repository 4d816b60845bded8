/* cpu-stress and memory-stress: what parse() accepts and refuses (with the key),
 * the defaults spec_to_json fills in, the duty-cycle arithmetic of the CPU worker,
 * sizes, the /proc parsers the stats use, and the worker itself forked here as the
 * agent forks it (start byte, load, memory touched, exit on the pipe's EOF).
 * Unprivileged. */
#include "faults/process.h"
#include "faults/registry.h"
#include "faults/stress.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tests/faults/params_check.h"

#define MS 1000000LL

/* A real worker, forked here as the agent would: the start byte gates it, the pipe's
 * EOF ends it. */
struct live_worker {
	pid_t pid;
	int pipe_wr;
};

static struct live_worker start_worker(enum stress_work work, int load, uint64_t bytes)
{
	int fds[2];
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	struct stress_worker_args args = {
		.work = work, .pipe_fd = fds[0], .load = load, .bytes = bytes, .page_size = sysconf(_SC_PAGESIZE),
	};
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		stress_worker_main(&args);
	close(fds[0]);
	return (struct live_worker){ .pid = pid, .pipe_wr = fds[1] };
}

static uint64_t cpu_ticks_of(pid_t pid)
{
	struct process_stat st;
	assert_int_equal(process_stat_read("/proc", pid, &st), 0);
	return st.cpu_ticks;
}

static uint64_t rss_of(pid_t pid)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return stress_status_rss(buf);
}

/* Closes the pipe and expects the worker to exit by itself, status 0, within 1 s. */
static void expect_exit_on_eof(struct live_worker *w)
{
	close(w->pipe_wr);
	int pidfd = (int)syscall(SYS_pidfd_open, w->pid, 0);
	assert_true(pidfd >= 0);
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int ready = poll(&p, 1, 1000);
	close(pidfd);
	if (ready != 1) {
		kill(w->pid, SIGKILL);
		waitpid(w->pid, NULL, 0);
		fail_msg("worker %d still runs 1 s after its pipe closed", (int)w->pid);
	}
	int status;
	assert_int_equal(waitpid(w->pid, &status, 0), w->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_registered(void **state)
{
	(void)state;
	fault_expect_family("cpu-stress", "stress");
	fault_expect_family("memory-stress", "stress");
}

static void test_cpu_defaults(void **state)
{
	(void)state;
	fault_expect_spec_json("cpu-stress", NULL, "{\"workers\":\"all\",\"load\":100}");
	fault_expect_spec_json("cpu-stress", "{}", "{\"workers\":\"all\",\"load\":100}");
	fault_expect_spec_json("cpu-stress", "{\"workers\": 2, \"load\": 30}", "{\"workers\":2,\"load\":30}");
	fault_expect_spec_json("cpu-stress", "{\"workers\": \"all\", \"load\": 1}", "{\"workers\":\"all\",\"load\":1}");
	fault_expect_spec_json("cpu-stress", "{\"load\": 50, \"cgroup\": \"/sys/fs/cgroup/cpu/batch\"}",
		    "{\"workers\":\"all\",\"load\":50,\"cgroup\":\"\\/sys\\/fs\\/cgroup\\/cpu\\/batch\"}");
	fault_expect_spec_json("cpu-stress", "{\"workers\": 1, \"unit\": \"db.service\"}",
		    "{\"workers\":1,\"load\":100,\"unit\":\"db.service\"}");
}

static void test_cpu_errors(void **state)
{
	(void)state;
	fault_expect_parse_error("cpu-stress", "{\"workers\": 0}", "workers", "between 1 and 1024");
	fault_expect_parse_error("cpu-stress", "{\"workers\": 1025}", "workers", "between 1 and 1024");
	fault_expect_parse_error("cpu-stress", "{\"workers\": \"many\"}", "workers", "\"all\"");
	fault_expect_parse_error("cpu-stress", "{\"load\": 0}", "load", "between 1 and 100");
	fault_expect_parse_error("cpu-stress", "{\"load\": 101}", "load", "between 1 and 100");
	fault_expect_parse_error("cpu-stress", "{\"load\": \"50%\"}", "load", "must be an integer");
	fault_expect_parse_error("cpu-stress", "{\"size\": \"1GiB\"}", "size", "unknown parameter");
	fault_expect_parse_error("cpu-stress", "[1]", "", "must be an object");
	fault_expect_parse_error("cpu-stress", "{\"cgroup\": \"/sys/fs/cgroup/cpu/../x\"}", "cgroup", "cgroup directory");
	fault_expect_parse_error("cpu-stress", "{\"cgroup\": \"\"}", "cgroup", "cgroup directory");
	fault_expect_parse_error("cpu-stress", "{\"cgroup\": \"/a\", \"unit\": \"b.service\"}", "unit",
				 "one placement");
	fault_expect_parse_error("cpu-stress", "{\"processes\": {\"name\": \"x\"}, \"cgroup\": \"/a\"}", "cgroup",
				 "one placement");
	/* the target's own errors keep their key */
	fault_expect_parse_error("cpu-stress", "{\"processes\": {}}", "processes", "must name processes");
	fault_expect_parse_error("cpu-stress", "{\"processes\": {\"pid\": \"x\"}}", "processes.pid", "integer");
}

static void test_memory_params(void **state)
{
	(void)state;
	fault_expect_spec_json("memory-stress", "{\"size\": \"64MiB\"}", "{\"size\":\"64MiB\",\"workers\":1}");
	fault_expect_spec_json("memory-stress", "{\"size\": 1048576}", "{\"size\":\"1MiB\",\"workers\":1}");
	fault_expect_spec_json("memory-stress", "{\"size\": \"1.5GiB\", \"workers\": 3}", "{\"size\":\"1536MiB\",\"workers\":3}");
	fault_expect_spec_json("memory-stress", "{\"size\": \"100000\"}", "{\"size\":\"100000\",\"workers\":1}");
	fault_expect_spec_json("memory-stress", "{\"percent\": 25}", "{\"percent\":25,\"workers\":1}");
	/* the target's own form is faults/target.c's business: only that it is there */
	void *spec = NULL;
	struct fault_error err;
	assert_int_equal(fault_parse_text("memory-stress", "{\"percent\": 10, \"processes\": {\"pid\": 1234}}", &spec,
					  &err), 0);
	const struct fault_kind *kind = fault_kind_find("memory-stress");
	struct json_object *o = kind->spec_to_json(spec), *processes, *pid;
	assert_true(json_object_object_get_ex(o, "processes", &processes));
	assert_true(json_object_object_get_ex(processes, "pid", &pid));
	assert_int_equal(json_object_get_int(pid), 1234);
	json_object_object_del(o, "processes");
	assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), "{\"percent\":10,\"workers\":1}");
	json_object_put(o);
	kind->spec_free(spec);

	fault_expect_parse_error("memory-stress", "{}", "size", "is required");
	void *none = NULL;
	struct fault_error none_err = { "", "" };
	assert_int_equal(fault_kind_find("memory-stress")->parse(NULL, &none, &none_err), -EINVAL);
	assert_null(none);
	assert_string_equal(none_err.key, "size");
	fault_expect_parse_error("memory-stress", "{\"size\": \"64MiB\", \"percent\": 10}", "percent",
				 "size or percent, not both");
	fault_expect_parse_error("memory-stress", "{\"size\": \"12XB\"}", "size", "such as \"512MiB\"");
	fault_expect_parse_error("memory-stress", "{\"size\": \"-1MiB\"}", "size", "such as \"512MiB\"");
	fault_expect_parse_error("memory-stress", "{\"size\": \"\"}", "size", "such as \"512MiB\"");
	fault_expect_parse_error("memory-stress", "{\"size\": \"MiB\"}", "size", "such as \"512MiB\"");
	fault_expect_parse_error("memory-stress", "{\"size\": 0}", "size", "such as \"512MiB\"");
	fault_expect_parse_error("memory-stress", "{\"size\": true}", "size", "such as \"512MiB\"");
	fault_expect_parse_error("memory-stress", "{\"size\": 100}", "size", "at least 4096");
	fault_expect_parse_error("memory-stress", "{\"size\": \"99999999TiB\"}", "size", "larger than any");
	fault_expect_parse_error("memory-stress", "{\"percent\": 0}", "percent", "between 1 and 100");
	fault_expect_parse_error("memory-stress", "{\"percent\": 101}", "percent", "between 1 and 100");
	fault_expect_parse_error("memory-stress", "{\"size\": \"1GiB\", \"load\": 50}", "load", "unknown parameter");
	fault_expect_parse_error("memory-stress", "{\"size\": \"1GiB\", \"workers\": 0}", "workers", "between 1");
}

static void test_size_parse(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(stress_size_parse("512MiB", &v), 0);
	assert_true(v == 512ull << 20);
	assert_int_equal(stress_size_parse("64M", &v), 0);
	assert_true(v == 64ull << 20);
	assert_int_equal(stress_size_parse("1.5GiB", &v), 0);
	assert_true(v == 3ull << 29);
	assert_int_equal(stress_size_parse("2 GB", &v), 0);
	assert_true(v == 2000000000ull);
	assert_int_equal(stress_size_parse("4096", &v), 0);
	assert_true(v == 4096);
	assert_int_equal(stress_size_parse("10KB", &v), 0);
	assert_true(v == 10000);
	assert_int_equal(stress_size_parse("1.5", &v), -EINVAL);
	assert_int_equal(stress_size_parse("1 MIB", &v), -EINVAL);
	assert_int_equal(stress_size_parse("0x10", &v), -EINVAL);
	assert_int_equal(stress_size_parse(" ", &v), -EINVAL);
	assert_int_equal(stress_size_parse("1e3", &v), -EINVAL);
	assert_int_equal(stress_size_parse("inf", &v), -EINVAL);
	assert_int_equal(stress_size_parse("99999999999TiB", &v), -ERANGE);
	char buf[32];
	stress_size_format(64ull << 20, buf, sizeof(buf));
	assert_string_equal(buf, "64MiB");
	stress_size_format(3ull << 30, buf, sizeof(buf));
	assert_string_equal(buf, "3GiB");
	stress_size_format(1000, buf, sizeof(buf));
	assert_string_equal(buf, "1000");
}

static void test_duty_cycle(void **state)
{
	(void)state;
	const int64_t p = 100 * MS;
	/* a fresh period at 50 %: 50 ms of CPU to burn */
	assert_true(stress_duty_busy_left(50, p, 0, 0) == 50 * MS);
	assert_true(stress_duty_busy_left(50, p, 30 * MS, 30 * MS) == 20 * MS);
	/* budget used: sleep, whatever the wall clock says */
	assert_true(stress_duty_busy_left(50, p, 50 * MS, 50 * MS) == 0);
	assert_true(stress_duty_busy_left(50, p, 60 * MS, 51 * MS) == 0);
	/* preempted: the period ends before the budget is used; no catching up */
	assert_true(stress_duty_busy_left(50, p, 95 * MS, 10 * MS) == 5 * MS);
	assert_true(stress_duty_busy_left(50, p, 100 * MS, 10 * MS) == 0);
	assert_true(stress_duty_busy_left(50, p, 130 * MS, 10 * MS) == 0);
	/* 100 %: spin to the period's end; 1 %: one millisecond */
	assert_true(stress_duty_busy_left(100, p, 40 * MS, 40 * MS) == 60 * MS);
	assert_true(stress_duty_busy_left(1, p, 0, 0) == 1 * MS);
	assert_true(stress_duty_busy_left(0, p, 0, 0) == 0);
	assert_true(stress_duty_busy_left(25, p, 0, 0) + stress_duty_busy_left(75, p, 0, 0) == p);

	/* the grid: on time, a little late, periods skipped */
	assert_true(stress_duty_next_period(1000 * MS, p, 1060 * MS) == 1100 * MS);
	assert_true(stress_duty_next_period(1000 * MS, p, 1100 * MS) == 1100 * MS);
	assert_true(stress_duty_next_period(1000 * MS, p, 1103 * MS) == 1103 * MS);
	assert_true(stress_duty_next_period(1000 * MS, p, 1350 * MS) == 1350 * MS);

	/* Simulated worker on an idle CPU: over 50 periods, CPU used / wall = load. */
	for (int load = 10; load <= 100; load += 15) {
		int64_t wall = 0, cpu = 0, start = 0;
		const int64_t step = 50000; /* one spin chunk: 50 us */
		while (start < 50 * p) {
			int64_t used = 0;
			while (stress_duty_busy_left(load, p, wall - start, used) > 0) {
				wall += step;
				cpu += step;
				used += step;
			}
			start = stress_duty_next_period(start, p, wall);
			wall = start;
		}
		double measured = 100.0 * (double)cpu / (double)wall;
		if (measured < load - 0.1 || measured > load + 0.1)
			fail_msg("load %d: simulated %.2f %%", load, measured);
	}
	assert_int_equal(stress_load_percent(50, 100, 1000 * MS), 50);
	assert_int_equal(stress_load_percent(149, 100, 1000 * MS), 149);
	assert_int_equal(stress_load_percent(0, 100, 1000 * MS), 0);
	assert_int_equal(stress_load_percent(10, 100, 0), 0);
}

static void test_proc_parsers(void **state)
{
	(void)state;
	struct process_stat st;
	const char *stat = "4242 (chaos (cpu) s) R 1 4242 4242 0 -1 4194304 90 0 0 0 "
			   "123 45 0 0 20 0 1 0 987654 1234567 100 18446744073709551615";
	assert_int_equal(process_stat_parse(stat, &st), 0);
	assert_true(st.cpu_ticks == 168);
	assert_true(st.starttime == 987654);
	assert_int_equal(st.state, 'R');
	assert_int_equal(process_stat_parse("4242 chaos R", &st), -EINVAL);
	assert_int_equal(process_stat_parse("4242 (x) R 1 2", &st), -EINVAL);
	const char *status = "Name:\tchaos-memstress\nVmPeak:\t   70000 kB\nVmRSS:\t   65600 kB\nRssAnon:\t 65536 kB\n";
	assert_true(stress_status_rss(status) == 65600ull * 1024);
	assert_true(stress_status_rss("Name:\tzombie\nState:\tZ (zombie)\n") == 0);
}

static void test_live_cpu_worker(void **state)
{
	(void)state;
	long tck = sysconf(_SC_CLK_TCK);
	struct live_worker w = start_worker(STRESS_CPU, 30, 0);
	usleep(300 * 1000);
	/* no start byte yet: it waits without burning CPU */
	assert_true(cpu_ticks_of(w.pid) <= 2);
	assert_int_equal(write(w.pipe_wr, "g", 1), 1);
	usleep(100 * 1000);
	uint64_t t0 = cpu_ticks_of(w.pid);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	usleep(1500 * 1000);
	uint64_t t1 = cpu_ticks_of(w.pid);
	clock_gettime(CLOCK_MONOTONIC, &b);
	int64_t wall = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
	int load = stress_load_percent(t1 - t0, tck, wall);
	print_message("live worker at 30 %%: %d %% over 1.5 s\n", load);
	/* wide: a unit test may share the CPUs with anything */
	if (load < 15 || load > 45) {
		kill(w.pid, SIGKILL);
		waitpid(w.pid, NULL, 0);
		fail_msg("worker at 30 %% used %d %% of a CPU", load);
	}
	expect_exit_on_eof(&w);
}

static void test_live_memory_worker(void **state)
{
	(void)state;
	const uint64_t bytes = 16ull << 20;
	struct live_worker w = start_worker(STRESS_MEMORY, 0, bytes);
	usleep(200 * 1000);
	uint64_t before = rss_of(w.pid);
	assert_int_equal(write(w.pipe_wr, "g", 1), 1);
	uint64_t rss = 0;
	for (int i = 0; i < 100 && rss < before + bytes - (1u << 20); i++) {
		usleep(20 * 1000);
		rss = rss_of(w.pid);
	}
	print_message("live memory worker: VmRSS %llu KiB before the start byte, %llu KiB after\n",
		      (unsigned long long)before >> 10, (unsigned long long)rss >> 10);
	if (rss < before + bytes - (1u << 20)) {
		kill(w.pid, SIGKILL);
		waitpid(w.pid, NULL, 0);
		fail_msg("VmRSS %llu, expected >= %llu", (unsigned long long)rss,
			 (unsigned long long)(before + bytes - (1u << 20)));
	}
	expect_exit_on_eof(&w);
}

static void test_live_worker_eof_before_start(void **state)
{
	(void)state;
	/* the agent gave up (or died) before the start byte: the worker leaves at once */
	struct live_worker w = start_worker(STRESS_CPU, 100, 0);
	usleep(50 * 1000);
	expect_exit_on_eof(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registered),
		cmocka_unit_test(test_cpu_defaults),
		cmocka_unit_test(test_cpu_errors),
		cmocka_unit_test(test_memory_params),
		cmocka_unit_test(test_size_parse),
		cmocka_unit_test(test_duty_cycle),
		cmocka_unit_test(test_proc_parsers),
		cmocka_unit_test(test_live_cpu_worker),
		cmocka_unit_test(test_live_memory_worker),
		cmocka_unit_test(test_live_worker_eof_before_start),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
