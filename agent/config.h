/* The agent's configuration file (libconfig), as described in docs/agent.md. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define AGENT_MAX_LABELS 32

struct agent_label {
	char key[64];
	char value[128];
};

struct agent_config {
	char path[4096];              /* the file it was read from */
	char name[128];
	int n_labels;
	struct agent_label labels[AGENT_MAX_LABELS];
	char listen_unix[108];        /* sun_path size */
	char listen_tls[128];         /* "" when the agent has no TLS listener */
	char tls_host[64];            /* listen_tls split: address part */
	uint16_t tls_port;
	char tls_ca[4096], tls_cert[4096], tls_key[4096];  /* absolute or relative to cwd */
	char state_dir[4096];
	uint64_t max_fault_duration_ms;
	int max_faults;
	char packet_backend[16];      /* "auto" | "tcx" | "clsact" */
	char shape_backend[16];       /* "auto" | "netem" | "delay-line" */
	int guardian;                 /* run the guardian process (default 1) */
};

/* Defaults for every key (name = hostname). */
void agent_config_defaults(struct agent_config *cfg);

/* Reads and validates FILE into *cfg. On failure returns -EINVAL (or -errno when
 * the file cannot be read) and writes "FILE:LINE: what is wrong" into err. */
int agent_config_load(const char *file, struct agent_config *cfg, char *err, size_t err_len);
