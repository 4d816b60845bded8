/* What a stressor runs after fork() (see faults/stress.h). The agent has threads,
 * so between fork and _exit only async-signal-safe calls are made: raw system
 * calls, no malloc, no stdio, no locks another thread might have held at fork.
 *
 * Lifetime: the only way a stressor learns that it must stop is its pipe. The
 * agent holds the only write end (O_CLOEXEC, and every other stressor closes its
 * inherited copy first thing), so when the agent exits for any reason, SIGKILL
 * included, the kernel closes it and the read end reports POLLHUP (or read()
 * returns 0). PR_SET_PDEATHSIG is not used: it fires when the *thread* that
 * forked exits, not the process, and faults are applied from the HTTP server's
 * worker threads, so a stressor would die whenever such a thread ends while the
 * fault should go on; and after a re-parenting (a subreaper) it reports on the
 * wrong parent. The pipe has neither problem. */
#include "faults/stress.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void close_all_but(int keep)
{
	/* close_range exists from Linux 5.9; before it, a bounded loop does the same. */
	bool ok = true;
	if (keep > 0 && syscall(SYS_close_range, 0u, (unsigned)keep - 1, 0u) < 0)
		ok = false;
	if (ok && syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0u) < 0)
		ok = false;
	if (ok)
		return;
	struct rlimit rl;
	int max = syscall(SYS_getrlimit, RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1048576 ? (int)rl.rlim_cur : 65536;
	for (int fd = 0; fd < max; fd++)
		if (fd != keep)
			syscall(SYS_close, fd);
}

static void default_signals(void)
{
	/* The agent blocks SIGTERM/SIGINT/SIGHUP in every thread and ignores SIGPIPE;
	 * a stressor must die of whatever an operator sends it. */
	struct sigaction sa = { .sa_handler = SIG_DFL };
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Waits up to timeout_ns (-1: for ever) for the agent to go away; true when it did. */
static bool agent_gone(int fd, int64_t timeout_ns)
{
	struct pollfd p = { .fd = fd, .events = 0 };
	struct timespec ts = { .tv_sec = (time_t)(timeout_ns / 1000000000LL), .tv_nsec = (long)(timeout_ns % 1000000000LL) };
	for (;;) {
		int r = ppoll(&p, 1, timeout_ns < 0 ? NULL : &ts, NULL);
		if (r < 0 && errno == EINTR)
			continue; /* a stop/continue; the remaining time hardly matters */
		if (r < 0)
			return true; /* cannot watch the agent: do not outlive it unwatched */
		return r > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
	}
}

static volatile uint64_t spin_sink;

/* A few microseconds of integer work the compiler cannot drop. */
static void spin_chunk(void)
{
	uint64_t x = spin_sink | 1;
	for (int i = 0; i < 4000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	spin_sink = x;
}

static _Noreturn void cpu_work(const struct stress_worker_args *a)
{
	int64_t period_start = clock_ns(CLOCK_MONOTONIC);
	for (;;) {
		int64_t cpu_start = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		for (;;) {
			int64_t elapsed = clock_ns(CLOCK_MONOTONIC) - period_start;
			int64_t used = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
			if (stress_duty_busy_left(a->load, STRESS_PERIOD_NS, elapsed, used) <= 0)
				break;
			spin_chunk();
		}
		int64_t now = clock_ns(CLOCK_MONOTONIC);
		int64_t next = stress_duty_next_period(period_start, STRESS_PERIOD_NS, now);
		/* Also at 100 %: the zero-length wait is the check for the agent. */
		if (agent_gone(a->pipe_fd, next > now ? next - now : 0))
			_exit(0);
		period_start = next;
	}
}

static _Noreturn void memory_work(const struct stress_worker_args *a)
{
	long ps = a->page_size > 0 ? a->page_size : 4096;
	/* The raw system call: no allocator or sanitizer bookkeeping in this child. */
	long addr = syscall(SYS_mmap, NULL, (size_t)a->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0L);
	if (addr == -1)
		_exit(3);
	volatile unsigned char *mem = (volatile unsigned char *)(uintptr_t)addr;
	/* A written page is private to us: the zero page or KSM cannot share it. */
	const uint64_t check_every = 64ull << 20;
	for (uint64_t off = 0; off < a->bytes; off += (uint64_t)ps) {
		mem[off] = (unsigned char)(off / (uint64_t)ps) | 1;
		if (off % check_every == 0 && agent_gone(a->pipe_fd, 0))
			_exit(0);
	}
	while (!agent_gone(a->pipe_fd, -1))
		;
	_exit(0);
}

_Noreturn void stress_worker_main(const struct stress_worker_args *args)
{
	/* A copy on our own stack: the agent's heap is a snapshot nobody else changes,
	 * but nothing here should depend on it after the fds are gone. */
	struct stress_worker_args a = *args;
	close_all_but(a.pipe_fd);
	default_signals();
	/* The raw call: a sanitizer's prctl wrapper takes its thread-registry lock,
	 * which another thread of the agent may have held at fork. */
	syscall(SYS_prctl, PR_SET_NAME, a.work == STRESS_CPU ? "chaos-cpustress" : "chaos-memstress", 0, 0, 0);
	/* Wait for the start byte: the agent first moves us into the target's cgroups
	 * (CPU and memory are charged where a task runs when it uses them). EOF means
	 * the agent died or gave up in the meantime. */
	unsigned char go;
	ssize_t n;
	do
		n = read(a.pipe_fd, &go, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(0);
	if (a.work == STRESS_CPU)
		cpu_work(&a);
	memory_work(&a);
}
