#include "agent/journal.h"

#include "common/statefile.h"
#include "common/timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int ensure_dir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0 || errno == EEXIST) {
		struct stat st;
		if (stat(path, &st) < 0)
			return -errno;
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	}
	return -errno;
}

int journal_open(const char *state_dir, char *dir, size_t len)
{
	char path[4096];
	/* Create missing parents of state_dir too (e.g. /var/lib/chaoskit on a fresh host). */
	snprintf(path, sizeof(path), "%s", state_dir);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int r = ensure_dir(path, 0755);
		*p = '/';
		if (r < 0)
			return r;
	}
	int r = ensure_dir(state_dir, 0700);
	if (r < 0)
		return r;
	int n = snprintf(path, sizeof(path), "%s/journal", state_dir);
	if (n < 0 || (size_t)n >= sizeof(path) || (size_t)n >= len)
		return -ENAMETOOLONG;
	r = ensure_dir(path, 0700);
	if (r < 0)
		return r;
	snprintf(dir, len, "%s", path);
	return 0;
}

struct json_object *journal_entry_new(const char *id, const char *kind, struct json_object *params,
				      uint64_t deadline_wall_ms, const char *lease_id,
				      struct json_object *record)
{
	struct json_object *e = json_object_new_object();
	char when[40];
	json_object_object_add(e, "id", json_object_new_string(id));
	json_object_object_add(e, "kind", json_object_new_string(kind));
	struct json_object *p = NULL;
	if (params)
		json_object_deep_copy(params, &p, NULL);
	json_object_object_add(e, "params", p ? p : json_object_new_object());
	json_object_object_add(e, "deadline", json_object_new_string(wall_ms_format(deadline_wall_ms, when, sizeof(when))));
	json_object_object_add(e, "deadline_ms", json_object_new_int64((int64_t)deadline_wall_ms));
	if (lease_id)
		json_object_object_add(e, "lease", json_object_new_string(lease_id));
	struct json_object *rec = NULL;
	if (record)
		json_object_deep_copy(record, &rec, NULL);
	json_object_object_add(e, "record", rec ? rec : json_object_new_object());
	return e;
}

/* No fsync: the journal has to outlive the agent process (a crash, SIGKILL), and a write()
 * + rename() is durable against that through the page cache. It need not outlive the machine:
 * every object the current kinds create (BPF programs, qdiscs, link state, stopped processes)
 * is gone after a reboot too, and a stale or torn entry found then is recovered idempotently or
 * removed as unreadable. Four fsyncs cost 1-8 ms per apply on a virtio disk (docs/performance.md).
 * A kind that creates objects a reboot keeps (files) must make its own state durable. */
int journal_write(const char *dir, const char *id, struct json_object *entry)
{
	char final[4096], tmp[4096];
	if (snprintf(final, sizeof(final), "%s/%s.json", dir, id) >= (int)sizeof(final) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.json.tmp", dir, id) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	const char *text = json_object_to_json_string_ext(entry, JSON_C_TO_STRING_PLAIN);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int r = fd_write_all(fd, text, strlen(text));
	if (r == 0)
		r = fd_write_all(fd, "\n", 1);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, final) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int journal_remove(const char *dir, const char *id)
{
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/%s.json", dir, id) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

int journal_for_each(const char *dir, journal_visit_fn fn, void *ctx)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	int r = 0;
	struct dirent *de;
	while (r >= 0 && (de = readdir(d))) {
		const char *name = de->d_name;
		size_t n = strlen(name);
		char path[4096];
		if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
			continue;
		if (name[0] == '.') {
			if (n > 4 && strcmp(name + n - 4, ".tmp") == 0)
				unlink(path);  /* a write that never completed: nothing was applied after it */
			continue;
		}
		if (n <= 5 || strcmp(name + n - 5, ".json") != 0)
			continue;
		char id[256];
		snprintf(id, sizeof(id), "%.*s", (int)(n - 5), name);
		struct json_object *entry = json_object_from_file(path);
		if (entry && !json_object_is_type(entry, json_type_object)) {
			json_object_put(entry);
			entry = NULL;
		}
		r = fn(id, entry, ctx);
		json_object_put(entry);
	}
	closedir(d);
	return r < 0 ? r : 0;
}
