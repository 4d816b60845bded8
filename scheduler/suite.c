#include "scheduler/suite.h"

#include <dirent.h>
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "scheduler/html_report.h"
#include "scheduler/matrix.h"
#include "scheduler/report.h"

static const char *const verdict_names[] = { "held", "deviated", "aborted", "invalid" };

bool path_is_directory(const char *path)
{
	struct stat st;
	return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A directory for per-experiment files: one that exists, or a path written with a
 * trailing '/' (created here). Anything else names a single file. */
static bool wants_directory(const char *path, bool *create_failed)
{
	*create_failed = false;
	if (!path)
		return false;
	if (path_is_directory(path))
		return true;
	size_t len = strlen(path);
	if (len == 0 || path[len - 1] != '/')
		return false;
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		*create_failed = true;
	return true;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (o && json_object_object_get_ex(o, key, &v) && v && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v;
	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static bool jtrue(struct json_object *o, const char *key)
{
	struct json_object *v = jget(o, key);
	return v && json_object_get_boolean(v);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* ------------------------------------------------------------------ single runs */

int run_with_reports(const struct experiment *e, const struct run_opts *ro, const char *html_path)
{
	if (!html_path)
		return run_experiment(e, ro);
	struct json_object *journal = NULL;
	struct run_opts with_journal = *ro;
	with_journal.journal_out = &journal;
	int code = run_experiment(e, &with_journal);
	int r = journal ? html_report_write(journal, html_path) : -ENOMEM;
	if (r)
		fprintf(stderr, "chaos: cannot write the HTML report %s: %s\n", html_path, strerror(-r));
	json_object_put(journal);
	return code;
}

int journal_render(const char *journal_path, const char *html_path, const char *junit_path)
{
	struct json_object *journal = json_object_from_file(journal_path);
	if (!journal || !json_object_is_type(journal, json_type_object)) {
		fprintf(stderr, "chaos: report: %s: not a JSON journal (%s)\n", journal_path, json_util_get_last_err());
		json_object_put(journal);
		return EXIT_INVALID;
	}
	int code = EXIT_HELD, r;
	if (html_path && (r = html_report_write(journal, html_path))) {
		fprintf(stderr, "chaos: report: cannot write %s: %s\n", html_path, strerror(-r));
		code = EXIT_ABORTED;
	}
	if (junit_path) {
		r = jget(journal, "suite")    ? suite_junit_write_file(journal, junit_path)
		    : jget(journal, "matrix") ? matrix_junit_write_file(journal, junit_path)
					      : junit_write_file(journal, junit_path);
		if (r) {
			fprintf(stderr, "chaos: report: cannot write %s: %s\n", junit_path, strerror(-r));
			code = EXIT_ABORTED;
		}
	}
	json_object_put(journal);
	return code;
}

/* ------------------------------------------------------------------ what a run says */

/* One line per reason the run deviated or stopped, for the JUnit failure text. */
static char *run_details(struct json_object *journal, char **message)
{
	char *text = NULL, *msg = NULL;
	size_t len = 0, mlen = 0;
	FILE *out = open_memstream(&text, &len);
	FILE *m = open_memstream(&msg, &mlen);
	if (!out || !m) {
		if (out)
			fclose(out);
		if (m)
			fclose(m);
		free(text);
		free(msg);
		*message = NULL;
		return NULL;
	}
	const char *verdict = jstr(journal, "verdict");
	const char *aborted_by = jstr(journal, "aborted_by");
	struct json_object *events = jget(journal, "events"), *recovery = jget(journal, "recovery");
	size_t n_events = events ? json_object_array_length(events) : 0;
	size_t n_rec = recovery && json_object_is_type(recovery, json_type_array) ? json_object_array_length(recovery) : 0;
	/* the message names the first reason of the verdict's own kind */
	bool aborted = verdict && strcmp(verdict, "aborted") == 0;
	bool any = false;
	fprintf(m, "%s", verdict ? verdict : "unknown");
	if (aborted_by) {
		fprintf(m, ": abort condition \"%s\" failed", aborted_by);
		fprintf(out, "abort condition failed: %s\n", aborted_by);
		any = true;
	}
	for (size_t i = 0; aborted && !any && i < n_events; i++) {
		struct json_object *ev = json_object_array_get_idx(events, i);
		const char *type = jstr(ev, "type"), *msg = jstr(ev, "message");
		if (type && msg && (strcmp(type, "aborted") == 0 || strcmp(type, "error") == 0)) {
			fprintf(m, ": %s", msg);
			any = true;
		}
	}
	for (size_t i = 0; i < n_events; i++) {
		struct json_object *ev = json_object_array_get_idx(events, i);
		const char *type = jstr(ev, "type");
		if (!type)
			continue;
		double t = json_object_get_double(jget(ev, "t"));
		if (strcmp(type, "aborted") == 0 || strcmp(type, "error") == 0) {
			fprintf(out, "%s at +%.1fs: %s\n", type, t, jstr(ev, "message") ? jstr(ev, "message") : "");
			if (!any && jstr(ev, "message"))
				fprintf(m, ": %s", jstr(ev, "message"));
			any = true;
		} else if (strcmp(type, "probe") == 0 && !jtrue(ev, "ok")) {
			const char *probe = jstr(ev, "probe");
			fprintf(out, "%s check \"%s\" failed at +%.1fs: %s\n", jstr(ev, "phase") ? jstr(ev, "phase") : "",
				probe ? probe : "?", t, jstr(ev, "reason") ? jstr(ev, "reason") : "");
			if (!any)
				fprintf(m, ": \"%s\" failed (%s)", probe ? probe : "?", jstr(ev, "phase") ? jstr(ev, "phase") : "check");
			any = true;
		} else if (strcmp(type, "fault_apply_failed") == 0) {
			fprintf(out, "apply %s on %s failed: %s\n", jstr(ev, "kind") ? jstr(ev, "kind") : "?",
				jstr(ev, "host") ? jstr(ev, "host") : "?", jstr(ev, "error") ? jstr(ev, "error") : "");
		}
	}
	for (size_t i = 0; i < n_rec; i++) {
		struct json_object *r = json_object_array_get_idx(recovery, i);
		const char *probe = jstr(r, "probe"), *expect = jstr(r, "expect");
		bool expected = expect && strcmp(expect, "deviate") == 0;
		struct json_object *det = jget(r, "detected_after_ms"), *rec = jget(r, "recovered_after_ms");
		if (!jtrue(r, "deviated")) {
			fprintf(out, "probe \"%s\": held\n", probe ? probe : "?");
			continue;
		}
		fprintf(out, "probe \"%s\" (expected %s): deviated", probe ? probe : "?", expected ? "to deviate" : "ok");
		if (det)
			fprintf(out, ", detected after %.1fs", (double)json_object_get_int64(det) / 1000.0);
		if (jtrue(r, "recovered") && rec)
			fprintf(out, ", recovered %.1fs after the revert\n", (double)json_object_get_int64(rec) / 1000.0);
		else
			fprintf(out, ", NOT RECOVERED within the recovery window\n");
		if (!expected && !any) {
			fprintf(m, ": \"%s\" deviated%s", probe ? probe : "?",
				jtrue(r, "recovered") ? "" : " and did not recover");
			any = true;
		}
	}
	fclose(out);
	fclose(m);
	*message = msg;
	return text;
}

/* ------------------------------------------------------------------ suites */

struct suite_entry {
	char *name;       /* file name inside the directory */
	char *path;
	int code;         /* exit code; -1 skipped */
	char *verdict, *title, *message, *details;
	char *journal_file, *html_file;
	double duration_s;
	/* --parallel: the hosts the experiment's targets choose (NULL: not loadable) */
	char **hosts;
	size_t n_hosts;
	bool hosts_known;
};

/* Files in a suite directory that are no experiment: an inventory (or host list) kept
 * next to the experiments for @include. Only decided for files libconfig reads; the
 * others go to experiment_load, which reports their problems. */
enum file_role { ROLE_EXPERIMENT, ROLE_INCLUDE };

static enum file_role file_role(const char *dir, const char *path)
{
	config_t cfg;
	config_init(&cfg);
	config_set_include_dir(&cfg, dir);
	enum file_role role = ROLE_EXPERIMENT;
	if (config_read_file(&cfg, path) == CONFIG_TRUE) {
		if (!config_lookup(&cfg, "matrix") && !config_lookup(&cfg, "method") && !config_lookup(&cfg, "title") &&
			 (config_lookup(&cfg, "inventory") || config_lookup(&cfg, "hosts") || config_lookup(&cfg, "tls")))
			role = ROLE_INCLUDE;
	}
	config_destroy(&cfg);
	return role;
}

static int cfg_filter(const struct dirent *d)
{
	size_t len = strlen(d->d_name);
	return d->d_name[0] != '.' && len > 4 && strcmp(d->d_name + len - 4, ".cfg") == 0;
}

static int compare_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static char *join_path(const char *dir, const char *name, const char *new_ext)
{
	size_t dl = strlen(dir);
	bool slash = dl > 0 && dir[dl - 1] == '/';
	size_t nl = strlen(name);
	if (new_ext && nl > 4 && strcmp(name + nl - 4, ".cfg") == 0)
		nl -= 4;
	char *out = NULL;
	if (asprintf(&out, "%s%s%.*s%s", dir, slash ? "" : "/", (int)nl, name, new_ext ? new_ext : "") < 0)
		return NULL;
	return out;
}

static void entry_free(struct suite_entry *s)
{
	free(s->name);
	free(s->path);
	free(s->verdict);
	free(s->title);
	free(s->message);
	free(s->details);
	free(s->journal_file);
	free(s->html_file);
	for (size_t i = 0; i < s->n_hosts; i++)
		free(s->hosts[i]);
	free(s->hosts);
}

static char *diags_text(struct diags *d)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	diags_sort(d);
	diags_print(f, d);
	fclose(f);
	return text;
}

static int make_temp_journal(char *path, size_t len)
{
	const char *dir = getenv("TMPDIR");
	snprintf(path, len, "%s/chaos-matrix-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* A matrix file in a suite runs as `chaos matrix` would; its journal is read back from
 * the file matrix_run writes (a temporary one when no journal directory was given). */
static int suite_run_matrix(struct suite_entry *s, const struct experiment *e, const struct suite_opts *o,
			    const char *html_dir, struct json_object **journal)
{
	char tmp[300] = "";
	if (!s->journal_file && make_temp_journal(tmp, sizeof(tmp)) == 0)
		s->journal_file = strdup(tmp);
	if (html_dir)
		s->html_file = join_path(html_dir, s->name, ".html");
	struct matrix_opts mo = { .journal_path = s->journal_file, .html_path = s->html_file, .quiet = o->quiet };
	int code = matrix_run(e, &mo);
	*journal = s->journal_file ? json_object_from_file(s->journal_file) : NULL;
	if (tmp[0]) {
		unlink(tmp);
		free(s->journal_file);
		s->journal_file = NULL;
	}
	return code;
}

/* The matrix table as text, for the JUnit output of a suite. */
static char *matrix_details(struct json_object *journal, int code, char **message)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	if (out) {
		matrix_print_table(out, jget(journal, "matrix"));
		fclose(out);
	}
	*message = strdup(code == EXIT_HELD ? "matrix completed" : "aborted: a matrix run aborted or failed");
	return text;
}

static struct json_object *suite_finish_entry(struct suite_entry *s, struct json_object *journal, const char *html_dir);

/* Loads and runs one experiment file; fills `s` and returns its exit code. */
static int suite_run_one(struct suite_entry *s, const struct suite_opts *o, const char *journal_dir,
			 const char *html_dir, struct json_object **journal_out)
{
	*journal_out = NULL;
	struct diags d = { 0 };
	struct experiment e;
	int r = experiment_load(s->path, o->inventory, &e, &d);
	if (r == 0 && e.inventory_missing) {
		experiment_free(&e);
		diags_add(&d, s->path, 0, "the targets need an inventory: write inventory = {...}, @include a file "
					  "that defines it, or pass --inventory");
		r = -EINVAL;
	}
	if (r) {
		if (d.count == 0)
			diags_add(&d, s->path, 0, "%s", strerror(-r));
		s->details = diags_text(&d);
		if (asprintf(&s->message, "invalid: %s", d.items[0].msg) < 0)
			s->message = NULL;
		fprintf(stderr, "%s", s->details ? s->details : "");
		diags_free(&d);
		s->verdict = strdup("invalid");
		return s->code = EXIT_INVALID;
	}
	diags_free(&d);
	if (!s->title)
		s->title = strdup(e.title ? e.title : s->name);
	if (journal_dir)
		s->journal_file = join_path(journal_dir, s->name, ".json");
	struct json_object *journal = NULL;
	if (e.is_matrix) {
		s->code = suite_run_matrix(s, &e, o, html_dir, &journal);
	} else {
		struct run_opts ro = { .journal_path = s->journal_file, .quiet = o->quiet, .journal_out = &journal };
		s->code = run_experiment(&e, &ro);
	}
	experiment_free(&e);
	*journal_out = suite_finish_entry(s, journal, html_dir);
	return s->code;
}

/* Fills the entry from the run's journal (taken over; may be NULL) and writes its page into
 * html_dir. Returns the journal. */
static struct json_object *suite_finish_entry(struct suite_entry *s, struct json_object *journal, const char *html_dir)
{
	int r;
	if (s->code < EXIT_HELD || s->code > EXIT_INVALID)
		s->code = EXIT_ABORTED;
	if (!journal) {
		s->verdict = strdup(verdict_names[s->code]);
		s->message = strdup("the run left no readable journal");
		return NULL;
	}
	s->verdict = dup_or_null(jstr(journal, "verdict"));
	if (!s->verdict)
		s->verdict = strdup(jget(journal, "matrix") && s->code == EXIT_HELD ? "completed" : verdict_names[s->code]);
	s->duration_s = json_object_get_double(jget(journal, "duration_s"));
	if (jget(journal, "matrix"))
		s->details = matrix_details(journal, s->code, &s->message);
	else
		s->details = run_details(journal, &s->message);
	if (html_dir && !s->html_file) {
		s->html_file = join_path(html_dir, s->name, ".html");
		if (s->html_file && (r = html_report_write(journal, s->html_file)))
			fprintf(stderr, "chaos: cannot write the HTML report %s: %s\n", s->html_file, strerror(-r));
	}
	return journal;
}

static void add_str(struct json_object *o, const char *key, const char *value)
{
	json_object_object_add(o, key, value ? json_object_new_string(value) : NULL);
}

static struct json_object *suite_journal(const char *dir, struct suite_entry *entries, size_t n, struct json_object *runs,
					 int worst, uint64_t start_wall, double duration_s)
{
	struct json_object *root = json_object_new_object(), *suite = json_object_new_object(),
			   *results = json_object_new_array();
	char buf[40], title[600];
	snprintf(title, sizeof(title), "suite %s", dir);
	add_str(root, "title", title);
	add_str(root, "started_at", wall_ms_format(start_wall, buf, sizeof(buf)));
	add_str(root, "ended_at", wall_ms_format(wall_ms(), buf, sizeof(buf)));
	json_object_object_add(root, "duration_s", json_object_new_double(duration_s));
	add_str(root, "verdict", verdict_names[worst]);
	json_object_object_add(root, "exit_code", json_object_new_int(worst));
	add_str(suite, "dir", dir);
	for (size_t i = 0; i < n; i++) {
		struct suite_entry *s = &entries[i];
		struct json_object *r = json_object_new_object();
		add_str(r, "file", s->name);
		add_str(r, "path", s->path);
		add_str(r, "title", s->title);
		add_str(r, "verdict", s->code < 0 ? "skipped" : s->verdict);
		json_object_object_add(r, "exit_code", s->code < 0 ? NULL : json_object_new_int(s->code));
		json_object_object_add(r, "duration_s", json_object_new_double(s->duration_s));
		add_str(r, "message", s->message);
		add_str(r, "details", s->details);
		add_str(r, "journal", s->journal_file);
		add_str(r, "html", s->html_file);
		json_object_array_add(results, r);
	}
	json_object_object_add(suite, "results", results);
	json_object_object_add(root, "suite", suite);
	json_object_object_add(root, "runs", json_object_get(runs));
	return root;
}

/* ------------------------------------------------------------------ --parallel */

/* The hosts an experiment's targets choose; false when it does not load (it then runs
 * alone, where its problems are reported as usual). */
static bool entry_hosts(struct suite_entry *s, const struct suite_opts *o)
{
	if (s->hosts_known)
		return s->hosts != NULL;
	s->hosts_known = true;
	struct diags d = { 0 };
	struct experiment e;
	int r = experiment_load(s->path, o->inventory, &e, &d);
	diags_free(&d);
	if (r)
		return false;
	if (!e.inventory_missing && (s->hosts = calloc(e.inv.n_hosts + 1, sizeof(*s->hosts)))) {
		for (size_t t = 0; t < e.n_targets; t++)
			for (size_t j = 0; j < e.targets[t].n_chosen; j++) {
				const char *name = e.inv.hosts[e.targets[t].chosen[j]].name;
				bool seen = false;
				for (size_t k = 0; k < s->n_hosts && !seen; k++)
					seen = strcmp(s->hosts[k], name) == 0;
				if (!seen && s->n_hosts < e.inv.n_hosts)
					s->hosts[s->n_hosts++] = strdup(name);
			}
		if (!s->title)
			s->title = strdup(e.title ? e.title : s->name);
	}
	experiment_free(&e);
	return s->hosts != NULL;
}

static bool hosts_overlap(const struct suite_entry *a, const struct suite_entry *b)
{
	for (size_t i = 0; i < a->n_hosts; i++)
		for (size_t j = 0; j < b->n_hosts; j++)
			if (a->hosts[i] && b->hosts[j] && strcmp(a->hosts[i], b->hosts[j]) == 0)
				return true;
	return false;
}

/* The batch starting at `first`: the experiments that follow join it while their hosts
 * are disjoint from every member's. Without --parallel every batch is one experiment. */
static size_t batch_end(struct suite_entry *entries, size_t first, size_t count, const struct suite_opts *o)
{
	size_t end = first + 1;
	if (!o->parallel || !entry_hosts(&entries[first], o))
		return end;
	for (; end < count && entries[end].code >= 0 && entry_hosts(&entries[end], o); end++)
		for (size_t k = first; k < end; k++)
			if (hosts_overlap(&entries[k], &entries[end]))
				return end;
	return end;
}

/* A child process runs one experiment of a parallel batch, quietly, into its journal file. */
static pid_t start_child(const struct suite_entry *s, const struct suite_opts *o)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	struct diags d = { 0 };
	struct experiment e;
	int code = EXIT_INVALID;
	if (experiment_load(s->path, o->inventory, &e, &d) == 0) {
		if (e.is_matrix) {
			struct matrix_opts mo = { .journal_path = s->journal_file, .quiet = true };
			code = matrix_run(&e, &mo);
		} else {
			struct run_opts ro = { .journal_path = s->journal_file, .quiet = true };
			code = run_experiment(&e, &ro);
		}
		experiment_free(&e);
	}
	diags_free(&d);
	fflush(stdout);
	fflush(stderr);
	_exit(code);
}

/* Runs entries [first, end) at once, one process each; an interrupt is passed on to them
 * (each reverts its own faults). Journals are read back from their files. */
static void run_batch(struct suite_entry *entries, size_t first, size_t end, size_t count, const struct suite_opts *o,
		      const char *journal_dir, const char *html_dir, struct json_object *runs)
{
	size_t n = end - first, left = 0;
	pid_t *pids = calloc(n, sizeof(*pids));
	bool *temporary = calloc(n, sizeof(*temporary));
	if (!pids || !temporary) {
		free(pids);
		free(temporary);
		for (size_t k = first; k < end; k++)
			entries[k].code = EXIT_ABORTED;
		return;
	}
	for (size_t k = 0; k < n; k++) {
		struct suite_entry *s = &entries[first + k];
		char tmp[300];
		if (journal_dir) {
			s->journal_file = join_path(journal_dir, s->name, ".json");
		} else if (make_temp_journal(tmp, sizeof(tmp)) == 0) {
			s->journal_file = strdup(tmp);
			temporary[k] = true;
		}
		if (!o->quiet)
			printf("\n== [%zu/%zu] %s (in parallel with the next %zu)\n", first + k + 1, count, s->path, n - k - 1);
		pids[k] = s->journal_file ? start_child(s, o) : -1;
		if (pids[k] < 0)
			s->code = EXIT_ABORTED;
		else
			left++;
	}
	bool forwarded = false;
	while (left) {
		if (chaos_interrupted && !forwarded) {
			for (size_t k = 0; k < n; k++)
				if (pids[k] > 0)
					kill(pids[k], SIGTERM);
			forwarded = true;
		}
		bool reaped = false;
		for (size_t k = 0; k < n; k++) {
			int status;
			if (pids[k] <= 0 || waitpid(pids[k], &status, WNOHANG) != pids[k])
				continue;
			entries[first + k].code = WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_ABORTED;
			pids[k] = 0;
			left--;
			reaped = true;
		}
		if (!reaped)
			sleep_ms(50);
	}
	for (size_t k = 0; k < n; k++) {
		struct suite_entry *s = &entries[first + k];
		struct json_object *journal = s->journal_file ? json_object_from_file(s->journal_file) : NULL;
		if (temporary[k]) {
			unlink(s->journal_file);
			free(s->journal_file);
			s->journal_file = NULL;
		}
		journal = suite_finish_entry(s, journal, html_dir);
		if (journal)
			json_object_array_add(runs, journal);
	}
	free(pids);
	free(temporary);
}

int suite_run(const char *dir, const struct suite_opts *o)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, cfg_filter, compare_names);
	if (n < 0) {
		fprintf(stderr, "chaos: run: cannot read the directory %s: %s\n", dir, strerror(errno));
		return EXIT_INVALID;
	}
	struct suite_entry *entries = calloc((size_t)n + 1, sizeof(*entries));
	size_t count = 0;
	int code = EXIT_INVALID;
	struct json_object *runs = json_object_new_array();
	if (!entries || !runs)
		goto out;
	for (int i = 0; i < n; i++) {
		char *path = join_path(dir, names[i]->d_name, NULL);
		if (!path)
			goto out;
		enum file_role role = file_role(dir, path);
		if (role == ROLE_INCLUDE) {
			if (!o->quiet)
				printf("suite: %s is no experiment (an inventory or host list to @include): left out\n", path);
			free(path);
			continue;
		}
		struct suite_entry *s = &entries[count++];
		s->name = strdup(names[i]->d_name);
		s->path = path;
	}
	if (count == 0) {
		fprintf(stderr, "chaos: run: %s holds no experiment file (*.cfg)\n", dir);
		goto out;
	}
	bool bad_dir = false, bad_html = false;
	const char *journal_dir = wants_directory(o->journal, &bad_dir) ? o->journal : NULL;
	const char *html_dir = wants_directory(o->html, &bad_html) ? o->html : NULL;
	if (bad_dir || bad_html) {
		fprintf(stderr, "chaos: run: cannot create the directory %s: %s\n", bad_dir ? o->journal : o->html,
			strerror(errno));
		goto out;
	}
	uint64_t start_wall = wall_ms(), start_mono = mono_ms();
	int worst = EXIT_HELD;
	size_t ran = 0;
	for (size_t i = 0; i < count;) {
		size_t end = chaos_interrupted ? i + 1 : batch_end(entries, i, count, o);
		if (end - i > 1) {
			run_batch(entries, i, end, count, o, journal_dir, html_dir, runs);
		} else if (chaos_interrupted) {
			entries[i].code = -1;
			entries[i].message = strdup("not run: the suite was interrupted");
			worst = EXIT_ABORTED;
			i++;
			continue;
		} else {
			struct suite_entry *s = &entries[i];
			if (!o->quiet)
				printf("\n== [%zu/%zu] %s\n", i + 1, count, s->path);
			fflush(stdout);
			struct json_object *journal = NULL;
			suite_run_one(s, o, journal_dir, html_dir, &journal);
			if (journal)
				json_object_array_add(runs, journal);
		}
		for (; i < end; i++) {
			struct suite_entry *s = &entries[i];
			int c = s->code;
			ran++;
			if (c > worst)
				worst = c;
			printf("suite: [%zu/%zu] %s: %s (exit %d)%s%s\n", i + 1, count, s->name, s->verdict ? s->verdict : "?",
			       c, s->message && c ? ": " : "", s->message && c ? s->message : "");
		}
		fflush(stdout);
	}
	if (chaos_interrupted && worst < EXIT_ABORTED)
		worst = EXIT_ABORTED;
	double duration_s = (double)(mono_ms() - start_mono) / 1000.0;
	struct json_object *sj = suite_journal(dir, entries, count, runs, worst, start_wall, duration_s);
	int r;
	if (o->junit && (r = suite_junit_write_file(sj, o->junit))) {
		fprintf(stderr, "chaos: cannot write the JUnit report %s: %s\n", o->junit, strerror(-r));
		worst = worst > EXIT_ABORTED ? worst : EXIT_ABORTED;
	}
	if (o->journal && !journal_dir) {
		const char *text = json_object_to_json_string_ext(sj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
		FILE *f = fopen(o->journal, "w");
		if (!f || fputs(text, f) < 0 || fputc('\n', f) == EOF) {
			fprintf(stderr, "chaos: cannot write the suite journal %s\n", o->journal);
			worst = worst > EXIT_ABORTED ? worst : EXIT_ABORTED;
		}
		if (f)
			fclose(f);
	}
	if (o->html && !html_dir && (r = html_report_write(sj, o->html))) {
		fprintf(stderr, "chaos: cannot write the HTML report %s: %s\n", o->html, strerror(-r));
		worst = worst > EXIT_ABORTED ? worst : EXIT_ABORTED;
	}
	json_object_put(sj);
	size_t by[4] = { 0 }, skipped = 0;
	for (size_t i = 0; i < count; i++) {
		if (entries[i].code < 0)
			skipped++;
		else
			by[entries[i].code]++;
	}
	printf("%ssuite %s: %zu experiment(s) in %.1fs: %zu held, %zu deviated, %zu aborted, %zu invalid",
	       o->quiet ? "" : "\n", dir, ran, duration_s, by[0], by[1], by[2], by[3]);
	if (skipped)
		printf(", %zu skipped", skipped);
	printf(" (exit %d)\n", worst);
	fflush(stdout);
	code = worst;
out:
	for (size_t i = 0; i < count; i++)
		entry_free(&entries[i]);
	free(entries);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	json_object_put(runs);
	return code;
}

/* ------------------------------------------------------------------ JUnit for a suite */

static void put_attr(FILE *out, const char *name, const char *value)
{
	char *esc = xml_escape(value);
	fprintf(out, " %s=\"%s\"", name, esc ? esc : "");
	free(esc);
}

static void put_element(FILE *out, const char *tag, const char *type, const char *message, const char *body)
{
	fprintf(out, "      <%s", tag);
	if (type)
		put_attr(out, "type", type);
	put_attr(out, "message", message ? message : "");
	char *esc = xml_escape(body ? body : "");
	fprintf(out, ">%s</%s>\n", esc ? esc : "", tag);
	free(esc);
}

int suite_junit_write_file(struct json_object *suite_journal, const char *path)
{
	struct json_object *results = jget(jget(suite_journal, "suite"), "results");
	size_t n = results && json_object_is_type(results, json_type_array) ? json_object_array_length(results) : 0;
	size_t failures = 0, errors = 0, skipped = 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(results, i), *c = jget(r, "exit_code");
		if (!c)
			skipped++;
		else if (json_object_get_int(c) == EXIT_DEVIATED)
			failures++;
		else if (json_object_get_int(c) != EXIT_HELD)
			errors++;
	}
	FILE *out = fopen(path, "w");
	if (!out)
		return -errno;
	const char *dir = jstr(jget(suite_journal, "suite"), "dir");
	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
	put_attr(out, "name", jstr(suite_journal, "title"));
	fprintf(out, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n  <testsuite", n, failures,
		errors, skipped, json_object_get_double(jget(suite_journal, "duration_s")));
	put_attr(out, "name", dir ? dir : "suite");
	fprintf(out, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\"", n, failures, errors,
		skipped, json_object_get_double(jget(suite_journal, "duration_s")));
	put_attr(out, "timestamp", jstr(suite_journal, "started_at"));
	fprintf(out, ">\n");
	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(results, i), *c = jget(r, "exit_code");
		const char *verdict = jstr(r, "verdict"), *message = jstr(r, "message"), *details = jstr(r, "details");
		const char *full = message ? message : verdict ? verdict : "?";
		fprintf(out, "    <testcase");
		put_attr(out, "classname", "chaos.suite");
		put_attr(out, "name", jstr(r, "file"));
		fprintf(out, " time=\"%.3f\">\n", json_object_get_double(jget(r, "duration_s")));
		int code = c ? json_object_get_int(c) : -1;
		if (code < 0) {
			fprintf(out, "      <skipped");
			put_attr(out, "message", message ? message : "skipped");
			fprintf(out, "/>\n");
		} else if (code == EXIT_DEVIATED)
			put_element(out, "failure", "deviated", full, details);
		else if (code == EXIT_ABORTED)
			put_element(out, "error", "aborted", full, details);
		else if (code == EXIT_INVALID)
			put_element(out, "error", "invalid", full, details);
		char out_text[1600];
		snprintf(out_text, sizeof(out_text), "title: %s\nverdict: %s (exit %d)\njournal: %s\nhtml: %s\n",
			 jstr(r, "title") ? jstr(r, "title") : "", verdict ? verdict : "?", code,
			 jstr(r, "journal") ? jstr(r, "journal") : "-", jstr(r, "html") ? jstr(r, "html") : "-");
		char *esc = xml_escape(code == EXIT_HELD && details ? details : "");
		char *head = xml_escape(out_text);
		fprintf(out, "      <system-out>%s%s</system-out>\n    </testcase>\n", head ? head : "", esc ? esc : "");
		free(esc);
		free(head);
	}
	fprintf(out, "  </testsuite>\n</testsuites>\n");
	int bad = ferror(out);
	if (fclose(out) != 0 || bad)
		return -EIO;
	return 0;
}
