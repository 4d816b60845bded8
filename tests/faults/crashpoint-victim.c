/* Victims for the crash-point tests (tests/faults/crashpoint-*.sh). Each mode logs
 * what it completed to LOG, one line per step, written with write() on a log fd
 * opened once (O_APPEND) so that the crash point's syscall is the only thing the
 * log ever lacks:
 *   fsync-loop DATA LOG            write "record I", fsync, log "fsynced I"; forever
 *   three-files A B C LOG          A kept open from the start; B and C opened and closed
 *                                  each round: fsync A, B, C, logging "a I", "b I", "c I"
 *   rename DIR LOG                 writes DIR/target.tmp "new", fsyncs it, logs "tmp written",
 *                                  renames it over DIR/target, logs "renamed"
 *   bench SYSCALL COUNT FILE       COUNT calls of SYSCALL (pwrite64 | fsync) on FILE; prints
 *                                  the mean nanoseconds per call (waits like the others,
 *                                  without a log)
 * Between rounds the loops sleep 20 ms: slow enough for a test to look at them.
 * With CRASHPOINT_WAIT=FILE in the environment a victim logs "started PID" and waits
 * until FILE is gone before its first step: the test sets the crash point meanwhile. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1;

static void die(const char *what)
{
	fprintf(stderr, "crashpoint-victim: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void log_line(const char *fmt, int i)
{
	char line[64];
	int n = snprintf(line, sizeof(line), fmt, i);
	if (write(log_fd, line, (size_t)n) != n)
		die("log");
}

static void pause_round(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

static void write_record(int fd, const char *tag, int i)
{
	char rec[64];
	int n = snprintf(rec, sizeof(rec), "%s record %d\n", tag, i);
	if (write(fd, rec, (size_t)n) != n)
		die("write");
}

static int open_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		die(path);
	return fd;
}

static void start(const char *log)
{
	log_fd = open_log(log);
	log_line("started %d\n", (int)getpid());
	const char *wait_file = getenv("CRASHPOINT_WAIT");
	while (wait_file && access(wait_file, F_OK) == 0)
		pause_round();
}

static int fsync_loop(const char *data, const char *log)
{
	int fd = open(data, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		die(data);
	start(log);
	for (int i = 1; i <= 1000000; i++) {
		write_record(fd, "fsync-loop", i);
		if (fsync(fd) < 0)
			die("fsync");
		log_line("fsynced %d\n", i);
		pause_round();
	}
	return 0;
}

static void fsync_file_once(const char *path, const char *tag, int i)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		die(path);
	write_record(fd, tag, i);
	if (fsync(fd) < 0)
		die("fsync");
	close(fd);
}

static int three_files(const char *a, const char *b, const char *c, const char *log)
{
	int fd_a = open(a, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd_a < 0)
		die(a);
	start(log);
	for (int i = 1; i <= 1000000; i++) {
		write_record(fd_a, "a", i);
		if (fsync(fd_a) < 0)
			die("fsync a");
		log_line("a %d\n", i);
		fsync_file_once(b, "b", i);
		log_line("b %d\n", i);
		fsync_file_once(c, "c", i);
		log_line("c %d\n", i);
		pause_round();
	}
	return 0;
}

static void write_file(const char *path, const char *text, int do_fsync)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die(path);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		die("write");
	if (do_fsync && fsync(fd) < 0)
		die("fsync");
	close(fd);
}

static int rename_once(const char *dir, const char *log)
{
	char target[4096], tmp[4200];
	snprintf(target, sizeof(target), "%s/target", dir);
	snprintf(tmp, sizeof(tmp), "%s/target.tmp", dir);
	start(log);
	write_file(tmp, "new\n", 1);
	log_line("tmp written %d\n", 1);
	if (rename(tmp, target) < 0)
		die("rename");
	log_line("renamed %d\n", 1);
	return 0;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int bench(const char *syscall_name, long count, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die(path);
	const char *wait_file = getenv("CRASHPOINT_WAIT");
	while (wait_file && access(wait_file, F_OK) == 0)
		pause_round();
	int is_fsync = strcmp(syscall_name, "fsync") == 0;
	long long t0 = now_ns();
	for (long i = 0; i < count; i++) {
		if (is_fsync ? fsync(fd) < 0 : pwrite(fd, "x", 1, 0) != 1)
			die(syscall_name);
	}
	long long t1 = now_ns();
	close(fd);
	printf("%.1f\n", (double)(t1 - t0) / (double)count);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "fsync-loop") == 0)
		return fsync_loop(argv[2], argv[3]);
	if (argc == 6 && strcmp(argv[1], "three-files") == 0)
		return three_files(argv[2], argv[3], argv[4], argv[5]);
	if (argc == 4 && strcmp(argv[1], "rename") == 0)
		return rename_once(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "bench") == 0)
		return bench(argv[2], atol(argv[4 - 1]), argv[4]);
	fprintf(stderr, "usage: see tests/faults/crashpoint-victim.c\n");
	return 2;
}
