/* Per-service scope (faults/scope.h): parsing, and finding the cgroup v2
 * directory a scope names. Only the file system is consulted (no D-Bus):
 * systemd and container runtimes name their cgroups after the unit. */
#include "faults/scope.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* Deep enough for user.slice/user-1000.slice/user@1000.service/app.slice/x.service
 * and container runtimes' nesting; bounds the walk on hosts with many cgroups. */
#define UNIT_SEARCH_MAX_DEPTH 8

static bool has_dot_component(const char *path)
{
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return true;
		p += n;
	}
	return false;
}

static int parse_string(struct json_object *v, const char *key, char *out, size_t len, struct fault_error *err)
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (!s || !*s) {
		fault_error_set(err, key, "must be a non-empty string");
		return -EINVAL;
	}
	if (strlen(s) >= len) {
		fault_error_set(err, key, "is longer than %zu characters", len - 1);
		return -EINVAL;
	}
	snprintf(out, len, "%s", s);
	return 0;
}

int scope_parse(struct json_object *v, struct packet_scope *out, struct fault_error *err)
{
	if (!json_object_is_type(v, json_type_object)) {
		fault_error_set(err, "scope", "must be an object: { cgroup = \"system.slice/x.service\" } or "
			       "{ unit = \"x.service\" }");
		return -EINVAL;
	}
	struct packet_scope s;
	memset(&s, 0, sizeof(s));
	json_object_object_foreach(v, key, item) {
		int r;
		if (strcmp(key, "cgroup") == 0) {
			r = parse_string(item, "scope.cgroup", s.cgroup, sizeof(s.cgroup), err);
			if (r == 0 && has_dot_component(s.cgroup)) {
				fault_error_set(err, "scope.cgroup", "must not contain \".\" or \"..\" components");
				r = -EINVAL;
			}
		} else if (strcmp(key, "unit") == 0) {
			r = parse_string(item, "scope.unit", s.unit, sizeof(s.unit), err);
			if (r == 0 && (strchr(s.unit, '/') || strcmp(s.unit, ".") == 0 || strcmp(s.unit, "..") == 0)) {
				fault_error_set(err, "scope.unit", "must be a unit name such as \"nginx.service\" "
					       "(use scope.cgroup for a path)");
				r = -EINVAL;
			}
		} else {
			char full[64];
			snprintf(full, sizeof(full), "scope.%.40s", key);
			fault_error_set(err, full, "unknown parameter (known: cgroup, unit)");
			r = -EINVAL;
		}
		if (r < 0)
			return r;
	}
	if (s.cgroup[0] && s.unit[0]) {
		fault_error_set(err, "scope", "give either cgroup or unit, not both");
		return -EINVAL;
	}
	if (!s.cgroup[0] && !s.unit[0]) {
		fault_error_set(err, "scope", "must name a cgroup or a unit (leave scope out for the whole host)");
		return -EINVAL;
	}
	*out = s;
	return 0;
}

struct json_object *scope_to_json(const struct packet_scope *s)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	if (s->cgroup[0])
		json_object_object_add(o, "cgroup", json_object_new_string(s->cgroup));
	if (s->unit[0])
		json_object_object_add(o, "unit", json_object_new_string(s->unit));
	return o;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
		    r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

int scope_cgroup2_mount(char *path, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	int r = -ENOENT;
	while (r == -ENOENT && getline(&line, &cap, f) > 0) {
		/* id parent major:minor root mountpoint options [optional...] - fstype source super */
		char *sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		*sep = '\0';
		char *save = NULL, *field = strtok_r(line, " ", &save);
		for (int i = 0; field && i < 4; i++)
			field = strtok_r(NULL, " ", &save);
		if (!field)
			continue;
		unescape_octal(field);
		if (strlen(field) >= len) {
			r = -ENAMETOOLONG;
			break;
		}
		snprintf(path, len, "%s", field);
		r = 0;
	}
	free(line);
	fclose(f);
	return r;
}

static int count_components(const char *p)
{
	int n = 0;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		n++;
		p += strcspn(p, "/");
	}
	return n;
}

int scope_cgroup_id(const char *mount, const char *dir, uint64_t *cgroup_id, uint32_t *level)
{
	char real_mount[PATH_MAX], real_dir[PATH_MAX];
	if (!realpath(mount, real_mount) || !realpath(dir, real_dir))
		return -errno;
	size_t mlen = strlen(real_mount);
	if (strcmp(real_mount, "/") == 0)
		mlen = 0;
	if (strncmp(real_dir, real_mount, mlen) != 0 || (real_dir[mlen] != '/' && real_dir[mlen] != '\0'))
		return -EXDEV;
	struct statfs fs;
	if (statfs(real_dir, &fs) < 0)
		return -errno;
	if (fs.f_type != CGROUP2_SUPER_MAGIC)
		return -EXDEV;
	struct stat st;
	if (stat(real_dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;

	/* The kernfs file handle is the 64-bit cgroup id the BPF helpers return;
	 * st_ino equals it on 64-bit hosts and serves when handles are refused. */
	uint64_t id = (uint64_t)st.st_ino;
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + sizeof(uint64_t)];
	} h;
	int mount_id;
	h.fh.handle_bytes = sizeof(uint64_t);
	if (name_to_handle_at(AT_FDCWD, real_dir, &h.fh, &mount_id, 0) == 0 && h.fh.handle_bytes == sizeof(uint64_t))
		memcpy(&id, h.fh.f_handle, sizeof(id));
	*cgroup_id = id;
	*level = (uint32_t)count_components(real_dir + mlen);
	return 0;
}

struct unit_search {
	const char *unit;
	int found;
	char first[PATH_MAX];
	char second[PATH_MAX];
};

static void search_unit(int dir_fd, const char *rel, int depth, struct unit_search *s)
{
	DIR *d = fdopendir(dir_fd);
	if (!d) {
		close(dir_fd);
		return;
	}
	struct dirent *e;
	while (s->found < 2 && (e = readdir(d)) != NULL) {
		if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char child[PATH_MAX];
		int n = snprintf(child, sizeof(child), "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
		if (n < 0 || (size_t)n >= sizeof(child))
			continue;
		if (strcmp(e->d_name, s->unit) == 0) {
			snprintf(s->found == 0 ? s->first : s->second, PATH_MAX, "%s", child);
			s->found++;
			continue;
		}
		if (depth + 1 >= UNIT_SEARCH_MAX_DEPTH)
			continue;
		int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0)
			search_unit(fd, child, depth + 1, s);
	}
	closedir(d);
}

int scope_resolve_path(const struct packet_scope *s, char *path, size_t len, struct fault_error *err)
{
	char mount[PATH_MAX];
	int r = scope_cgroup2_mount(mount, sizeof(mount));
	if (r < 0) {
		fault_error_set(err, "scope", "no cgroup v2 hierarchy is mounted (per-service scope needs one)");
		return r;
	}
	char dir[PATH_MAX];
	const char *key = s->cgroup[0] ? "scope.cgroup" : "scope.unit";
	int n;
	if (s->cgroup[0]) {
		size_t mlen = strlen(mount);
		if (strncmp(s->cgroup, mount, mlen) == 0 && (s->cgroup[mlen] == '/' || s->cgroup[mlen] == '\0'))
			n = snprintf(dir, sizeof(dir), "%s", s->cgroup);
		else  /* relative, or absolute inside the hierarchy as /proc/PID/cgroup shows it */
		{
			const char *rest = s->cgroup + strspn(s->cgroup, "/");
			n = snprintf(dir, sizeof(dir), "%s%s%s", mount, rest[0] ? "/" : "", rest);
		}
	} else {
		struct unit_search search = { .unit = s->unit };
		int fd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			fault_error_set(err, key, "cannot read %s: %s", mount, strerror(-r));
			return r;
		}
		search_unit(fd, "", 0, &search);
		if (search.found == 0) {
			fault_error_set(err, key, "no cgroup named \"%s\" under %s (is the unit running?)", s->unit, mount);
			return -ENOENT;
		}
		if (search.found > 1) {
			fault_error_set(err, key, "\"%s\" names several cgroups (%s, %s); use scope.cgroup", s->unit,
					search.first, search.second);
			return -EINVAL;
		}
		n = snprintf(dir, sizeof(dir), "%s/%s", mount, search.first);
	}
	if (n < 0 || (size_t)n >= sizeof(dir) || (size_t)n >= len) {
		fault_error_set(err, key, "the cgroup path is too long");
		return -ENAMETOOLONG;
	}
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fault_error_set(err, key, "cgroup %s does not exist", dir);
		return -ENOENT;
	}
	memcpy(path, dir, (size_t)n + 1);
	return 0;
}

int scope_resolve(const struct packet_scope *s, uint64_t *cgroup_id, uint32_t *level, struct fault_error *err)
{
	char dir[PATH_MAX], mount[PATH_MAX];
	int r = scope_resolve_path(s, dir, sizeof(dir), err);
	if (r < 0)
		return r;
	r = scope_cgroup2_mount(mount, sizeof(mount));
	if (r == 0)
		r = scope_cgroup_id(mount, dir, cgroup_id, level);
	if (r < 0)
		fault_error_set(err, s->cgroup[0] ? "scope.cgroup" : "scope.unit", "%s is not a cgroup v2 directory: %s",
				dir, strerror(-r));
	return r;
}
