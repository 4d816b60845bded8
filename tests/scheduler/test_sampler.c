/* Continuous sampling with real (command) probes: a slow probe does not hold back
 * the others, an abort condition stops the run, and detection and recovery figures
 * come out of the samples. */
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

#include "common/timeutil.h"
#include "scheduler/run.h"
#include "scheduler/sampler.h"

static char dir[] = "/tmp/ckt-eng-sampler-XXXXXX";

static void path_in_dir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void touch(const char *name)
{
	char p[128];
	path_in_dir(p, sizeof(p), name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
}

static void rm(const char *name)
{
	char p[128];
	path_in_dir(p, sizeof(p), name);
	unlink(p);
}

static size_t count_samples(struct sampler *s, const struct probe *p, uint64_t until_ms)
{
	pthread_mutex_lock(&s->lock);
	size_t n = 0;
	for (size_t i = 0; i < s->n_samples; i++)
		n += s->samples[i].probe == p && s->samples[i].t_ms <= until_ms;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void sampling_abort_and_recovery(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	char run_down[256], run_abort[256];
	snprintf(run_down, sizeof(run_down), "test ! -e %s/down", dir);
	snprintf(run_abort, sizeof(run_abort), "test ! -e %s/abort", dir);
	struct probe probes[3] = {
		{ .name = "service", .type = PROBE_COMMAND, .run = run_down, .timeout_ms = 2000 },
		/* always ok, but each sample takes 1s */
		{ .name = "slow", .type = PROBE_COMMAND, .run = "sleep 1", .timeout_ms = 3000 },
		{ .name = "dependency", .type = PROBE_COMMAND, .run = "true", .timeout_ms = 2000,
		  .expect = EXPECT_DEVIATE },
	};
	struct probe aborts[1] = {
		{ .name = "kill switch", .type = PROBE_COMMAND, .run = run_abort, .timeout_ms = 2000, .every_ms = 100 },
	};
	struct experiment e = { .title = "sampler", .probes = probes, .n_probes = 3, .aborts = aborts, .n_aborts = 1,
				.sample_every_ms = 200, .recovery_window_ms = 5000 };
	struct report rep;
	assert_int_equal(report_init(&rep, "sampler", "test"), 0);
	struct sampler s;
	assert_int_equal(sampler_init(&s, &rep, true), 0);
	uint64_t injected = mono_ms() - rep.start_mono_ms;
	assert_int_equal(sampler_start(&s, &e), 0);

	sleep_ms(500);
	touch("down");               /* the service deviates ~500ms after the "injection" */
	sleep_ms(1000);
	uint64_t reverted = mono_ms() - rep.start_mono_ms;
	sampler_set_reverted(&s, reverted);
	assert_false(sampler_all_recovered(&s, &e));
	sleep_ms(300);
	rm("down");                  /* ... and recovers ~300ms after the "revert" */

	/* 200ms ticks hold for the fast probes while the slow one takes 1s per sample */
	uint64_t window = injected + 1500;
	size_t fast = count_samples(&s, &probes[0], window), slow = count_samples(&s, &probes[1], window);
	print_message("in 1.5s: %zu samples of the fast probe, %zu of the slow one\n", fast, slow);
	assert_true(fast >= 5);
	assert_true(slow <= 2);
	assert_true(fast >= 3 * slow);

	assert_false(atomic_load(&s.abort_requested));
	uint64_t t0 = mono_ms();
	touch("abort");
	while (!atomic_load(&s.abort_requested) && mono_ms() - t0 < 3000)
		sleep_ms(10);
	uint64_t took = mono_ms() - t0;
	print_message("abort condition noticed after %llums\n", (unsigned long long)took);
	assert_true(atomic_load(&s.abort_requested));
	assert_true(took < 2000);
	assert_ptr_equal(s.aborted_by, &aborts[0]);
	sampler_stop_aborts(&s);
	rm("abort");

	uint64_t until = mono_ms() + 5000;
	while (!sampler_all_recovered(&s, &e) && mono_ms() < until)
		sleep_ms(20);
	assert_true(sampler_all_recovered(&s, &e));
	sampler_stop_steady(&s);
	uint64_t ended = mono_ms() - rep.start_mono_ms;

	struct recovery r;
	sampler_recovery(&s, &probes[0], injected, reverted, ended, &r);
	print_message("service: detected after %lldms, recovered after %lldms\n", (long long)r.detected_after_ms,
		      (long long)r.recovered_after_ms);
	assert_true(r.deviated);
	assert_true(r.failed_during_method);
	assert_true(r.detected_after_ms >= 450 && r.detected_after_ms <= 1400);
	assert_true(r.recovered);
	assert_true(r.recovered_after_ms >= 250 && r.recovered_after_ms <= 1500);
	sampler_recovery(&s, &probes[2], injected, reverted, ended, &r);
	assert_false(r.deviated);
	assert_true(r.recovered);
	assert_int_equal(r.detected_after_ms, -1);
	assert_int_equal(r.recovered_after_ms, -1);
	/* a window that ends before the recovery: not recovered */
	sampler_recovery(&s, &probes[0], injected, reverted, reverted + 100, &r);
	assert_true(r.deviated);
	assert_false(r.recovered);
	assert_int_equal(r.recovered_after_ms, -1);

	struct json_object *samples = sampler_samples_json(&s);
	size_t n = json_object_array_length(samples);
	assert_true(n > 10);
	int64_t last = -1;
	size_t aborts_seen = 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *x = json_object_array_get_idx(samples, i), *v;
		assert_true(json_object_object_get_ex(x, "t_ms", &v));
		assert_true(json_object_get_int64(v) >= last);
		last = json_object_get_int64(v);
		assert_true(json_object_object_get_ex(x, "probe", &v));
		assert_true(json_object_object_get_ex(x, "ok", &v));
		assert_true(json_object_object_get_ex(x, "latency_ms", &v));
		assert_true(json_object_object_get_ex(x, "reason", &v));
		aborts_seen += json_object_object_get_ex(x, "abort_condition", &v);
	}
	assert_true(aborts_seen >= 5);
	json_object_put(samples);
	sampler_free(&s);
	report_free(&rep);
	rmdir(dir);
}

static void wall_clock_times_parse(void **state)
{
	(void)state;
	uint64_t ms = 0;
	assert_int_equal(wall_ms_parse("2026-11-25T08:39:23.123Z", &ms), 0);
	char buf[40];
	assert_string_equal(wall_ms_format(ms, buf, sizeof(buf)), "2026-11-25T08:39:23.123Z");
	assert_int_equal(wall_ms_parse("2026-11-25T08:39:23Z", &ms), -EINVAL);
	assert_int_equal(wall_ms_parse("2026-11-25T08:39:23.123Zjunk", &ms), -EINVAL);
	assert_int_equal(wall_ms_parse(NULL, &ms), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sampling_abort_and_recovery),
		cmocka_unit_test(wall_clock_times_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
