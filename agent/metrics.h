/* Prometheus text exposition of the agent's counters. Pure: it formats a snapshot
 * taken under the fault table's lock, so it is unit-testable without an agent. */
#pragma once
#include <json-c/json.h>

/* `snapshot` is
 *   {"name", "version", "active": N, "applied_total": N,
 *    "reverted_total": {"<reason>": N, ..},
 *    "faults": [{"id", "kind", "stats": {"<counter>": N, ..}}, ..]}
 * Returns a malloc'd text (caller frees) or NULL on out-of-memory. */
char *metrics_render(struct json_object *snapshot);
