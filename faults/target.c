#include "faults/target.h"

#include "common/pick.h"
#include "common/textfile.h"
#include "faults/scope.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const criteria[] = { "pid", "name", "exe", "cmdline", "cgroup", "unit" };

static int parse_text(struct json_object *v, const char *key, size_t max, char **out, struct fault_error *err)
{
	if (!json_object_is_type(v, json_type_string)) {
		fault_error_set(err, key, "must be a string");
		return -EINVAL;
	}
	const char *s = json_object_get_string(v);
	size_t len = strlen(s);
	if (len == 0 || len > max) {
		fault_error_set(err, key, "must be 1 to %zu characters", max);
		return -EINVAL;
	}
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int parse_int(struct json_object *v, const char *key, int64_t min, int64_t max, int64_t *out,
		     struct fault_error *err)
{
	if (!json_object_is_type(v, json_type_int)) {
		fault_error_set(err, key, "must be an integer");
		return -EINVAL;
	}
	int64_t x = json_object_get_int64(v);
	if (x < min || x > max) {
		fault_error_set(err, key, "must be between %lld and %lld", (long long)min, (long long)max);
		return -EINVAL;
	}
	*out = x;
	return 0;
}

static int parse_field(const char *name, struct json_object *v, const char *key, struct target_spec *t,
		       struct fault_error *err)
{
	int64_t x;
	int r;
	if (strcmp(name, "pid") == 0) {
		r = parse_int(v, key, 2, INT32_MAX, &x, err);
		t->pid = (pid_t)x;
		return r;
	}
	if (strcmp(name, "name") == 0)
		return parse_text(v, key, PROCESS_NAME_MAX, &t->name, err);
	if (strcmp(name, "exe") == 0) {
		r = parse_text(v, key, PATH_MAX - 1, &t->exe, err);
		if (r == 0 && t->exe[0] != '/') {
			fault_error_set(err, key, "must be an absolute path such as \"/usr/bin/sqlite3\"");
			return -EINVAL;
		}
		return r;
	}
	if (strcmp(name, "cmdline") == 0) {
		r = parse_text(v, key, 1024, &t->cmdline, err);
		if (r < 0)
			return r;
		int rc = regcomp(&t->cmdline_re, t->cmdline, REG_EXTENDED | REG_NOSUB);
		if (rc != 0) {
			char msg[128];
			regerror(rc, &t->cmdline_re, msg, sizeof(msg));
			free(t->cmdline);
			t->cmdline = NULL;
			fault_error_set(err, key, "not a valid extended regular expression: %s", msg);
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(name, "cgroup") == 0)
		return parse_text(v, key, PACKET_SCOPE_PATH_MAX - 1, &t->cgroup, err);
	if (strcmp(name, "unit") == 0) {
		r = parse_text(v, key, PACKET_SCOPE_PATH_MAX - 1, &t->unit, err);
		if (r == 0 && (strchr(t->unit, '/') || strcmp(t->unit, ".") == 0 || strcmp(t->unit, "..") == 0)) {
			fault_error_set(err, key, "must be a unit name such as \"postgresql.service\"");
			return -EINVAL;
		}
		return r;
	}
	if (strcmp(name, "count") == 0) {
		r = parse_int(v, key, 1, 1000000, &x, err);
		t->count = (int)x;
		return r;
	}
	if (strcmp(name, "percent") == 0) {
		r = parse_int(v, key, 1, 100, &x, err);
		t->percent = (int)x;
		return r;
	}
	if (strcmp(name, "seed") == 0) {
		r = parse_int(v, key, 0, INT64_MAX, &x, err);
		t->seed = (uint64_t)x;
		t->has_seed = true;
		return r;
	}
	fault_error_set(err, key, "unknown parameter (known: pid, name, exe, cmdline, cgroup, unit, count, percent, seed)");
	return -EINVAL;
}

int target_parse(struct json_object *params, const char *key, struct target_spec *out, struct fault_error *err)
{
	struct target_spec t = { 0 };
	struct json_object *obj = NULL;
	if (!params || !json_object_object_get_ex(params, key, &obj)) {
		fault_error_set(err, key, "is required: which processes, e.g. %s = { name = \"postgres\" }", key);
		return -EINVAL;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		fault_error_set(err, key, "must be an object such as { name = \"postgres\"; count = 1 }");
		return -EINVAL;
	}
	int r = 0;
	json_object_object_foreach(obj, name, v) {
		char full[96];
		snprintf(full, sizeof(full), "%s.%s", key, name);
		r = parse_field(name, v, full, &t, err);
		if (r < 0)
			break;
	}
	if (r == 0 && !t.pid && !t.name && !t.exe && !t.cmdline && !t.cgroup && !t.unit) {
		fault_error_set(err, key, "must name processes by pid, name, exe, cmdline, cgroup or unit");
		r = -EINVAL;
	}
	if (r == 0 && t.count && t.percent) {
		fault_error_set(err, key, "give count or percent, not both");
		r = -EINVAL;
	}
	if (r == 0 && t.cgroup && t.unit) {
		fault_error_set(err, key, "give cgroup or unit, not both");
		r = -EINVAL;
	}
	if (r < 0) {
		target_spec_clear(&t);
		return r;
	}
	*out = t;
	return 0;
}

void target_spec_clear(struct target_spec *spec)
{
	if (!spec)
		return;
	free(spec->name);
	free(spec->exe);
	if (spec->cmdline)
		regfree(&spec->cmdline_re);
	free(spec->cmdline);
	free(spec->cgroup);
	free(spec->unit);
	memset(spec, 0, sizeof(*spec));
}

struct json_object *target_to_json(const struct target_spec *spec)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	if (spec->pid)
		json_object_object_add(o, "pid", json_object_new_int(spec->pid));
	const char *texts[] = { spec->name, spec->exe, spec->cmdline, spec->cgroup, spec->unit };
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (texts[i])
			json_object_object_add(o, criteria[i + 1], json_object_new_string(texts[i]));
	/* neither: every match */
	if (spec->percent)
		json_object_object_add(o, "percent", json_object_new_int(spec->percent));
	else if (spec->count)
		json_object_object_add(o, "count", json_object_new_int(spec->count));
	if (spec->has_seed)
		json_object_object_add(o, "seed", json_object_new_int64((int64_t)spec->seed));
	return o;
}

int process_scope_targets(struct process_scope *scope, pid_t *exclude_buf, int buf_len)
{
	int r = process_scope_self(scope, exclude_buf, buf_len);
	if (r < 0)
		return r;
	/* An agent in the host's own network namespace stands for the host; one in
	 * another namespace (lab, tests) stands for the "host" that namespace is. */
	struct process_netns init_ns;
	if (process_netns_of("/proc/1/ns/net", &init_ns) == 0)
		scope->any_netns = init_ns.ino == scope->netns.ino && init_ns.dev == scope->netns.dev;
	return 0;
}

/* argv joined by single spaces, so that a regex reads it as a shell line would. */
static bool read_cmdline(const char *proc_root, pid_t pid, char *buf, size_t len, char *argv0, size_t argv0_len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%d/cmdline", proc_root, (int)pid);
	ssize_t n = text_file_read(path, buf, len);
	if (n <= 0)
		return false;
	size_t got = (size_t)n;
	size_t a0 = strnlen(buf, got);
	if (a0 >= argv0_len)
		a0 = argv0_len - 1;
	memcpy(argv0, buf, a0);
	argv0[a0] = '\0';
	while (got > 0 && buf[got - 1] == '\0')
		got--;
	for (size_t i = 0; i < got; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[got] = '\0';
	return true;
}

/* pids of a cgroup and every cgroup below it */
struct pid_set {
	pid_t *pids;
	size_t n, cap;
};

static int pid_set_add(struct pid_set *s, pid_t pid)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		pid_t *grown = realloc(s->pids, ncap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		s->pids = grown;
		s->cap = ncap;
	}
	s->pids[s->n++] = pid;
	return 0;
}

static bool pid_set_has(const struct pid_set *s, pid_t pid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->pids[i] == pid)
			return true;
	return false;
}

static int collect_cgroup(const char *dir, int depth, struct pid_set *set)
{
	if (depth > 32)
		return 0;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int r = 0;
	long pid;
	while (r == 0 && fscanf(f, "%ld", &pid) == 1)
		r = pid_set_add(set, (pid_t)pid);
	fclose(f);
	if (r < 0)
		return r;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct dirent *e;
	while (r == 0 && (e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		char child[PATH_MAX];
		if ((size_t)snprintf(child, sizeof(child), "%s/%s", dir, e->d_name) >= sizeof(child))
			continue;
		int c = collect_cgroup(child, depth + 1, set);
		if (c == -ENOMEM)
			r = c;
	}
	closedir(d);
	return r;
}

int target_cgroup_mounts_each(bool (*visit)(const struct cgroup_mount *m, void *ctx), void *ctx)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char line[4096];
	struct cgroup_mount m;
	bool more = true;
	while (more && fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint options [optional...] - fstype source superoptions */
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", m.root, m.dir) != 2)
			continue;
		char *sep = strstr(line, " - ");
		if (!sep)
			continue;
		char fstype[64], source[256];
		m.options[0] = '\0';
		if (sscanf(sep + 3, "%63s %255s %1023s", fstype, source, m.options) < 2)
			continue;
		m.v2 = strcmp(fstype, "cgroup2") == 0;
		if (!m.v2 && strcmp(fstype, "cgroup") != 0)
			continue;
		if (m.v2)
			m.options[0] = '\0';
		more = visit(&m, ctx);
	}
	fclose(f);
	return 0;
}

struct mount_array {
	struct cgroup_mount *out;
	int n, max;
};

static bool mount_array_add(const struct cgroup_mount *m, void *array_v)
{
	struct mount_array *a = array_v;
	if (a->n < a->max)
		a->out[a->n++] = *m;
	return a->n < a->max;
}

static int cgroup_mounts(struct cgroup_mount *out, int max)
{
	struct mount_array a = { out, 0, max };
	int r = max > 0 ? target_cgroup_mounts_each(mount_array_add, &a) : 0;
	return r < 0 ? r : a.n;
}

bool target_cgroup_mount_has(const struct cgroup_mount *m, const char *controllers)
{
	char copy[256];
	snprintf(copy, sizeof(copy), "%s", controllers);
	char *save = NULL;
	for (char *c = strtok_r(copy, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
		size_t len = strlen(c);
		const char *p = m->options;
		bool found = false;
		while (!found && (p = strstr(p, c))) {
			found = (p == m->options || p[-1] == ',') && (p[len] == ',' || p[len] == '\0');
			p += len;
		}
		if (!found)
			return false;
	}
	return true;
}

static bool under_cgroup_mount(const char *path)
{
	struct cgroup_mount mounts[32];
	int n = cgroup_mounts(mounts, 32);
	for (int i = 0; i < n; i++) {
		size_t len = strlen(mounts[i].dir);
		if (strncmp(path, mounts[i].dir, len) == 0 && (path[len] == '/' || path[len] == '\0'))
			return true;
	}
	return false;
}

int target_cgroup_dir(const struct target_spec *spec, char *buf, size_t len, struct fault_error *err)
{
	const char *key = spec->cgroup ? "processes.cgroup" : "processes.unit";
	if (!spec->cgroup && !spec->unit) {
		fault_error_set(err, "processes", "names no cgroup or unit");
		return -ENOENT;
	}
	struct stat st;
	/* A directory inside any mounted hierarchy (a v1 freezer or blkio cgroup, too) is
	 * taken as it is; anything else is a path in the v2 hierarchy, as /proc/PID/cgroup
	 * shows it. */
	if (spec->cgroup && under_cgroup_mount(spec->cgroup)) {
		if (stat(spec->cgroup, &st) < 0 || !S_ISDIR(st.st_mode)) {
			fault_error_set(err, key, "%s: no such cgroup", spec->cgroup);
			return -ENOENT;
		}
		if ((size_t)snprintf(buf, len, "%s", spec->cgroup) >= len)
			return -ENAMETOOLONG;
		return 0;
	}
	struct packet_scope scope = { 0 };
	snprintf(spec->cgroup ? scope.cgroup : scope.unit, PACKET_SCOPE_PATH_MAX, "%s",
		 spec->cgroup ? spec->cgroup : spec->unit);
	int r = scope_resolve_path(&scope, buf, len, err);
	if (r < 0) {
		snprintf(err->key, sizeof(err->key), "%s", key);
		return r;
	}
	if (stat(buf, &st) < 0 || !S_ISDIR(st.st_mode)) {
		r = -ENOENT;
		fault_error_set(err, key, "%s: no such cgroup", buf);
	}
	return r;
}

int target_process_cgroups(pid_t pid, char (*dirs)[PATH_MAX], int max)
{
	struct cgroup_mount mounts[32];
	int n_mounts = cgroup_mounts(mounts, 32);
	if (n_mounts < 0)
		return n_mounts;
	if (n_mounts == 0)
		return -ENOENT; /* e.g. an agent under `ip netns exec`, whose fresh /sys hides them */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char line[PATH_MAX + 256];
	int n = 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		/* "0::/a/b" (v2) or "4:cpu,cpuacct:/a/b" (v1) */
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = *c2 = '\0';
		const char *controllers = c1 + 1, *cg = c2 + 1;
		for (int i = 0; i < n_mounts; i++) {
			struct cgroup_mount *m = &mounts[i];
			if (m->v2 != (controllers[0] == '\0'))
				continue;
			if (!m->v2 && !target_cgroup_mount_has(m, controllers))
				continue;
			size_t rl = strlen(m->root);
			const char *rest = cg;
			if (strcmp(m->root, "/") != 0) {
				if (strncmp(cg, m->root, rl) != 0 || (cg[rl] != '/' && cg[rl] != '\0'))
					continue; /* outside what this mount shows */
				rest = cg + rl;
			}
			if (snprintf(dirs[n], PATH_MAX, "%s%s", m->dir, strcmp(rest, "/") == 0 ? "" : rest) < PATH_MAX)
				n++;
			break;
		}
	}
	fclose(f);
	return n;
}

/* The agent's own helpers are children, not ancestors, so the scope's exclusions miss
 * them: its guardian (chaos-agent --guardian) and anything else it forked that runs its
 * executable. Stopping or killing the guardian would silently take away the crash
 * safety of every fault. Stressors are forked children showing the agent's executable
 * too, and are left out as well. */
static bool agent_helper(const struct process_scope *scope, pid_t pid, const struct process_stat *st)
{
	if (st->ppid != getpid())
		return false;
	char self_exe[PATH_MAX], exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (len <= 0)
		return false;
	self_exe[len] = '\0';
	return process_read_exe(scope->proc_root, pid, exe, sizeof(exe)) && strcmp(exe, self_exe) == 0;
}

static bool matches(const struct target_spec *spec, const struct process_scope *scope, pid_t pid,
		    const struct process_stat *st, const struct pid_set *cgroup_pids)
{
	if (spec->pid && spec->pid != pid)
		return false;
	if (cgroup_pids && !pid_set_has(cgroup_pids, pid))
		return false;
	char exe[PATH_MAX];
	bool have_exe = (spec->exe || spec->name) && process_read_exe(scope->proc_root, pid, exe, sizeof(exe));
	if (spec->exe && (!have_exe || strcmp(exe, spec->exe) != 0))
		return false;
	char cmdline[8192], argv0[PATH_MAX] = "";
	bool have_cmdline = false;
	if (spec->cmdline || spec->name)
		have_cmdline = read_cmdline(scope->proc_root, pid, cmdline, sizeof(cmdline), argv0, sizeof(argv0));
	if (spec->name &&
	    !process_name_matches(spec->name, st->comm, have_exe ? exe : NULL, have_cmdline ? argv0 : NULL))
		return false;
	if (spec->cmdline && (!have_cmdline || regexec(&spec->cmdline_re, cmdline, 0, NULL, 0) != 0))
		return false;
	return true;
}

static void describe_criteria(const struct target_spec *spec, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
#define ADD(...) do { int w = snprintf(buf + used, len - used, __VA_ARGS__); \
		if (w > 0 && (size_t)w < len - used) used += (size_t)w; } while (0)
	if (spec->pid)
		ADD("pid %d", (int)spec->pid);
	if (spec->name)
		ADD("%sname \"%s\"", used ? ", " : "", spec->name);
	if (spec->exe)
		ADD("%sexe \"%s\"", used ? ", " : "", spec->exe);
	if (spec->cmdline)
		ADD("%scmdline /%s/", used ? ", " : "", spec->cmdline);
	if (spec->cgroup)
		ADD("%scgroup \"%s\"", used ? ", " : "", spec->cgroup);
	if (spec->unit)
		ADD("%sunit \"%s\"", used ? ", " : "", spec->unit);
#undef ADD
}

struct resolve_ctx {
	const struct target_spec *spec;
	const struct process_scope *scope;
	const struct pid_set *cgroup_pids;
	int helpers;                    /* matched, but the agent's own helpers */
};

static bool resolve_keep(pid_t pid, const struct process_stat *st, void *ctx_v)
{
	struct resolve_ctx *ctx = ctx_v;
	if (!matches(ctx->spec, ctx->scope, pid, st, ctx->cgroup_pids))
		return false;
	if (agent_helper(ctx->scope, pid, st)) {
		ctx->helpers++;
		return false;
	}
	return true;
}

int target_resolve(const struct target_spec *spec, const struct process_scope *scope, struct process_ident **out,
		   int *n_out, struct fault_error *err)
{
	struct pid_set cg = { 0 };
	bool by_cgroup = spec->cgroup || spec->unit;
	if (by_cgroup) {
		char dir[PATH_MAX];
		int r = target_cgroup_dir(spec, dir, sizeof(dir), err);
		if (r < 0)
			return r;
		r = collect_cgroup(dir, 0, &cg);
		if (r < 0) {
			free(cg.pids);
			fault_error_set(err, spec->cgroup ? "processes.cgroup" : "processes.unit", "cannot read %s: %s",
					dir, strerror(-r));
			return r;
		}
	}
	struct resolve_ctx ctx = { spec, scope, by_cgroup ? &cg : NULL, 0 };
	struct process_ident *list = NULL;
	int n = process_scan(scope, resolve_keep, &ctx, &list);
	free(cg.pids);
	if (n == -ENOMEM)
		return n;
	if (n < 0) {
		fault_error_set(err, "processes", "cannot read %s: %s", scope->proc_root, strerror(-n));
		return n;
	}
	if (n == 0) {
		char what[512];
		describe_criteria(spec, what, sizeof(what));
		fault_error_set(err, "processes", "no process matches %s in this agent's scope%s%s", what,
				scope->any_netns ? "" : " (its network namespace)",
				ctx.helpers ? " but the agent's own helper processes" : "");
		return -ESRCH;
	}
	size_t want = (size_t)n;
	if (spec->count)
		want = (size_t)spec->count < want ? (size_t)spec->count : want;
	else if (spec->percent)
		want = percent_count(spec->percent, (size_t)n);
	if (want < (size_t)n) {
		size_t *order = malloc(sizeof(*order) * (size_t)n);
		struct process_ident *picked = malloc(sizeof(*picked) * want);
		if (!order || !picked) {
			free(order);
			free(picked);
			free(list);
			return -ENOMEM;
		}
		for (size_t i = 0; i < (size_t)n; i++)
			order[i] = i;
		uint64_t seed = spec->seed;
		if (!spec->has_seed && getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
			seed = (uint64_t)getpid() ^ (uint64_t)time(NULL);
		pick_shuffle(order, (size_t)n, seed);
		for (size_t i = 0; i < want; i++)
			picked[i] = list[order[i]];
		free(order);
		free(list);
		list = picked;
		n = (int)want;
		process_list_sort(list, n);
	}
	*out = list;
	*n_out = n;
	return 0;
}
