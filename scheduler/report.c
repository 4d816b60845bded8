#include "scheduler/report.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"

static void add_string(struct json_object *o, const char *key, const char *value)
{
	json_object_object_add(o, key, value ? json_object_new_string(value) : NULL);
}

int report_init(struct report *r, const char *title, const char *file)
{
	memset(r, 0, sizeof(*r));
	r->root = json_object_new_object();
	r->events = json_object_new_array();
	if (!r->root || !r->events) {
		json_object_put(r->root);
		json_object_put(r->events);
		return -ENOMEM;
	}
	r->start_mono_ms = mono_ms();
	r->start_wall_ms = wall_ms();
	char buf[40];
	add_string(r->root, "title", title);
	add_string(r->root, "file", file);
	add_string(r->root, "started_at", wall_ms_format(r->start_wall_ms, buf, sizeof(buf)));
	json_object_object_add(r->root, "events", r->events);
	return 0;
}

double report_elapsed_s(const struct report *r)
{
	return (double)(mono_ms() - r->start_mono_ms) / 1000.0;
}

struct json_object *report_event(struct report *r, const char *type)
{
	struct json_object *ev = json_object_new_object();
	if (!ev)
		return NULL;
	char buf[40];
	add_string(ev, "type", type);
	/* milliseconds resolution, as a number of seconds */
	json_object_object_add(ev, "t", json_object_new_double((double)(mono_ms() - r->start_mono_ms) / 1000.0));
	add_string(ev, "at", wall_ms_format(wall_ms(), buf, sizeof(buf)));
	json_object_array_add(r->events, ev);
	return ev;
}

void report_finish(struct report *r, const char *verdict, int exit_code)
{
	char buf[40];
	uint64_t end = wall_ms();
	add_string(r->root, "ended_at", wall_ms_format(end, buf, sizeof(buf)));
	json_object_object_add(r->root, "duration_s", json_object_new_double((double)(end - r->start_wall_ms) / 1000.0));
	add_string(r->root, "verdict", verdict);
	json_object_object_add(r->root, "exit_code", json_object_new_int(exit_code));
}

int report_write_journal(const struct report *r, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	const char *text = json_object_to_json_string_ext(r->root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	int ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
	if (fclose(f) != 0 || !ok)
		return -EIO;
	return 0;
}

void report_free(struct report *r)
{
	json_object_put(r->root);
	memset(r, 0, sizeof(*r));
}

char *xml_escape(const char *text)
{
	if (!text)
		text = "";
	size_t cap = strlen(text) * 6 + 1;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		const char *rep = NULL;
		switch (*p) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		default:
			if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
				rep = "?";
		}
		if (rep) {
			size_t len = strlen(rep);
			memcpy(out + n, rep, len);
			n += len;
		} else {
			out[n++] = (char)*p;
		}
	}
	out[n] = '\0';
	return out;
}

static const char *get_str(struct json_object *o, const char *key, const char *dflt)
{
	struct json_object *v;
	if (o && json_object_object_get_ex(o, key, &v) && v)
		return json_object_get_string(v);
	return dflt;
}

static double get_num(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (o && json_object_object_get_ex(o, key, &v) && v)
		return json_object_get_double(v);
	return 0;
}

static int get_bool(struct json_object *o, const char *key)
{
	struct json_object *v;
	return o && json_object_object_get_ex(o, key, &v) && v && json_object_get_boolean(v);
}

struct testcase {
	char *classname, *name, *failure, *detail;
	double time_s;
};

static void put_attr(FILE *out, const char *name, const char *value)
{
	char *esc = xml_escape(value);
	fprintf(out, " %s=\"%s\"", name, esc ? esc : "");
	free(esc);
}

/* Turns one journal event into a testcase, or returns 0 when the event is not one. */
static int event_testcase(struct json_object *ev, struct testcase *tc)
{
	const char *type = get_str(ev, "type", "");
	memset(tc, 0, sizeof(*tc));
	char buf[600];
	if (strcmp(type, "probe") == 0) {
		const char *phase = get_str(ev, "phase", "check");
		snprintf(buf, sizeof(buf), "%s: %s", phase, get_str(ev, "probe", "?"));
		tc->classname = strdup(phase);
		tc->name = strdup(buf);
		tc->time_s = get_num(ev, "latency_ms") / 1000.0;
		/* a documented dependency may fail during and after the faults; before, it must hold */
		bool informational = strcmp(get_str(ev, "expect", "ok"), "deviate") == 0 && strcmp(phase, "before") != 0;
		if (!get_bool(ev, "ok") && !informational)
			tc->failure = strdup(get_str(ev, "reason", "deviated"));
		if (!get_bool(ev, "ok") && informational)
			snprintf(buf, sizeof(buf), "deviated as expected: %s", get_str(ev, "reason", ""));
		else
			snprintf(buf, sizeof(buf), "%s", get_str(ev, "value", ""));
		tc->detail = strdup(buf);
		return 1;
	}
	if (strcmp(type, "fault_applied") == 0 || strcmp(type, "fault_apply_failed") == 0) {
		snprintf(buf, sizeof(buf), "apply %s on %s (step %d)", get_str(ev, "kind", "?"), get_str(ev, "host", "?"),
			 (int)get_num(ev, "step"));
		tc->classname = strdup("faults");
		tc->name = strdup(buf);
		if (strcmp(type, "fault_apply_failed") == 0)
			tc->failure = strdup(get_str(ev, "error", "apply failed"));
		else
			tc->detail = strdup(get_str(ev, "id", ""));
		return 1;
	}
	if (strcmp(type, "fault_reverted") == 0 && !get_bool(ev, "ok")) {
		snprintf(buf, sizeof(buf), "revert %s on %s", get_str(ev, "id", "?"), get_str(ev, "host", "?"));
		tc->classname = strdup("faults");
		tc->name = strdup(buf);
		tc->failure = strdup(get_str(ev, "error", "revert failed"));
		return 1;
	}
	if (strcmp(type, "rollback") == 0) {
		snprintf(buf, sizeof(buf), "rollback: %s", get_str(ev, "name", "?"));
		tc->classname = strdup("rollbacks");
		tc->name = strdup(buf);
		tc->time_s = get_num(ev, "latency_ms") / 1000.0;
		if (!get_bool(ev, "ok"))
			tc->failure = strdup(get_str(ev, "reason", "failed"));
		return 1;
	}
	if (strcmp(type, "error") == 0 || strcmp(type, "aborted") == 0) {
		tc->classname = strdup("run");
		tc->name = strdup(type);
		tc->failure = strdup(get_str(ev, "message", type));
		return 1;
	}
	return 0;
}

static void ms_text(struct json_object *o, const char *key, char *buf, size_t len)
{
	struct json_object *v;
	if (o && json_object_object_get_ex(o, key, &v) && v)
		snprintf(buf, len, "%.1fs", (double)json_object_get_int64(v) / 1000.0);
	else
		snprintf(buf, len, "-");
}

/* A journal's "recovery" row as a testcase: the samples' verdict on that probe. */
static void recovery_testcase(struct json_object *row, struct testcase *tc)
{
	memset(tc, 0, sizeof(*tc));
	char name[300], text[400], det[32], rec[32];
	snprintf(name, sizeof(name), "recovery: %s", get_str(row, "probe", "?"));
	tc->classname = strdup("recovery");
	tc->name = strdup(name);
	ms_text(row, "detected_after_ms", det, sizeof(det));
	ms_text(row, "recovered_after_ms", rec, sizeof(rec));
	bool deviated = get_bool(row, "deviated"), recovered = get_bool(row, "recovered");
	if (!deviated)
		snprintf(text, sizeof(text), "held in every sample");
	else if (!recovered)
		snprintf(text, sizeof(text), "deviated (detected after %s), not recovered within the recovery window", det);
	else
		snprintf(text, sizeof(text), "deviated (detected after %s), recovered %s after the revert", det, rec);
	bool counts = strcmp(get_str(row, "expect", "ok"), "ok") == 0;
	/* older journals lack failed_during_method: any deviation counts then */
	struct json_object *fdm = NULL;
	bool during = json_object_object_get_ex(row, "failed_during_method", &fdm) ? get_bool(row, "failed_during_method")
										   : deviated;
	char both[500];
	snprintf(both, sizeof(both), "%s%s", !counts && deviated ? "expected to deviate: " : "", text);
	if (counts && (during || !recovered))
		tc->failure = strdup(both);
	else
		tc->detail = strdup(both);
}

static void testcase_free(struct testcase *tc)
{
	free(tc->classname);
	free(tc->name);
	free(tc->failure);
	free(tc->detail);
}

/* Testcase i of a journal: its events first, then its recovery rows. */
static int journal_testcase(struct json_object *events, size_t n_events, struct json_object *recovery, size_t i,
			    struct testcase *tc)
{
	if (i < n_events)
		return event_testcase(json_object_array_get_idx(events, i), tc);
	recovery_testcase(json_object_array_get_idx(recovery, i - n_events), tc);
	return 1;
}

int junit_write(struct json_object *journal, FILE *out)
{
	struct json_object *events = NULL, *recovery = NULL;
	json_object_object_get_ex(journal, "events", &events);
	json_object_object_get_ex(journal, "recovery", &recovery);
	size_t n_events = events ? json_object_array_length(events) : 0;
	size_t n = n_events + (recovery && json_object_is_type(recovery, json_type_array)
				       ? json_object_array_length(recovery) : 0);
	size_t tests = 0, failures = 0;
	for (size_t i = 0; i < n; i++) {
		struct testcase tc;
		if (journal_testcase(events, n_events, recovery, i, &tc)) {
			tests++;
			failures += tc.failure != NULL;
			testcase_free(&tc);
		}
	}
	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite");
	put_attr(out, "name", get_str(journal, "title", "experiment"));
	fprintf(out, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" time=\"%.3f\"", tests, failures,
		get_num(journal, "duration_s"));
	put_attr(out, "timestamp", get_str(journal, "started_at", ""));
	put_attr(out, "file", get_str(journal, "file", ""));
	fprintf(out, ">\n    <properties>\n      <property name=\"verdict\"");
	put_attr(out, "value", get_str(journal, "verdict", ""));
	fprintf(out, "/>\n    </properties>\n");
	for (size_t i = 0; i < n; i++) {
		struct testcase tc;
		if (!journal_testcase(events, n_events, recovery, i, &tc))
			continue;
		fprintf(out, "    <testcase");
		put_attr(out, "classname", tc.classname);
		put_attr(out, "name", tc.name);
		fprintf(out, " time=\"%.3f\"", tc.time_s);
		if (!tc.failure && !(tc.detail && tc.detail[0])) {
			fprintf(out, "/>\n");
		} else {
			fprintf(out, ">\n");
			if (tc.failure) {
				fprintf(out, "      <failure");
				put_attr(out, "message", tc.failure);
				char *esc = xml_escape(tc.failure);
				fprintf(out, ">%s</failure>\n", esc ? esc : "");
				free(esc);
			}
			if (tc.detail && tc.detail[0]) {
				char *esc = xml_escape(tc.detail);
				fprintf(out, "      <system-out>%s</system-out>\n", esc ? esc : "");
				free(esc);
			}
			fprintf(out, "    </testcase>\n");
		}
		testcase_free(&tc);
	}
	fprintf(out, "  </testsuite>\n</testsuites>\n");
	return ferror(out) ? -EIO : 0;
}

int junit_write_file(struct json_object *journal, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	int r = junit_write(journal, f);
	if (fclose(f) != 0 && r == 0)
		r = -EIO;
	return r;
}
