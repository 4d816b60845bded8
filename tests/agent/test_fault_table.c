/* Lifetimes with a fake kind: deadlines, leases, revert, halt, failed applies,
 * journal and recovery. No privileges needed. */
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

#include "agent/fault_table.h"
#include "agent/journal.h"
#include "common/timeutil.h"
#include "tests/agent/fake_kind.h"

static const struct fault_kind *const kinds[] = { &fake_kind, NULL };
static const struct fault_family *const families[] = { &fake_family, NULL };

struct fixture {
	char state[256];
	char journal[512];
	struct fault_table *t;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	snprintf(fx->state, sizeof(fx->state), "/tmp/ckt-agt-unit.XXXXXX");
	if (!mkdtemp(fx->state) || journal_open(fx->state, fx->journal, sizeof(fx->journal)) < 0)
		return -1;
	struct fault_table_config cfg = {
		.kinds = kinds, .families = families, .state_dir = fx->state, .journal_dir = fx->journal,
		.packet_backend = "auto", .control_ports = { 7070 }, .n_control_ports = 1, .max_faults = 3,
		.max_ended = 4,
	};
	fake_reset();
	if (fault_table_new(&cfg, &fx->t) < 0 || fault_table_start(fx->t) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	fault_table_revert_all(fx->t, "shutdown");
	fault_table_free(fx->t);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->state);
	int r = system(cmd);
	free(fx);
	return r == 0 ? 0 : -1;
}

static int journal_count(const char *dir)
{
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "ls '%s' | grep -c '\\.json$'", dir);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (fscanf(p, "%d", &n) != 1)
		n = -1;
	pclose(p);
	return n;
}

static int apply(struct fixture *fx, const char *body, struct json_object **fault, struct api_error *err)
{
	struct fault_request req;
	int r = fault_request_parse(body, strlen(body), kinds, 600000, &req, err);
	if (r < 0)
		return r;
	return fault_table_apply(fx->t, &req, fault, err);
}

static const char *field(struct json_object *o, const char *key)
{
	struct json_object *v = json_object_object_get(o, key);
	return v ? json_object_get_string(v) : "";
}

static char *state_of(struct fixture *fx, const char *id)
{
	static char buf[32];
	struct json_object *f;
	if (fault_table_get(fx->t, id, &f) < 0)
		return "none";
	snprintf(buf, sizeof(buf), "%s", field(f, "state"));
	json_object_put(f);
	return buf;
}

static void apply_list_revert(void **state)
{
	struct fixture *fx = *state;
	struct json_object *f;
	struct api_error err;
	assert_int_equal(apply(fx, "{\"kind\":\"fake\",\"duration\":\"1m\",\"params\":{\"level\":2}}", &f, &err), 0);
	char id[32];
	snprintf(id, sizeof(id), "%s", field(f, "id"));
	assert_int_equal(strncmp(id, "f-", 2), 0);
	assert_string_equal(field(f, "state"), "active");
	assert_int_equal(json_object_get_int(json_object_object_get(json_object_object_get(f, "stats"), "ticks")), 20);
	json_object_put(f);
	assert_int_equal(fake.applied, 1);
	assert_int_equal(journal_count(fx->journal), 1);

	struct json_object *list = fault_table_list(fx->t);
	assert_int_equal(json_object_array_length(json_object_object_get(list, "faults")), 1);
	json_object_put(list);

	assert_int_equal(fault_table_revert(fx->t, id, &f), 0);
	assert_string_equal(field(f, "state"), "reverted");
	assert_string_equal(field(f, "revert_reason"), "deleted");
	json_object_put(f);
	assert_int_equal(fake.reverted, 1);
	assert_int_equal(journal_count(fx->journal), 0);
	/* a second DELETE shows the ended fault and reverts nothing */
	assert_int_equal(fault_table_revert(fx->t, id, &f), 0);
	json_object_put(f);
	assert_int_equal(fake.reverted, 1);
	assert_int_equal(fault_table_get(fx->t, "f-deadbeef", &f), -ENOENT);
}

static void deadline_reverts(void **state)
{
	struct fixture *fx = *state;
	struct json_object *f;
	struct api_error err;
	uint64_t start = mono_ms();
	assert_int_equal(apply(fx, "{\"kind\":\"fake\",\"duration\":\"200ms\"}", &f, &err), 0);
	char id[32];
	snprintf(id, sizeof(id), "%s", field(f, "id"));
	json_object_put(f);
	while (strcmp(state_of(fx, id), "active") == 0 && mono_ms() - start < 5000)
		sleep_ms(10);
	uint64_t took = mono_ms() - start;
	assert_string_equal(state_of(fx, id), "expired");
	assert_true(took >= 200);
	assert_true(took < 2000);
	assert_int_equal(fake.reverted, 1);
	assert_int_equal(journal_count(fx->journal), 0);
	print_message("deadline 200 ms: seen reverted after %llu ms\n", (unsigned long long)took);
}

static void lease_expiry_and_renewal(void **state)
{
	struct fixture *fx = *state;
	struct json_object *f, *ans;
	struct api_error err;
	assert_int_equal(apply(fx, "{\"kind\":\"fake\",\"duration\":\"1m\",\"lease\":{\"id\":\"kept\",\"ttl\":\"300ms\"}}",
			       &f, &err), 0);
	char kept[32];
	snprintf(kept, sizeof(kept), "%s", field(f, "id"));
	json_object_put(f);
	assert_int_equal(apply(fx, "{\"kind\":\"fake\",\"duration\":\"1m\",\"lease\":{\"id\":\"lost\",\"ttl\":\"300ms\"}}",
			       &f, &err), 0);
	char lost[32];
	snprintf(lost, sizeof(lost), "%s", field(f, "id"));
	json_object_put(f);
	for (int i = 0; i < 10; i++) {  /* 1 s of renewals every 100 ms */
		sleep_ms(100);
		assert_int_equal(fault_table_renew_lease(fx->t, "kept", 0, &ans), 0);
		assert_int_equal(json_object_get_int(json_object_object_get(ans, "faults")), 1);
		json_object_put(ans);
	}
	assert_string_equal(state_of(fx, kept), "active");
	assert_string_equal(state_of(fx, lost), "lease_lost");
	assert_int_equal(fault_table_renew_lease(fx->t, "lost", 0, &ans), -ENOENT);
	assert_int_equal(fault_table_renew_lease(fx->t, "never", 0, &ans), -ENOENT);
}

static void failed_apply_leaves_nothing(void **state)
{
	struct fixture *fx = *state;
	struct json_object *f;
	struct api_error err;
	fake.fail_apply = -EIO;
	assert_int_equal(apply(fx, "{\"kind\":\"fake\",\"duration\":\"1m\"}", &f, &err) < 0, 1);
	assert_int_equal(err.status, 500);
	assert_string_equal(err.reason, "apply_failed");
	fake.fail_apply = -EBUSY;
	assert_int_equal(apply(fx, "{\"kind\":\"fake\",\"duration\":\"1m\"}", &f, &err) < 0, 1);
	assert_int_equal(err.status, 409);
	fake.fail_apply = -ESRCH;
	assert_int_equal(apply(fx, "{\"kind\":\"fake\",\"duration\":\"1m\"}", &f, &err) < 0, 1);
	assert_int_equal(err.status, 422);
	assert_string_equal(err.reason, "not_applicable");
	fake.fail_probe = -EOPNOTSUPP;
	assert_int_equal(apply(fx, "{\"kind\":\"fake\",\"duration\":\"1m\"}", &f, &err) < 0, 1);
	assert_int_equal(err.status, 422);
	assert_string_equal(err.reason, "unsupported");
	assert_non_null(strstr(err.message, "fake kernel lacks it"));
	fake.fail_probe = 0;
	assert_int_equal(journal_count(fx->journal), 0);
	struct json_object *list = fault_table_list(fx->t);
	assert_int_equal(json_object_array_length(json_object_object_get(list, "faults")), 0);
	json_object_put(list);
}

static void max_faults_and_halt(void **state)
{
	struct fixture *fx = *state;
	struct json_object *f;
	struct api_error err;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(apply(fx, "{\"kind\":\"fake\",\"duration\":\"1m\"}", &f, &err), 0);
		json_object_put(f);
	}
	assert_true(apply(fx, "{\"kind\":\"fake\",\"duration\":\"1m\"}", &f, &err) < 0);
	assert_int_equal(err.status, 409);
	assert_string_equal(err.reason, "too_many_faults");
	assert_int_equal(fault_table_revert_all(fx->t, "halted"), 3);
	assert_int_equal(fake.reverted, 3);
	assert_int_equal(journal_count(fx->journal), 0);
	struct json_object *m = fault_table_metrics(fx->t);
	assert_int_equal(json_object_get_int(json_object_object_get(m, "applied_total")), 3);
	assert_int_equal(json_object_get_int(json_object_object_get(json_object_object_get(m, "reverted_total"), "halted")), 3);
	json_object_put(m);
}

static void recovery_from_journal(void **state)
{
	struct fixture *fx = *state;
	struct json_object *rec = json_tokener_parse("{\"fake_object\":\"f-0000abcd\"}");
	struct json_object *e = journal_entry_new("f-0000abcd", "fake", NULL, 1, NULL, rec);
	assert_int_equal(journal_write(fx->journal, "f-0000abcd", e), 0);
	json_object_put(e);
	json_object_put(rec);
	e = journal_entry_new("f-0000abce", "no-such-kind", NULL, 1, NULL, NULL);
	assert_int_equal(journal_write(fx->journal, "f-0000abce", e), 0);
	json_object_put(e);
	assert_int_equal(fault_table_recover(fx->t), 1);
	assert_int_equal(fake.recovered, 1);
	assert_string_equal(fake.last_recover_id, "f-0000abcd");
	assert_int_equal(fake.swept, 1);
	/* the unknown kind's entry stays for an agent that knows it */
	assert_int_equal(journal_count(fx->journal), 1);
	journal_remove(fx->journal, "f-0000abce");
}

static void ended_faults_are_kept_briefly(void **state)
{
	struct fixture *fx = *state;
	struct json_object *f;
	struct api_error err;
	char first[32] = "";
	for (int i = 0; i < 6; i++) {  /* max_ended is 4 */
		assert_int_equal(apply(fx, "{\"kind\":\"fake\",\"duration\":\"1m\"}", &f, &err), 0);
		char id[32];
		snprintf(id, sizeof(id), "%s", field(f, "id"));
		if (i == 0)
			snprintf(first, sizeof(first), "%s", id);
		json_object_put(f);
		assert_int_equal(fault_table_revert(fx->t, id, &f), 0);
		json_object_put(f);
	}
	assert_string_equal(state_of(fx, first), "none");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(apply_list_revert, setup, teardown),
		cmocka_unit_test_setup_teardown(deadline_reverts, setup, teardown),
		cmocka_unit_test_setup_teardown(lease_expiry_and_renewal, setup, teardown),
		cmocka_unit_test_setup_teardown(failed_apply_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(max_faults_and_halt, setup, teardown),
		cmocka_unit_test_setup_teardown(recovery_from_journal, setup, teardown),
		cmocka_unit_test_setup_teardown(ended_faults_are_kept_briefly, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
