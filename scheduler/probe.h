/* Steady-state probes, run from the scheduler's own network namespace. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "scheduler/experiment.h"

struct probe_result {
	bool ok;
	char reason[512];   /* why it deviated, or a short summary when ok */
	char value[128];    /* what was observed: "HTTP 200", "exit 0", "connected" */
	uint64_t latency_ms;
	uint64_t started_wall_ms;
};

/* Runs one probe to completion (bounded by its timeout). Never fails as a call:
 * every problem is a deviation with a reason. */
void probe_run(const struct probe *p, struct probe_result *out);
