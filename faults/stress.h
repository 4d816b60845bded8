/* The stress family (cpu-stress, memory-stress): stressor processes forked by the
 * agent. faults/stress.c is the fault interface, faults/stress_worker.c what runs
 * in the forked child. The arithmetic is here so that unit tests reach it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A CPU stressor works in periods of this length: within each it spins until its
 * own CPU clock advanced by load% of the period, then sleeps to the period's end.
 * Short enough that a sampler (top, a 1 s metric) sees a steady load, long enough
 * that the sleep/wake overhead stays far below 1 %. */
#define STRESS_PERIOD_NS 100000000LL

enum stress_work { STRESS_CPU, STRESS_MEMORY };

/* What a forked worker does; filled by the agent before fork, read-only after. */
struct stress_worker_args {
	enum stress_work work;
	int pipe_fd;          /* read end: one byte = start, EOF/POLLHUP = the agent is gone */
	int load;             /* CPU: percent 1-100 */
	uint64_t bytes;       /* memory: how much to touch and hold */
	long page_size;
};

/* Runs in the forked child of a multithreaded agent: only async-signal-safe calls
 * (no malloc, no stdio, no locks). Closes every fd but pipe_fd, waits for the
 * start byte, works until the pipe reports the agent gone, then _exit()s. */
_Noreturn void stress_worker_main(const struct stress_worker_args *args);

/* How many more nanoseconds of CPU to burn in the current period, 0 when the
 * worker should sleep now: the period's CPU budget (load% of period_ns) minus
 * what it used, cut at the period's end (a worker that did not get the CPU it
 * wanted does not catch up later: that would make bursts). */
int64_t stress_duty_busy_left(int load, int64_t period_ns, int64_t wall_elapsed_ns, int64_t cpu_used_ns);

/* Start of the next period on the grid period_start + k * period_ns; periods that
 * already ended entirely (the worker was descheduled) are skipped, so a late
 * worker does not try to make up for them. */
int64_t stress_duty_next_period(int64_t period_start_ns, int64_t period_ns, int64_t now_ns);

/* CPU load as a percentage of one CPU: ticks of CPU time over wall_ns, rounded. */
int stress_load_percent(uint64_t cpu_ticks, long ticks_per_sec, int64_t wall_ns);

/* Byte sizes: an integer number of bytes, or a string "512MiB", "1.5GiB", "64M",
 * "4096", "2 GB" (common/size.h with SIZE_LENIENT: K/M/G/T and KiB/MiB/GiB/TiB are
 * binary, KB/MB/GB/TB decimal, B bytes). 0 or -EINVAL / -ERANGE. */
int stress_size_parse(const char *text, uint64_t *out);
/* "64MiB" when exact, else bytes. */
void stress_size_format(uint64_t bytes, char *buf, size_t len);

/* VmRSS of /proc/PID/status text in bytes (0 when absent: a zombie). */
uint64_t stress_status_rss(const char *text);
