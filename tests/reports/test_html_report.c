/* The HTML report's embedding of the journal and the suite JUnit writer, without a browser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scheduler/html_report.h"
#include "scheduler/suite.h"

static char *render(struct json_object *journal)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(html_report_write_stream(journal, f), 0);
	fclose(f);
	return text;
}

/* The text between <script type="application/json" id="journal"> and the next </script>. */
static char *embedded_json(const char *page)
{
	const char *open_tag = "<script type=\"application/json\" id=\"journal\">";
	const char *start = strstr(page, open_tag);
	assert_non_null(start);
	start += strlen(open_tag);
	const char *end = strstr(start, "</script>");
	assert_non_null(end);
	return strndup(start, (size_t)(end - start));
}

static void test_embed_escapes_markup(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_int_equal(html_embed_json(f, "{\"a\":\"</script><!-- & >\"}"), 0);
	fclose(f);
	assert_string_equal(text, "{\"a\":\"\\u003c/script\\u003e\\u003c!-- \\u0026 \\u003e\"}");
	free(text);
}

static void test_journal_round_trips(void **state)
{
	(void)state;
	struct json_object *j = json_tokener_parse(
		"{\"title\": \"A </script><b>bold</b> & 'quoted' \\\"title\\\"\", \"verdict\": \"held\", \"exit_code\": 0,"
		" \"events\": [{\"type\": \"probe\", \"reason\": \"<!-- </SCRIPT> -->\", \"t\": 0.5}]}");
	assert_non_null(j);
	char *page = render(j);
	char *data = embedded_json(page);
	assert_null(strchr(data, '<'));
	assert_null(strchr(data, '>'));
	struct json_object *back = json_tokener_parse(data);
	assert_non_null(back);
	assert_true(json_object_equal(j, back));
	/* the title appears escaped in <title> and in the page shown without the script */
	assert_non_null(strstr(page, "<title>A &lt;/script&gt;&lt;b&gt;bold&lt;/b&gt; &amp; &#39;quoted&#39; &quot;title&quot; "));
	assert_non_null(strstr(page, "<div class=\"verdict held\"><span class=\"word\">held</span></div>"));
	/* the page's own two script elements and nothing else */
	size_t scripts = 0;
	for (const char *p = page; (p = strstr(p, "<script")); p++)
		scripts++;
	assert_int_equal(scripts, 2);
	json_object_put(back);
	json_object_put(j);
	free(data);
	free(page);
}

static void test_no_title_no_verdict(void **state)
{
	(void)state;
	struct json_object *j = json_object_new_object();
	char *page = render(j);
	assert_non_null(strstr(page, "<title>chaos run "));
	assert_null(strstr(page, "<div class=\"verdict"));
	free(page);
	json_object_put(j);
}

static void test_write_to_missing_directory(void **state)
{
	(void)state;
	struct json_object *j = json_object_new_object();
	assert_int_equal(html_report_write(j, "/nonexistent-ckt-rep/x.html"), -ENOENT);
	assert_int_equal(html_report_write(NULL, "/tmp/x.html"), -EINVAL);
	json_object_put(j);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *text = NULL;
	size_t cap = 0;
	ssize_t n = getdelim(&text, &cap, '\0', f);
	assert_true(n > 0);
	fclose(f);
	return text;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_suite_junit(void **state)
{
	(void)state;
	struct json_object *j = json_tokener_parse(
		"{\"title\": \"suite nightly/\", \"duration_s\": 12.5, \"started_at\": \"2026-11-25T02:00:00.000Z\","
		" \"suite\": {\"dir\": \"nightly/\", \"results\": ["
		"  {\"file\": \"10-held.cfg\", \"title\": \"t1\", \"verdict\": \"held\", \"exit_code\": 0, \"duration_s\": 3,"
		"   \"message\": \"held\", \"details\": \"probe \\\"a\\\": held\\n\"},"
		"  {\"file\": \"20-dev.cfg\", \"verdict\": \"deviated\", \"exit_code\": 1, \"duration_s\": 2,"
		"   \"message\": \"deviated: \\\"web\\\" failed (during)\", \"details\": \"during check \\\"web\\\" failed: <503>\\n\"},"
		"  {\"file\": \"30-abort.cfg\", \"verdict\": \"aborted\", \"exit_code\": 2, \"message\": \"aborted: not steady\"},"
		"  {\"file\": \"40-bad.cfg\", \"verdict\": \"invalid\", \"exit_code\": 3, \"message\": \"invalid: unknown fault kind\"},"
		"  {\"file\": \"50-matrix.cfg\", \"verdict\": \"skipped\", \"exit_code\": null, \"message\": \"a matrix experiment\"}"
		" ]}, \"runs\": []}");
	assert_non_null(j);
	char path[] = "/tmp/ckt-rep-junit-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(suite_junit_write_file(j, path), 0);
	char *xml = slurp(path);
	unlink(path);
	assert_non_null(strstr(xml, "<testsuite name=\"nightly/\" tests=\"5\" failures=\"1\" errors=\"2\" skipped=\"1\""));
	assert_int_equal(count(xml, "<testcase "), 5);
	assert_non_null(strstr(xml, "<failure type=\"deviated\" message=\"deviated: &quot;web&quot; failed (during)\">"
				    "during check &quot;web&quot; failed: &lt;503&gt;\n</failure>"));
	assert_non_null(strstr(xml, "<error type=\"aborted\" message=\"aborted: not steady\">"));
	assert_non_null(strstr(xml, "<error type=\"invalid\" message=\"invalid: unknown fault kind\">"));
	assert_non_null(strstr(xml, "<skipped message=\"a matrix experiment\"/>"));
	assert_int_equal(count(xml, "<failure"), 1);
	assert_int_equal(count(xml, "<error"), 2);
	free(xml);
	json_object_put(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_embed_escapes_markup),
		cmocka_unit_test(test_journal_round_trips),
		cmocka_unit_test(test_no_title_no_verdict),
		cmocka_unit_test(test_write_to_missing_directory),
		cmocka_unit_test(test_suite_junit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
