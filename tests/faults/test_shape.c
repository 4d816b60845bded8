/* Parameters of delay, reorder and bandwidth (docs/faults.md) and the delay
 * line's timing core (faults/delayline.h): distributions, order, pacing. */
#include "faults/delayline.h"
#include "faults/registry.h"
#include "faults/shape.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/faults/params_check.h"

static struct shape_spec *parse_ok(const char *kind, const char *json)
{
	void *spec = NULL;
	struct fault_error err;
	int r = fault_parse_text(kind, json, &spec, &err);
	if (r != 0)
		fail_msg("%s %s refused: [%s] %s", kind, json, err.key, err.msg);
	return spec;
}

static void test_bad_params(void **state)
{
	(void)state;
	fault_expect_parse_error("delay", NULL, "latency", "required");
	fault_expect_parse_error("delay", "[]", "", "object");
	fault_expect_parse_error("delay", "{\"latency\": 50}", "latency", "duration");
	fault_expect_parse_error("delay", "{\"latency\": \"50\"}", "latency", "duration");
	fault_expect_parse_error("delay", "{\"latency\": \"2h\"}", "latency", "at most 1h");
	fault_expect_parse_error("delay", "{\"latency\": \"50ms\", \"jitter\": \"60ms\"}", "jitter", "must not exceed");
	fault_expect_parse_error("delay", "{\"latency\": \"50ms\", \"distribution\": \"pareto\"}", "distribution", "normal");
	fault_expect_parse_error("delay", "{\"latency\": \"50ms\", \"correlation\": 1}", "correlation", "[0, 1)");
	fault_expect_parse_error("delay", "{\"latency\": \"50ms\", \"correlation\": -0.1}", "correlation", "[0, 1)");
	fault_expect_parse_error("delay", "{\"latency\": \"50ms\", \"reorder\": 1.5}", "reorder", "[0, 1]");
	fault_expect_parse_error("delay", "{\"latency\": \"50ms\", \"backend\": \"tc\"}", "backend", "delay-line");
	fault_expect_parse_error("delay", "{\"latency\": \"50ms\", \"rate\": \"1mbit\"}", "rate", "unknown parameter");
	fault_expect_parse_error("delay", "{\"latency\": \"50ms\", \"direction\": \"up\"}", "direction", "ingress");
	fault_expect_parse_error("delay", "{\"latency\": \"50ms\", \"match\": {\"protocol\": \"sctp\"}}", "match.protocol", "tcp");
	fault_expect_parse_error("reorder", "{}", "share", "required");
	fault_expect_parse_error("reorder", "{\"share\": 0}", "share", "(0, 1]");
	fault_expect_parse_error("reorder", "{\"share\": 0.2, \"gap\": \"0ms\"}", "gap", "more than 0");
	fault_expect_parse_error("reorder", "{\"share\": 0.2, \"latency\": \"5ms\"}", "latency", "known: share, gap");
	fault_expect_parse_error("bandwidth", "{}", "rate", "required");
	fault_expect_parse_error("bandwidth", "{\"rate\": 1000000}", "rate", "unit");
	fault_expect_parse_error("bandwidth", "{\"rate\": \"1mb\"}", "rate", "unit");
	fault_expect_parse_error("bandwidth", "{\"rate\": \"100kB/s\"}", "rate", "unit");
	fault_expect_parse_error("bandwidth", "{\"rate\": \"1bit\"}", "rate", "8kbit");
	fault_expect_parse_error("bandwidth", "{\"rate\": \"1mbit\", \"burst\": \"1kb\"}", "burst", "kB");
	fault_expect_parse_error("bandwidth", "{\"rate\": \"1mbit\", \"queue\": \"100B\"}", "queue", "1500B");
}

static void test_defaults_and_json(void **state)
{
	(void)state;
	struct shape_spec *s = parse_ok("delay", "{\"latency\": \"50ms\"}");
	assert_int_equal(s->kind, SHAPE_DELAY);
	assert_int_equal(s->latency_us, 50000);
	assert_int_equal(s->jitter_us, 0);
	assert_int_equal(s->distribution, SHAPE_DIST_UNIFORM);
	assert_int_equal(s->match.direction, PACKET_DIR_BOTH);
	assert_null(s->backend_preference);
	struct json_object *j = fault_kind_find("delay")->spec_to_json(s);
	assert_string_equal(json_object_get_string(json_object_object_get(j, "latency")), "50ms");
	assert_string_equal(json_object_get_string(json_object_object_get(j, "backend")), "auto");
	assert_string_equal(json_object_get_string(json_object_object_get(j, "direction")), "both");
	json_object_put(j);
	free(s);

	s = parse_ok("delay", "{\"latency\": \"250us\", \"jitter\": \"100us\", \"distribution\": \"normal\", "
			      "\"correlation\": 0.5, \"reorder\": 0.1, \"backend\": \"delay-line\", \"direction\": \"egress\"}");
	assert_int_equal(s->latency_us, 250);
	assert_int_equal(s->jitter_us, 100);
	assert_int_equal(s->distribution, SHAPE_DIST_NORMAL);
	assert_true(fabs(s->correlation - 0.5) < 1e-12);
	assert_true(fabs(s->reorder_share - 0.1) < 1e-12);
	assert_string_equal(s->backend_preference, "delay-line");
	j = fault_kind_find("delay")->spec_to_json(s);
	assert_string_equal(json_object_get_string(json_object_object_get(j, "latency")), "250us");
	json_object_put(j);
	free(s);

	s = parse_ok("reorder", "{\"share\": 0.25}");
	assert_int_equal(s->kind, SHAPE_REORDER);
	assert_int_equal(s->latency_us, 10000);
	assert_true(fabs(s->reorder_share - 0.25) < 1e-12);
	free(s);

	s = parse_ok("bandwidth", "{\"rate\": \"8mbit\"}");
	assert_int_equal(s->rate_bps, 8000000);
	assert_int_equal(s->burst_bytes, 10000);      /* 10 ms at the rate */
	assert_int_equal(s->queue_bytes, 64000);
	free(s);
	s = parse_ok("bandwidth", "{\"rate\": \"1.5Gbit\", \"burst\": \"32kB\", \"queue\": \"1MiB\", \"backend\": \"netem\"}");
	assert_int_equal(s->rate_bps, 1500000000ull);
	assert_int_equal(s->burst_bytes, 32000);
	assert_int_equal(s->queue_bytes, 1048576);
	assert_string_equal(s->backend_preference, "netem");
	free(s);
	s = parse_ok("bandwidth", "{\"rate\": \"100kbit\"}");
	assert_int_equal(s->burst_bytes, 3028);       /* never below two frames */
	free(s);
}

/* Draws `n` delays (ms) from a shaper for frames arriving `spacing_ns` apart. */
static double *draw(const struct shape_spec *spec, int n, uint64_t spacing_ns, int *at_once)
{
	struct delayline_shaper sh;
	delayline_shaper_init(&sh, spec, 42);
	double *d = calloc((size_t)n, sizeof(*d));
	assert_non_null(d);
	uint64_t prev_due = 0;
	*at_once = 0;
	for (int i = 0; i < n; i++) {
		uint64_t now = 1000000000ull + (uint64_t)i * spacing_ns;
		bool once;
		uint64_t due = delayline_shaper_due(&sh, now, 100, &once);
		assert_true(due >= now);
		if (once)
			(*at_once)++;
		else if (spec->reorder_share == 0)
			assert_true(due >= prev_due); /* order kept */
		if (!once)
			prev_due = due;
		d[i] = (double)(due - now) / 1e6;
	}
	return d;
}

static void moments(const double *d, int n, double *mean, double *std, double *min, double *max)
{
	double s = 0, ss = 0;
	*min = INFINITY;
	*max = -INFINITY;
	for (int i = 0; i < n; i++) {
		s += d[i];
		*min = fmin(*min, d[i]);
		*max = fmax(*max, d[i]);
	}
	*mean = s / n;
	for (int i = 0; i < n; i++)
		ss += (d[i] - *mean) * (d[i] - *mean);
	*std = sqrt(ss / n);
}

static void test_distributions(void **state)
{
	(void)state;
	const int n = 100000;
	int at_once;
	double mean, std, min, max;
	/* Frames far apart (1 s): keeping order never holds one back. */
	struct shape_spec u = { .kind = SHAPE_DELAY, .latency_us = 20000, .jitter_us = 10000,
				.distribution = SHAPE_DIST_UNIFORM };
	double *d = draw(&u, n, 1000000000ull, &at_once);
	moments(d, n, &mean, &std, &min, &max);
	assert_true(min >= 10.0 && max <= 30.0);
	assert_true(min < 10.1 && max > 29.9);
	assert_true(fabs(mean - 20.0) < 0.1);
	assert_true(fabs(std - 10.0 / sqrt(3.0)) < 0.1);
	free(d);

	struct shape_spec g = { .kind = SHAPE_DELAY, .latency_us = 50000, .jitter_us = 5000,
				.distribution = SHAPE_DIST_NORMAL, .correlation = 0.75 };
	d = draw(&g, n, 1000000000ull, &at_once);
	moments(d, n, &mean, &std, &min, &max);
	/* Correlation keeps the marginal distribution (unlike netem's). */
	assert_true(fabs(mean - 50.0) < 0.15);
	assert_true(fabs(std - 5.0) < 0.15);
	double num = 0, den = 0;
	for (int i = 1; i < n; i++) {
		num += (d[i] - mean) * (d[i - 1] - mean);
		den += (d[i] - mean) * (d[i] - mean);
	}
	assert_true(fabs(num / den - 0.75) < 0.03);
	free(d);

	/* Dense traffic: order is kept, so no frame leaves before the previous one. */
	d = draw(&u, n, 100000, &at_once);
	assert_int_equal(at_once, 0);
	free(d);

	struct shape_spec r = { .kind = SHAPE_REORDER, .latency_us = 10000, .reorder_share = 0.25 };
	d = draw(&r, n, 1000000, &at_once);
	/* Binomial(100000, 0.25): sigma 137. */
	assert_true(abs(at_once - 25000) < 700);
	for (int i = 0; i < n; i++)
		assert_true(d[i] == 0.0 || fabs(d[i] - 10.0) < 1e-9);
	free(d);
}

static void test_pacing(void **state)
{
	(void)state;
	struct shape_spec b = { .kind = SHAPE_BANDWIDTH, .rate_bps = 8000000, .burst_bytes = 10000 };
	struct delayline_shaper sh;
	delayline_shaper_init(&sh, &b, 1);
	bool once;
	uint64_t t0 = 5000000000ull, due = 0;
	/* 1000 frames of 1000 bytes at once: the first 10 kB leave at once, the rest at 1 ms per frame. */
	for (int i = 0; i < 1000; i++) {
		due = delayline_shaper_due(&sh, t0, 1000, &once);
		if (i < 9)
			assert_true(due == t0);
	}
	/* 1 MB at 1 MB/s, minus the 10 kB burst: 990 ms. */
	assert_true(llabs((long long)(due - t0) - 990000000ll) < 1000000);
	/* Idle for a second refills the bucket to its burst, not more. */
	uint64_t later = due + 1000000000ull;
	for (int i = 0; i < 10; i++)
		assert_true(delayline_shaper_due(&sh, later, 1000, &once) == later);
	assert_true(delayline_shaper_due(&sh, later, 1000, &once) > later);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_defaults_and_json),
		cmocka_unit_test(test_distributions),
		cmocka_unit_test(test_pacing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
