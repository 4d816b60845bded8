/* Kind "disk-fill" (docs/draft/disk.md): one file, PATH/.chaoskit-fill-<fault id>,
 * takes up the space of a filesystem until only free_bytes / free_percent is left.
 *
 * "Free" is what an unprivileged process can still allocate (statvfs f_bavail):
 * root may still write into the blocks the filesystem reserves for it (ext4: 5 %
 * by default), and the stats show both.
 *
 * The fill file is the only thing this kind changes, so a crash is undone by
 * unlinking it. Its name carries the fault id, and a state file naming it is on
 * disk (fsync'd) BEFORE it is created: recover() and the family's sweep unlink it
 * even when the agent died in the middle of apply. */
#include "faults/disk.h"
#include "faults/fault.h"

#include "common/log.h"
#include "common/size.h"
#include "common/statefile.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define FILL_PREFIX ".chaoskit-fill-"
#define FILL_STATE_SUBDIR "diskfill"
#define FILL_WRITE_CHUNK (1u << 20)

/* --- sizes (shared with io-throttle) ----------------------------------------------- */

int disk_size_parse(const char *text, uint64_t *out)
{
	return size_parse(text, SIZE_STRICT, out);
}

int disk_size_from_json(struct json_object *v, uint64_t *out)
{
	if (json_object_is_type(v, json_type_int)) {
		int64_t n = json_object_get_int64(v);
		if (n < 0)
			return -EINVAL;
		*out = (uint64_t)n;
		return 0;
	}
	if (json_object_is_type(v, json_type_string))
		return disk_size_parse(json_object_get_string(v), out);
	return -EINVAL;
}

/* --- parse ------------------------------------------------------------------------ */

struct fill_spec {
	char *path;
	bool has_free_bytes, has_free_percent;
	uint64_t free_bytes;
	double free_percent;
};

static void fill_spec_free(void *spec_v)
{
	struct fill_spec *spec = spec_v;
	if (spec)
		free(spec->path);
	free(spec);
}

static int fill_parse(struct json_object *params, void **spec_out, struct fault_error *err)
{
	void *allocated;
	int r = fault_spec_alloc(params, sizeof(struct fill_spec), &allocated, err);
	if (r < 0)
		return r;
	struct fill_spec *spec = allocated;
	if (params) {
		json_object_object_foreach(params, key, v) {
			if (strcmp(key, "path") == 0) {
				const char *p = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
				if (!p || p[0] != '/' || strlen(p) >= PATH_MAX) {
					fault_error_set(err, key, "must be an absolute directory path, e.g. \"/var/lib/db\"");
					r = -EINVAL;
				} else if (!(spec->path = strdup(p))) {
					r = -ENOMEM;
				}
			} else if (strcmp(key, "free_bytes") == 0) {
				int e = disk_size_from_json(v, &spec->free_bytes);
				if (e < 0) {
					fault_error_set(err, key, "must be a size such as \"8MiB\", \"2GB\" or a number of bytes");
					r = -EINVAL;
				}
				spec->has_free_bytes = true;
			} else if (strcmp(key, "free_percent") == 0) {
				bool number = json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
				double p = number ? json_object_get_double(v) : -1;
				if (!number || !isfinite(p) || p < 0 || p >= 100) {
					fault_error_set(err, key, "must be a number from 0 to below 100 (percent of the "
								  "filesystem's size left free)");
					r = -EINVAL;
				}
				spec->free_percent = p;
				spec->has_free_percent = true;
			} else {
				fault_error_set(err, key, "unknown parameter (known: path, free_bytes, free_percent)");
				r = -EINVAL;
			}
			if (r < 0)
				break;
		}
	}
	if (r == 0 && !spec->path) {
		fault_error_set(err, "path", "is required: a directory on the filesystem to fill");
		r = -EINVAL;
	}
	if (r == 0 && spec->has_free_bytes && spec->has_free_percent) {
		fault_error_set(err, "free_percent", "give free_bytes or free_percent, not both");
		r = -EINVAL;
	}
	if (r == 0 && !spec->has_free_bytes && !spec->has_free_percent) {
		fault_error_set(err, "free_bytes", "is required (or free_percent): how much space stays free");
		r = -EINVAL;
	}
	if (r < 0) {
		if (r == -ENOMEM)
			fault_error_set(err, "", "out of memory");
		fill_spec_free(spec);
		return r;
	}
	*spec_out = spec;
	return 0;
}

static struct json_object *fill_spec_to_json(const void *spec_v)
{
	const struct fill_spec *spec = spec_v;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "path", json_object_new_string(spec->path));
	if (spec->has_free_bytes)
		json_object_object_add(o, "free_bytes", json_object_new_int64((int64_t)spec->free_bytes));
	else
		json_object_object_add(o, "free_percent", json_object_new_double(spec->free_percent));
	return o;
}

/* --- the fill file ------------------------------------------------------------------ */

struct fill_handle {
	char dir[PATH_MAX];
	char name[64];
	char state_dir[PATH_MAX];
	char fault_id[40];
	uint64_t bytes_filled, target_free;
	bool below_target_at_apply;
	const char *method;
};

static int fill_probe(char *reason, size_t len)
{
	(void)reason;
	(void)len;
	return 0;
}

/* Filesystems whose "files" are kernel interfaces: never a fill target. */
static const char *pseudo_fs_name(long type)
{
	switch ((unsigned long)type) {
	case PROC_SUPER_MAGIC: return "proc";
	case SYSFS_MAGIC: return "sysfs";
	case CGROUP_SUPER_MAGIC: return "cgroup";
	case CGROUP2_SUPER_MAGIC: return "cgroup2";
	case DEVPTS_SUPER_MAGIC: return "devpts";
	case DEBUGFS_MAGIC: return "debugfs";
	case TRACEFS_MAGIC: return "tracefs";
	case SECURITYFS_MAGIC: return "securityfs";
	case BPF_FS_MAGIC: return "bpf";
	case PSTOREFS_MAGIC: return "pstore";
	case EFIVARFS_MAGIC: return "efivarfs";
	case 0x62656570: return "configfs";
	case 0x65735543: return "fusectl";
	case 0x19800202: return "mqueue";
	case NSFS_MAGIC: return "nsfs";
	case SELINUX_MAGIC: return "selinuxfs";
	case SMACK_MAGIC: return "smackfs";
	case BINFMTFS_MAGIC: return "binfmt_misc";
	case HUGETLBFS_MAGIC: return "hugetlbfs";
	case AUTOFS_SUPER_MAGIC: return "autofs";
	default: return NULL;
	}
}

static bool path_under(const char *path, const char *top)
{
	size_t n = strlen(top);
	return strncmp(path, top, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int fill_state_path(const char *state_dir, const char *fault_id, char *buf, size_t len)
{
	return state_file_path(state_dir, FILL_STATE_SUBDIR, fault_id, buf, len);
}

static void fill_state_remove(const char *state_dir, const char *fault_id)
{
	state_file_remove(state_dir, FILL_STATE_SUBDIR, fault_id, "disk-fill");
}

static bool fill_name_valid(const char *name)
{
	return name && strncmp(name, FILL_PREFIX, strlen(FILL_PREFIX)) == 0 && !strchr(name, '/') &&
	       strlen(name) > strlen(FILL_PREFIX);
}

/* Unlinks DIR/NAME; a missing directory or file is success (already gone). */
static int fill_unlink(const char *dir, const char *name)
{
	if (!dir || dir[0] != '/' || !fill_name_valid(name))
		return -EINVAL;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	int r = unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	close(dfd);
	return r;
}

static int write_zeros(int fd, uint64_t len)
{
	static const char zeros[FILL_WRITE_CHUNK];
	uint64_t done = 0;
	while (done < len) {
		size_t chunk = len - done < sizeof(zeros) ? (size_t)(len - done) : sizeof(zeros);
		ssize_t w = pwrite(fd, zeros, chunk, (off_t)done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (uint64_t)w;
	}
	return 0;
}

static uint64_t avail_bytes(const struct statvfs *v) { return (uint64_t)v->f_bavail * v->f_frsize; }

static int fill_apply(const void *spec_v, const struct fault_env *env, void **handle_out, struct json_object *record,
		      struct fault_error *err)
{
	const struct fill_spec *spec = spec_v;
	char dir[PATH_MAX];
	if (!realpath(spec->path, dir)) {
		int e = errno;
		fault_error_set(err, "path", "%s: %s", spec->path, strerror(e));
		return -e;
	}
	if (path_under(dir, "/proc") || path_under(dir, "/sys") || path_under(dir, "/dev")) {
		fault_error_set(err, "path", "%s is a kernel interface (/proc, /sys, /dev), not a filesystem to fill", dir);
		return -EINVAL;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		int e = errno;
		fault_error_set(err, "path", "%s: %s", dir, e == ENOTDIR ? "not a directory" : strerror(e));
		return -e;
	}
	struct statfs sfs;
	struct statvfs before;
	if (fstatfs(dfd, &sfs) < 0 || fstatvfs(dfd, &before) < 0) {
		int e = errno;
		close(dfd);
		fault_error_set(err, "path", "statfs %s: %s", dir, strerror(e));
		return -e;
	}
	const char *pseudo = pseudo_fs_name(sfs.f_type);
	if (pseudo || before.f_blocks == 0) {
		close(dfd);
		if (pseudo)
			fault_error_set(err, "path", "%s is on a %s filesystem, which holds no data to fill", dir, pseudo);
		else
			fault_error_set(err, "path", "%s is on a filesystem without a size (statvfs says 0 blocks)", dir);
		return -EINVAL;
	}
	if (before.f_flag & ST_RDONLY) {
		close(dfd);
		fault_error_set(err, "path", "%s is on a read-only filesystem", dir);
		return -EROFS;
	}

	struct fill_handle *h = calloc(1, sizeof(*h));
	if (!h) {
		close(dfd);
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	snprintf(h->dir, sizeof(h->dir), "%s", dir);
	snprintf(h->name, sizeof(h->name), FILL_PREFIX "%s", env->fault_id);
	snprintf(h->state_dir, sizeof(h->state_dir), "%s", env->state_dir ? env->state_dir : "");
	snprintf(h->fault_id, sizeof(h->fault_id), "%s", env->fault_id);
	uint64_t total = (uint64_t)before.f_blocks * before.f_frsize;
	h->target_free = spec->has_free_bytes ? spec->free_bytes : (uint64_t)((double)total * spec->free_percent / 100.0);
	uint64_t avail = avail_bytes(&before);
	uint64_t block = before.f_frsize ? before.f_frsize : 4096;
	uint64_t fill = avail > h->target_free ? (avail - h->target_free) / block * block : 0;
	h->method = "none";

	int r = 0, fd = -1;
	if (fill == 0) {
		/* Already at or below the target: the fault holds, nothing to add. */
		h->below_target_at_apply = true;
	} else {
		struct json_object *state = json_object_new_object();
		json_object_object_add(state, "path", json_object_new_string(h->dir));
		json_object_object_add(state, "file", json_object_new_string(h->name));
		if (h->state_dir[0])
			r = state_file_write(h->state_dir, FILL_STATE_SUBDIR, h->fault_id,
					     json_object_to_json_string_ext(state, JSON_C_TO_STRING_PLAIN));
		json_object_put(state);
		if (r < 0)
			fault_error_set(err, "", "cannot write the state file in %s/" FILL_STATE_SUBDIR ": %s",
					h->state_dir, strerror(-r));
	}
	if (r == 0 && fill > 0) {
		fd = openat(dfd, h->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			r = -errno;
			fault_error_set(err, "path", "cannot create %s/%s: %s", h->dir, h->name, strerror(-r));
		}
	}
	if (r == 0 && fd >= 0) {
		h->method = "fallocate";
		if (fallocate(fd, 0, 0, (off_t)fill) < 0) {
			r = -errno;
			if (r == -EOPNOTSUPP || r == -ENOSYS) {
				h->method = "write";
				r = write_zeros(fd, fill);
			}
		}
		if (r < 0)
			fault_error_set(err, "path", "cannot fill %s/%s with %llu bytes (%s): %s", h->dir, h->name,
					(unsigned long long)fill, h->method, strerror(-r));
	}
	if (r == 0 && fd >= 0) {
		/* Metadata the filesystem allocated for the file itself (extent blocks) may
		 * have taken a little more: give that back so that free >= target. */
		struct statvfs after;
		struct stat st;
		if (fstatvfs(fd, &after) == 0 && fstat(fd, &st) == 0 && avail_bytes(&after) < h->target_free) {
			uint64_t over = (h->target_free - avail_bytes(&after) + block - 1) / block * block;
			uint64_t size = (uint64_t)st.st_size;
			if (ftruncate(fd, (off_t)(size > over ? size - over : 0)) < 0)
				log_warn("disk-fill: cannot shrink %s/%s: %s", h->dir, h->name, strerror(errno));
		}
		if (fstat(fd, &st) == 0)
			h->bytes_filled = (uint64_t)st.st_blocks * 512;
	}
	if (fd >= 0)
		close(fd);
	close(dfd);
	if (r < 0) {
		fill_unlink(h->dir, h->name);
		fill_state_remove(h->state_dir, h->fault_id);
		free(h);
		return r;
	}
	json_object_object_add(record, "path", json_object_new_string(h->dir));
	json_object_object_add(record, "file", json_object_new_string(h->name));
	json_object_object_add(record, "bytes_filled", json_object_new_int64((int64_t)h->bytes_filled));
	*handle_out = h;
	return 0;
}

static int fill_revert(void *handle_v)
{
	struct fill_handle *h = handle_v;
	int r = fill_unlink(h->dir, h->name);
	if (r < 0)
		log_error("disk-fill: cannot remove %s/%s: %s", h->dir, h->name, strerror(-r));
	else
		fill_state_remove(h->state_dir, h->fault_id);
	free(h);
	return r;
}

static int fill_stats(void *handle_v, struct json_object *out)
{
	struct fill_handle *h = handle_v;
	json_object_object_add(out, "bytes_filled", json_object_new_int64((int64_t)h->bytes_filled));
	json_object_object_add(out, "bytes_target_free", json_object_new_int64((int64_t)h->target_free));
	json_object_object_add(out, "below_target_at_apply", json_object_new_int(h->below_target_at_apply));
	json_object_object_add(out, "method", json_object_new_string(h->method));
	json_object_object_add(out, "file", json_object_new_string(h->name));
	struct statvfs now;
	if (statvfs(h->dir, &now) == 0) {
		json_object_object_add(out, "bytes_free", json_object_new_int64((int64_t)avail_bytes(&now)));
		json_object_object_add(out, "bytes_free_root",
				       json_object_new_int64((int64_t)((uint64_t)now.f_bfree * now.f_frsize)));
		json_object_object_add(out, "bytes_total",
				       json_object_new_int64((int64_t)((uint64_t)now.f_blocks * now.f_frsize)));
	}
	return 0;
}

static struct json_object *fill_state_read(const char *path)
{
	struct json_object *o = json_object_from_file(path);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

static const char *json_str(struct json_object *o, const char *key)
{
	struct json_object *v = json_object_object_get(o, key);
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int fill_recover(struct json_object *record, const struct fault_env *env)
{
	struct json_object *from_file = NULL;
	if (!json_str(record, "file")) {
		/* A crash before the record was journaled: the state file names the file. */
		char path[PATH_MAX];
		if (!env->state_dir || fill_state_path(env->state_dir, env->fault_id, path, sizeof(path)) < 0)
			return 0;
		from_file = fill_state_read(path);
		if (!from_file)
			return 0;
		record = from_file;
	}
	int r = fill_unlink(json_str(record, "path"), json_str(record, "file"));
	if (r == -EINVAL)
		r = 0; /* an empty record: apply never got to create anything */
	json_object_put(from_file);
	if (r == 0)
		fill_state_remove(env->state_dir, env->fault_id);
	return r;
}

static void fill_describe(const struct fault_env *env, struct json_object *out)
{
	(void)env;
	json_object_object_add(out, "backend", json_object_new_string("fallocate"));
}

/* --- family sweep ---------------------------------------------------------------------- */

/* 1 when the fill file is gone (and the state file removed), 0 with *failed counted. */
static int fill_sweep_one(const char *path, void *failed_v)
{
	int *failed = failed_v, handled = 0;
	struct json_object *state = fill_state_read(path);
	int r = state ? fill_unlink(json_str(state, "path"), json_str(state, "file")) : 0;
	if (r == -EINVAL) {
		/* Names no fill file: nothing to remove, and kept it would fail every start. */
		log_warn("sweep: disk-fill: %s names no fill file; removed", path);
		json_object_put(state);
		state = NULL;
		r = 0;
	}
	if (r < 0) {
		log_error("sweep: disk-fill: cannot remove %s/%s: %s", json_str(state, "path"), json_str(state, "file"),
			  strerror(-r));
		(*failed)++;
	} else {
		if (state)
			log_warn("sweep: disk-fill: removed the fill file %s/%s (state file %s)", json_str(state, "path"),
				 json_str(state, "file"), path);
		unlink(path);
		handled = 1;
	}
	json_object_put(state);
	return handled;
}

static int fill_sweep(const char *state_dir)
{
	if (!state_dir || !*state_dir)
		return 0;
	int failed = 0, handled = state_file_each(state_dir, FILL_STATE_SUBDIR, fill_sweep_one, &failed);
	/* An unreadable state directory is left for the next start, as a missing one. */
	return handled < 0 ? 0 : failed ? -EIO : handled;
}

static int disk_sweep(const struct fault_env *env)
{
	int filled = fill_sweep(env ? env->state_dir : NULL);
	int throttled = iothrottle_sweep(env);
	if (filled < 0)
		return filled;
	if (throttled < 0)
		return throttled;
	return filled + throttled;
}

const struct fault_kind disk_fill_kind = {
	.name = "disk-fill",
	.family = "disk",
	.summary = "fill a filesystem with one file until only free_bytes / free_percent is left",
	.probe = fill_probe,
	.parse = fill_parse,
	.spec_free = fill_spec_free,
	.spec_to_json = fill_spec_to_json,
	.apply = fill_apply,
	.revert = fill_revert,
	.stats = fill_stats,
	.recover = fill_recover,
	.describe = fill_describe,
};

const struct fault_family disk_family = {
	.name = "disk",
	.sweep = disk_sweep,
};
