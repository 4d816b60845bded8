/* The helpers the process and disk faults share: byte sizes, microsecond durations,
 * small text files and the state-file sweep walk. Unprivileged; files under a
 * temporary directory of the test's own. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/duration.h"
#include "common/size.h"
#include "common/statefile.h"
#include "common/textfile.h"

static void sizes(void **state)
{
	(void)state;
	struct { const char *text; enum size_syntax syntax; uint64_t want; } ok[] = {
		{ "1048576", SIZE_STRICT, 1048576 }, { "512B", SIZE_STRICT, 512 },
		{ "64K", SIZE_STRICT, 65536 }, { "64k", SIZE_STRICT, 65536 }, { "64KiB", SIZE_STRICT, 65536 },
		{ "1MiB", SIZE_STRICT, 1 << 20 }, { "2GB", SIZE_STRICT, 2000000000ULL },
		{ "1kB", SIZE_STRICT, 1000 }, { "1TiB", SIZE_STRICT, 1ULL << 40 },
		{ "1.5GiB", SIZE_LENIENT, 3ULL << 29 }, { " 64 MiB", SIZE_LENIENT, 64ULL << 20 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t v = 7;
		if (size_parse(ok[i].text, ok[i].syntax, &v) != 0 || v != ok[i].want)
			fail_msg("\"%s\": got %llu, want %llu", ok[i].text, (unsigned long long)v,
				 (unsigned long long)ok[i].want);
	}
	const char *bad_strict[] = { "", "MiB", "1.5GiB", " 64MiB", "64 MiB", "12XB", "-1MiB", "0x10", "1e3", "1.5" };
	for (size_t i = 0; i < sizeof(bad_strict) / sizeof(bad_strict[0]); i++) {
		uint64_t v = 7;
		if (size_parse(bad_strict[i], SIZE_STRICT, &v) != -EINVAL)
			fail_msg("\"%s\" accepted as strict (%llu)", bad_strict[i], (unsigned long long)v);
	}
	uint64_t v;
	assert_int_equal(size_parse("1.5", SIZE_LENIENT, &v), -EINVAL);   /* no fraction of a byte */
	assert_int_equal(size_parse("20000000TiB", SIZE_STRICT, &v), -ERANGE);
	assert_int_equal(size_parse("18446744073709551616", SIZE_STRICT, &v), -ERANGE);
}

static void durations_in_microseconds(void **state)
{
	(void)state;
	uint64_t us;
	assert_int_equal(duration_parse_us("250us", 1000000, &us), 0);
	assert_int_equal(us, 250);
	assert_int_equal(duration_parse_us("20ms", 1000000, &us), 0);
	assert_int_equal(us, 20000);
	assert_int_equal(duration_parse_us("1s", 1000000, &us), 0);
	assert_int_equal(us, 1000000);
	assert_int_equal(duration_parse_us("2s", 1000000, &us), -ERANGE);
	assert_int_equal(duration_parse_us("20", 1000000, &us), -EINVAL);
	assert_int_equal(duration_parse_us("us", 1000000, &us), -EINVAL);
}

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ckt-common-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void text_files(void **state)
{
	(void)state;
	char path[128], buf[8];
	snprintf(path, sizeof(path), "%s/value", dir);
	assert_int_equal(text_file_write(path, "x"), -ENOENT);   /* never creates */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(text_file_write(path, "FROZEN\n"), 0);
	assert_int_equal(text_file_read(path, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "FROZEN\n");
	assert_int_equal(text_file_write(path, "much longer text"), 0);
	assert_int_equal(text_file_read(path, buf, sizeof(buf)), 7);  /* cut at the buffer */
	assert_string_equal(buf, "much lo");
	assert_int_equal(text_file_write(path, "0"), 0);   /* replaces, as "THAWED" must replace "FROZEN" */
	assert_int_equal(text_file_read(path, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "0");
}

static int count_visit(const char *path, void *ctx)
{
	int *seen = ctx;
	(*seen)++;
	assert_non_null(strstr(path, ".json"));
	return unlink(path) == 0 ? 1 : -errno;
}

static void state_file_sweep_walk(void **state)
{
	(void)state;
	int seen = 0;
	assert_int_equal(state_file_each(dir, "nothing-here", count_visit, &seen), 0);
	assert_int_equal(state_file_write(dir, "fam", "f-1", "{}"), 0);
	assert_int_equal(state_file_write(dir, "fam", "f-2", "{}"), 0);
	char path[256];
	/* a crash between writing the temporary file and renaming it */
	assert_int_equal(state_file_path(dir, "fam", "f-3", path, sizeof(path)), 0);
	strcat(path, ".tmp");
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(state_file_each(dir, "fam", count_visit, &seen), 2);
	assert_int_equal(seen, 2);
	assert_int_equal(access(path, F_OK), -1);  /* the .tmp is gone, not visited */
	state_file_remove(dir, "fam", "f-1", "test");  /* gone already: fine */
	seen = 0;
	assert_int_equal(state_file_each(dir, "fam", count_visit, &seen), 0);
	assert_int_equal(seen, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sizes),
		cmocka_unit_test(durations_in_microseconds),
		cmocka_unit_test_setup_teardown(text_files, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(state_file_sweep_walk, make_dir, remove_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
