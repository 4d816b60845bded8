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

/* Removes <name>.json; a file that is not there is fine, any other failure is
 * logged as "<who>: cannot remove ...". Nothing happens without a state_dir or name. */
void state_file_remove(const char *state_dir, const char *subdir, const char *name, const char *who);

/* The family sweep's walk: calls visit(path, ctx) for every <name>.json in
 * <state_dir>/<subdir> (the visitor decides whether to unlink it). A leftover
 * <name>.json.tmp is removed instead: a crash while writing it, before the rename,
 * so nothing it was to describe had been changed yet. Names starting with '.' are
 * skipped. Returns the sum of what visit() returned (0 when the directory does not
 * exist or its path is too long to exist), -errno when it cannot be read. */
int state_file_each(const char *state_dir, const char *subdir, int (*visit)(const char *path, void *ctx), void *ctx);
