/* JSON journal structure, JUnit XML (and its escaping), and --param typing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "faults/registry.h"
#include "scheduler/cli_params.h"
#include "scheduler/report.h"
#include "scheduler/matrix.h"

static void xml_escaping(void **state)
{
	(void)state;
	char *s = xml_escape("<a href=\"x\">&'b'</a>");
	assert_string_equal(s, "&lt;a href=&quot;x&quot;&gt;&amp;&apos;b&apos;&lt;/a&gt;");
	free(s);
	s = xml_escape("tab\there\nnl \x01\x1b bell\x07");
	assert_string_equal(s, "tab\there\nnl ?? bell?");
	free(s);
	s = xml_escape("caf\xc3\xa9 &amp;");
	assert_string_equal(s, "caf\xc3\xa9 &amp;amp;");
	free(s);
	s = xml_escape(NULL);
	assert_string_equal(s, "");
	free(s);
}

static struct json_object *sample_journal(struct report *r)
{
	assert_int_equal(report_init(r, "T <&> \"quoted\"", "exp.cfg"), 0);
	struct json_object *ev = report_event(r, "probe");
	json_object_object_add(ev, "phase", json_object_new_string("before"));
	json_object_object_add(ev, "probe", json_object_new_string("web <main>"));
	json_object_object_add(ev, "ok", json_object_new_boolean(1));
	json_object_object_add(ev, "latency_ms", json_object_new_int(12));
	ev = report_event(r, "fault_applied");
	json_object_object_add(ev, "host", json_object_new_string("h1"));
	json_object_object_add(ev, "kind", json_object_new_string("blackhole"));
	json_object_object_add(ev, "id", json_object_new_string("f-123456"));
	json_object_object_add(ev, "step", json_object_new_int(1));
	ev = report_event(r, "fault_apply_failed");
	json_object_object_add(ev, "host", json_object_new_string("h2"));
	json_object_object_add(ev, "kind", json_object_new_string("blackhole"));
	json_object_object_add(ev, "step", json_object_new_int(1));
	json_object_object_add(ev, "error", json_object_new_string("h2: 422 unsupported: kernel lacks \"tcx\" & <cls_bpf>"));
	ev = report_event(r, "probe");
	json_object_object_add(ev, "phase", json_object_new_string("during"));
	json_object_object_add(ev, "probe", json_object_new_string("web <main>"));
	json_object_object_add(ev, "ok", json_object_new_boolean(0));
	json_object_object_add(ev, "reason", json_object_new_string("status 503 is not the expected one"));
	ev = report_event(r, "fault_reverted");
	json_object_object_add(ev, "host", json_object_new_string("h1"));
	json_object_object_add(ev, "ok", json_object_new_boolean(1));
	ev = report_event(r, "rollback");
	json_object_object_add(ev, "name", json_object_new_string("cleanup"));
	json_object_object_add(ev, "ok", json_object_new_boolean(1));
	report_finish(r, "aborted", 2);
	return r->root;
}

static void journal_structure(void **state)
{
	(void)state;
	struct report r;
	sample_journal(&r);
	char path[] = "/tmp/ckt-sch-journal-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(report_write_journal(&r, path), 0);
	struct json_object *j = json_object_from_file(path);
	unlink(path);
	assert_non_null(j);
	struct json_object *v;
	const char *keys[] = { "title", "file", "started_at", "ended_at", "verdict", "exit_code", "events", "duration_s" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_true(json_object_object_get_ex(j, keys[i], &v));
	json_object_object_get_ex(j, "title", &v);
	assert_string_equal(json_object_get_string(v), "T <&> \"quoted\"");
	json_object_object_get_ex(j, "verdict", &v);
	assert_string_equal(json_object_get_string(v), "aborted");
	json_object_object_get_ex(j, "exit_code", &v);
	assert_int_equal(json_object_get_int(v), 2);
	json_object_object_get_ex(j, "started_at", &v);
	assert_int_equal(strlen(json_object_get_string(v)), strlen("2026-11-25T08:39:23.123Z"));
	struct json_object *events;
	json_object_object_get_ex(j, "events", &events);
	assert_int_equal(json_object_array_length(events), 6);
	double last_t = -1;
	for (size_t i = 0; i < json_object_array_length(events); i++) {
		struct json_object *ev = json_object_array_get_idx(events, i);
		assert_true(json_object_object_get_ex(ev, "type", &v));
		assert_true(json_object_object_get_ex(ev, "at", &v));
		assert_true(json_object_object_get_ex(ev, "t", &v));
		assert_true(json_object_get_double(v) >= last_t); /* events in time order */
		last_t = json_object_get_double(v);
	}
	json_object_put(j);
	report_free(&r);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void junit_from_journal(void **state)
{
	(void)state;
	struct report r;
	struct json_object *j = sample_journal(&r);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(junit_write(j, f), 0);
	fclose(f);
	/* probe x2, applied, apply failed, rollback: 5 cases; 2 failures */
	assert_non_null(strstr(buf, "tests=\"5\" failures=\"2\""));
	assert_int_equal(count(buf, "<testcase "), 5);
	assert_int_equal(count(buf, "<failure "), 2);
	assert_non_null(strstr(buf, "name=\"T &lt;&amp;&gt; &quot;quoted&quot;\""));
	assert_non_null(strstr(buf, "name=\"before: web &lt;main&gt;\""));
	assert_non_null(strstr(buf, "message=\"h2: 422 unsupported: kernel lacks &quot;tcx&quot; &amp; &lt;cls_bpf&gt;\""));
	assert_non_null(strstr(buf, "name=\"apply blackhole on h1 (step 1)\""));
	assert_non_null(strstr(buf, "<property name=\"verdict\" value=\"aborted\"/>"));
	assert_null(strstr(buf, "<main>")); /* nothing unescaped leaks through */
	free(buf);
	report_free(&r);
}

static char *build(const char *kind_name, const char *json, char **assign, size_t n, struct fault_error *err)
{
	const struct fault_kind *kind = fault_kind_find(kind_name);
	assert_non_null(kind);
	struct json_object *base = json ? json_tokener_parse(json) : NULL;
	struct json_object *out = NULL;
	int r = cli_params_build(kind, base, assign, n, &out, err);
	json_object_put(base);
	if (r)
		return NULL;
	char *text = strdup(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(out);
	return text;
}

static void params_from_the_command_line(void **state)
{
	(void)state;
	struct fault_error err = { 0 };
	char *a1[] = { "probability=0.3", "match.dst=10.0.0.0/8", "match.protocol=tcp", "match.dst_ports=80,443",
		       "blackout=false" };
	char *s = build("packet-loss", NULL, a1, 5, &err);
	assert_non_null(s);
	assert_string_equal(s, "{\"probability\":0.3,\"match\":{\"dst\":[\"10.0.0.0/8\"],\"protocol\":\"tcp\","
			       "\"dst_ports\":[80,443]},\"blackout\":false}");
	free(s);
	char *a2[] = { "match.dst_ports=8080", "match.protocol=udp" };
	s = build("blackhole", "{\"direction\":\"egress\"}", a2, 2, &err);
	assert_non_null(s);
	assert_string_equal(s, "{\"direction\":\"egress\",\"match\":{\"dst_ports\":[8080],\"protocol\":\"udp\"}}");
	free(s);
	char *a3[] = { "direction=sideways" };
	assert_null(build("blackhole", NULL, a3, 1, &err));
	assert_string_equal(err.key, "direction");
	char *a4[] = { "probability" };
	assert_null(build("packet-loss", NULL, a4, 1, &err));
	assert_non_null(strstr(err.msg, "KEY=VALUE"));
	char *a5[] = { "probability=1.5" };
	assert_null(build("packet-loss", NULL, a5, 1, &err));
	assert_string_equal(err.key, "probability");
}

/* Game-day journals: a probe expected to deviate is no failure during the faults, and
 * each recovery row is a testcase (failure when a probe that must hold deviated during
 * the faults or never recovered). */
static void junit_recovery_and_expected_deviations(void **state)
{
	(void)state;
	const char *text =
		"{\"title\":\"g\",\"verdict\":\"deviated\",\"duration_s\":1,\"events\":["
		"{\"type\":\"probe\",\"phase\":\"before\",\"probe\":\"login\",\"ok\":true,\"value\":\"HTTP 200\",\"expect\":\"deviate\"},"
		"{\"type\":\"probe\",\"phase\":\"during\",\"probe\":\"login\",\"ok\":false,\"reason\":\"timeout\",\"expect\":\"deviate\"},"
		"{\"type\":\"probe\",\"phase\":\"during\",\"probe\":\"talk\",\"ok\":false,\"reason\":\"HTTP 503\"}],"
		"\"recovery\":["
		"{\"probe\":\"talk\",\"expect\":\"ok\",\"deviated\":true,\"detected_after_ms\":1800,\"recovered_after_ms\":2300,\"recovered\":true,\"failed_during_method\":true},"
		"{\"probe\":\"login\",\"expect\":\"deviate\",\"deviated\":true,\"detected_after_ms\":900,\"recovered_after_ms\":null,\"recovered\":false,\"failed_during_method\":true},"
		"{\"probe\":\"web\",\"expect\":\"ok\",\"deviated\":false,\"detected_after_ms\":null,\"recovered_after_ms\":null,\"recovered\":true,\"failed_during_method\":false},"
		"{\"probe\":\"late\",\"expect\":\"ok\",\"deviated\":true,\"detected_after_ms\":5000,\"recovered_after_ms\":400,\"recovered\":true,\"failed_during_method\":false},"
		"{\"probe\":\"gone\",\"expect\":\"ok\",\"deviated\":true,\"detected_after_ms\":100,\"recovered_after_ms\":null,\"recovered\":false,\"failed_during_method\":false}]}";
	struct json_object *j = json_tokener_parse(text);
	assert_non_null(j);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(junit_write(j, f), 0);
	fclose(f);
	/* 3 probe events + 5 recovery rows; failures: talk during, recovery talk, recovery gone */
	if (!strstr(buf, "tests=\"8\" failures=\"3\""))
		fail_msg("%s", buf);
	assert_non_null(strstr(buf, "deviated as expected: timeout"));
	assert_non_null(strstr(buf, "name=\"recovery: talk\""));
	assert_non_null(strstr(buf, "<failure message=\"deviated (detected after 1.8s), recovered 2.3s after the revert\""));
	assert_non_null(strstr(buf, "expected to deviate: deviated (detected after 0.9s), not recovered within the recovery window"));
	assert_non_null(strstr(buf, "<failure message=\"deviated (detected after 0.1s), not recovered within the recovery window\""));
	assert_non_null(strstr(buf, "<system-out>held in every sample</system-out>"));
	assert_non_null(strstr(buf, "<system-out>deviated (detected after 5.0s), recovered 0.4s after the revert</system-out>"));
	free(buf);
	json_object_put(j);
}

/* The matrix from per-domain run journals: cells, their text, the table and JUnit. */
static void matrix_from_runs(void **state)
{
	(void)state;
	struct target targets[3] = { { .name = "dc1" }, { .name = "dc2" }, { .name = "dc3" } };
	struct probe probes[2] = { { .name = "talk" }, { .name = "login" } };
	struct experiment e = { .title = "m", .targets = targets, .n_targets = 3, .probes = probes, .n_probes = 2 };
	struct json_object *runs = json_tokener_parse(
		"[{\"verdict\":\"deviated\",\"recovery\":["
		"  {\"probe\":\"talk\",\"deviated\":false,\"detected_after_ms\":null,\"recovered_after_ms\":null,\"recovered\":true},"
		"  {\"probe\":\"login\",\"deviated\":true,\"detected_after_ms\":1200,\"recovered_after_ms\":3400,\"recovered\":true}]},"
		" {\"verdict\":\"held\",\"recovery\":["
		"  {\"probe\":\"talk\",\"deviated\":true,\"detected_after_ms\":500,\"recovered_after_ms\":null,\"recovered\":false},"
		"  {\"probe\":\"login\",\"deviated\":false,\"detected_after_ms\":null,\"recovered_after_ms\":null,\"recovered\":true}]},"
		" {\"verdict\":\"aborted\",\"recovery\":[]}]");
	assert_non_null(runs);
	struct json_object *m = matrix_cells(&e, runs);
	assert_non_null(m);
	assert_string_equal(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN),
			    "{\"domains\":[\"dc1\",\"dc2\",\"dc3\"],\"probes\":[\"talk\",\"login\"],\"cells\":["
			    "[{\"deviated\":false,\"detected_after_ms\":null,\"recovered_after_ms\":null,\"recovered\":true},"
			    "{\"deviated\":true,\"detected_after_ms\":500,\"recovered_after_ms\":null,\"recovered\":false},"
			    "{\"deviated\":null,\"detected_after_ms\":null,\"recovered_after_ms\":null,\"recovered\":null,\"aborted\":true}],"
			    "[{\"deviated\":true,\"detected_after_ms\":1200,\"recovered_after_ms\":3400,\"recovered\":true},"
			    "{\"deviated\":false,\"detected_after_ms\":null,\"recovered_after_ms\":null,\"recovered\":true},"
			    "{\"deviated\":null,\"detected_after_ms\":null,\"recovered_after_ms\":null,\"recovered\":null,\"aborted\":true}]]}");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	matrix_print_table(f, m);
	fclose(f);
	assert_string_equal(buf, "PROBE  dc1                     dc2                     dc3                   \n"
				 "talk   ok                      NOT RECOVERED           ABORTED               \n"
				 "login  DEVIATED 1.2s->3.4s     ok                      ABORTED               \n");
	free(buf);
	struct json_object *journal = json_object_new_object();
	json_object_object_add(journal, "title", json_object_new_string("m <&>"));
	json_object_object_add(journal, "matrix", m);
	char path[] = "/tmp/ckt-eng-matrix-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(matrix_junit_write_file(journal, path), 0);
	f = fopen(path, "r");
	char xml[4096] = "";
	size_t n = fread(xml, 1, sizeof(xml) - 1, f);
	xml[n] = '\0';
	fclose(f);
	unlink(path);
	assert_non_null(strstr(xml, "name=\"m &lt;&amp;&gt;\" tests=\"6\" failures=\"4\""));
	assert_non_null(strstr(xml, "<testcase classname=\"matrix.dc2\" name=\"talk\"><failure message=\"outage of dc2: NOT RECOVERED\"/></testcase>"));
	assert_non_null(strstr(xml, "<testcase classname=\"matrix.dc1\" name=\"talk\"></testcase>"));
	json_object_put(journal);
	json_object_put(runs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(xml_escaping),
		cmocka_unit_test(journal_structure),
		cmocka_unit_test(junit_from_journal),
		cmocka_unit_test(junit_recovery_and_expected_deviations),
		cmocka_unit_test(matrix_from_runs),
		cmocka_unit_test(params_from_the_command_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
