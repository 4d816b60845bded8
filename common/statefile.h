#pragma once
#include <stddef.h>

/* Small per-fault state files, <state_dir>/<subdir>/<name>.json, that must be
 * on disk before the change they describe (a crash in between is recovered
 * from them). */

/* write() until all `len` bytes are written (EINTR retried); 0 or -errno. */
int fd_write_all(int fd, const char *text, size_t len);

/* The file's path, or with name NULL the directory's. -ENAMETOOLONG if it does not fit. */
int state_file_path(const char *state_dir, const char *subdir, const char *name, char *buf, size_t len);

/* Writes `text` to <name>.json.tmp, fsyncs it, renames it into place and
 * fsyncs the directory (created 0700 if missing). All or nothing: on failure
 * the temporary file is removed and -errno returned. */
int state_file_write(const char *state_dir, const char *subdir, const char *name, const char *text);
