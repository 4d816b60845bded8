/* Small text files: /proc entries, cgroup interface files. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

/* Reads up to len - 1 bytes (until end of file or the buffer is full: a longer file
 * is cut) and NUL-terminates them. Returns how many bytes were read or -errno. */
ssize_t text_file_read(const char *path, char *buf, size_t len);

/* Writes all of `text` into an existing file (no O_CREAT). O_TRUNC as a shell's `>`: cgroup and
 * /proc files ignore it, and a plain file in a test's fake tree then holds just this text.
 * 0 or -errno, a failed close() included. */
int text_file_write(const char *path, const char *text);
