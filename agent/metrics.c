#include "agent/metrics.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct textbuf {
	char *data;
	size_t len, cap;
	bool failed;
};

__attribute__((format(printf, 2, 3)))
static void tb_printf(struct textbuf *tb, const char *fmt, ...)
{
	if (tb->failed)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(tb->data ? tb->data + tb->len : NULL, tb->data ? tb->cap - tb->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			tb->failed = true;
			return;
		}
		if (tb->data && tb->len + (size_t)n < tb->cap) {
			tb->len += (size_t)n;
			return;
		}
		size_t cap = tb->cap ? tb->cap : 1024;
		while (cap <= tb->len + (size_t)n)
			cap *= 2;
		char *grown = realloc(tb->data, cap);
		if (!grown) {
			tb->failed = true;
			return;
		}
		tb->data = grown;
		tb->cap = cap;
	}
}

/* Label values escape backslash, double quote and newline (exposition format). */
static void tb_label_value(struct textbuf *tb, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			tb_printf(tb, "\\\\");
		else if (*v == '"')
			tb_printf(tb, "\\\"");
		else if (*v == '\n')
			tb_printf(tb, "\\n");
		else
			tb_printf(tb, "%c", *v);
	}
}

static bool metric_name_safe(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static const char *str_of(struct json_object *o, const char *key)
{
	struct json_object *v = json_object_object_get(o, key);
	return v ? json_object_get_string(v) : "";
}

static int64_t int_of(struct json_object *o, const char *key)
{
	struct json_object *v = json_object_object_get(o, key);
	return v ? json_object_get_int64(v) : 0;
}

struct fault_sample {
	char name[160];
	const char *id, *kind;
	int64_t value;
};

static int sample_cmp(const void *a, const void *b)
{
	const struct fault_sample *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->id, y->id);
}

/* One chaoskit_fault_<stat>_total{id,kind} family per counter name any fault
 * reports, each family's HELP/TYPE once, as the format requires. */
static void render_fault_stats(struct textbuf *tb, struct json_object *faults)
{
	size_t n = 0, cap = 0;
	struct fault_sample *samples = NULL;
	size_t nf = faults ? json_object_array_length(faults) : 0;
	for (size_t i = 0; i < nf; i++) {
		struct json_object *f = json_object_array_get_idx(faults, i);
		struct json_object *stats = json_object_object_get(f, "stats");
		if (!stats || !json_object_is_type(stats, json_type_object))
			continue;
		json_object_object_foreach(stats, key, val) {
			if (!metric_name_safe(key) || !json_object_is_type(val, json_type_int))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				struct fault_sample *grown = realloc(samples, cap * sizeof(*samples));
				if (!grown) {
					tb->failed = true;
					free(samples);
					return;
				}
				samples = grown;
			}
			size_t kl = strlen(key);
			bool has_total = kl > 6 && strcmp(key + kl - 6, "_total") == 0;
			snprintf(samples[n].name, sizeof(samples[n].name), "chaoskit_fault_%.120s%s", key,
				 has_total ? "" : "_total");
			samples[n].id = str_of(f, "id");
			samples[n].kind = str_of(f, "kind");
			samples[n].value = json_object_get_int64(val);
			n++;
		}
	}
	if (n)
		qsort(samples, n, sizeof(*samples), sample_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || strcmp(samples[i].name, samples[i - 1].name) != 0) {
			tb_printf(tb, "# HELP %s Counter reported by an active fault.\n", samples[i].name);
			tb_printf(tb, "# TYPE %s counter\n", samples[i].name);
		}
		tb_printf(tb, "%s{id=\"", samples[i].name);
		tb_label_value(tb, samples[i].id);
		tb_printf(tb, "\",kind=\"");
		tb_label_value(tb, samples[i].kind);
		tb_printf(tb, "\"} %lld\n", (long long)samples[i].value);
	}
	free(samples);
}

char *metrics_render(struct json_object *snapshot)
{
	struct textbuf tb = { 0 };
	tb_printf(&tb, "# HELP chaoskit_agent_info The agent's version and name.\n");
	tb_printf(&tb, "# TYPE chaoskit_agent_info gauge\n");
	tb_printf(&tb, "chaoskit_agent_info{version=\"");
	tb_label_value(&tb, str_of(snapshot, "version"));
	tb_printf(&tb, "\",name=\"");
	tb_label_value(&tb, str_of(snapshot, "name"));
	tb_printf(&tb, "\"} 1\n");

	tb_printf(&tb, "# HELP chaoskit_faults_active Faults applied and not yet reverted.\n");
	tb_printf(&tb, "# TYPE chaoskit_faults_active gauge\n");
	tb_printf(&tb, "chaoskit_faults_active %lld\n", (long long)int_of(snapshot, "active"));

	tb_printf(&tb, "# HELP chaoskit_faults_applied_total Faults applied since the agent started.\n");
	tb_printf(&tb, "# TYPE chaoskit_faults_applied_total counter\n");
	tb_printf(&tb, "chaoskit_faults_applied_total %lld\n", (long long)int_of(snapshot, "applied_total"));

	tb_printf(&tb, "# HELP chaoskit_faults_reverted_total Faults reverted since the agent started, by reason.\n");
	tb_printf(&tb, "# TYPE chaoskit_faults_reverted_total counter\n");
	struct json_object *reverted = json_object_object_get(snapshot, "reverted_total");
	if (reverted && json_object_is_type(reverted, json_type_object)) {
		json_object_object_foreach(reverted, reason, count) {
			tb_printf(&tb, "chaoskit_faults_reverted_total{reason=\"");
			tb_label_value(&tb, reason);
			tb_printf(&tb, "\"} %lld\n", (long long)json_object_get_int64(count));
		}
	}
	render_fault_stats(&tb, json_object_object_get(snapshot, "faults"));
	if (tb.failed) {
		free(tb.data);
		return NULL;
	}
	if (!tb.data)
		return strdup("");
	return tb.data;
}
