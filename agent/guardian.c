/* The guardian: a second process, started by the agent, that reverts whatever the
 * agent leaves in the kernel the moment the agent dies, whatever killed it.
 * tcx and BPF links, TAP devices and cgroup links die with the agent by
 * themselves; clsact filters, qdiscs, link state and frozen processes do not, and
 * without the guardian they would stay until the agent restarts (if it does).
 *
 * The agent keeps the write end of a pipe; the guardian blocks reading it. EOF
 * means the agent is gone (exit, crash or SIGKILL). The guardian then takes the
 * state-directory lock (the agent held it for its whole life) and runs the
 * agent's own start-up recovery: every journaled fault through kind->recover(),
 * then every family's sweep. If a new agent took the lock first, that agent has
 * done the recovery and the guardian leaves. */
#include "agent/guardian.h"

#include "agent/fault_table.h"
#include "agent/journal.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "faults/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

static int try_lock(int fd, int wait_ms)
{
	for (int waited = 0;; waited += 10) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (waited >= wait_ms)
			return -EBUSY;
		sleep_ms(10);
	}
}

int agent_state_lock(const char *state_dir, int wait_ms, int *fd_out)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/agent.lock", state_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int r = try_lock(fd, wait_ms);
	if (r < 0) {
		close(fd);
		return r;
	}
	*fd_out = fd;
	return 0;
}

void agent_fault_table_config(const struct agent_config *cfg, const char *journal_dir, int max_ended,
			      struct fault_table_config *out)
{
	memset(out, 0, sizeof(*out));
	out->kinds = fault_kinds();
	out->families = fault_families();
	out->state_dir = cfg->state_dir;
	out->journal_dir = journal_dir;
	out->packet_backend = cfg->packet_backend;
	out->shape_backend = cfg->shape_backend;
	out->max_faults = cfg->max_faults;
	out->max_ended = max_ended;
	/* Network faults let the agent's own API port through (control-path exemption). */
	if (cfg->listen_tls[0])
		out->control_ports[out->n_control_ports++] = cfg->tls_port;
}

int guardian_spawn(const char *config_path, const char *log_level, struct guardian *out)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -errno;
	self[n] = '\0';
	char config_abs[PATH_MAX];
	if (!realpath(config_path, config_abs))
		return -errno;

	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	char fd_text[16];
	snprintf(fd_text, sizeof(fd_text), "%d", fds[0]);
	char *argv[] = { self, "--guardian", fd_text, "--config", config_abs, "--log-level",
			 (char *)(log_level ? log_level : "info"), NULL };
	pid_t pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(fds[0]);
		close(fds[1]);
		return r;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls until exec: the agent has threads. */
		int flags = fcntl(fds[0], F_GETFD);
		if (flags < 0 || fcntl(fds[0], F_SETFD, flags & ~FD_CLOEXEC) < 0)
			_exit(127);
		execv(self, argv);
		_exit(127);
	}
	close(fds[0]);
	out->pid = pid;
	out->notify_fd = fds[1];
	return 0;
}

static void ignore_stop_signals(void)
{
	/* Stop signals are for the agent, which reverts everything itself; the
	 * guardian only acts once the agent is gone (systemd's stop sends SIGTERM to
	 * the whole unit). */
	sigset_t set;
	sigemptyset(&set);
	pthread_sigmask(SIG_SETMASK, &set, NULL);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
}

int guardian_main(int notify_fd, const struct agent_config *cfg)
{
	ignore_stop_signals();
	prctl(PR_SET_NAME, "chaos-guardian", 0, 0, 0);
	char byte;
	ssize_t n;
	do {
		n = read(notify_fd, &byte, 1);
	} while (n < 0 && errno == EINTR);
	close(notify_fd);
	uint64_t t0 = mono_ms();

	/* The dying agent still holds the lock until the kernel has closed its
	 * files; a new agent may have taken it already (then it recovers itself). */
	int lock_fd;
	int r = agent_state_lock(cfg->state_dir, 2000, &lock_fd);
	if (r == -EBUSY) {
		log_info("guardian: another agent holds %s; it does the recovery", cfg->state_dir);
		return 0;
	}
	if (r < 0)
		return log_err(1, "guardian: locking %s: %s", cfg->state_dir, strerror(-r));

	char journal_dir[PATH_MAX];
	r = journal_open(cfg->state_dir, journal_dir, sizeof(journal_dir));
	if (r < 0) {
		close(lock_fd);
		return log_err(1, "guardian: state_dir %s: %s", cfg->state_dir, strerror(-r));
	}
	struct fault_table_config tc;
	agent_fault_table_config(cfg, journal_dir, 1, &tc);
	struct fault_table *table;
	if (fault_table_new(&tc, &table) < 0) {
		close(lock_fd);
		return log_err(1, "guardian: out of memory");
	}
	int recovered = fault_table_recover(table);
	fault_table_free(table);
	close(lock_fd);
	if (recovered > 0)
		log_warn("guardian: the agent died with %d fault(s) active; reverted in %llu ms", recovered,
			 (unsigned long long)(mono_ms() - t0));
	else
		log_info("guardian: the agent stopped; nothing was left to revert");
	return recovered < 0 ? 1 : 0;
}
