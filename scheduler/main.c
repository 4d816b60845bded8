/* chaos: validate, plan and run experiments; inject, halt and inspect faults ad hoc. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/duration.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "faults/registry.h"
#include "scheduler/cli_params.h"
#include "scheduler/experiment.h"
#include "scheduler/run.h"
#include "scheduler/suite.h"
#include "scheduler/matrix.h"

static const char usage_text[] =
	"usage: chaos [--netns NAME] [--log-level error|warn|info|debug] COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  validate FILE... [--inventory INV]     check experiment files; every problem as file:line\n"
	"  plan FILE [--inventory INV]            show targets, hosts and steps; contacts no agent\n"
	"  run FILE [--inventory INV] [--journal OUT.json] [--junit OUT.xml] [--html OUT.html] [--quiet]\n"
	"                                         run an experiment\n"
	"  run DIR/ [--inventory INV] [--journal DIR/|FILE] [--html DIR/|FILE] [--junit OUT.xml] [--quiet]\n"
	"         [--parallel]                    run every *.cfg of DIR in name order (a suite); with\n"
	"                                         --parallel, neighbours on disjoint hosts run at once\n"
	"  report JOURNAL.json [--html OUT.html] [--junit OUT.xml]\n"
	"                                         HTML / JUnit views of any journal file\n"
	"  matrix FILE [--inventory INV] [--journal OUT.json] [--junit OUT.xml] [--html OUT.html] [--quiet]\n"
	"                                         the same outage on each failure domain in turn: which\n"
	"                                         probes deviated for which outage (exit 0 if all ran)\n"
	"  inject KIND --inventory INV --duration D [--select SEL] [--count N | --percent P]\n"
	"         [--seed S] [--param KEY=VALUE ...] [--params-json JSON] [--lease-ttl D] [--detach]\n"
	"                                         apply one fault ad hoc\n"
	"  halt --inventory INV [--select SEL]    revert every fault on the selected agents\n"
	"  status --inventory INV [--select SEL] [--json]\n"
	"                                         agents: reachable, version, labels, kinds, faults\n"
	"  kinds                                  fault kinds this chaos knows\n"
	"\n"
	"global options:\n"
	"  --netns NAME      enter network namespace /run/netns/NAME first\n"
	"  --log-level L     error, warn (default), info or debug\n"
	"  --help, --version\n"
	"\n"
	"exit codes:\n"
	"  0  hypothesis held / command succeeded\n"
	"  1  hypothesis deviated (run)\n"
	"  2  aborted, or an agent failed or could not be reached (everything applied was reverted)\n"
	"  3  invalid input: bad file, option or argument (nothing was applied)\n";

__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "chaos: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nrun 'chaos --help' for usage\n");
	va_end(ap);
	return EXIT_INVALID;
}

/* ------------------------------------------------------------------ option parsing */

struct opt {
	const char *name;   /* "--inventory" */
	bool takes_value;
	bool repeatable;
	const char *value;  /* last value, or "1" for flags */
	char **values;      /* every value, for repeatable options */
	size_t n_values;
};

/* Splits args into options (declared in `opts`) and positional arguments. */
static int parse_opts(int argc, char **argv, struct opt *opts, char ***positional, size_t *n_pos)
{
	*positional = calloc((size_t)argc + 1, sizeof(char *));
	*n_pos = 0;
	if (!*positional)
		return -ENOMEM;
	for (int i = 0; i < argc; i++) {
		char *arg = argv[i];
		if (strncmp(arg, "--", 2) != 0 || strcmp(arg, "--") == 0) {
			(*positional)[(*n_pos)++] = arg;
			continue;
		}
		char *eq = strchr(arg, '=');
		size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
		struct opt *o = NULL;
		for (struct opt *p = opts; p->name; p++)
			if (strlen(p->name) == len && strncmp(p->name, arg, len) == 0)
				o = p;
		if (!o)
			return usage_error("unknown option %s", arg);
		const char *value = "1";
		if (o->takes_value) {
			if (eq)
				value = eq + 1;
			else if (i + 1 < argc)
				value = argv[++i];
			else
				return usage_error("option %s needs a value", o->name);
		} else if (eq) {
			return usage_error("option %s takes no value", o->name);
		}
		if (o->value && !o->repeatable)
			return usage_error("option %s given twice", o->name);
		o->value = value;
		if (o->repeatable) {
			char **grown = realloc(o->values, (o->n_values + 1) * sizeof(*grown));
			if (!grown)
				return -ENOMEM;
			o->values = grown;
			o->values[o->n_values++] = (char *)value;
		}
	}
	return 0;
}

/* parse_opts for a command that takes exactly one positional argument, `what` naming it in the
 * usage error. Exit code on failure. */
static int parse_opts_one_arg(const char *cmd, const char *what, int argc, char **argv, struct opt *opts,
			      const char **arg)
{
	char **pos;
	size_t n;
	int code = EXIT_INVALID;
	if (parse_opts(argc, argv, opts, &pos, &n) == 0) {
		if (n != 1) {
			code = usage_error("%s: give exactly one %s", cmd, what);
		} else {
			*arg = pos[0];
			code = 0;
		}
	}
	free(pos);
	return code;
}

static const char *opt_value(const struct opt *opts, const char *name)
{
	for (const struct opt *p = opts; p->name; p++)
		if (strcmp(p->name, name) == 0)
			return p->value;
	return NULL;
}

static void free_opts(struct opt *opts)
{
	for (struct opt *p = opts; p->name; p++)
		free(p->values);
}

/* ------------------------------------------------------------------ validate / plan */

static int cmd_validate(int argc, char **argv)
{
	struct opt opts[] = { { .name = "--inventory", .takes_value = true }, { .name = NULL } };
	char **files;
	size_t n;
	int r = parse_opts(argc, argv, opts, &files, &n);
	if (r || n == 0) {
		free(files);
		free_opts(opts);
		return r ? EXIT_INVALID : usage_error("validate: %s", "name at least one experiment file");
	}
	int code = EXIT_HELD;
	for (size_t i = 0; i < n; i++) {
		struct diags d = { 0 };
		struct experiment e;
		if (experiment_load(files[i], opt_value(opts, "--inventory"), &e, &d) == 0) {
			printf("%s: ok%s\n", files[i],
			       e.inventory_missing ? " (no inventory: targets not resolved; pass --inventory INV)" : "");
			experiment_free(&e);
		} else {
			diags_sort(&d);
			diags_print(stdout, &d);
			code = EXIT_INVALID;
		}
		diags_free(&d);
	}
	free(files);
	free_opts(opts);
	return code;
}

static int load_or_report(const char *file, const char *inventory, struct experiment *e)
{
	struct diags d = { 0 };
	int r = experiment_load(file, inventory, e, &d);
	if (r == 0 && e->inventory_missing) {
		fprintf(stderr, "%s: the targets need an inventory: write inventory = {...}, @include a file "
			"that defines it, or pass --inventory FILE\n", file);
		experiment_free(e);
		r = -EINVAL;
	} else if (r) {
		diags_sort(&d);
		diags_print(stderr, &d);
		if (d.count == 0)
			fprintf(stderr, "%s: %s\n", file, strerror(-r));
	}
	diags_free(&d);
	return r;
}

static void print_plan(const struct experiment *e)
{
	char a[32], b[32];
	printf("experiment: %s\n", e->title);
	printf("file: %s\n", e->file);
	if (e->description)
		printf("description: %s\n", e->description);
	printf("inventory: %s (%zu hosts)\n", e->inventory_source ? e->inventory_source : "none", e->inv.n_hosts);
	printf("\ntargets:\n");
	if (e->n_targets == 0)
		printf("  (none)\n");
	for (size_t i = 0; i < e->n_targets; i++) {
		const struct target *t = &e->targets[i];
		char *sel = selector_format(&t->sel);
		printf("  %s: select \"%s\" matches %zu host(s); ", t->name, sel ? sel : t->select_text, t->n_matches);
		free(sel);
		if (t->mode == TARGET_COUNT)
			printf("count %ld", t->count);
		else if (t->mode == TARGET_PERCENT)
			printf("percent %g", t->percent);
		else
			printf("all");
		if (t->mode != TARGET_ALL)
			printf(", seed %llu%s", (unsigned long long)t->seed, t->seed_given ? "" : " (no seed given: 0)");
		printf(" -> ");
		for (size_t j = 0; j < t->n_chosen; j++)
			printf("%s%s", j ? ", " : "", e->inv.hosts[t->chosen[j]].name);
		printf("\n");
	}
	plan_print_probes(e);
	printf("\nmethod:\n");
	for (size_t i = 0; i < e->n_steps; i++) {
		const struct step *s = &e->steps[i];
		printf("  %2zu. +%-7s ", i + 1, duration_format(s->offset_ms, a, sizeof(a)));
		if (s->type == STEP_WAIT) {
			printf("wait %s\n", duration_format(s->wait_ms, b, sizeof(b)));
		} else if (s->type == STEP_CHECK) {
			printf("check");
			for (size_t j = 0; j < s->n_probes; j++)
				printf("%s\"%s\"", j ? ", " : " ", e->probes[s->probes[j]].name);
			printf("\n");
		} else {
			const struct target *t = &e->targets[s->target];
			if (s->type == STEP_PARTITION) {
				plan_print_partition(e, s);
				continue;
			}
			printf("%s for %s on target %s:", s->kind, duration_format(s->duration_ms, b, sizeof(b)), t->name);
			for (size_t j = 0; j < t->n_chosen; j++)
				printf(" %s", e->inv.hosts[t->chosen[j]].name);
			struct json_object *params = s->params_full ? s->params_full : s->params;
			printf("\n         params %s\n",
			       params ? json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN |
									  JSON_C_TO_STRING_NOSLASHESCAPE)
				      : "{}");
		}
	}
	printf("  end +%s: every fault reverted explicitly\n", duration_format(e->total_ms, a, sizeof(a)));
	if (e->n_rollbacks) {
		printf("\nrollbacks:\n");
		for (size_t i = 0; i < e->n_rollbacks; i++)
			printf("  %s: %s\n", e->rollbacks[i].name, e->rollbacks[i].run);
	}
	printf("\ntotal duration: %s", duration_format(e->total_ms, a, sizeof(a)));
	if (e->safety.max_duration_ms)
		printf(" (safety.max_duration %s)", duration_format(e->safety.max_duration_ms, b, sizeof(b)));
	printf("\nlease ttl: %s (renewed every %s)\n", duration_format(e->safety.lease_ttl_ms, a, sizeof(a)),
	       duration_format(e->safety.lease_ttl_ms / 3, b, sizeof(b)));
	if (e->safety.max_hosts)
		printf("safety.max_hosts: %zu\n", e->safety.max_hosts);
}

static int cmd_plan(int argc, char **argv)
{
	struct opt opts[] = { { .name = "--inventory", .takes_value = true }, { .name = NULL } };
	const char *file;
	int code = parse_opts_one_arg("plan", "experiment file", argc, argv, opts, &file);
	if (code)
		goto out;
	code = EXIT_INVALID;
	struct experiment e;
	if (load_or_report(file, opt_value(opts, "--inventory"), &e) == 0) {
		if (e.is_matrix)
			matrix_print_plan(&e);
		else
			print_plan(&e);
		experiment_free(&e);
		code = EXIT_HELD;
	}
out:
	free_opts(opts);
	return code;
}

static int cmd_run(int argc, char **argv)
{
	struct opt opts[] = { { .name = "--inventory", .takes_value = true },
			      { .name = "--journal", .takes_value = true },
			      { .name = "--junit", .takes_value = true },
			      { .name = "--html", .takes_value = true },
			      { .name = "--parallel" },
			      { .name = "--quiet" }, { .name = NULL } };
	const char *path;
	int code = parse_opts_one_arg("run", "experiment file or directory", argc, argv, opts, &path);
	if (code)
		goto out;
	code = EXIT_INVALID;
	if (path_is_directory(path)) {
		struct suite_opts so = {
			.inventory = opt_value(opts, "--inventory"), .journal = opt_value(opts, "--journal"),
			.html = opt_value(opts, "--html"), .junit = opt_value(opts, "--junit"),
			.quiet = opt_value(opts, "--quiet") != NULL,
			.parallel = opt_value(opts, "--parallel") != NULL,
		};
		code = suite_run(path, &so);
		goto out;
	}
	if (opt_value(opts, "--parallel")) {
		code = usage_error("run: %s", "--parallel is for a directory of experiments");
		goto out;
	}
	struct experiment e;
	if (load_or_report(path, opt_value(opts, "--inventory"), &e) == 0) {
		struct run_opts ro = {
			.journal_path = opt_value(opts, "--journal"),
			.junit_path = opt_value(opts, "--junit"),
			.quiet = opt_value(opts, "--quiet") != NULL,
		};
		code = run_with_reports(&e, &ro, opt_value(opts, "--html"));
		experiment_free(&e);
	}
out:
	free_opts(opts);
	return code;
}

static int cmd_report(int argc, char **argv)
{
	struct opt opts[] = { { .name = "--html", .takes_value = true },
			      { .name = "--junit", .takes_value = true },
			      { .name = NULL } };
	const char *journal;
	int code = parse_opts_one_arg("report", "journal file", argc, argv, opts, &journal);
	if (code == 0 && !opt_value(opts, "--html") && !opt_value(opts, "--junit"))
		code = usage_error("report: %s", "say what to write: --html OUT.html and/or --junit OUT.xml");
	else if (code == 0)
		code = journal_render(journal, opt_value(opts, "--html"), opt_value(opts, "--junit"));
	free_opts(opts);
	return code;
}

/* ------------------------------------------------------------------ fleet commands */

struct selection {
	struct inventory inv;
	size_t *hosts;
	size_t n;
};

static int parse_count(const char *text, long long min, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno || !*text || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* --inventory, --select, --count, --percent, --seed -> hosts. Exit code on failure. */
static int select_fleet(const struct opt *opts, struct selection *out)
{
	memset(out, 0, sizeof(*out));
	const char *inv_path = opt_value(opts, "--inventory");
	if (!inv_path)
		return usage_error("%s is required", "--inventory FILE");
	struct diags d = { 0 };
	if (inventory_load(inv_path, &out->inv, &d)) {
		diags_sort(&d);
		diags_print(stderr, &d);
		diags_free(&d);
		return EXIT_INVALID;
	}
	diags_free(&d);
	const char *text = opt_value(opts, "--select");
	struct selector sel;
	char err[400];
	if (selector_parse(text ? text : "*", &sel, err, sizeof(err))) {
		fprintf(stderr, "chaos: --select: %s\n", err);
		inventory_free(&out->inv);
		return EXIT_INVALID;
	}
	size_t *matches = calloc(out->inv.n_hosts + 1, sizeof(*matches));
	const char **names = calloc(out->inv.n_hosts + 1, sizeof(*names));
	size_t *order = calloc(out->inv.n_hosts + 1, sizeof(*order));
	int code = EXIT_INVALID;
	size_t n = 0;
	if (!matches || !names || !order)
		goto fail;
	for (size_t i = 0; i < out->inv.n_hosts; i++) {
		struct label_set ls = host_labels(&out->inv.hosts[i]);
		if (selector_matches(&sel, &ls)) {
			names[n] = out->inv.hosts[i].name;
			matches[n++] = i;
		}
	}
	if (n == 0) {
		fprintf(stderr, "chaos: --select \"%s\" matches no host of %s\n", text ? text : "*", inv_path);
		goto fail;
	}
	const char *count_s = opt_value(opts, "--count"), *percent_s = opt_value(opts, "--percent");
	const char *seed_s = opt_value(opts, "--seed");
	size_t want = n;
	long long v;
	if (count_s && percent_s) {
		fprintf(stderr, "chaos: give --count or --percent, not both\n");
		goto fail;
	}
	if (count_s) {
		if (parse_count(count_s, 1, INT32_MAX, &v)) {
			fprintf(stderr, "chaos: --count %s: expected a positive integer\n", count_s);
			goto fail;
		}
		if ((size_t)v > n) {
			fprintf(stderr, "chaos: --count %lld but the selector matches only %zu host(s)\n", v, n);
			goto fail;
		}
		want = (size_t)v;
	}
	if (percent_s) {
		char *end;
		double p = strtod(percent_s, &end);
		if (!*percent_s || *end || !(p > 0 && p <= 100)) {
			fprintf(stderr, "chaos: --percent %s: expected a number in (0, 100]\n", percent_s);
			goto fail;
		}
		want = percent_count(p, n);
	}
	uint64_t seed = 0;
	if (seed_s) {
		if (parse_count(seed_s, 0, INT64_MAX, &v)) {
			fprintf(stderr, "chaos: --seed %s: expected a non-negative integer\n", seed_s);
			goto fail;
		}
		seed = (uint64_t)v;
	}
	select_hosts(names, n, want, seed, order);
	out->hosts = calloc(want + 1, sizeof(*out->hosts));
	if (!out->hosts)
		goto fail;
	for (size_t i = 0; i < want; i++)
		out->hosts[i] = matches[order[i]];
	out->n = want;
	for (size_t i = 1; i < want; i++) { /* listed by name once chosen */
		size_t v = out->hosts[i], j = i;
		while (j > 0 && strcmp(out->inv.hosts[out->hosts[j - 1]].name, out->inv.hosts[v].name) > 0) {
			out->hosts[j] = out->hosts[j - 1];
			j--;
		}
		out->hosts[j] = v;
	}
	code = 0;
fail:
	free(matches);
	free(names);
	free(order);
	selector_free(&sel);
	if (code)
		inventory_free(&out->inv);
	return code;
}

static void selection_free(struct selection *s)
{
	inventory_free(&s->inv);
	free(s->hosts);
}

/* Start of the fleet commands that take no positional argument: options, the chosen hosts and a
 * client for the inventory's TLS settings. Exit code on failure; `sel` is still freed by the caller. */
static int fleet_command_open(const char *cmd, int argc, char **argv, struct opt *opts, struct selection *sel,
			      struct agent_client *cl)
{
	char **pos;
	size_t n;
	int code = EXIT_INVALID;
	if (parse_opts(argc, argv, opts, &pos, &n) == 0)
		code = n ? usage_error("%s: unexpected argument %s", cmd, pos[0]) : select_fleet(opts, sel);
	free(pos);
	if (code == 0)
		agent_client_defaults(cl, sel->inv.has_tls ? &sel->inv.tls : NULL);
	return code;
}

/* Sends, in one batch, each request of `paths` to every chosen host: calls[host * n_paths + path].
 * NULL when out of memory. */
static struct agent_call *fleet_batch(struct agent_client *cl, const struct selection *sel, const char *method,
				      const char *const *paths, size_t n_paths)
{
	struct agent_call *calls = calloc(n_paths * sel->n, sizeof(*calls));
	if (!calls)
		return NULL;
	for (size_t i = 0; i < sel->n; i++) {
		const struct host *h = &sel->inv.hosts[sel->hosts[i]];
		for (size_t p = 0; p < n_paths; p++)
			agent_call_init(&calls[i * n_paths + p], h->name, h->agent, method, paths[p], NULL);
	}
	agent_batch(cl, calls, n_paths * sel->n);
	return calls;
}

static int cmd_halt(int argc, char **argv)
{
	struct opt opts[] = { { .name = "--inventory", .takes_value = true },
			      { .name = "--select", .takes_value = true },
			      { .name = NULL } };
	struct selection sel = { 0 };
	struct agent_client cl;
	int code = fleet_command_open("halt", argc, argv, opts, &sel, &cl);
	if (code)
		goto out;
	static const char *const halt_path[] = { "/v1/halt" };
	struct agent_call *calls = fleet_batch(&cl, &sel, "POST", halt_path, 1);
	if (!calls) {
		code = EXIT_ABORTED;
		goto out;
	}
	size_t answered = 0;
	long long total = 0;
	for (size_t i = 0; i < sel.n; i++) {
		struct json_object *v;
		if (agent_call_ok(&calls[i]) && calls[i].answer &&
		    json_object_object_get_ex(calls[i].answer, "reverted", &v)) {
			answered++;
			total += json_object_get_int64(v);
			printf("%s: reverted %lld fault(s)\n", calls[i].host, (long long)json_object_get_int64(v));
		} else {
			printf("%s: FAILED: %s\n", calls[i].host, calls[i].error[0] ? calls[i].error : "unexpected answer");
		}
	}
	printf("halt: %zu of %zu agent(s) answered, %lld fault(s) reverted\n", answered, sel.n, total);
	code = answered == sel.n ? EXIT_HELD : EXIT_ABORTED;
	agent_calls_free(calls, sel.n);
	agent_client_close(&cl);
out:
	selection_free(&sel);
	free_opts(opts);
	return code;
}

static void print_labels(struct json_object *labels)
{
	bool first = true;
	if (labels && json_object_is_type(labels, json_type_object)) {
		json_object_object_foreach(labels, k, v) {
			printf("%s%s=%s", first ? "" : ",", k, json_object_get_string(v));
			first = false;
		}
	}
	if (first)
		printf("-");
}

static int cmd_status(int argc, char **argv)
{
	struct opt opts[] = { { .name = "--inventory", .takes_value = true },
			      { .name = "--select", .takes_value = true },
			      { .name = "--json" },
			      { .name = NULL } };
	struct selection sel = { 0 };
	struct agent_client cl;
	int code = fleet_command_open("status", argc, argv, opts, &sel, &cl);
	if (code)
		goto out;
	static const char *const status_paths[] = { "/v1/info", "/v1/faults" }; /* calls[2i], calls[2i+1] */
	struct agent_call *calls = fleet_batch(&cl, &sel, "GET", status_paths, 2);
	if (!calls) {
		code = EXIT_ABORTED;
		goto out;
	}
	bool json = opt_value(opts, "--json") != NULL;
	struct json_object *all = json_object_new_array();
	size_t reachable = 0;
	for (size_t i = 0; i < sel.n; i++) {
		const struct host *h = &sel.inv.hosts[sel.hosts[i]];
		struct agent_call *info = &calls[2 * i], *faults = &calls[2 * i + 1];
		bool up = agent_call_ok(info) && info->answer;
		reachable += up;
		struct json_object *fl = NULL;
		if (agent_call_ok(faults) && faults->answer)
			json_object_object_get_ex(faults->answer, "faults", &fl);
		if (json) {
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "host", json_object_new_string(h->name));
			json_object_object_add(o, "agent", json_object_new_string(h->agent));
			json_object_object_add(o, "reachable", json_object_new_boolean(up));
			if (!up)
				json_object_object_add(o, "error", json_object_new_string(info->error));
			json_object_object_add(o, "info", up ? json_object_get(info->answer) : NULL);
			json_object_object_add(o, "faults", fl ? json_object_get(fl) : NULL);
			json_object_array_add(all, o);
			continue;
		}
		if (!up) {
			printf("%s  %s  UNREACHABLE: %s\n", h->name, h->agent, info->error);
			continue;
		}
		struct json_object *v = NULL;
		json_object_object_get_ex(info->answer, "version", &v);
		printf("%s  %s  reachable  version %s  labels ", h->name, h->agent, v ? json_object_get_string(v) : "?");
		v = NULL;
		json_object_object_get_ex(info->answer, "labels", &v);
		print_labels(v);
		printf("\n  kinds:");
		struct json_object *kinds = NULL;
		json_object_object_get_ex(info->answer, "kinds", &kinds);
		for (size_t k = 0; kinds && k < json_object_array_length(kinds); k++) {
			struct json_object *kind = json_object_array_get_idx(kinds, k), *name = NULL, *sup = NULL,
					   *backend = NULL;
			json_object_object_get_ex(kind, "name", &name);
			json_object_object_get_ex(kind, "supported", &sup);
			bool supported = sup && json_object_get_boolean(sup);
			/* the backend this host would use, when the agent says: "delay[delay-line]" */
			if (supported)
				json_object_object_get_ex(kind, "backend", &backend);
			printf(" %s%s%s%s%s", name ? json_object_get_string(name) : "?", backend ? "[" : "",
			       backend ? json_object_get_string(backend) : "", backend ? "]" : "",
			       supported ? "" : " (unsupported)");
		}
		size_t nf = fl ? json_object_array_length(fl) : 0;
		printf("\n  active faults: %zu\n", nf);
		for (size_t k = 0; k < nf; k++) {
			struct json_object *f = json_object_array_get_idx(fl, k), *id = NULL, *kind = NULL,
					   *exp = NULL, *stats = NULL;
			json_object_object_get_ex(f, "id", &id);
			json_object_object_get_ex(f, "kind", &kind);
			json_object_object_get_ex(f, "expires_at", &exp);
			json_object_object_get_ex(f, "stats", &stats);
			printf("    %s %s until %s  %s\n", id ? json_object_get_string(id) : "?",
			       kind ? json_object_get_string(kind) : "?", exp ? json_object_get_string(exp) : "?",
			       stats ? json_object_to_json_string_ext(stats, JSON_C_TO_STRING_PLAIN) : "");
		}
	}
	if (json)
		printf("%s\n", json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(all);
	code = reachable == sel.n ? EXIT_HELD : EXIT_ABORTED;
	agent_calls_free(calls, 2 * sel.n);
	agent_client_close(&cl);
out:
	selection_free(&sel);
	free_opts(opts);
	return code;
}

static void print_live_counters(struct agent_client *cl, struct fault_set *set, struct report *rep)
{
	struct agent_call *calls = calloc(set->count + 1, sizeof(*calls));
	if (!calls)
		return;
	for (size_t i = 0; i < set->count; i++) {
		char path[120];
		snprintf(path, sizeof(path), "/v1/faults/%s", set->items[i].id);
		agent_call_init(&calls[i], set->items[i].host, set->items[i].agent, "GET", path, NULL);
	}
	agent_batch(cl, calls, set->count);
	for (size_t i = 0; i < set->count; i++) {
		struct json_object *stats = NULL, *state = NULL;
		if (agent_call_ok(&calls[i]) && calls[i].answer) {
			json_object_object_get_ex(calls[i].answer, "stats", &stats);
			json_object_object_get_ex(calls[i].answer, "state", &state);
		}
		if (stats)
			progress(rep, false, "%s %s %s %s", set->items[i].host, set->items[i].id,
				 state ? json_object_get_string(state) : "?",
				 json_object_to_json_string_ext(stats, JSON_C_TO_STRING_PLAIN));
		else
			progress(rep, false, "%s %s: %s", set->items[i].host, set->items[i].id,
				 calls[i].error[0] ? calls[i].error : "no counters");
	}
	agent_calls_free(calls, set->count);
}

static int cmd_inject(int argc, char **argv)
{
	struct opt opts[] = {
		{ .name = "--inventory", .takes_value = true },   { .name = "--select", .takes_value = true },
		{ .name = "--count", .takes_value = true },       { .name = "--percent", .takes_value = true },
		{ .name = "--seed", .takes_value = true },        { .name = "--duration", .takes_value = true },
		{ .name = "--param", .takes_value = true, .repeatable = true },
		{ .name = "--params-json", .takes_value = true }, { .name = "--detach" },
		{ .name = "--lease-ttl", .takes_value = true },   { .name = NULL },
	};
	struct selection sel = { 0 };
	struct json_object *base = NULL, *params = NULL;
	struct fault_set set = { 0 };
	struct report rep = { 0 };
	struct agent_client cl = { 0 };
	const char *kind_name;
	int code = parse_opts_one_arg("inject", "fault kind (see 'chaos kinds')", argc, argv, opts, &kind_name);
	if (code)
		goto out;
	code = EXIT_INVALID;
	const struct fault_kind *kind = fault_kind_find(kind_name);
	if (!kind) {
		code = usage_error("inject: unknown fault kind \"%s\" (see 'chaos kinds')", kind_name);
		goto out;
	}
	const char *dur_s = opt_value(opts, "--duration");
	uint64_t duration_ms, ttl_ms = DEFAULT_LEASE_TTL_MS;
	if (!dur_s) {
		code = usage_error("inject: %s is required", "--duration D");
		goto out;
	}
	if (duration_parse(dur_s, &duration_ms) || duration_ms == 0) {
		code = usage_error("inject: --duration %s: expected a duration with a unit, e.g. 30s", dur_s);
		goto out;
	}
	const char *ttl_s = opt_value(opts, "--lease-ttl");
	if (ttl_s && (duration_parse(ttl_s, &ttl_ms) || ttl_ms < 1000)) {
		code = usage_error("inject: --lease-ttl %s: expected a duration of at least 1s", ttl_s);
		goto out;
	}
	const char *pj = opt_value(opts, "--params-json");
	if (pj) {
		base = json_tokener_parse(pj);
		if (!base || !json_object_is_type(base, json_type_object)) {
			code = usage_error("inject: --params-json is not a JSON object: %s", pj);
			goto out;
		}
	}
	struct opt *param_opt = &opts[6]; /* --param */
	struct fault_error err = { 0 };
	if (cli_params_build(kind, base, param_opt->values, param_opt->n_values, &params, &err)) {
		fprintf(stderr, "chaos: inject %s: invalid params: %s%s%s\n", kind->name, err.key,
			err.key[0] ? ": " : "", err.msg);
		goto out;
	}
	if ((code = select_fleet(opts, &sel)))
		goto out;
	agent_client_defaults(&cl, sel.inv.has_tls ? &sel.inv.tls : NULL);
	report_init(&rep, "inject", NULL);
	bool detach = opt_value(opts, "--detach") != NULL;
	char lease_id[48];
	lease_make_id(lease_id, sizeof(lease_id));
	struct lease_keeper keeper = { 0 };
	struct apply_request req = { .kind = kind->name, .duration_ms = duration_ms, .params = params,
				     .lease_id = detach ? NULL : lease_id, .lease_ttl_ms = ttl_ms };
	set.lease_id = req.lease_id;
	interrupt_handlers_install();
	if (!detach) {
		if (lease_start(&keeper, &cl, lease_id, ttl_ms)) {
			code = EXIT_ABORTED;
			goto out;
		}
		uint64_t until = mono_ms() + duration_ms;
		for (size_t i = 0; i < sel.n; i++)
			lease_add_host(&keeper, sel.inv.hosts[sel.hosts[i]].name, sel.inv.hosts[sel.hosts[i]].agent,
				       until);
	}
	size_t failed = faults_apply(&cl, &sel.inv, sel.hosts, sel.n, &req, &set, &rep, detach);
	if (detach) {
		for (size_t i = 0; i < set.count; i++)
			printf("%s %s\n", set.items[i].host, set.items[i].id);
		if (failed) {
			/* all or nothing, as for experiments */
			faults_revert_all(&cl, &set, &rep, true);
			code = EXIT_ABORTED;
		} else {
			code = EXIT_HELD;
		}
		goto out;
	}
	code = EXIT_HELD;
	if (failed) {
		code = EXIT_ABORTED;
	} else {
		uint64_t end = 0;
		for (size_t i = 0; i < set.count; i++)
			if (set.items[i].expires_mono_ms > end)
				end = set.items[i].expires_mono_ms;
		while (!chaos_interrupted && mono_ms() < end) {
			uint64_t left = end - mono_ms();
			if (!wait_or_interrupt(left < 2000 ? left : 2000))
				break;
			if (mono_ms() < end)
				print_live_counters(&cl, &set, &rep);
		}
		if (chaos_interrupted)
			progress(&rep, false, "interrupted: reverting");
	}
	if (faults_revert_all(&cl, &set, &rep, false))
		code = EXIT_ABORTED;
	lease_stop(&keeper);
out:
	agent_client_close(&cl);
	report_free(&rep);
	fault_set_free(&set);
	json_object_put(base);
	json_object_put(params);
	selection_free(&sel);
	free_opts(opts);
	return code;
}

static int cmd_matrix(int argc, char **argv)
{
	struct opt opts[] = { { .name = "--inventory", .takes_value = true },
			      { .name = "--journal", .takes_value = true },
			      { .name = "--junit", .takes_value = true },
			      { .name = "--html", .takes_value = true },
			      { .name = "--quiet" }, { .name = NULL } };
	const char *file;
	int code = parse_opts_one_arg("matrix", "matrix file", argc, argv, opts, &file);
	struct experiment e;
	if (code == 0 && load_or_report(file, opt_value(opts, "--inventory"), &e) != 0)
		code = EXIT_INVALID;
	else if (code == 0 && !e.is_matrix) {
		fprintf(stderr, "%s: no 'matrix = {...}' in this file (run experiments with chaos run)\n", file);
		experiment_free(&e);
		code = EXIT_INVALID;
	} else if (code == 0) {
		struct matrix_opts mo = {
			.journal_path = opt_value(opts, "--journal"), .junit_path = opt_value(opts, "--junit"),
			.html_path = opt_value(opts, "--html"), .quiet = opt_value(opts, "--quiet") != NULL,
		};
		code = matrix_run(&e, &mo);
		experiment_free(&e);
	}
	free_opts(opts);
	return code;
}

static int cmd_kinds(void)
{
	const struct fault_kind *const *kinds = fault_kinds();
	for (size_t i = 0; kinds[i]; i++)
		printf("%-14s %-8s %s\n", kinds[i]->name, kinds[i]->family, kinds[i]->summary);
	return 0;
}

/* ------------------------------------------------------------------ main */

static int enter_netns(const char *name)
{
	char path[300];
	if (strchr(name, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "chaos: --netns %s: cannot open %s: %s\n", name, path, strerror(errno));
		return -errno;
	}
	int r = setns(fd, CLONE_NEWNET);
	int err = errno;
	close(fd);
	if (r) {
		fprintf(stderr, "chaos: --netns %s: setns: %s\n", name, strerror(err));
		return -err;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1;
	log_set_level(LOG_LVL_WARN);
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			fputs(usage_text, stdout);
			return 0;
		}
		if (strcmp(arg, "--version") == 0) {
			printf("chaos %s\n", CHAOSKIT_VERSION);
			return 0;
		}
		const char *eq = strchr(arg, '=');
		size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
		const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
		bool netns = len == 7 && strncmp(arg, "--netns", 7) == 0;
		bool level = len == 11 && strncmp(arg, "--log-level", 11) == 0;
		if (!netns && !level)
			return usage_error("unknown option %s", arg);
		if (!value)
			return usage_error("option %s needs a value", arg);
		if (!eq)
			i++;
		if (netns) {
			/* before anything else: probes and agent calls must start from inside */
			if (enter_netns(value))
				return EXIT_INVALID;
		} else {
			static const char *const names[] = { "error", "warn", "info", "debug" };
			int found = -1;
			for (int k = 0; k < 4; k++)
				if (strcmp(value, names[k]) == 0)
					found = k;
			if (found < 0)
				return usage_error("--log-level %s: expected error, warn, info or debug", value);
			log_set_level((enum log_level)found);
		}
	}
	if (i >= argc) {
		fputs(usage_text, stderr);
		return EXIT_INVALID;
	}
	const char *cmd = argv[i++];
	int sub_argc = argc - i;
	char **sub_argv = argv + i;
	for (int k = 0; k < sub_argc; k++)
		if (strcmp(sub_argv[k], "--help") == 0 || strcmp(sub_argv[k], "-h") == 0) {
			fputs(usage_text, stdout);
			return 0;
		}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "chaos: cannot initialise libcurl\n");
		return EXIT_ABORTED;
	}
	int code;
	if (strcmp(cmd, "validate") == 0)
		code = cmd_validate(sub_argc, sub_argv);
	else if (strcmp(cmd, "plan") == 0)
		code = cmd_plan(sub_argc, sub_argv);
	else if (strcmp(cmd, "run") == 0) {
		interrupt_handlers_install();
		code = cmd_run(sub_argc, sub_argv);
	} else if (strcmp(cmd, "report") == 0)
		code = cmd_report(sub_argc, sub_argv);
	else if (strcmp(cmd, "inject") == 0)
		code = cmd_inject(sub_argc, sub_argv);
	else if (strcmp(cmd, "halt") == 0)
		code = cmd_halt(sub_argc, sub_argv);
	else if (strcmp(cmd, "status") == 0)
		code = cmd_status(sub_argc, sub_argv);
	else if (strcmp(cmd, "matrix") == 0) {
		interrupt_handlers_install();
		code = cmd_matrix(sub_argc, sub_argv);
	} else if (strcmp(cmd, "kinds") == 0)
		code = cmd_kinds();
	else
		code = usage_error("unknown command %s", cmd);
	curl_global_cleanup();
	return code;
}
