/* Kind "io-throttle" (docs/draft/disk.md): read/write bytes-per-second and IOPS limits
 * on one whole disk for the processes of one or more cgroups, through the kernel's
 * block throttling: cgroup v2 io.max where the cgroup's parent enables the io
 * controller, else cgroup v1 blkio.throttle.{read,write}_{bps,iops}_device.
 *
 * The limits live in the kernel and outlive the agent, so before anything is written
 * the values the cgroups had for that disk are read and saved in a state file
 * (fsync'd) and in the journal record; revert, recover() and the family's sweep write
 * them back exactly (a v1 entry that was not there is removed with "MAJ:MIN 0", a v2
 * key that was "max" becomes "max" again). A value someone else changed while the
 * fault ran is left alone. */
#include "faults/disk.h"
#include "faults/fault.h"
#include "faults/target.h"

#include "common/log.h"
#include "common/statefile.h"
#include "common/textfile.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define THROTTLE_STATE_SUBDIR "iothrottle"
#define THROTTLE_MAX_CGROUPS 16
#define THROTTLE_MAX_MOUNTS 32

static const char *const param_names[THROTTLE_NKEYS] = { "read_bps", "write_bps", "read_iops", "write_iops" };
static const char *const v2_words[THROTTLE_NKEYS] = { "rbps", "wbps", "riops", "wiops" };
static const char *const v1_files[THROTTLE_NKEYS] = {
	"blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
	"blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device",
};

const char *throttle_param_name(enum throttle_key key) { return param_names[key]; }
const char *throttle_v2_word(enum throttle_key key) { return v2_words[key]; }
const char *throttle_v1_file(enum throttle_key key) { return v1_files[key]; }

static const char *iface_name(enum throttle_iface iface) { return iface == THROTTLE_V2 ? "io.max" : "blkio.throttle"; }

/* --- small file helpers -------------------------------------------------------------- */

/* The whole file or -EFBIG: a cut limit line would read as another limit. */
static int read_text(const char *path, char *buf, size_t len)
{
	ssize_t n = text_file_read(path, buf, len);
	if (n < 0)
		return (int)n;
	return (size_t)n + 1 >= len ? -EFBIG : (int)n;
}

/* --- device resolution ------------------------------------------------------------------ */

static int parse_majmin(const char *text, unsigned *major, unsigned *minor)
{
	char tail;
	return sscanf(text, "%u:%u%c", major, minor, &tail) >= 2 ? 0 : -EINVAL;
}

int throttle_whole_disk(const char *sysfs_root, unsigned major, unsigned minor, unsigned *wmajor, unsigned *wminor)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], text[64];
	snprintf(dir, sizeof(dir), "%s/dev/block/%u:%u", sysfs_root, major, minor);
	struct stat st;
	if (stat(dir, &st) < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	snprintf(path, sizeof(path), "%s/partition", dir);
	if (access(path, F_OK) != 0) {
		*wmajor = major;
		*wminor = minor;
		return 0;
	}
	/* A partition's sysfs directory sits inside its disk's. */
	char parent[PATH_MAX];
	snprintf(path, sizeof(path), "%s/..", dir);
	if (!realpath(path, parent))
		return -errno;
	snprintf(path, sizeof(path), "%s/dev", parent);
	int r = read_text(path, text, sizeof(text));
	if (r < 0)
		return r;
	return parse_majmin(text, wmajor, wminor);
}

/* --- file formats ------------------------------------------------------------------------- */

static int parse_u64(const char *text, size_t len, uint64_t *out)
{
	if (len == 0 || len > 20)
		return -EINVAL;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)text[i]))
			return -EINVAL;
		uint64_t d = (uint64_t)(text[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* v2 "rbps=1048576" or "rbps=max" inside a line; 0 for max or absent. */
static int v2_line_value(const char *line, size_t len, const char *word, uint64_t *value)
{
	*value = 0;
	size_t wlen = strlen(word);
	const char *p = line, *end = line + len;
	while (p < end) {
		while (p < end && *p == ' ')
			p++;
		const char *tok = p;
		while (p < end && *p != ' ')
			p++;
		size_t tlen = (size_t)(p - tok);
		if (tlen > wlen && strncmp(tok, word, wlen) == 0 && tok[wlen] == '=') {
			const char *v = tok + wlen + 1;
			size_t vlen = tlen - wlen - 1;
			if (vlen == 3 && strncmp(v, "max", 3) == 0)
				return 0;
			return parse_u64(v, vlen, value);
		}
	}
	return 0;
}

int throttle_parse_value(enum throttle_iface iface, const char *text, unsigned major, unsigned minor,
			 enum throttle_key key, uint64_t *value)
{
	*value = 0;
	const char *line = text;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (len > 0) {
			unsigned ma, mi;
			int consumed = 0;
			if (sscanf(line, "%u:%u%n", &ma, &mi, &consumed) != 2 || consumed <= 0 || (size_t)consumed >= len ||
			    line[consumed] != ' ')
				return -EINVAL;
			if (ma == major && mi == minor) {
				const char *rest = line + consumed + 1;
				size_t rest_len = len - (size_t)consumed - 1;
				if (iface == THROTTLE_V1)
					return parse_u64(rest, rest_len, value);
				return v2_line_value(rest, rest_len, v2_words[key], value);
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

int throttle_format_line(enum throttle_iface iface, unsigned major, unsigned minor, enum throttle_key key,
			 uint64_t value, char *buf, size_t len)
{
	int w;
	if (iface == THROTTLE_V1)
		w = snprintf(buf, len, "%u:%u %" PRIu64, major, minor, value);
	else if (value == 0)
		w = snprintf(buf, len, "%u:%u %s=max", major, minor, v2_words[key]);
	else
		w = snprintf(buf, len, "%u:%u %s=%" PRIu64, major, minor, v2_words[key], value);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

static int cgroup_file(const char *dir, enum throttle_iface iface, enum throttle_key key, char *buf, size_t len)
{
	int w = snprintf(buf, len, "%s/%s", dir, iface == THROTTLE_V2 ? "io.max" : v1_files[key]);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

int throttle_cgroup_get(const char *dir, enum throttle_iface iface, unsigned major, unsigned minor,
			enum throttle_key key, uint64_t *value)
{
	char path[PATH_MAX];
	int r = cgroup_file(dir, iface, key, path, sizeof(path));
	if (r < 0)
		return r;
	char text[16384];
	r = read_text(path, text, sizeof(text));
	if (r < 0)
		return r;
	return throttle_parse_value(iface, text, major, minor, key, value);
}

int throttle_cgroup_set(const char *dir, enum throttle_iface iface, unsigned major, unsigned minor,
			enum throttle_key key, uint64_t value)
{
	char path[PATH_MAX], line[128];
	int r = cgroup_file(dir, iface, key, path, sizeof(path));
	if (r == 0)
		r = throttle_format_line(iface, major, minor, key, value, line, sizeof(line));
	if (r == 0)
		r = text_file_write(path, line);
	return r;
}

bool throttle_v2_io_enabled(const char *dir)
{
	char path[PATH_MAX + 32], text[1024];
	snprintf(path, sizeof(path), "%s/io.max", dir);
	if (access(path, F_OK) != 0)
		return false;
	snprintf(path, sizeof(path), "%s/../cgroup.subtree_control", dir);
	if (read_text(path, text, sizeof(text)) < 0)
		return false;
	for (char *save = NULL, *tok = strtok_r(text, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		if (strcmp(tok, "io") == 0)
			return true;
	return false;
}

/* --- cgroup mounts -------------------------------------------------------------------------- */

struct cg_mount {
	char dir[PATH_MAX];
	bool v2, blkio;
};

struct cg_mounts {
	struct cg_mount *out;
	int n, max;
};

static bool cg_mount_add(const struct cgroup_mount *m, void *mounts_v)
{
	struct cg_mounts *mounts = mounts_v;
	struct cg_mount *to = &mounts->out[mounts->n++];
	snprintf(to->dir, sizeof(to->dir), "%s", m->dir);
	to->v2 = m->v2;
	to->blkio = target_cgroup_mount_has(m, "blkio");
	return mounts->n < mounts->max;
}

static int cg_mounts_read(struct cg_mount *out, int max)
{
	struct cg_mounts mounts = { out, 0, max };
	int r = max > 0 ? target_cgroup_mounts_each(cg_mount_add, &mounts) : 0;
	return r < 0 ? r : mounts.n;
}

static bool path_under(const char *path, const char *top, const char **rest)
{
	size_t n = strlen(top);
	if (strncmp(path, top, n) != 0 || (path[n] != '\0' && path[n] != '/'))
		return false;
	*rest = path + n;
	return true;
}

/* The mount holding DIR (longest prefix) and DIR's path inside it ("" at its root). */
static const struct cg_mount *cg_mount_of(const struct cg_mount *m, int n, const char *dir, const char **rel)
{
	const struct cg_mount *best = NULL;
	for (int i = 0; i < n; i++) {
		const char *rest;
		if (path_under(dir, m[i].dir, &rest) && (!best || strlen(m[i].dir) > strlen(best->dir))) {
			best = &m[i];
			*rel = rest;
		}
	}
	return best;
}

static const struct cg_mount *cg_mount_find(const struct cg_mount *m, int n, bool v2, bool blkio)
{
	for (int i = 0; i < n; i++)
		if (m[i].v2 == v2 && (v2 || m[i].blkio == blkio))
			return &m[i];
	return NULL;
}

/* Where a cgroup's processes can be throttled: the directory itself if it is a v2
 * cgroup with io enabled or a v1 blkio cgroup, else the same path in the blkio
 * hierarchy (systemd mirrors its units there on hybrid hosts). */
static int throttle_target_dir(const struct cg_mount *m, int n, const char *dir, char *out, size_t len,
			       enum throttle_iface *iface, struct fault_error *err, const char *key)
{
	const char *rel = NULL;
	const struct cg_mount *mnt = cg_mount_of(m, n, dir, &rel);
	if (!mnt) {
		fault_error_set(err, key, "%s is not inside a mounted cgroup hierarchy", dir);
		return -ENOENT;
	}
	if (rel[0] == '\0' || strcmp(rel, "/") == 0) {
		fault_error_set(err, key, "%s is a root cgroup: throttling it would slow down the whole host; "
					  "name a cgroup below it", dir);
		return -EINVAL;
	}
	if (mnt->v2 && throttle_v2_io_enabled(dir)) {
		*iface = THROTTLE_V2;
		snprintf(out, len, "%s", dir);
		return 0;
	}
	if (!mnt->v2 && mnt->blkio) {
		*iface = THROTTLE_V1;
		snprintf(out, len, "%s", dir);
		return 0;
	}
	const struct cg_mount *blkio = cg_mount_find(m, n, false, true);
	char mirror[PATH_MAX];
	struct stat st;
	if (blkio && snprintf(mirror, sizeof(mirror), "%s%s", blkio->dir, rel) < (int)sizeof(mirror) &&
	    stat(mirror, &st) == 0 && S_ISDIR(st.st_mode)) {
		*iface = THROTTLE_V1;
		snprintf(out, len, "%s", mirror);
		return 0;
	}
	if (mnt->v2)
		fault_error_set(err, key, "%s: its parent does not enable the io controller (cgroup.subtree_control) "
					  "and %s", dir, blkio ? "the blkio hierarchy has no cgroup of that path" :
								 "no cgroup v1 blkio hierarchy is mounted");
	else
		fault_error_set(err, key, "%s is in a v1 hierarchy without blkio and %s", dir,
				blkio ? "the blkio hierarchy has no cgroup of that path" : "no blkio hierarchy is mounted");
	return -EOPNOTSUPP;
}

/* --- parse ---------------------------------------------------------------------------------- */

struct throttle_spec {
	char *device;
	uint64_t limits[THROTTLE_NKEYS]; /* 0: not given */
	char *cgroup, *unit;
	bool has_processes;
	struct target_spec processes;
};

static void throttle_spec_free(void *spec_v)
{
	struct throttle_spec *spec = spec_v;
	if (!spec)
		return;
	free(spec->device);
	free(spec->cgroup);
	free(spec->unit);
	if (spec->has_processes)
		target_spec_clear(&spec->processes);
	free(spec);
}

static int parse_limit(struct json_object *v, enum throttle_key key, uint64_t *out, struct fault_error *err)
{
	const char *name = param_names[key];
	bool bps = key == THROTTLE_RBPS || key == THROTTLE_WBPS;
	uint64_t value = 0;
	int r;
	if (bps) {
		r = disk_size_from_json(v, &value);
	} else if (json_object_is_type(v, json_type_int)) {
		int64_t n = json_object_get_int64(v);
		r = n < 0 ? -EINVAL : 0;
		value = (uint64_t)n;
	} else {
		r = -EINVAL;
	}
	if (r < 0) {
		fault_error_set(err, name, bps ? "must be a rate in bytes per second such as \"1MiB\" or 1048576"
					       : "must be a whole number of I/O operations per second");
		return -EINVAL;
	}
	if (value == 0 || value == UINT64_MAX) {
		fault_error_set(err, name, "must be at least 1 (leave it out for no limit)");
		return -EINVAL;
	}
	*out = value;
	return 0;
}

static int parse_string(struct json_object *v, const char *key, char **out, struct fault_error *err, const char *what)
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (!s || !*s || strlen(s) >= PATH_MAX) {
		fault_error_set(err, key, "must be %s", what);
		return -EINVAL;
	}
	free(*out);
	*out = strdup(s);
	if (!*out) {
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int throttle_parse(struct json_object *params, void **spec_out, struct fault_error *err)
{
	void *allocated;
	int r = fault_spec_alloc(params, sizeof(struct throttle_spec), &allocated, err);
	if (r < 0)
		return r;
	struct throttle_spec *spec = allocated;
	if (params) {
		json_object_object_foreach(params, key, v) {
			int k = -1;
			for (int i = 0; i < THROTTLE_NKEYS; i++)
				if (strcmp(key, param_names[i]) == 0)
					k = i;
			if (k >= 0) {
				r = parse_limit(v, (enum throttle_key)k, &spec->limits[k], err);
			} else if (strcmp(key, "device") == 0) {
				r = parse_string(v, key, &spec->device, err, "an absolute path: a block device or a file on "
									    "the disk to throttle");
				if (r == 0 && spec->device[0] != '/') {
					fault_error_set(err, key, "must be an absolute path: a block device or a file on the "
								  "disk to throttle");
					r = -EINVAL;
				}
			} else if (strcmp(key, "cgroup") == 0) {
				r = parse_string(v, key, &spec->cgroup, err, "a cgroup path");
			} else if (strcmp(key, "unit") == 0) {
				r = parse_string(v, key, &spec->unit, err, "a systemd unit name");
			} else if (strcmp(key, "processes") == 0) {
				if (spec->has_processes)
					target_spec_clear(&spec->processes);
				spec->has_processes = false;
				r = target_parse(params, "processes", &spec->processes, err);
				spec->has_processes = r == 0;
			} else {
				fault_error_set(err, key, "unknown parameter (known: device, read_bps, write_bps, read_iops, "
							  "write_iops, cgroup, unit, processes)");
				r = -EINVAL;
			}
			if (r < 0)
				break;
		}
	}
	if (r == 0 && !spec->device) {
		fault_error_set(err, "device", "is required: a block device (\"/dev/sdb\") or a path on the disk to "
					       "throttle (\"/var/lib/db\")");
		r = -EINVAL;
	}
	if (r == 0) {
		bool any = false;
		for (int i = 0; i < THROTTLE_NKEYS; i++)
			any |= spec->limits[i] != 0;
		if (!any) {
			fault_error_set(err, "", "give at least one limit: read_bps, write_bps, read_iops or write_iops");
			r = -EINVAL;
		}
	}
	if (r == 0) {
		int targets = !!spec->cgroup + !!spec->unit + spec->has_processes;
		if (targets != 1) {
			fault_error_set(err, targets ? (spec->has_processes ? "processes" : "unit") : "cgroup",
					targets ? "give one of cgroup, unit or processes, not several"
						: "is required (or unit, or processes): whose I/O to throttle");
			r = -EINVAL;
		}
	}
	if (r < 0) {
		throttle_spec_free(spec);
		return r;
	}
	*spec_out = spec;
	return 0;
}

static struct json_object *throttle_spec_to_json(const void *spec_v)
{
	const struct throttle_spec *spec = spec_v;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "device", json_object_new_string(spec->device));
	for (int i = 0; i < THROTTLE_NKEYS; i++)
		if (spec->limits[i])
			json_object_object_add(o, param_names[i], json_object_new_int64((int64_t)spec->limits[i]));
	if (spec->cgroup)
		json_object_object_add(o, "cgroup", json_object_new_string(spec->cgroup));
	if (spec->unit)
		json_object_object_add(o, "unit", json_object_new_string(spec->unit));
	if (spec->has_processes)
		json_object_object_add(o, "processes", target_to_json(&spec->processes));
	return o;
}

/* --- the saved state ---------------------------------------------------------------------------- */

/* Record / state file:
 * {"interface": "io.max"|"blkio.throttle", "device": "7:0", "device_path": "...",
 *  "limits": {"write_bps": 1048576},
 *  "cgroups": [{"dir": "/sys/fs/cgroup/blkio/x", "previous": {"write_bps": 0}}]} */
struct throttle_cgroup {
	char dir[PATH_MAX];
	uint64_t previous[THROTTLE_NKEYS];
	bool set[THROTTLE_NKEYS]; /* written by us (apply) */
};

struct throttle_handle {
	enum throttle_iface iface;
	unsigned major, minor;
	char device_path[PATH_MAX];
	uint64_t limits[THROTTLE_NKEYS];
	int n_cgroups;
	struct throttle_cgroup cgroups[THROTTLE_MAX_CGROUPS];
	char state_dir[PATH_MAX];
	char fault_id[40];
};

static struct json_object *state_to_json(const struct throttle_handle *h)
{
	char dev[32];
	snprintf(dev, sizeof(dev), "%u:%u", h->major, h->minor);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "interface", json_object_new_string(iface_name(h->iface)));
	json_object_object_add(o, "device", json_object_new_string(dev));
	json_object_object_add(o, "device_path", json_object_new_string(h->device_path));
	struct json_object *limits = json_object_new_object();
	for (int k = 0; k < THROTTLE_NKEYS; k++)
		if (h->limits[k])
			json_object_object_add(limits, param_names[k], json_object_new_int64((int64_t)h->limits[k]));
	json_object_object_add(o, "limits", limits);
	struct json_object *cgs = json_object_new_array();
	for (int i = 0; i < h->n_cgroups; i++) {
		struct json_object *c = json_object_new_object();
		json_object_object_add(c, "dir", json_object_new_string(h->cgroups[i].dir));
		struct json_object *prev = json_object_new_object();
		for (int k = 0; k < THROTTLE_NKEYS; k++)
			if (h->limits[k])
				json_object_object_add(prev, param_names[k],
						       json_object_new_int64((int64_t)h->cgroups[i].previous[k]));
		json_object_object_add(c, "previous", prev);
		json_object_array_add(cgs, c);
	}
	json_object_object_add(o, "cgroups", cgs);
	return o;
}

static uint64_t json_u64(struct json_object *o, const char *key, bool *found)
{
	struct json_object *v = json_object_object_get(o, key);
	*found = json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0;
	return *found ? (uint64_t)json_object_get_int64(v) : 0;
}

/* The handle back from a record or state file; -EINVAL when it is not one. */
static int state_from_json(struct json_object *o, struct throttle_handle *h)
{
	memset(h, 0, sizeof(*h));
	struct json_object *v = json_object_object_get(o, "interface");
	const char *iface = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
	if (strcmp(iface, "io.max") == 0)
		h->iface = THROTTLE_V2;
	else if (strcmp(iface, "blkio.throttle") == 0)
		h->iface = THROTTLE_V1;
	else
		return -EINVAL;
	v = json_object_object_get(o, "device");
	if (!json_object_is_type(v, json_type_string) || parse_majmin(json_object_get_string(v), &h->major, &h->minor) < 0)
		return -EINVAL;
	struct json_object *limits = json_object_object_get(o, "limits");
	for (int k = 0; k < THROTTLE_NKEYS; k++) {
		bool found;
		h->limits[k] = json_u64(limits, param_names[k], &found);
	}
	struct json_object *cgs = json_object_object_get(o, "cgroups");
	if (!json_object_is_type(cgs, json_type_array))
		return -EINVAL;
	for (size_t i = 0; i < json_object_array_length(cgs) && h->n_cgroups < THROTTLE_MAX_CGROUPS; i++) {
		struct json_object *c = json_object_array_get_idx(cgs, i);
		struct json_object *dir = json_object_object_get(c, "dir");
		if (!json_object_is_type(dir, json_type_string) || json_object_get_string(dir)[0] != '/')
			continue;
		struct throttle_cgroup *tc = &h->cgroups[h->n_cgroups++];
		snprintf(tc->dir, sizeof(tc->dir), "%s", json_object_get_string(dir));
		struct json_object *prev = json_object_object_get(c, "previous");
		for (int k = 0; k < THROTTLE_NKEYS; k++) {
			bool found;
			tc->previous[k] = json_u64(prev, param_names[k], &found);
			tc->set[k] = h->limits[k] && found;
		}
	}
	return 0;
}

/* Puts one cgroup's values back. Only values that are still ours are changed. */
static int restore_cgroup(const struct throttle_handle *h, const struct throttle_cgroup *tc)
{
	int result = 0;
	for (int k = 0; k < THROTTLE_NKEYS; k++) {
		if (!tc->set[k])
			continue;
		uint64_t now;
		int r = throttle_cgroup_get(tc->dir, h->iface, h->major, h->minor, (enum throttle_key)k, &now);
		if (r == -ENOENT)
			return 0; /* the cgroup is gone, and its limits with it */
		if (r == 0 && now == tc->previous[k])
			continue;
		if (r == 0 && now != h->limits[k]) {
			log_warn("io-throttle: %s %s for %u:%u is %" PRIu64 ", not the fault's %" PRIu64
				 ": someone changed it meanwhile; left alone", tc->dir, param_names[k], h->major, h->minor,
				 now, h->limits[k]);
			continue;
		}
		if (r == 0)
			r = throttle_cgroup_set(tc->dir, h->iface, h->major, h->minor, (enum throttle_key)k, tc->previous[k]);
		if (r == -ENOENT || r == -ENODEV)
			return 0;
		if (r < 0) {
			log_error("io-throttle: cannot restore %s %s for %u:%u to %" PRIu64 ": %s", tc->dir, param_names[k],
				  h->major, h->minor, tc->previous[k], strerror(-r));
			result = r;
		}
	}
	return result;
}

static int restore_all(const struct throttle_handle *h)
{
	int result = 0;
	for (int i = 0; i < h->n_cgroups; i++) {
		int r = restore_cgroup(h, &h->cgroups[i]);
		if (r < 0)
			result = r;
	}
	return result;
}

static int state_path(const char *state_dir, const char *fault_id, char *buf, size_t len)
{
	return state_file_path(state_dir, THROTTLE_STATE_SUBDIR, fault_id, buf, len);
}

static void state_remove(const char *state_dir, const char *fault_id)
{
	state_file_remove(state_dir, THROTTLE_STATE_SUBDIR, fault_id, "io-throttle");
}

static struct json_object *state_read_file(const char *path)
{
	struct json_object *o = json_object_from_file(path);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* Another io-throttle fault of this agent on the same cgroup, disk and key: its saved
 * "previous" value would be ours, and the two reverts would fight. */
static bool overlaps_other(const char *state_dir, const struct throttle_handle *h, char *other, size_t len)
{
	char dir[PATH_MAX];
	if (!*state_dir || state_file_path(state_dir, THROTTLE_STATE_SUBDIR, NULL, dir, sizeof(dir)) < 0)
		return false;
	DIR *d = opendir(dir);
	if (!d)
		return false;
	bool found = false;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n <= 5 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		char path[PATH_MAX + 256];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		struct json_object *o = state_read_file(path);
		struct throttle_handle *them = o ? malloc(sizeof(*them)) : NULL;
		if (them && state_from_json(o, them) == 0 && them->major == h->major && them->minor == h->minor) {
			for (int i = 0; i < them->n_cgroups && !found; i++)
				for (int j = 0; j < h->n_cgroups && !found; j++)
					for (int k = 0; k < THROTTLE_NKEYS && !found; k++)
						if (them->cgroups[i].set[k] && h->limits[k] &&
						    strcmp(them->cgroups[i].dir, h->cgroups[j].dir) == 0) {
							found = true;
							snprintf(other, len, "%.*s", (int)(n - 5), de->d_name);
						}
		}
		free(them);
		json_object_put(o);
	}
	closedir(d);
	return found;
}

/* --- apply ---------------------------------------------------------------------------------------- */

/* Which interfaces this host offers at all: a v1 blkio hierarchy with throttling
 * files, a v2 hierarchy whose root offers the io controller. */
static int interfaces_available(bool *v1, bool *v2)
{
	struct cg_mount m[THROTTLE_MAX_MOUNTS];
	int n = cg_mounts_read(m, THROTTLE_MAX_MOUNTS);
	if (n < 0)
		return n;
	*v1 = *v2 = false;
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX + 64], text[512];
		int w;
		if (m[i].blkio) {
			w = snprintf(path, sizeof(path), "%s/%s", m[i].dir, v1_files[THROTTLE_RBPS]);
			if (w > 0 && (size_t)w < sizeof(path) && access(path, F_OK) == 0)
				*v1 = true;
		}
		if (m[i].v2) {
			w = snprintf(path, sizeof(path), "%s/cgroup.controllers", m[i].dir);
			if (w > 0 && (size_t)w < sizeof(path) && read_text(path, text, sizeof(text)) >= 0)
				for (char *save = NULL, *tok = strtok_r(text, " \n", &save); tok;
				     tok = strtok_r(NULL, " \n", &save))
					*v2 |= strcmp(tok, "io") == 0;
		}
	}
	return 0;
}

static int throttle_probe(char *reason, size_t len)
{
	bool v1, v2;
	int r = interfaces_available(&v1, &v2);
	if (r < 0) {
		snprintf(reason, len, "cannot read /proc/self/mountinfo: %s", strerror(-r));
		return r;
	}
	if (v1 || v2)
		return 0;
	snprintf(reason, len, "neither a cgroup v2 hierarchy with the io controller nor cgroup v1 blkio with "
			      "throttling (CONFIG_BLK_DEV_THROTTLING) is mounted");
	return -EOPNOTSUPP;
}

static int add_cgroup(struct throttle_handle *h, enum throttle_iface iface, const char *dir, struct fault_error *err,
		      const char *key)
{
	if (h->n_cgroups > 0 && iface != h->iface) {
		fault_error_set(err, key, "the processes' cgroups are in different hierarchies (io.max and "
					  "blkio.throttle); one fault throttles through one of them");
		return -EINVAL;
	}
	h->iface = iface;
	for (int i = 0; i < h->n_cgroups; i++)
		if (strcmp(h->cgroups[i].dir, dir) == 0)
			return 0;
	if (h->n_cgroups == THROTTLE_MAX_CGROUPS) {
		fault_error_set(err, key, "the processes are in more than %d cgroups", THROTTLE_MAX_CGROUPS);
		return -E2BIG;
	}
	snprintf(h->cgroups[h->n_cgroups++].dir, PATH_MAX, "%s", dir);
	return 0;
}

static int resolve_cgroups(const struct throttle_spec *spec, struct throttle_handle *h, struct fault_error *err)
{
	struct cg_mount m[THROTTLE_MAX_MOUNTS];
	int n = cg_mounts_read(m, THROTTLE_MAX_MOUNTS);
	if (n < 0) {
		fault_error_set(err, "", "cannot read /proc/self/mountinfo: %s", strerror(-n));
		return n;
	}
	char dir[PATH_MAX], target[PATH_MAX];
	enum throttle_iface iface;
	if (!spec->has_processes) {
		const char *key = spec->cgroup ? "cgroup" : "unit";
		struct target_spec t = { 0 };
		t.cgroup = spec->cgroup;
		t.unit = spec->unit;
		int r = target_cgroup_dir(&t, dir, sizeof(dir), err);
		if (r < 0) {
			if (!err->msg[0])
				fault_error_set(err, key, "cannot find the cgroup: %s", strerror(-r));
			else
				snprintf(err->key, sizeof(err->key), "%s", key);
			return r;
		}
		r = throttle_target_dir(m, n, dir, target, sizeof(target), &iface, err, key);
		return r < 0 ? r : add_cgroup(h, iface, target, err, key);
	}
	struct process_scope scope;
	pid_t exclude[64];
	int r = process_scope_targets(&scope, exclude, 64);
	if (r < 0) {
		fault_error_set(err, "processes", "cannot determine the agent's process scope: %s", strerror(-r));
		return r;
	}
	struct process_ident *procs = NULL;
	int n_procs = 0;
	r = target_resolve(&spec->processes, &scope, &procs, &n_procs, err);
	if (r < 0)
		return r;
	for (int i = 0; i < n_procs && r >= 0; i++) {
		char (*dirs)[PATH_MAX] = malloc(THROTTLE_MAX_MOUNTS * sizeof(*dirs));
		if (!dirs) {
			r = -ENOMEM;
			break;
		}
		int nd = target_process_cgroups(procs[i].pid, dirs, THROTTLE_MAX_MOUNTS);
		if (nd < 0) {
			r = nd;
			fault_error_set(err, "processes", "cannot read the cgroups of pid %d: %s", procs[i].pid,
					strerror(-nd));
		}
		/* v2 with io first (the kernel's own choice on pure v2 hosts), then blkio. */
		int pick = -1;
		for (int j = 0; j < nd; j++) {
			const char *rel;
			const struct cg_mount *mnt = cg_mount_of(m, n, dirs[j], &rel);
			if (mnt && mnt->v2 && throttle_v2_io_enabled(dirs[j])) {
				pick = j;
				break;
			}
			if (mnt && !mnt->v2 && mnt->blkio && pick < 0)
				pick = j;
		}
		if (r >= 0 && pick < 0) {
			fault_error_set(err, "processes", "pid %d is in no cgroup that can be throttled (no v2 cgroup with "
							  "io enabled, no blkio cgroup)", procs[i].pid);
			r = -EOPNOTSUPP;
		}
		if (r >= 0) {
			r = throttle_target_dir(m, n, dirs[pick], target, sizeof(target), &iface, err, "processes");
			if (r == -EINVAL)
				fault_error_set(err, "processes", "pid %d (%s) is in the root cgroup %s: throttling it would "
								  "slow down the whole host", procs[i].pid, procs[i].comm,
						dirs[pick]);
		}
		if (r >= 0)
			r = add_cgroup(h, iface, target, err, "processes");
		free(dirs);
	}
	free(procs);
	if (r == -ENOMEM)
		fault_error_set(err, "", "out of memory");
	return r < 0 ? r : 0;
}

static int resolve_device(const char *path, unsigned *major, unsigned *minor, struct fault_error *err)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		int e = errno;
		fault_error_set(err, "device", "%s: %s", path, strerror(e));
		return -e;
	}
	dev_t dev = S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev;
	int r = throttle_whole_disk("/sys", major(dev), minor(dev), major, minor);
	if (r == -ENODEV)
		fault_error_set(err, "device", "%s is not %s a block device (%u:%u has no /sys/dev/block entry: tmpfs, "
					       "overlayfs, network filesystems cannot be throttled)", path,
				S_ISBLK(st.st_mode) ? "" : "on", major(dev), minor(dev));
	else if (r < 0)
		fault_error_set(err, "device", "cannot find the disk of %u:%u in /sys: %s", major(dev), minor(dev),
				strerror(-r));
	return r;
}

static int throttle_apply(const void *spec_v, const struct fault_env *env, void **handle_out,
			  struct json_object *record, struct fault_error *err)
{
	const struct throttle_spec *spec = spec_v;
	struct throttle_handle *h = calloc(1, sizeof(*h));
	if (!h) {
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	snprintf(h->device_path, sizeof(h->device_path), "%s", spec->device);
	memcpy(h->limits, spec->limits, sizeof(h->limits));
	snprintf(h->state_dir, sizeof(h->state_dir), "%s", env->state_dir ? env->state_dir : "");
	snprintf(h->fault_id, sizeof(h->fault_id), "%s", env->fault_id);
	int r = resolve_device(spec->device, &h->major, &h->minor, err);
	if (r == 0)
		r = resolve_cgroups(spec, h, err);
	for (int i = 0; r == 0 && i < h->n_cgroups; i++) {
		for (int k = 0; r == 0 && k < THROTTLE_NKEYS; k++) {
			if (!h->limits[k])
				continue;
			r = throttle_cgroup_get(h->cgroups[i].dir, h->iface, h->major, h->minor, (enum throttle_key)k,
						&h->cgroups[i].previous[k]);
			if (r < 0)
				fault_error_set(err, "", "cannot read %s's %s: %s", h->cgroups[i].dir,
						h->iface == THROTTLE_V2 ? "io.max" : v1_files[k], strerror(-r));
			h->cgroups[i].set[k] = true;
		}
	}
	char other[64];
	if (r == 0 && overlaps_other(h->state_dir, h, other, sizeof(other))) {
		fault_error_set(err, "", "fault %s already throttles device %u:%u for one of these cgroups", other,
				h->major, h->minor);
		r = -EBUSY;
	}
	struct json_object *state = r == 0 ? state_to_json(h) : NULL;
	if (r == 0 && h->state_dir[0]) {
		r = state_file_write(h->state_dir, THROTTLE_STATE_SUBDIR, h->fault_id,
				     json_object_to_json_string_ext(state, JSON_C_TO_STRING_PLAIN));
		if (r < 0)
			fault_error_set(err, "", "cannot write the state file in %s/" THROTTLE_STATE_SUBDIR ": %s",
					h->state_dir, strerror(-r));
	}
	bool written = false;
	for (int i = 0; r == 0 && i < h->n_cgroups; i++) {
		for (int k = 0; r == 0 && k < THROTTLE_NKEYS; k++) {
			if (!h->limits[k])
				continue;
			written = true;
			r = throttle_cgroup_set(h->cgroups[i].dir, h->iface, h->major, h->minor, (enum throttle_key)k,
						h->limits[k]);
			if (r < 0)
				fault_error_set(err, param_names[k], "cannot set %s for %u:%u in %s: %s",
						h->iface == THROTTLE_V2 ? "io.max" : v1_files[k], h->major, h->minor,
						h->cgroups[i].dir, strerror(-r));
		}
	}
	if (r < 0) {
		if (written)
			restore_all(h);
		if (state)
			state_remove(h->state_dir, h->fault_id);
		json_object_put(state);
		free(h);
		return r;
	}
	json_object_object_foreach(state, key, value)
		json_object_object_add(record, key, json_object_get(value));
	json_object_put(state);
	*handle_out = h;
	return 0;
}

static int throttle_revert(void *handle_v)
{
	struct throttle_handle *h = handle_v;
	int r = restore_all(h);
	if (r == 0)
		state_remove(h->state_dir, h->fault_id);
	free(h);
	return r;
}

static int throttle_stats(void *handle_v, struct json_object *out)
{
	struct throttle_handle *h = handle_v;
	char dev[32], cgroups[1024] = "";
	snprintf(dev, sizeof(dev), "%u:%u", h->major, h->minor);
	size_t used = 0;
	for (int i = 0; i < h->n_cgroups && used < sizeof(cgroups); i++)
		used += (size_t)snprintf(cgroups + used, sizeof(cgroups) - used, "%s%s", i ? "," : "", h->cgroups[i].dir);
	json_object_object_add(out, "interface", json_object_new_string(iface_name(h->iface)));
	json_object_object_add(out, "cgroup", json_object_new_string(cgroups));
	json_object_object_add(out, "cgroups", json_object_new_int(h->n_cgroups));
	json_object_object_add(out, "device", json_object_new_string(dev));
	json_object_object_add(out, "device_path", json_object_new_string(h->device_path));
	for (int k = 0; k < THROTTLE_NKEYS; k++)
		if (h->limits[k])
			json_object_object_add(out, param_names[k], json_object_new_int64((int64_t)h->limits[k]));
	return 0;
}

static int throttle_recover(struct json_object *record, const struct fault_env *env)
{
	struct json_object *from_file = NULL;
	if (!json_object_object_get(record, "cgroups")) {
		char path[PATH_MAX];
		if (!env->state_dir || state_path(env->state_dir, env->fault_id, path, sizeof(path)) < 0)
			return 0;
		from_file = state_read_file(path);
		if (!from_file)
			return 0; /* apply never got to write anything */
		record = from_file;
	}
	struct throttle_handle *h = malloc(sizeof(*h));
	int r = h ? state_from_json(record, h) : -ENOMEM;
	if (r == 0)
		r = restore_all(h);
	else if (r == -EINVAL)
		r = 0; /* nothing we can read back was ever written */
	free(h);
	json_object_put(from_file);
	if (r == 0)
		state_remove(env->state_dir, env->fault_id);
	return r;
}

/* 1 when the limits are restored (and the state file removed), 0 with *failed counted. */
static int sweep_one(const char *path, void *failed_v)
{
	int *failed = failed_v, handled = 0;
	struct json_object *o = state_read_file(path);
	struct throttle_handle *h = malloc(sizeof(*h));
	int r = !h ? -ENOMEM : o && state_from_json(o, h) == 0 ? restore_all(h) : 0;
	if (r < 0) {
		(*failed)++;
	} else {
		if (o && h)
			log_warn("sweep: io-throttle: restored the %s limits of device %u:%u (state file %s)",
				 iface_name(h->iface), h->major, h->minor, path);
		unlink(path);
		handled = 1;
	}
	free(h);
	json_object_put(o);
	return handled;
}

int iothrottle_sweep(const struct fault_env *env)
{
	if (!env || !env->state_dir || !*env->state_dir)
		return 0;
	int failed = 0, handled = state_file_each(env->state_dir, THROTTLE_STATE_SUBDIR, sweep_one, &failed);
	/* An unreadable state directory is left for the next start, as a missing one. */
	return handled < 0 ? 0 : failed ? -EIO : handled;
}

static void throttle_describe(const struct fault_env *env, struct json_object *out)
{
	(void)env;
	bool v1 = false, v2 = false;
	interfaces_available(&v1, &v2);
	/* Per cgroup at apply: io.max where the cgroup's parent enables io, else blkio.throttle. */
	json_object_object_add(out, "backend", json_object_new_string(v1 && v2 ? "io.max, blkio.throttle" :
								      v2 ? "io.max" : v1 ? "blkio.throttle" : "none"));
	struct json_object *backends = json_object_new_object();
	json_object_object_add(backends, "io.max", json_object_new_string(v2 ? "ok" : "no cgroup v2 hierarchy "
									   "offers the io controller"));
	json_object_object_add(backends, "blkio.throttle", json_object_new_string(v1 ? "ok" : "no cgroup v1 blkio "
									   "hierarchy with throttling"));
	json_object_object_add(out, "backends", backends);
}

const struct fault_kind io_throttle_kind = {
	.name = "io-throttle",
	.family = "disk",
	.summary = "limit read/write bytes and IOPS per second on one disk for a cgroup (io.max or blkio.throttle)",
	.probe = throttle_probe,
	.parse = throttle_parse,
	.spec_free = throttle_spec_free,
	.spec_to_json = throttle_spec_to_json,
	.apply = throttle_apply,
	.revert = throttle_revert,
	.stats = throttle_stats,
	.recover = throttle_recover,
	.describe = throttle_describe,
};
