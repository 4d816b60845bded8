#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/duration.h"

static void parses_each_unit(void **state)
{
	(void)state;
	struct { const char *text; uint64_t ms; } cases[] = {
		{ "250ms", 250 }, { "10s", 10000 }, { "5m", 300000 }, { "1h", 3600000 },
		{ "2d", 172800000 }, { "1m30s", 90000 }, { "1.5s", 1500 }, { "0s", 0 },
		{ "1h2m3s4ms", 3723004 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ms = 12345;
		assert_int_equal(duration_parse(cases[i].text, &ms), 0);
		assert_int_equal(ms, cases[i].ms);
	}
}

static void rejects_malformed(void **state)
{
	(void)state;
	const char *bad[] = { "", "10", "s", "10 s", "-1s", "1.s", "10sec", "1x", "1.0005s", "ms", "1s2",
			      "1.5ms" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t ms = 777;
		assert_int_equal(duration_parse(bad[i], &ms), -EINVAL);
		assert_int_equal(ms, 777); /* output untouched on failure */
	}
	uint64_t ms;
	assert_int_equal(duration_parse(NULL, &ms), -EINVAL);
}

static void rejects_overflow(void **state)
{
	(void)state;
	uint64_t ms;
	assert_int_equal(duration_parse("99999999999999999999ms", &ms), -ERANGE);
	assert_int_equal(duration_parse("9999999999999999d", &ms), -ERANGE);
}

static void formats_compactly(void **state)
{
	(void)state;
	char buf[32];
	assert_string_equal(duration_format(0, buf, sizeof(buf)), "0s");
	assert_string_equal(duration_format(250, buf, sizeof(buf)), "250ms");
	assert_string_equal(duration_format(90000, buf, sizeof(buf)), "1m30s");
	assert_string_equal(duration_format(3723004, buf, sizeof(buf)), "1h2m3s4ms");
	/* What format() writes, parse() reads back. */
	uint64_t back;
	assert_int_equal(duration_parse(duration_format(86461001, buf, sizeof(buf)), &back), 0);
	assert_int_equal(back, 86461001);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_each_unit),
		cmocka_unit_test(rejects_malformed),
		cmocka_unit_test(rejects_overflow),
		cmocka_unit_test(formats_compactly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
