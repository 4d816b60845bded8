#include "common/statefile.h"

#include "common/log.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int state_file_path(const char *state_dir, const char *subdir, const char *name, char *buf, size_t len)
{
	int w = name ? snprintf(buf, len, "%s/%s/%s.json", state_dir, subdir, name)
		     : snprintf(buf, len, "%s/%s", state_dir, subdir);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

int fd_write_all(int fd, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, text, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		text += w;
		len -= (size_t)w;
	}
	return 0;
}

static int write_synced(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int r = fd_write_all(fd, text, strlen(text));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

int state_file_write(const char *state_dir, const char *subdir, const char *name, const char *text)
{
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 8];
	if (state_file_path(state_dir, subdir, NULL, dir, sizeof(dir)) < 0 ||
	    state_file_path(state_dir, subdir, name, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int r = write_synced(tmp, text);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r == 0)
		r = fsync_dir(dir);
	if (r < 0)
		unlink(tmp);
	return r;
}

void state_file_remove(const char *state_dir, const char *subdir, const char *name, const char *who)
{
	char path[PATH_MAX];
	if (state_dir && *state_dir && name && *name && state_file_path(state_dir, subdir, name, path, sizeof(path)) == 0 &&
	    unlink(path) < 0 && errno != ENOENT)
		log_warn("%s: cannot remove %s: %s", who, path, strerror(errno));
}

static bool name_ends_with(const char *name, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len > n && strcmp(name + len - n, suffix) == 0;
}

int state_file_each(const char *state_dir, const char *subdir, int (*visit)(const char *path, void *ctx), void *ctx)
{
	char dir[PATH_MAX];
	if (state_file_path(state_dir, subdir, NULL, dir, sizeof(dir)) < 0)
		return 0; /* no file can be there */
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	int total = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.')
			continue;
		char path[PATH_MAX + 256];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (name_ends_with(de->d_name, len, ".tmp"))
			unlink(path);
		else if (name_ends_with(de->d_name, len, ".json"))
			total += visit(path, ctx);
	}
	closedir(d);
	return total;
}
