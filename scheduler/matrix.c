#include "scheduler/matrix.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "common/timeutil.h"
#include "scheduler/report.h"
#include "scheduler/run.h"
#if __has_include("scheduler/html_report.h")
#include "scheduler/html_report.h"
#define HAVE_HTML_REPORT 1
#endif

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (o && json_object_object_get_ex(o, key, &v))
		return v;
	return NULL;
}

struct json_object *matrix_cells(const struct experiment *e, struct json_object *runs)
{
	struct json_object *m = json_object_new_object();
	struct json_object *domains = json_object_new_array();
	struct json_object *probes = json_object_new_array();
	struct json_object *cells = json_object_new_array();
	if (!m || !domains || !probes || !cells) {
		json_object_put(m);
		json_object_put(domains);
		json_object_put(probes);
		json_object_put(cells);
		return NULL;
	}
	for (size_t d = 0; d < e->n_targets; d++)
		json_object_array_add(domains, json_object_new_string(e->targets[d].name));
	for (size_t p = 0; p < e->n_probes; p++) {
		json_object_array_add(probes, json_object_new_string(e->probes[p].name));
		struct json_object *row = json_object_new_array();
		for (size_t d = 0; d < e->n_targets; d++) {
			struct json_object *run = d < json_object_array_length(runs) ? json_object_array_get_idx(runs, d) : NULL;
			struct json_object *found = NULL;
			struct json_object *rec = get(run, "recovery");
			for (size_t k = 0; rec && k < json_object_array_length(rec); k++) {
				struct json_object *r = json_object_array_get_idx(rec, k);
				if (strcmp(json_object_get_string(get(r, "probe")), e->probes[p].name) == 0)
					found = r;
			}
			struct json_object *cell = json_object_new_object();
			if (found) {
				json_object_object_add(cell, "deviated", json_object_get(get(found, "deviated")));
				json_object_object_add(cell, "detected_after_ms", json_object_get(get(found, "detected_after_ms")));
				json_object_object_add(cell, "recovered_after_ms", json_object_get(get(found, "recovered_after_ms")));
				json_object_object_add(cell, "recovered", json_object_get(get(found, "recovered")));
			} else {
				/* nothing was injected for this domain */
				json_object_object_add(cell, "deviated", NULL);
				json_object_object_add(cell, "detected_after_ms", NULL);
				json_object_object_add(cell, "recovered_after_ms", NULL);
				json_object_object_add(cell, "recovered", NULL);
			}
			const char *verdict = json_object_get_string(get(run, "verdict"));
			if (verdict && strcmp(verdict, "aborted") == 0)
				json_object_object_add(cell, "aborted", json_object_new_boolean(true));
			json_object_array_add(row, cell);
		}
		json_object_array_add(cells, row);
	}
	json_object_object_add(m, "domains", domains);
	json_object_object_add(m, "probes", probes);
	json_object_object_add(m, "cells", cells);
	return m;
}

void matrix_cell_text(struct json_object *cell, char *buf, size_t len)
{
	struct json_object *dev = get(cell, "deviated");
	if (json_object_get_boolean(get(cell, "aborted")) && !dev) {
		snprintf(buf, len, "ABORTED");
		return;
	}
	if (!dev) {
		snprintf(buf, len, "-");
		return;
	}
	if (!json_object_get_boolean(dev)) {
		snprintf(buf, len, "ok");
		return;
	}
	if (!json_object_get_boolean(get(cell, "recovered"))) {
		snprintf(buf, len, "NOT RECOVERED");
		return;
	}
	struct json_object *d = get(cell, "detected_after_ms"), *r = get(cell, "recovered_after_ms");
	snprintf(buf, len, "DEVIATED %.1fs->%.1fs", d ? (double)json_object_get_int64(d) / 1000.0 : 0.0,
		 r ? (double)json_object_get_int64(r) / 1000.0 : 0.0);
}

void matrix_print_table(FILE *out, struct json_object *matrix)
{
	struct json_object *domains = get(matrix, "domains"), *probes = get(matrix, "probes"), *cells = get(matrix, "cells");
	size_t nd = domains ? json_object_array_length(domains) : 0, np = probes ? json_object_array_length(probes) : 0;
	int w0 = 5;
	for (size_t p = 0; p < np; p++) {
		int l = (int)strlen(json_object_get_string(json_object_array_get_idx(probes, p)));
		w0 = l > w0 ? l : w0;
	}
	w0 = w0 > 40 ? 40 : w0;
	fprintf(out, "%-*s", w0, "PROBE");
	for (size_t d = 0; d < nd; d++)
		fprintf(out, "  %-22.22s", json_object_get_string(json_object_array_get_idx(domains, d)));
	fputc('\n', out);
	for (size_t p = 0; p < np; p++) {
		fprintf(out, "%-*.*s", w0, w0, json_object_get_string(json_object_array_get_idx(probes, p)));
		struct json_object *row = json_object_array_get_idx(cells, p);
		for (size_t d = 0; d < nd; d++) {
			char text[64];
			matrix_cell_text(json_object_array_get_idx(row, d), text, sizeof(text));
			fprintf(out, "  %-22s", text);
		}
		fputc('\n', out);
	}
}

int matrix_junit_write_file(struct json_object *journal, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	struct json_object *m = get(journal, "matrix");
	struct json_object *domains = get(m, "domains"), *probes = get(m, "probes"), *cells = get(m, "cells");
	size_t nd = domains ? json_object_array_length(domains) : 0, np = probes ? json_object_array_length(probes) : 0;
	size_t failures = 0;
	for (size_t p = 0; p < np; p++)
		for (size_t d = 0; d < nd; d++) {
			char text[64];
			matrix_cell_text(json_object_array_get_idx(json_object_array_get_idx(cells, p), d), text, sizeof(text));
			failures += strcmp(text, "ok") != 0;
		}
	char *title = xml_escape(json_object_get_string(get(journal, "title")));
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f, "<testsuite name=\"%s\" tests=\"%zu\" failures=\"%zu\" time=\"%.3f\">\n", title ? title : "",
		np * nd, failures, json_object_get_double(get(journal, "duration_s")));
	for (size_t p = 0; p < np; p++)
		for (size_t d = 0; d < nd; d++) {
			char text[64];
			matrix_cell_text(json_object_array_get_idx(json_object_array_get_idx(cells, p), d), text, sizeof(text));
			char *probe = xml_escape(json_object_get_string(json_object_array_get_idx(probes, p)));
			char *domain = xml_escape(json_object_get_string(json_object_array_get_idx(domains, d)));
			fprintf(f, "  <testcase classname=\"matrix.%s\" name=\"%s\">", domain ? domain : "", probe ? probe : "");
			if (strcmp(text, "ok") != 0)
				fprintf(f, "<failure message=\"outage of %s: %s\"/>", domain ? domain : "", text);
			fprintf(f, "</testcase>\n");
			free(probe);
			free(domain);
		}
	fprintf(f, "</testsuite>\n");
	free(title);
	return fclose(f) == 0 ? 0 : -EIO;
}

int matrix_run(const struct experiment *e, const struct matrix_opts *o)
{
	struct report rep;
	if (report_init(&rep, e->title, e->file))
		return EXIT_ABORTED;
	json_object_object_add(rep.root, "kind", json_object_new_string("matrix"));
	struct json_object *runs = json_object_new_array();
	json_object_object_add(rep.root, "runs", runs);
	int code = EXIT_HELD;
	char a[32];
	for (size_t d = 0; d < e->n_targets && !chaos_interrupted; d++) {
		struct experiment view;
		matrix_domain_view(e, d, &view);
		if (!o->quiet) {
			printf("\n=== outage %zu/%zu: %s (%s on", d + 1, e->n_targets, view.targets[0].name, view.steps[0].kind);
			for (size_t h = 0; h < view.targets[0].n_chosen; h++)
				printf(" %s", e->inv.hosts[view.targets[0].chosen[h]].name);
			printf(" for %s) ===\n", duration_format(view.steps[0].duration_ms, a, sizeof(a)));
			fflush(stdout);
		}
		struct json_object *journal = NULL;
		struct run_opts ro = { .quiet = o->quiet, .journal_out = &journal };
		int rc = run_experiment(&view, &ro);
		if (journal) {
			json_object_object_add(journal, "domain", json_object_new_string(view.targets[0].name));
			json_object_array_add(runs, journal);
		} else {
			json_object_array_add(runs, json_object_new_object());
		}
		if (rc == EXIT_ABORTED || rc == EXIT_INVALID)
			code = EXIT_ABORTED;
		if (d + 1 < e->n_targets && e->recovery_wait_ms && !chaos_interrupted) {
			if (!o->quiet)
				printf("waiting %s before the next domain\n", duration_format(e->recovery_wait_ms, a, sizeof(a)));
			wait_or_interrupt(e->recovery_wait_ms);
		}
	}
	if (chaos_interrupted)
		code = EXIT_ABORTED;
	struct json_object *m = matrix_cells(e, runs);
	json_object_object_add(rep.root, "matrix", m);
	report_finish(&rep, code == EXIT_HELD ? "completed" : "aborted", code);
	printf("\ndependency matrix: %s\n", e->title);
	matrix_print_table(stdout, m);
	int r;
	if (o->journal_path && (r = report_write_journal(&rep, o->journal_path)))
		fprintf(stderr, "chaos: cannot write the journal %s: %s\n", o->journal_path, strerror(-r));
	if (o->junit_path && (r = matrix_junit_write_file(rep.root, o->junit_path)))
		fprintf(stderr, "chaos: cannot write the JUnit report %s: %s\n", o->junit_path, strerror(-r));
	if (o->html_path) {
#ifdef HAVE_HTML_REPORT
		if ((r = html_report_write(rep.root, o->html_path)))
			fprintf(stderr, "chaos: cannot write the HTML report %s: %s\n", o->html_path, strerror(-r));
#else
		fprintf(stderr, "chaos: --html: this build has no HTML report writer\n");
#endif
	}
	printf("matrix: %s (exit %d)\n", code == EXIT_HELD ? "every outage ran to completion" : "a run was aborted", code);
	fflush(stdout);
	report_free(&rep);
	return code;
}

void matrix_print_plan(const struct experiment *e)
{
	char a[32], b[32];
	printf("matrix: %s\n", e->title);
	printf("file: %s\n", e->file);
	printf("inventory: %s (%zu hosts)\n", e->inventory_source ? e->inventory_source : "none", e->inv.n_hosts);
	printf("\noutages, in turn (each: steady-state check, outage, samples every %s, revert, recovery up to %s):\n",
	       duration_format(e->sample_every_ms, a, sizeof(a)), duration_format(e->recovery_window_ms, b, sizeof(b)));
	for (size_t d = 0; d < e->n_targets; d++) {
		const struct target *t = &e->targets[d];
		const struct step *s = &e->steps[d];
		printf("  %zu. %s: select \"%s\" -> %s for %s on", d + 1, t->name, t->select_text, s->kind,
		       duration_format(s->duration_ms, a, sizeof(a)));
		for (size_t h = 0; h < t->n_chosen; h++)
			printf(" %s", e->inv.hosts[t->chosen[h]].name);
		printf("\n");
	}
	struct json_object *params = e->n_steps ? (e->steps[0].params_full ? e->steps[0].params_full : e->steps[0].params) : NULL;
	printf("  params %s\n", params ? json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN |
								      JSON_C_TO_STRING_NOSLASHESCAPE) : "{}");
	if (e->recovery_wait_ms)
		printf("  between domains: wait %s\n", duration_format(e->recovery_wait_ms, a, sizeof(a)));
	printf("\nprobes: %zu\n", e->n_probes);
	for (size_t i = 0; i < e->n_probes; i++)
		printf("  %s%s\n", e->probes[i].name, e->probes[i].expect == EXPECT_DEVIATE ? " (expected to deviate)" : "");
}

static void print_probe(const struct probe *p)
{
	char a[32];
	printf("  %s: ", p->name);
	switch (p->type) {
	case PROBE_HTTP:
		printf("http %s", p->url);
		for (size_t i = 1; i < p->n_urls; i++)
			printf(" | %s", p->urls[i]);
		if (p->n_urls > 1)
			printf(" (ok if any answers)");
		break;
	case PROBE_TCP:
		printf("tcp %s", p->address);
		break;
	case PROBE_COMMAND:
		printf("command %s", p->run);
		break;
	case PROBE_PROMETHEUS:
		printf("prometheus %s query \"%s\"", p->prom_url, p->query);
		if (p->has_equals)
			printf(" equals %g within %g", p->equals, p->within);
		if (p->has_above)
			printf(" above %g", p->above);
		if (p->has_below)
			printf(" below %g", p->below);
		break;
	}
	printf(" (timeout %s", duration_format(p->timeout_ms, a, sizeof(a)));
	if (p->every_ms)
		printf(", every %s", duration_format(p->every_ms, a, sizeof(a)));
	printf(")%s\n", p->expect == EXPECT_DEVIATE ? " expected to deviate" : "");
}

void plan_print_probes(const struct experiment *e)
{
	char a[32], b[32];
	printf("\nsteady state: %zu probe(s)", e->n_probes);
	if (e->n_probes)
		printf(", sampled every %s from the first injection; recovery window %s",
		       duration_format(e->sample_every_ms, a, sizeof(a)), duration_format(e->recovery_window_ms, b, sizeof(b)));
	printf("\n");
	for (size_t i = 0; i < e->n_probes; i++)
		print_probe(&e->probes[i]);
	if (e->n_aborts) {
		printf("\nabort conditions (from the first injection until every fault is reverted):\n");
		for (size_t i = 0; i < e->n_aborts; i++)
			print_probe(&e->aborts[i]);
	}
}

void plan_print_partition(const struct experiment *e, const struct step *s)
{
	char b[32];
	const struct target *side[2] = { &e->targets[s->target], &e->targets[s->target_b] };
	struct json_object *params[2] = { s->params, s->params_b };
	printf("partition %s | %s for %s (blackhole on both sides, all at once)\n", side[0]->name, side[1]->name,
	       duration_format(s->duration_ms, b, sizeof(b)));
	for (int k = 0; k < 2; k++) {
		printf("         %s:", side[k]->name);
		for (size_t j = 0; j < side[k]->n_chosen; j++)
			printf(" %s", e->inv.hosts[side[k]->chosen[j]].name);
		printf("  params %s\n", params[k] ? json_object_to_json_string_ext(params[k], JSON_C_TO_STRING_PLAIN |
										JSON_C_TO_STRING_NOSLASHESCAPE) : "{}");
	}
}
