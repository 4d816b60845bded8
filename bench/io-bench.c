/* io-fault benchmarks (docs/draft/perf-iofault.md), through the kind's own apply/revert
 * (no agent), as root:
 *   overhead  write+fsync and read loops on files the fault does NOT select, plain
 *             directory vs the same kind of directory under the FUSE mount, in
 *             alternating rounds of one run; prints ops/s and the ratio.
 *   delay     fsync with latency 1, 5 and 20 ms requested: observed p50 and p99.
 * Usage: io-bench [--dir DIR] [--seconds S] [--rounds N] [--calls N]
 * DIR (default /tmp/ckt-io-bench) is created and removed; nothing else is touched. */
#include "faults/fault.h"
#include "faults/registry.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct applied {
	const struct fault_kind *kind;
	void *spec, *handle;
};

static int apply_fault(const char *params_json, const char *state_dir, struct applied *a)
{
	a->kind = fault_kind_find("io-fault");
	struct json_object *params = json_tokener_parse(params_json);
	struct fault_error err = { 0 };
	int r = a->kind->parse(params, &a->spec, &err);
	json_object_put(params);
	if (r < 0) {
		fprintf(stderr, "io-bench: parse: %s: %s\n", err.key, err.msg);
		return r;
	}
	struct fault_env env = { .fault_id = "bench-io", .state_dir = state_dir };
	struct json_object *record = json_object_new_object();
	r = a->kind->apply(a->spec, &env, &a->handle, record, &err);
	json_object_put(record);
	if (r < 0) {
		fprintf(stderr, "io-bench: apply: %s\n", err.msg);
		a->kind->spec_free(a->spec);
	}
	return r;
}

static void revert_fault(struct applied *a)
{
	a->kind->revert(a->handle);
	a->kind->spec_free(a->spec);
}

/* One 4 KiB operation at rotating offsets of a 1 MiB file, as often as it goes for
 * `seconds`; ops/s, -1 when an operation fails (fd is closed either way). */
static double op_rate(int fd, bool write_fsync, double seconds)
{
	char block[4096];
	memset(block, 'x', sizeof(block));
	long n = 0;
	double t0 = now_s(), t;
	do {
		off_t at = (off_t)(n % 256) * 4096;
		bool ok = write_fsync ? pwrite(fd, block, sizeof(block), at) == (ssize_t)sizeof(block) && fsync(fd) == 0
				      : pread(fd, block, sizeof(block), at) == (ssize_t)sizeof(block);
		if (!ok) {
			close(fd);
			return -1;
		}
		n++;
		t = now_s();
	} while (t - t0 < seconds);
	close(fd);
	return (double)n / (t - t0);
}

/* write 4 KiB + fsync for `seconds`; ops/s */
static double write_fsync_rate(const char *path, double seconds)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	return fd < 0 ? -1 : op_rate(fd, true, seconds);
}

/* pread 4 KiB at rotating offsets of a 1 MiB file for `seconds`; ops/s */
static double read_rate(const char *path, double seconds)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	char block[4096];
	memset(block, 'r', sizeof(block));
	for (int i = 0; i < 256; i++)
		if (pwrite(fd, block, sizeof(block), (off_t)i * 4096) != (ssize_t)sizeof(block)) {
			close(fd);
			return -1;
		}
	return op_rate(fd, false, seconds);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *dir = "/tmp/ckt-io-bench";
	double seconds = 1.0;
	int rounds = 5, calls = 200;
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' }, { "seconds", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'r' }, { "calls", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "d:s:r:c:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 's': seconds = atof(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'c': calls = atoi(optarg); break;
		default: fprintf(stderr, "usage: io-bench [--dir DIR] [--seconds S] [--rounds N] [--calls N]\n"); return 2;
		}
	}
	char plain[4096], faulted[4096], state[4096], path[4200];
	snprintf(plain, sizeof(plain), "%s/plain", dir);
	snprintf(faulted, sizeof(faulted), "%s/mounted", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	mkdir(dir, 0755);
	mkdir(plain, 0755);
	mkdir(faulted, 0755);
	mkdir(state, 0700);

	/* The fault selects a name no benchmark file has: every operation passes through.
	 * With every operation faultable no attribute is cached (each getattr must reach
	 * the daemon); with data operations only, attributes are cached for 1 s. */
	static const char *const op_sets[] = { "[\"all\"]", "[\"write\", \"fsync\"]" };
	struct applied a;
	const char *names[2] = { plain, faulted };
	printf("overhead: %d alternating rounds of %.1f s per loop, 4 KiB blocks\n", rounds, seconds);
	for (size_t set = 0; set < 2; set++) {
		char params[4400];
		snprintf(params, sizeof(params),
			 "{\"path\": \"%s\", \"operations\": %s, \"errno\": \"EIO\", \"files\": \"never-matches-*\"}",
			 faulted, op_sets[set]);
		if (apply_fault(params, state, &a) < 0)
			return 1;
		double wf[2] = { 0 }, rd[2] = { 0 };
		for (int round = 0; round < rounds; round++) {
			for (int side = 0; side < 2; side++) {
				snprintf(path, sizeof(path), "%s/wf.dat", names[side]);
				double w = write_fsync_rate(path, seconds);
				snprintf(path, sizeof(path), "%s/rd.dat", names[side]);
				double r = read_rate(path, seconds);
				if (w < 0 || r < 0) {
					fprintf(stderr, "io-bench: loop on %s failed: %s\n", names[side], strerror(errno));
					revert_fault(&a);
					return 1;
				}
				wf[side] += w / rounds;
				rd[side] += r / rounds;
			}
		}
		double t0 = now_s();
		revert_fault(&a);
		printf(" operations %s (revert took %.0f ms)\n", op_sets[set], (now_s() - t0) * 1000.0);
		printf("  write+fsync  plain %10.0f ops/s   mounted %10.0f ops/s   ratio %.3f\n", wf[0], wf[1],
		       wf[1] / wf[0]);
		printf("  pread 4KiB   plain %10.0f ops/s   mounted %10.0f ops/s   ratio %.3f\n", rd[0], rd[1],
		       rd[1] / rd[0]);
	}

	printf("delay accuracy: fsync of a 4 KiB write, %d calls per setting\n", calls);
	static const char *const latencies[] = { "1ms", "5ms", "20ms" };
	char params[4400];
	double *ms = calloc((size_t)calls, sizeof(double));
	for (size_t i = 0; i < sizeof(latencies) / sizeof(latencies[0]); i++) {
		snprintf(params, sizeof(params), "{\"path\": \"%s\", \"operations\": [\"fsync\"], \"latency\": \"%s\"}",
			 faulted, latencies[i]);
		if (apply_fault(params, state, &a) < 0)
			return 1;
		snprintf(path, sizeof(path), "%s/delay.dat", faulted);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		char block[4096] = { 0 };
		for (int k = 0; fd >= 0 && k < calls; k++) {
			if (pwrite(fd, block, sizeof(block), 0) != (ssize_t)sizeof(block))
				break;
			double t0 = now_s();
			fsync(fd);
			ms[k] = (now_s() - t0) * 1000.0;
		}
		if (fd >= 0)
			close(fd);
		revert_fault(&a);
		qsort(ms, (size_t)calls, sizeof(double), cmp_double);
		printf("  requested %-5s observed p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms\n", latencies[i],
		       ms[calls / 2], ms[(int)(calls * 0.99)], ms[calls - 1]);
	}
	free(ms);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		fprintf(stderr, "io-bench: could not remove %s\n", dir);
	return 0;
}
