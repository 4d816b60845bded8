#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/metrics.h"

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void renders_counters_and_fault_stats(void **state)
{
	(void)state;
	struct json_object *snap = json_tokener_parse(
		"{\"name\":\"h\\\"1\",\"version\":\"0.1.0\",\"active\":2,\"applied_total\":7,"
		"\"reverted_total\":{\"expired\":3,\"lease_lost\":1},"
		"\"faults\":[{\"id\":\"f-000001\",\"kind\":\"blackhole\",\"stats\":{\"packets_matched\":12,\"packets_dropped\":4,\"backend\":\"tcx\"}},"
		"           {\"id\":\"f-000002\",\"kind\":\"packet-loss\",\"stats\":{\"packets_matched\":5,\"bytes_total\":99,\"bad-name\":1}}]}");
	char *text = metrics_render(snap);
	assert_non_null(text);
	assert_non_null(strstr(text, "chaoskit_agent_info{version=\"0.1.0\",name=\"h\\\"1\"} 1\n"));
	assert_non_null(strstr(text, "\nchaoskit_faults_active 2\n"));
	assert_non_null(strstr(text, "\nchaoskit_faults_applied_total 7\n"));
	assert_non_null(strstr(text, "\nchaoskit_faults_reverted_total{reason=\"expired\"} 3\n"));
	assert_non_null(strstr(text, "\nchaoskit_faults_reverted_total{reason=\"lease_lost\"} 1\n"));
	assert_non_null(strstr(text, "\nchaoskit_fault_packets_matched_total{id=\"f-000001\",kind=\"blackhole\"} 12\n"));
	assert_non_null(strstr(text, "\nchaoskit_fault_packets_matched_total{id=\"f-000002\",kind=\"packet-loss\"} 5\n"));
	assert_non_null(strstr(text, "\nchaoskit_fault_packets_dropped_total{id=\"f-000001\",kind=\"blackhole\"} 4\n"));
	/* a stat already ending in _total keeps one suffix */
	assert_non_null(strstr(text, "\nchaoskit_fault_bytes_total{id=\"f-000002\",kind=\"packet-loss\"} 99\n"));
	/* one TYPE line per family even with several faults reporting it */
	assert_int_equal(count(text, "# TYPE chaoskit_fault_packets_matched_total counter\n"), 1);
	assert_int_equal(count(text, "# TYPE "), count(text, "# HELP "));
	/* strings and names unsafe for Prometheus are left out */
	assert_null(strstr(text, "backend"));
	assert_null(strstr(text, "bad-name"));
	/* every sample line is "name{labels} value" or "name value" */
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (line[0] != '#')
			assert_non_null(strrchr(line, ' '));
	free(text);
	json_object_put(snap);
}

static void renders_an_idle_agent(void **state)
{
	(void)state;
	struct json_object *snap = json_tokener_parse("{\"name\":\"h1\",\"version\":\"0.1.0\",\"active\":0,"
						      "\"applied_total\":0,\"reverted_total\":{},\"faults\":[]}");
	char *text = metrics_render(snap);
	assert_non_null(strstr(text, "chaoskit_faults_active 0\n"));
	assert_null(strstr(text, "chaoskit_fault_"));
	free(text);
	json_object_put(snap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(renders_counters_and_fault_stats),
		cmocka_unit_test(renders_an_idle_agent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
