/* The agent's faults and their lifetimes: the table of active and recently ended
 * faults, leases, the journal writes around apply/revert, and the reaper thread that
 * reverts faults at their deadline or when their lease is not renewed.
 * Every operation takes the table's one mutex, so applies and reverts are serialised
 * and a revert can never race an apply of the same fault. */
#pragma once
#include "agent/request.h"
#include "faults/fault.h"

#include <json-c/json.h>
#include <stdint.h>

struct fault_table_config {
	const struct fault_kind *const *kinds;        /* NULL-terminated */
	const struct fault_family *const *families;   /* NULL-terminated */
	const char *state_dir;
	const char *journal_dir;
	const char *packet_backend;
	const char *shape_backend;
	uint16_t control_ports[FAULT_MAX_CONTROL_PORTS];
	int n_control_ports;
	int max_faults;
	int max_ended;            /* ended faults kept for GET /v1/faults/{id} */
};

struct fault_table;

/* The config's strings must outlive the table. */
int fault_table_new(const struct fault_table_config *cfg, struct fault_table **out);
/* Stops the reaper (if started) and frees the table. Faults still active are NOT
 * reverted: call fault_table_revert_all() first. */
void fault_table_free(struct fault_table *t);

/* Undoes whatever the journal names (kind->recover, then the entry is removed) and
 * then runs every family's sweep. Call before serving requests. Returns the number
 * of journal entries recovered, or -errno if the journal cannot be read. */
int fault_table_recover(struct fault_table *t);

/* Starts the reaper thread. */
int fault_table_start(struct fault_table *t);

/* Applies a validated request. Takes ownership of req->spec in every case.
 * On success *fault is the new fault object (caller puts it). */
int fault_table_apply(struct fault_table *t, struct fault_request *req, struct json_object **fault,
		      struct api_error *err);
/* GET /v1/faults */
struct json_object *fault_table_list(struct fault_table *t);
/* GET /v1/faults/{id}: -ENOENT when neither active nor recently ended. */
int fault_table_get(struct fault_table *t, const char *id, struct json_object **fault);
/* DELETE /v1/faults/{id}: reverts an active fault; an ended one is returned as it is. */
int fault_table_revert(struct fault_table *t, const char *id, struct json_object **fault);
/* Reverts every active fault; reason is "halted" or "shutdown". Returns how many. */
int fault_table_revert_all(struct fault_table *t, const char *reason);
/* POST /v1/leases/{id}: ttl_ms 0 keeps the lease's ttl. -ENOENT for no such lease. */
int fault_table_renew_lease(struct fault_table *t, const char *lease_id, uint64_t ttl_ms,
			    struct json_object **answer);
/* Counters and per-fault stats for metrics_render() (caller adds name and version). */
struct json_object *fault_table_metrics(struct fault_table *t);
