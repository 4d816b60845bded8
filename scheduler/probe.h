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

/* Judges a Prometheus /api/v1/query answer against the probe's tolerance: 0 passes,
 * 1 a value outside the tolerance, -EINVAL no usable value (error, not one series).
 * `reason` says which ("value 0.12 not below 0.05", "query returned 3 series"). */
int prometheus_eval(const struct probe *p, const char *body, double *value, char *reason, size_t len);
