/* Kind "io-fault" (docs/draft/iofault.md): errors and latency for file operations
 * under a directory, through a FUSE passthrough filesystem mounted over it
 * (faults/iofault_fuse.c). The mount carries fsname "chaoskit-io:<fault_id>":
 * recover() detaches the fault's own mount (the daemon died with the agent),
 * the family sweep every chaoskit-io mount whose daemon is gone. Nothing needs a
 * state file: the mount itself, in /proc/self/mountinfo, is the marker. */
#include "faults/fault.h"
#include "faults/iofault.h"

#include "common/duration.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const iofault_op_names[IOF_N_OPS] = {
	[IOF_LOOKUP] = "lookup", [IOF_GETATTR] = "getattr", [IOF_SETATTR] = "setattr",
	[IOF_TRUNCATE] = "truncate", [IOF_READLINK] = "readlink", [IOF_MKNOD] = "mknod",
	[IOF_MKDIR] = "mkdir", [IOF_UNLINK] = "unlink", [IOF_RMDIR] = "rmdir",
	[IOF_SYMLINK] = "symlink", [IOF_RENAME] = "rename", [IOF_LINK] = "link",
	[IOF_OPEN] = "open", [IOF_CREATE] = "create", [IOF_READ] = "read",
	[IOF_WRITE] = "write", [IOF_FLUSH] = "flush", [IOF_FSYNC] = "fsync",
	[IOF_OPENDIR] = "opendir", [IOF_READDIR] = "readdir", [IOF_STATFS] = "statfs",
	[IOF_FALLOCATE] = "fallocate",
};

static const struct {
	const char *name;
	int value;
} errno_names[] = {
	{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EROFS", EROFS }, { "EACCES", EACCES },
	{ "EDQUOT", EDQUOT }, { "EPERM", EPERM }, { "ENOENT", ENOENT }, { "EFBIG", EFBIG },
	{ "EAGAIN", EAGAIN }, { "EBUSY", EBUSY }, { "EINTR", EINTR }, { "ENOMEM", ENOMEM },
	{ "ETIMEDOUT", ETIMEDOUT }, { "EEXIST", EEXIST }, { "ENOTDIR", ENOTDIR }, { "EISDIR", EISDIR },
	{ "EMFILE", EMFILE }, { "ENFILE", ENFILE }, { "EXDEV", EXDEV }, { "ESTALE", ESTALE },
	{ "ENXIO", ENXIO }, { "EBADF", EBADF }, { "EINVAL", EINVAL }, { "ENOTEMPTY", ENOTEMPTY },
	{ "EMLINK", EMLINK }, { "ENAMETOOLONG", ENAMETOOLONG }, { "EOVERFLOW", EOVERFLOW },
};
#define N_ERRNOS (sizeof(errno_names) / sizeof(errno_names[0]))

static const char *errno_name(int value)
{
	for (size_t i = 0; i < N_ERRNOS; i++)
		if (errno_names[i].value == value)
			return errno_names[i].name;
	return "?";
}

/* Where a fault would break the host rather than a program: pseudo filesystems
 * and what boots and runs the system. */
static const char *const refused_trees[] = { "/proc", "/sys", "/dev", "/run", "/boot" };

static bool path_is_or_under(const char *path, const char *tree)
{
	size_t n = strlen(tree);
	if (n == 1 && tree[0] == '/')
		return true;
	return strncmp(path, tree, n) == 0 && (path[n] == 0 || path[n] == '/');
}

static const char *dangerous_tree(const char *path)
{
	if (strcmp(path, "/") == 0)
		return "/";
	for (size_t i = 0; i < sizeof(refused_trees) / sizeof(refused_trees[0]); i++)
		if (path_is_or_under(path, refused_trees[i]))
			return refused_trees[i];
	return NULL;
}

bool iofault_files_match(const struct iofault_spec *spec, const char *rel)
{
	if (spec->n_files == 0)
		return true;
	const char *base = strrchr(rel, '/');
	base = base ? base + 1 : rel;
	for (int i = 0; i < spec->n_files; i++) {
		const char *pat = spec->files[i];
		if (strpbrk(pat, "*?[")) {
			if (fnmatch(pat, rel, 0) == 0)
				return true;
			if (!strchr(pat, '/') && fnmatch(pat, base, 0) == 0)
				return true;
		} else if (strncmp(rel, pat, strlen(pat)) == 0) {
			return true;
		}
	}
	return false;
}

/* --- parse ------------------------------------------------------------------------- */

static int parse_path(struct json_object *v, struct iofault_spec *s, struct fault_error *err)
{
	const char *text = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (!text || text[0] != '/') {
		fault_error_set(err, "path", "must be an absolute directory path, e.g. \"/var/lib/app\"");
		return -EINVAL;
	}
	/* Normalised: no repeated or trailing '/', no "." or ".." components. */
	char out[PATH_MAX];
	size_t len = 0;
	for (const char *p = text; *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
			fault_error_set(err, "path", "must not contain \".\" or \"..\" components");
			return -EINVAL;
		}
		if (len + 1 + n >= sizeof(out)) {
			fault_error_set(err, "path", "is too long");
			return -EINVAL;
		}
		out[len++] = '/';
		memcpy(out + len, p, n);
		len += n;
		p = end;
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = 0;
	const char *tree = dangerous_tree(out);
	if (tree) {
		fault_error_set(err, "path", "%s is refused: faults on %s would hit the whole system", out,
				strcmp(tree, "/") == 0 ? "the root directory" : tree);
		return -EINVAL;
	}
	snprintf(s->path, sizeof(s->path), "%s", out);
	return 0;
}

static int op_from_name(const char *name)
{
	for (int i = 0; i < IOF_N_OPS; i++)
		if (strcmp(iofault_op_names[i], name) == 0)
			return i;
	return -1;
}

static void op_list(char *buf, size_t len)
{
	size_t used = 0;
	for (int i = 0; i < IOF_N_OPS && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", iofault_op_names[i]);
}

static int parse_operations(struct json_object *v, struct iofault_spec *s, struct fault_error *err)
{
	if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0) {
		fault_error_set(err, "operations", "must be a non-empty list such as [\"fsync\", \"write\"]");
		return -EINVAL;
	}
	s->ops = 0;
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		char key[40];
		snprintf(key, sizeof(key), "operations[%zu]", i);
		struct json_object *item = json_object_array_get_idx(v, i);
		const char *name = json_object_is_type(item, json_type_string) ? json_object_get_string(item) : "";
		int op = strcmp(name, "all") == 0 ? -2 : op_from_name(name);
		if (op == -1) {
			char known[512];
			op_list(known, sizeof(known));
			fault_error_set(err, key, "unknown operation \"%s\" (known: %s, all)", name, known);
			return -EINVAL;
		}
		s->ops |= op == -2 ? (1u << IOF_N_OPS) - 1 : 1u << op;
	}
	return 0;
}

static int parse_files(struct json_object *v, struct iofault_spec *s, struct fault_error *err)
{
	bool list = json_object_is_type(v, json_type_array);
	size_t n = list ? json_object_array_length(v) : 1;
	if ((!list && !json_object_is_type(v, json_type_string)) || n == 0 || n > IOFAULT_MAX_FILES) {
		fault_error_set(err, "files", "must be a glob or prefix relative to path, or a list of 1-%d of them",
				IOFAULT_MAX_FILES);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char key[32];
		if (list)
			snprintf(key, sizeof(key), "files[%zu]", i);
		else
			snprintf(key, sizeof(key), "files");
		struct json_object *item = list ? json_object_array_get_idx(v, i) : v;
		const char *pat = json_object_is_type(item, json_type_string) ? json_object_get_string(item) : NULL;
		if (!pat || !*pat || pat[0] == '/' || strlen(pat) >= IOFAULT_PATTERN_MAX) {
			fault_error_set(err, key, "must be a non-empty pattern relative to path (no leading '/', "
					"under %d characters)", IOFAULT_PATTERN_MAX);
			return -EINVAL;
		}
		if (strcmp(pat, "..") == 0 || strncmp(pat, "../", 3) == 0 || strstr(pat, "/../") ||
		    (strlen(pat) >= 3 && strcmp(pat + strlen(pat) - 3, "/..") == 0)) {
			fault_error_set(err, key, "must not contain \"..\": only files under path can be faulted");
			return -EINVAL;
		}
		snprintf(s->files[i], IOFAULT_PATTERN_MAX, "%s", pat);
	}
	s->n_files = (int)n;
	return 0;
}

static int parse_probability(struct json_object *v, struct iofault_spec *s, struct fault_error *err)
{
	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)) {
		fault_error_set(err, "probability", "must be a number in (0, 1], e.g. 0.5");
		return -EINVAL;
	}
	double p = json_object_get_double(v);
	if (!(p > 0.0 && p <= 1.0)) {
		fault_error_set(err, "probability", "must be in (0, 1], got %g", p);
		return -EINVAL;
	}
	s->probability = p;
	return 0;
}

static int parse_errno(struct json_object *v, struct iofault_spec *s, struct fault_error *err)
{
	const char *name = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
	for (size_t i = 0; i < N_ERRNOS; i++) {
		if (strcasecmp(errno_names[i].name, name) == 0) {
			s->error = errno_names[i].value;
			return 0;
		}
	}
	char known[512];
	size_t used = 0;
	for (size_t i = 0; i < N_ERRNOS && used < sizeof(known); i++)
		used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "",
					 errno_names[i].name);
	fault_error_set(err, "errno", "unknown errno \"%s\" (known: %s)", name, known);
	return -EINVAL;
}

static int parse_delay(struct json_object *v, const char *key, uint64_t *out, struct fault_error *err)
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (duration_parse_us(s, IOFAULT_MAX_DELAY_US, out) < 0) {
		fault_error_set(err, key, "must be a duration up to 60s such as \"20ms\" or \"500us\"");
		return -EINVAL;
	}
	return 0;
}

#define KNOWN_PARAMS "path, operations, files, probability, errno, latency, jitter, distribution, backend"

static int iofault_parse(struct json_object *params, void **spec_out, struct fault_error *err)
{
	void *allocated;
	int r = fault_spec_alloc(params, sizeof(struct iofault_spec), &allocated, err);
	if (r < 0)
		return r;
	struct iofault_spec *s = allocated;
	s->ops = (1u << IOF_N_OPS) - 1;
	s->probability = 1.0;
	bool have_errno = false, have_dist = false;
	if (params) {
		json_object_object_foreach(params, key, v) {
			if (strcmp(key, "path") == 0)
				r = parse_path(v, s, err);
			else if (strcmp(key, "operations") == 0)
				r = parse_operations(v, s, err);
			else if (strcmp(key, "files") == 0)
				r = parse_files(v, s, err);
			else if (strcmp(key, "probability") == 0)
				r = parse_probability(v, s, err);
			else if (strcmp(key, "errno") == 0) {
				r = parse_errno(v, s, err);
				have_errno = true;
			} else if (strcmp(key, "latency") == 0)
				r = parse_delay(v, key, &s->latency_us, err);
			else if (strcmp(key, "jitter") == 0)
				r = parse_delay(v, key, &s->jitter_us, err);
			else if (strcmp(key, "distribution") == 0) {
				const char *d = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
				have_dist = true;
				if (strcmp(d, "constant") == 0)
					s->distribution = IOF_DIST_CONSTANT;
				else if (strcmp(d, "uniform") == 0)
					s->distribution = IOF_DIST_UNIFORM;
				else if (strcmp(d, "normal") == 0)
					s->distribution = IOF_DIST_NORMAL;
				else {
					fault_error_set(err, key, "must be \"constant\", \"uniform\" or \"normal\"");
					r = -EINVAL;
				}
			} else if (strcmp(key, "backend") == 0) {
				const char *b = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
				if (strcmp(b, "fuse") != 0 && strcmp(b, "auto") != 0) {
					fault_error_set(err, key, "must be \"fuse\" or \"auto\" (the BPF-LSM backend is not "
							"built: see docs)");
					r = -EINVAL;
				}
			} else {
				fault_error_set(err, key, "unknown parameter (known: " KNOWN_PARAMS ")");
				r = -EINVAL;
			}
			if (r < 0)
				break;
		}
	}
	if (r == 0 && !s->path[0]) {
		fault_error_set(err, "path", "is required: the directory whose files get the faults");
		r = -EINVAL;
	}
	if (r == 0 && !have_dist)
		s->distribution = s->jitter_us ? IOF_DIST_UNIFORM : IOF_DIST_CONSTANT;
	if (r == 0 && s->distribution == IOF_DIST_CONSTANT && s->jitter_us) {
		fault_error_set(err, "jitter", "needs distribution \"uniform\" or \"normal\"");
		r = -EINVAL;
	}
	if (r == 0 && s->distribution == IOF_DIST_UNIFORM && s->jitter_us > s->latency_us) {
		fault_error_set(err, "jitter", "must not exceed latency with the uniform distribution");
		r = -EINVAL;
	}
	if (r == 0 && !have_errno && !s->latency_us && !s->jitter_us)
		s->error = EIO;
	if (r < 0) {
		free(s);
		return r;
	}
	*spec_out = s;
	return 0;
}

static void iofault_spec_free(void *spec) { free(spec); }

static struct json_object *duration_us_json(uint64_t us)
{
	char buf[40];
	if (us % 1000)
		snprintf(buf, sizeof(buf), "%lluus", (unsigned long long)us);
	else
		duration_format(us / 1000, buf, sizeof(buf));
	return json_object_new_string(buf);
}

static struct json_object *iofault_spec_to_json(const void *spec_v)
{
	const struct iofault_spec *s = spec_v;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "path", json_object_new_string(s->path));
	struct json_object *ops = json_object_new_array();
	for (int i = 0; i < IOF_N_OPS; i++)
		if (s->ops & (1u << i))
			json_object_array_add(ops, json_object_new_string(iofault_op_names[i]));
	json_object_object_add(o, "operations", ops);
	if (s->n_files) {
		struct json_object *files = json_object_new_array();
		for (int i = 0; i < s->n_files; i++)
			json_object_array_add(files, json_object_new_string(s->files[i]));
		json_object_object_add(o, "files", files);
	}
	json_object_object_add(o, "probability", json_object_new_double(s->probability));
	if (s->error)
		json_object_object_add(o, "errno", json_object_new_string(errno_name(s->error)));
	json_object_object_add(o, "latency", duration_us_json(s->latency_us));
	json_object_object_add(o, "jitter", duration_us_json(s->jitter_us));
	static const char *const dists[] = { "constant", "uniform", "normal" };
	json_object_object_add(o, "distribution", json_object_new_string(dists[s->distribution]));
	json_object_object_add(o, "backend", json_object_new_string("fuse"));
	return o;
}

/* --- apply / revert ------------------------------------------------------------------ */

struct iofault_handle {
	struct iofault_fs *fs;
	uint32_t ops;
	char path[PATH_MAX];
};

static int iofault_probe(char *reason, size_t len)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		snprintf(reason, len, "cannot open /dev/fuse (%s): the kernel lacks FUSE or the agent lacks access",
			 strerror(-r));
		return r;
	}
	close(fd);
	return 0;
}

static void fsname_of(const char *fault_id, char *buf, size_t len)
{
	snprintf(buf, len, IOFAULT_FSNAME_PREFIX ":%s", fault_id ? fault_id : "");
}

/* The state directory must stay out of reach: the agent writes its journal there
 * while the fault is active, through its own daemon threads if it were faulted. */
static int check_state_dir(const char *path, const char *state_dir, struct fault_error *err)
{
	char sd[PATH_MAX];
	if (!state_dir || !realpath(state_dir, sd))
		return 0;
	if (path_is_or_under(sd, path) || path_is_or_under(path, sd)) {
		fault_error_set(err, "path", "%s is refused: it is, holds or lies inside the agent's state directory %s",
				path, sd);
		return -EINVAL;
	}
	return 0;
}

static int iofault_apply(const void *spec_v, const struct fault_env *env, void **handle_out,
			 struct json_object *record, struct fault_error *err)
{
	const struct iofault_spec *spec = spec_v;
	struct iofault_spec resolved = *spec;
	if (!realpath(spec->path, resolved.path)) {
		int r = -errno;
		fault_error_set(err, "path", "%s: %s", spec->path, strerror(-r));
		return r;
	}
	const char *tree = dangerous_tree(resolved.path);
	if (tree) {
		fault_error_set(err, "path", "%s resolves to %s, which is refused", spec->path, resolved.path);
		return -EINVAL;
	}
	struct stat st;
	if (stat(resolved.path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fault_error_set(err, "path", "%s is not a directory", resolved.path);
		return -ENOTDIR;
	}
	int r = check_state_dir(resolved.path, env->state_dir, err);
	if (r < 0)
		return r;
	if (iofault_mounted_at(resolved.path)) {
		fault_error_set(err, "path", "another io-fault is active on %s", resolved.path);
		return -EBUSY;
	}
	struct iofault_handle *h = calloc(1, sizeof(*h));
	if (!h) {
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	char fsname[64], why[256] = "";
	fsname_of(env->fault_id, fsname, sizeof(fsname));
	r = iofault_fs_start(&resolved, fsname, &h->fs, why, sizeof(why));
	if (r < 0) {
		fault_error_set(err, "", "%s", why);
		free(h);
		return r;
	}
	h->ops = resolved.ops;
	snprintf(h->path, sizeof(h->path), "%s", resolved.path);
	json_object_object_add(record, "path", json_object_new_string(resolved.path));
	json_object_object_add(record, "fsname", json_object_new_string(fsname));
	json_object_object_add(record, "backend", json_object_new_string("fuse"));
	log_info("io-fault %s: FUSE passthrough mounted over %s", env->fault_id, resolved.path);
	*handle_out = h;
	return 0;
}

static int iofault_revert(void *handle_v)
{
	struct iofault_handle *h = handle_v;
	int r = iofault_fs_stop(h->fs);
	free(h);
	return r;
}

static int iofault_stats(void *handle_v, struct json_object *out)
{
	struct iofault_handle *h = handle_v;
	struct iofault_op_counts counts[IOF_N_OPS];
	iofault_fs_counts(h->fs, counts);
	uint64_t seen = 0, faulted = 0, delayed = 0;
	for (int i = 0; i < IOF_N_OPS; i++) {
		seen += counts[i].seen;
		faulted += counts[i].faulted;
		delayed += counts[i].delayed;
		if (!(h->ops & (1u << i)))
			continue;
		char key[48];
		snprintf(key, sizeof(key), "%s_seen", iofault_op_names[i]);
		json_object_object_add(out, key, json_object_new_int64((int64_t)counts[i].seen));
		snprintf(key, sizeof(key), "%s_faulted", iofault_op_names[i]);
		json_object_object_add(out, key, json_object_new_int64((int64_t)counts[i].faulted));
		snprintf(key, sizeof(key), "%s_delayed", iofault_op_names[i]);
		json_object_object_add(out, key, json_object_new_int64((int64_t)counts[i].delayed));
	}
	json_object_object_add(out, "ops_seen", json_object_new_int64((int64_t)seen));
	json_object_object_add(out, "ops_faulted", json_object_new_int64((int64_t)faulted));
	json_object_object_add(out, "ops_delayed", json_object_new_int64((int64_t)delayed));
	json_object_object_add(out, "backend", json_object_new_string("fuse"));
	json_object_object_add(out, "path", json_object_new_string(h->path));
	return 0;
}

static int iofault_recover(struct json_object *record, const struct fault_env *env)
{
	struct json_object *v = json_object_object_get(record, "fsname");
	char fsname[64];
	if (v && json_object_is_type(v, json_type_string))
		snprintf(fsname, sizeof(fsname), "%s", json_object_get_string(v));
	else
		fsname_of(env ? env->fault_id : NULL, fsname, sizeof(fsname));
	if (strncmp(fsname, IOFAULT_FSNAME_PREFIX ":", strlen(IOFAULT_FSNAME_PREFIX) + 1) != 0 ||
	    !fsname[strlen(IOFAULT_FSNAME_PREFIX) + 1])
		return 0;
	int r = iofault_detach_leftovers(fsname);
	return r < 0 ? r : 0;
}

static void iofault_describe(const struct fault_env *env, struct json_object *out)
{
	(void)env;
	json_object_object_add(out, "backend", json_object_new_string("fuse"));
	struct json_object *backends = json_object_new_object();
	char reason[256];
	json_object_object_add(backends, "fuse",
			       json_object_new_string(iofault_probe(reason, sizeof(reason)) == 0 ? "ok" : reason));
	json_object_object_add(backends, "bpf-lsm", json_object_new_string("not built (see docs/draft/iofault.md)"));
	json_object_object_add(out, "backends", backends);
}

static int iofault_sweep(const struct fault_env *env)
{
	(void)env;
	return iofault_detach_leftovers(NULL);
}

const struct fault_kind io_fault_kind = {
	.name = "io-fault",
	.family = "io",
	.summary = "errors and latency for file operations under a path (FUSE passthrough mounted over it)",
	.probe = iofault_probe,
	.parse = iofault_parse,
	.spec_free = iofault_spec_free,
	.spec_to_json = iofault_spec_to_json,
	.apply = iofault_apply,
	.revert = iofault_revert,
	.stats = iofault_stats,
	.recover = iofault_recover,
	.describe = iofault_describe,
};

const struct fault_family io_family = {
	.name = "io",
	.sweep = iofault_sweep,
};
