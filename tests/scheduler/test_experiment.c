/* The experiment parser and validator: every bad file under bad/ must fail with the
 * file:line and message its "# expect:" header names; the good files load as written. */
#include <dirent.h>
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

#include "scheduler/experiment.h"

static char *source_path(const char *rel)
{
	const char *src = getenv("CK_SOURCE_DIR");
	char *out = NULL;
	if (asprintf(&out, "%s/%s", src ? src : ".", rel) < 0)
		return NULL;
	return out;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* "# expect: [FILE:]LINE: SUBSTRING" */
struct expectation {
	char file[128];
	int line;
	char text[256];
};

static int read_expectations(const char *path, struct expectation *out, int max)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char buf[512];
	int n = 0;
	while (n < max && fgets(buf, sizeof(buf), f) && strncmp(buf, "# expect: ", 10) == 0) {
		buf[strcspn(buf, "\n")] = '\0';
		char *p = buf + 10;
		struct expectation *e = &out[n];
		memset(e, 0, sizeof(*e));
		snprintf(e->file, sizeof(e->file), "%s", base_name(path));
		char *colon = strchr(p, ':');
		assert_non_null(colon);
		*colon = '\0';
		char *second = NULL;
		long line = strtol(p, &second, 10);
		if (*second != '\0') {
			/* FILE:LINE: text */
			snprintf(e->file, sizeof(e->file), "%.100s", p);
			p = colon + 1;
			colon = strchr(p, ':');
			assert_non_null(colon);
			*colon = '\0';
			line = strtol(p, NULL, 10);
		}
		e->line = (int)line;
		snprintf(e->text, sizeof(e->text), "%.200s", colon + 2);
		n++;
	}
	fclose(f);
	return n;
}

static void every_bad_file_fails_where_expected(void **state)
{
	(void)state;
	char *dir = source_path("tests/scheduler/bad");
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *de;
	int files = 0, failures = 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 5 || strcmp(de->d_name + len - 4, ".cfg") != 0)
			continue;
		char *path = NULL;
		assert_true(asprintf(&path, "%s/%s", dir, de->d_name) > 0);
		struct expectation exp[8];
		int n = read_expectations(path, exp, 8);
		if (n == 0) {
			print_error("%s: no '# expect:' header\n", path);
			failures++;
		}
		struct diags diags = { 0 };
		struct experiment e;
		int r = experiment_load(path, NULL, &e, &diags);
		if (r != -EINVAL) {
			print_error("%s: loaded (r=%d), expected -EINVAL\n", de->d_name, r);
			failures++;
			if (r == 0)
				experiment_free(&e);
		}
		for (int i = 0; i < n; i++) {
			bool found = false;
			for (size_t k = 0; k < diags.count; k++) {
				const struct diag *dg = &diags.items[k];
				if (dg->file && strcmp(base_name(dg->file), exp[i].file) == 0 && dg->line == exp[i].line &&
				    strstr(dg->msg, exp[i].text))
					found = true;
			}
			if (!found) {
				print_error("%s: no problem \"%s:%d: ...%s...\"; got:\n", de->d_name, exp[i].file, exp[i].line,
					    exp[i].text);
				for (size_t k = 0; k < diags.count; k++)
					print_error("    %s:%d: %s\n", diags.items[k].file, diags.items[k].line,
						    diags.items[k].msg);
				failures++;
			}
		}
		diags_free(&diags);
		free(path);
		files++;
	}
	closedir(d);
	free(dir);
	assert_true(files >= 25);
	assert_int_equal(failures, 0);
}

static void all_problems_are_reported_not_only_the_first(void **state)
{
	(void)state;
	char *path = source_path("tests/scheduler/bad/many-problems.cfg");
	struct diags d = { 0 };
	struct experiment e;
	assert_int_equal(experiment_load(path, NULL, &e, &d), -EINVAL);
	assert_true(d.count >= 4);
	diags_free(&d);
	free(path);
}

static const struct host *chosen(const struct experiment *e, const struct target *t, size_t i)
{
	return &e->inv.hosts[t->chosen[i]];
}

static const struct target *target_named(const struct experiment *e, const char *name)
{
	for (size_t i = 0; i < e->n_targets; i++)
		if (strcmp(e->targets[i].name, name) == 0)
			return &e->targets[i];
	fail_msg("no target %s", name);
	return NULL;
}

static void full_file_loads_with_every_value(void **state)
{
	(void)state;
	char *path = source_path("tests/scheduler/good/full.cfg");
	struct diags d = { 0 };
	struct experiment e;
	int r = experiment_load(path, NULL, &e, &d);
	diags_print(stderr, &d);
	assert_int_equal(r, 0);
	assert_int_equal(d.count, 0);
	assert_string_equal(e.title, "Everything at once");
	assert_int_equal(e.n_tags, 2);
	assert_string_equal(e.tags[1], "example");
	assert_false(e.inventory_missing);
	assert_int_equal(e.inv.n_hosts, 5);
	/* the included inventory's relative location was resolved from the including file */
	assert_non_null(strstr(e.inventory_source, "good/inventory.cfg"));

	const struct target *one = target_named(&e, "one_web");
	assert_int_equal(one->n_matches, 2); /* h1, h3: web and not dc2 */
	assert_int_equal(one->n_chosen, 1);
	assert_int_equal(one->seed, 42);
	const struct target *half = target_named(&e, "half_db");
	assert_int_equal(half->mode, TARGET_PERCENT);
	assert_int_equal(half->n_chosen, 1); /* ceil(50% of 2) */
	assert_false(half->seed_given);
	const struct target *all = target_named(&e, "all_web");
	assert_int_equal(all->n_chosen, 3);
	assert_string_equal(chosen(&e, all, 0)->name, "h1");
	assert_string_equal(chosen(&e, all, 2)->name, "h3");
	assert_int_equal(target_named(&e, "everyone")->n_chosen, 5);

	assert_int_equal(e.n_probes, 3);
	assert_int_equal(e.probes[0].type, PROBE_HTTP);
	assert_int_equal(e.probes[0].n_statuses, 2);
	assert_int_equal(e.probes[0].statuses[1], 204);
	assert_int_equal(e.probes[0].max_latency_ms, 500);
	assert_int_equal(e.probes[0].timeout_ms, 2000);
	assert_true(e.probes[0].has_regex);
	assert_int_equal(e.probes[1].type, PROBE_TCP);
	assert_string_equal(e.probes[1].address, "[::1]:1");
	assert_int_equal(e.probes[2].type, PROBE_COMMAND);
	assert_int_equal(e.probes[2].timeout_ms, 5000);

	assert_int_equal(e.n_steps, 6);
	assert_int_equal(e.steps[0].type, STEP_FAULT);
	assert_string_equal(e.steps[0].kind, "blackhole");
	assert_int_equal(e.steps[0].duration_ms, 10000);
	assert_non_null(e.steps[0].params_full);
	assert_int_equal(e.steps[0].line, 25);
	assert_int_equal(e.steps[1].wait_ms, 2000);
	assert_int_equal(e.steps[2].type, STEP_CHECK);
	assert_int_equal(e.steps[2].n_probes, 2);
	assert_int_equal(e.steps[2].probes[1], 2);
	assert_int_equal(e.steps[3].offset_ms, 2000);
	assert_int_equal(e.steps[5].n_probes, 1); /* check = "port open" (a single name) */
	/* waits end at 5s, the first fault at 10s: the method lasts 10s */
	assert_int_equal(e.total_ms, 10000);

	assert_int_equal(e.n_rollbacks, 1);
	assert_string_equal(e.rollbacks[0].name, "say so");
	assert_int_equal(e.safety.max_hosts, 3);
	assert_int_equal(e.safety.max_duration_ms, 300000);
	assert_int_equal(e.safety.lease_ttl_ms, 9000);
	experiment_free(&e);
	diags_free(&d);
	free(path);
}

static void minimal_file_gets_defaults(void **state)
{
	(void)state;
	char *path = source_path("tests/scheduler/good/minimal.cfg");
	struct diags d = { 0 };
	struct experiment e;
	assert_int_equal(experiment_load(path, NULL, &e, &d), 0);
	assert_int_equal(e.safety.lease_ttl_ms, DEFAULT_LEASE_TTL_MS);
	assert_int_equal(e.safety.max_hosts, 0);
	assert_int_equal(e.n_probes, 0);
	assert_int_equal(e.total_ms, 10);
	experiment_free(&e);
	free(path);
}

static void inventory_option_replaces_and_resolves(void **state)
{
	(void)state;
	/* the lab experiments name no inventory: validated alone, their targets stay unresolved */
	char *exp = source_path("experiments/lab-cut-host.cfg");
	char *inv = source_path("tests/scheduler/good/inventory.cfg");
	struct diags d = { 0 };
	struct experiment e;
	assert_int_equal(experiment_load(exp, NULL, &e, &d), 0);
	assert_true(e.inventory_missing);
	experiment_free(&e);
	assert_int_equal(experiment_load(exp, inv, &e, &d), 0);
	assert_false(e.inventory_missing);
	assert_int_equal(e.targets[0].n_chosen, 1);
	assert_string_equal(e.inv.hosts[e.targets[0].chosen[0]].name, "h1");
	experiment_free(&e);
	diags_free(&d);
	free(exp);
	free(inv);
}

static void inventory_file_alone(void **state)
{
	(void)state;
	char *inv = source_path("tests/scheduler/good/inventory.cfg");
	struct diags d = { 0 };
	struct inventory i;
	assert_int_equal(inventory_load(inv, &i, &d), 0);
	assert_int_equal(i.n_hosts, 5);
	assert_false(i.has_tls);
	/* "name" is an implicit label */
	struct label_set ls = host_labels(&i.hosts[3]);
	bool has_name = false;
	for (size_t k = 0; k < ls.count; k++)
		has_name |= strcmp(ls.keys[k], "name") == 0 && strcmp(ls.values[k], "h4") == 0;
	assert_true(has_name);
	inventory_free(&i);
	free(inv);

	char *exp = source_path("tests/scheduler/good/minimal.cfg");
	assert_int_equal(inventory_load(exp, &i, &d), -EINVAL);
	assert_non_null(strstr(d.items[d.count - 1].msg, "no 'inventory"));
	diags_free(&d);
	free(exp);
}

static void param_keys_map_to_settings(void **state)
{
	(void)state;
	config_t cfg;
	config_init(&cfg);
	assert_int_equal(config_read_string(&cfg, "params = {\n direction = \"x\";\n match = {\n dst = [\"a\",\n \"b\"]; };\n};\n"),
			 CONFIG_TRUE);
	const config_setting_t *p = config_lookup(&cfg, "params");
	assert_int_equal(config_setting_source_line(params_setting_for_key(p, "direction")), 2);
	const config_setting_t *dst1 = params_setting_for_key(p, "match.dst[1]");
	assert_string_equal(config_setting_get_string(dst1), "b");
	assert_ptr_equal(params_setting_for_key(p, "match.dst[7]"), config_lookup(&cfg, "params.match.dst"));
	assert_ptr_equal(params_setting_for_key(p, "nope.x"), p);
	assert_ptr_equal(params_setting_for_key(p, ""), p);
	struct json_object *j = setting_to_json(p);
	assert_string_equal(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN),
			    "{\"direction\":\"x\",\"match\":{\"dst\":[\"a\",\"b\"]}}");
	json_object_put(j);
	config_destroy(&cfg);
}

/* Writes `text` to a temporary file, loads it, returns the result; path in *path. */
static int load_text(const char *text, struct experiment *e, struct diags *d)
{
	char path[] = "/tmp/ckt-sch-exp-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	int r = experiment_load(path, NULL, e, d);
	unlink(path);
	return r;
}

static void durations_in_experiments(void **state)
{
	(void)state;
	struct experiment e;
	struct diags d = { 0 };
	assert_int_equal(load_text("title = \"t\";\n"
				   "inventory = { hosts = ( { name = \"a\"; agent = \"unix:/x\"; } ); };\n"
				   "targets = { all = { select = \"*\"; }; };\n"
				   "method = ( { wait = \"1m30s\"; },\n"
				   "  { fault = \"blackhole\"; target = \"all\"; duration = \"1.5s\"; },\n"
				   "  { wait = \"250ms\"; },\n"
				   "  { fault = \"blackhole\"; target = \"all\"; duration = \"2h\"; },\n"
				   "  { wait = \"1d\"; } );\n"
				   "safety = { max_duration = \"2d\"; lease_ttl = \"1m\"; };\n",
				   &e, &d),
			 0);
	assert_int_equal(e.steps[0].wait_ms, 90000);
	assert_int_equal(e.steps[1].duration_ms, 1500);
	assert_int_equal(e.steps[1].offset_ms, 90000);
	assert_int_equal(e.steps[3].offset_ms, 90250);
	assert_int_equal(e.steps[3].duration_ms, 7200000);
	assert_int_equal(e.total_ms, 90250 + 86400000);
	assert_int_equal(e.safety.lease_ttl_ms, 60000);
	experiment_free(&e);

	/* a fault outlasting every wait sets the length */
	assert_int_equal(load_text("title = \"t\";\n"
				   "inventory = { hosts = ( { name = \"a\"; agent = \"unix:/x\"; } ); };\n"
				   "targets = { all = { select = \"*\"; }; };\n"
				   "method = ( { wait = \"1s\"; }, { fault = \"blackhole\"; target = \"all\"; duration = \"1m\"; } );\n",
				   &e, &d),
			 0);
	assert_int_equal(e.total_ms, 61000);
	experiment_free(&e);

	const char *bad[] = { "\"10\"", "10", "10.5", "\"1.0005s\"", "\"-1s\"", "\"1 s\"", "\"\"", "\"1w\"",
			      "\"99999999999999999999s\"", "true" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "title = \"t\";\nmethod = (\n { wait = %s; }\n);\n", bad[i]);
		diags_free(&d);
		assert_int_equal(load_text(text, &e, &d), -EINVAL);
		assert_int_equal(d.count, 1);
		assert_int_equal(d.items[0].line, 3);
		if (!strstr(d.items[0].msg, "duration"))
			fail_msg("wait = %s: %s", bad[i], d.items[0].msg);
	}
	diags_free(&d);
}

static const struct probe *probe_named(const struct probe *ps, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ps[i].name, name) == 0)
			return &ps[i];
	fail_msg("no probe %s", name);
	return NULL;
}

static const char *json_str(struct json_object *o, const char *path0, const char *path1)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(o, path0, &v))
		return NULL;
	if (path1 && !json_object_object_get_ex(v, path1, &v))
		return NULL;
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void gameday_file_loads_every_new_key(void **state)
{
	(void)state;
	char *path = source_path("tests/scheduler/good/gameday.cfg");
	struct diags d = { 0 };
	struct experiment e;
	int r = experiment_load(path, NULL, &e, &d);
	for (size_t i = 0; i < d.count; i++)
		print_error("%s:%d: %s\n", d.items[i].file, d.items[i].line, d.items[i].msg);
	assert_int_equal(r, 0);
	/* directory inventory: files in name order, README.txt ignored */
	assert_int_equal(e.inv.n_hosts, 4);
	assert_string_equal(e.inv.hosts[0].name, "h1");
	assert_string_equal(e.inv.hosts[1].name, "h4");
	assert_string_equal(e.inv.hosts[2].name, "h2");
	assert_string_equal(e.inv.hosts[3].name, "h5");
	assert_true(e.inv.has_tls);
	assert_non_null(strstr(e.inv.tls.ca, "good/inv-dir/../inventory.cfg"));
	/* addresses: given, or the https agent's IP literal (v4 and bracketed v6) */
	assert_int_equal(e.inv.hosts[0].n_addresses, 1);
	assert_string_equal(e.inv.hosts[0].addresses[0], "10.77.0.11");
	assert_int_equal(e.inv.hosts[1].n_addresses, 2);
	assert_string_equal(e.inv.hosts[1].addresses[1], "fd77::14");
	assert_string_equal(e.inv.hosts[2].addresses[0], "fd77::12");
	/* quoted selector values and lists */
	const struct target *ansan = target_named(&e, "ansan");
	assert_int_equal(ansan->n_chosen, 2);
	assert_string_equal(chosen(&e, ansan, 0)->name, "h2");
	assert_string_equal(chosen(&e, ansan, 1)->name, "h5");
	const struct target *talkers = target_named(&e, "talkers");
	assert_int_equal(talkers->n_chosen, 2);
	assert_string_equal(chosen(&e, talkers, 0)->name, "h1");
	assert_string_equal(chosen(&e, talkers, 1)->name, "h4");
	/* sampling */
	assert_int_equal(e.sample_every_ms, 500);
	assert_int_equal(e.recovery_window_ms, 20000);
	const struct probe *talk = probe_named(e.probes, e.n_probes, "talk answers");
	assert_int_equal(talk->n_urls, 2);
	assert_string_equal(talk->url, "http://10.77.0.11:8080/talk");
	assert_string_equal(talk->urls[1], "http://10.77.0.12:8080/talk");
	assert_int_equal(talk->expect, EXPECT_OK);
	assert_int_equal(probe_named(e.probes, e.n_probes, "login answers")->expect, EXPECT_DEVIATE);
	const struct probe *ratio = probe_named(e.probes, e.n_probes, "error ratio");
	assert_int_equal(ratio->type, PROBE_PROMETHEUS);
	assert_string_equal(ratio->query, "sum(rate(x[1m]))");
	assert_true(ratio->has_below && !ratio->has_above && !ratio->has_equals);
	assert_true(ratio->below == 0.05);
	assert_int_equal(ratio->timeout_ms, 2000);
	const struct probe *band = probe_named(e.probes, e.n_probes, "in band");
	assert_true(band->has_above && band->has_below && band->above == 0 && band->below == 2);
	const struct probe *exactly = probe_named(e.probes, e.n_probes, "exactly");
	assert_true(exactly->has_equals && exactly->equals == 1 && exactly->within == 0.01);
	/* abort conditions */
	assert_int_equal(e.n_aborts, 2);
	assert_int_equal(e.aborts[0].every_ms, 1000);
	assert_int_equal(e.aborts[0].n_urls, 2);
	assert_int_equal(e.aborts[1].type, PROBE_PROMETHEUS);
	assert_int_equal(e.aborts[1].every_ms, 2000);
	/* partition: each side drops the other side's addresses */
	const struct step *pt = &e.steps[1];
	assert_int_equal(pt->type, STEP_PARTITION);
	assert_string_equal(pt->kind, "blackhole");
	assert_string_equal(e.targets[pt->target].name, "pangyo");
	assert_string_equal(e.targets[pt->target_b].name, "ansan");
	assert_int_equal(pt->duration_ms, 5000);
	const char *a = json_object_to_json_string_ext(pt->params, JSON_C_TO_STRING_PLAIN);
	const char *b = json_object_to_json_string_ext(pt->params_b, JSON_C_TO_STRING_PLAIN);
	assert_string_equal(a, "{\"direction\":\"both\",\"match\":{\"peers\":[\"fd77::12\",\"10.77.0.15\"]}}");
	assert_string_equal(b, "{\"direction\":\"both\",\"match\":{\"peers\":[\"10.77.0.11\",\"10.77.0.14\",\"fd77::14\"]}}");
	assert_int_equal(e.total_ms, 10000);
	assert_false(e.is_matrix);
	experiment_free(&e);
	diags_free(&d);
	free(path);
}

static void matrix_file_gives_one_outage_per_domain(void **state)
{
	(void)state;
	char *path = source_path("tests/scheduler/good/matrix.cfg");
	struct diags d = { 0 };
	struct experiment e;
	assert_int_equal(experiment_load(path, NULL, &e, &d), 0);
	assert_true(e.is_matrix);
	assert_int_equal(e.n_targets, 2);
	assert_int_equal(e.n_steps, 2);
	assert_int_equal(e.recovery_wait_ms, 5000);
	assert_int_equal(e.recovery_window_ms, 15000);
	for (size_t i = 0; i < 2; i++) {
		struct experiment v;
		matrix_domain_view(&e, i, &v);
		assert_false(v.is_matrix);
		assert_int_equal(v.n_targets, 1);
		assert_int_equal(v.n_steps, 1);
		assert_int_equal(v.steps[0].target, 0);
		assert_int_equal(v.steps[0].type, STEP_FAULT);
		assert_string_equal(v.steps[0].kind, "blackhole");
		assert_int_equal(v.total_ms, 10000);
		assert_int_equal(v.targets[0].n_chosen, 2);
		assert_ptr_equal(v.probes, e.probes);
	}
	assert_string_equal(e.targets[0].name, "pangyo");
	assert_string_equal(e.inv.hosts[e.targets[1].chosen[0]].name, "h2");
	assert_string_equal(json_str(e.steps[1].params, "direction", NULL), "\"both\"");
	experiment_free(&e);
	diags_free(&d);
	/* --inventory with a directory, on a file without inventory */
	char *dir = source_path("tests/scheduler/good/inv-dir");
	char *exp = source_path("tests/scheduler/good/full.cfg");
	struct inventory inv;
	assert_int_equal(inventory_load(dir, &inv, &d), 0);
	assert_int_equal(inv.n_hosts, 4);
	inventory_free(&inv);
	diags_free(&d);
	free(dir);
	free(exp);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_bad_file_fails_where_expected),
		cmocka_unit_test(all_problems_are_reported_not_only_the_first),
		cmocka_unit_test(full_file_loads_with_every_value),
		cmocka_unit_test(minimal_file_gets_defaults),
		cmocka_unit_test(inventory_option_replaces_and_resolves),
		cmocka_unit_test(inventory_file_alone),
		cmocka_unit_test(param_keys_map_to_settings),
		cmocka_unit_test(durations_in_experiments),
		cmocka_unit_test(gameday_file_loads_every_new_key),
		cmocka_unit_test(matrix_file_gives_one_outage_per_domain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
