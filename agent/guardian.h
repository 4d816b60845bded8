/* The agent's guardian process (see agent/guardian.c) and the state-directory
 * lock that keeps two agents (or an agent and a guardian) from working on the
 * same journal at once. */
#pragma once
#include "agent/config.h"
#include "agent/fault_table.h"

#include <sys/types.h>

struct guardian {
	pid_t pid;
	int notify_fd;     /* the agent's end of the pipe; closing it (or dying) wakes the guardian */
};

/* Takes state_dir/agent.lock (flock, exclusive), retrying for up to wait_ms.
 * *fd_out holds the lock until closed (O_CLOEXEC). -EBUSY if still held. */
int agent_state_lock(const char *state_dir, int wait_ms, int *fd_out);

/* The fault table settings of an agent with config `cfg` (its kinds, families, backends,
 * control port), for the agent itself and for the guardian's recovery. Strings point into cfg. */
void agent_fault_table_config(const struct agent_config *cfg, const char *journal_dir, int max_ended,
			      struct fault_table_config *out);

/* Starts `chaos-agent --guardian FD --config CONFIG` (this executable). */
int guardian_spawn(const char *config_path, const char *log_level, struct guardian *out);

/* The guardian process: waits for the agent to go, then recovers. Exit code. */
int guardian_main(int notify_fd, const struct agent_config *cfg);
