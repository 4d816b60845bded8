/* What a run leaves behind: the JSON journal (every event with times and values)
 * and a JUnit XML view of the same events for CI. */
#pragma once
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>

struct report {
	struct json_object *root;    /* the journal */
	struct json_object *events;  /* root.events, borrowed */
	uint64_t start_mono_ms;
	uint64_t start_wall_ms;
};

int report_init(struct report *r, const char *title, const char *file);
/* Appends {"type": type, "t": seconds since start, "at": wall time} and returns it
 * (borrowed) for the caller to add fields to; NULL on allocation failure. */
struct json_object *report_event(struct report *r, const char *type);
void report_finish(struct report *r, const char *verdict, int exit_code);
double report_elapsed_s(const struct report *r);
int report_write_journal(const struct report *r, const char *path);
void report_free(struct report *r);

/* JUnit XML for a journal: one testsuite, a testcase per probe result, fault
 * application and rollback, and per error. */
int junit_write(struct json_object *journal, FILE *out);
int junit_write_file(struct json_object *journal, const char *path);
/* XML 1.0 text/attribute escaping; characters XML cannot carry become '?'.
 * Returns a malloc'd string or NULL. */
char *xml_escape(const char *text);
