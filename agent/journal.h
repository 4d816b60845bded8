/* The journal of active faults: one file per fault in STATE_DIR/journal/<id>.json,
 * written durably (temp file, fsync, rename, fsync of the directory) before a fault
 * is applied, so a crashed agent can undo what it did on its next start. */
#pragma once
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

/* Creates STATE_DIR (0700) and STATE_DIR/journal if missing; writes the journal
 * directory path into dir. */
int journal_open(const char *state_dir, char *dir, size_t len);

/* The entry stored for a fault. `record` may be NULL (before apply); the entry
 * takes references to neither params nor record (they are copied). */
struct json_object *journal_entry_new(const char *id, const char *kind, struct json_object *params,
				      uint64_t deadline_wall_ms, const char *lease_id,
				      struct json_object *record);

/* Atomically replaces DIR/<id>.json with `entry`. */
int journal_write(const char *dir, const char *id, struct json_object *entry);
/* Removes DIR/<id>.json; 0 when it was already gone. */
int journal_remove(const char *dir, const char *id);

/* Calls fn for each entry in DIR (ids in no particular order). `entry` is NULL for a
 * file that cannot be read or parsed, so the caller can still report and remove it.
 * Stale temporary files are deleted. Stops and returns fn's value when it is < 0. */
typedef int (*journal_visit_fn)(const char *id, struct json_object *entry, void *ctx);
int journal_for_each(const char *dir, journal_visit_fn fn, void *ctx);
