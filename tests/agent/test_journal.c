#include <errno.h>
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

#include "agent/journal.h"

static char state[256];
static char jdir[512];

static int setup(void **s)
{
	(void)s;
	snprintf(state, sizeof(state), "/tmp/ckt-agt-unit.XXXXXX");
	if (!mkdtemp(state))
		return -1;
	strcat(state, "/sub/state");  /* parents are created too */
	return 0;
}

static int teardown(void **s)
{
	(void)s;
	char cmd[600];
	*strstr(state, "/sub/state") = '\0';
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	return system(cmd) == 0 ? 0 : -1;
}

struct seen {
	int n, unreadable;
	char ids[8][64];
	struct json_object *entries[8];
};

static int collect(const char *id, struct json_object *entry, void *ctx)
{
	struct seen *s = ctx;
	if (!entry) {
		s->unreadable++;
		return 0;
	}
	snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", id);
	s->entries[s->n++] = json_object_get(entry);
	return 0;
}

static void release(struct seen *s)
{
	for (int i = 0; i < s->n; i++)
		json_object_put(s->entries[i]);
}

static void write_read_remove(void **s)
{
	(void)s;
	assert_int_equal(journal_open(state, jdir, sizeof(jdir)), 0);
	struct stat st;
	assert_int_equal(stat(jdir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	struct json_object *params = json_tokener_parse("{\"probability\":0.5}");
	struct json_object *entry = journal_entry_new("f-00c0ffee", "packet-loss", params, 1795596862359ULL, "run-1", NULL);
	assert_int_equal(journal_write(jdir, "f-00c0ffee", entry), 0);
	json_object_put(entry);

	struct seen seen = { 0 };
	assert_int_equal(journal_for_each(jdir, collect, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.ids[0], "f-00c0ffee");
	struct json_object *e = seen.entries[0];
	assert_string_equal(json_object_get_string(json_object_object_get(e, "kind")), "packet-loss");
	assert_string_equal(json_object_get_string(json_object_object_get(e, "deadline")), "2026-11-25T08:54:22.359Z");
	assert_string_equal(json_object_get_string(json_object_object_get(e, "lease")), "run-1");
	assert_true(json_object_equal(json_object_object_get(e, "params"), params));
	assert_int_equal(json_object_object_length(json_object_object_get(e, "record")), 0);
	release(&seen);

	/* after apply: the same file, now with the record */
	struct json_object *record = json_tokener_parse("{\"attachments\":[{\"ifindex\":2}]}");
	entry = journal_entry_new("f-00c0ffee", "packet-loss", params, 1795596862359ULL, NULL, record);
	assert_int_equal(journal_write(jdir, "f-00c0ffee", entry), 0);
	json_object_put(entry);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(journal_for_each(jdir, collect, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_true(json_object_equal(json_object_object_get(seen.entries[0], "record"), record));
	assert_null(json_object_object_get(seen.entries[0], "lease"));
	release(&seen);

	assert_int_equal(journal_remove(jdir, "f-00c0ffee"), 0);
	assert_int_equal(journal_remove(jdir, "f-00c0ffee"), 0);  /* already gone is fine */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(journal_for_each(jdir, collect, &seen), 0);
	assert_int_equal(seen.n, 0);
	json_object_put(params);
	json_object_put(record);
}

static void leftovers_and_garbage(void **s)
{
	(void)s;
	assert_int_equal(journal_open(state, jdir, sizeof(jdir)), 0);
	char path[700];
	snprintf(path, sizeof(path), "%s/.f-00000001.json.tmp", jdir);
	FILE *f = fopen(path, "w");
	fputs("{\"half", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/f-00000002.json", jdir);
	f = fopen(path, "w");
	fputs("not json", f);
	fclose(f);
	struct seen seen = { 0 };
	assert_int_equal(journal_for_each(jdir, collect, &seen), 0);
	assert_int_equal(seen.n, 0);
	assert_int_equal(seen.unreadable, 1);
	snprintf(path, sizeof(path), "%s/.f-00000001.json.tmp", jdir);
	assert_int_equal(access(path, F_OK), -1);  /* stale temp file removed */
	assert_int_equal(journal_remove(jdir, "f-00000002"), 0);
}

static void missing_directory(void **s)
{
	(void)s;
	struct seen seen = { 0 };
	assert_int_equal(journal_for_each("/nonexistent/journal", collect, &seen), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(write_read_remove),
		cmocka_unit_test(leftovers_and_garbage),
		cmocka_unit_test(missing_directory),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
