/* Kind "io-fault" (faults/iofault.c) and its FUSE passthrough backend
 * (faults/iofault_fuse.c): errors and latency for file operations under a path. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum iofault_op {
	IOF_LOOKUP, IOF_GETATTR, IOF_SETATTR, IOF_TRUNCATE, IOF_READLINK, IOF_MKNOD, IOF_MKDIR,
	IOF_UNLINK, IOF_RMDIR, IOF_SYMLINK, IOF_RENAME, IOF_LINK, IOF_OPEN, IOF_CREATE, IOF_READ,
	IOF_WRITE, IOF_FLUSH, IOF_FSYNC, IOF_OPENDIR, IOF_READDIR, IOF_STATFS, IOF_FALLOCATE,
	IOF_N_OPS
};
extern const char *const iofault_op_names[IOF_N_OPS];

enum iofault_distribution { IOF_DIST_CONSTANT, IOF_DIST_UNIFORM, IOF_DIST_NORMAL };

#define IOFAULT_MAX_FILES 16
#define IOFAULT_PATTERN_MAX 256
#define IOFAULT_MAX_DELAY_US (60ULL * 1000 * 1000)
#define IOFAULT_FSNAME_PREFIX "chaoskit-io"
#define IOFAULT_FSTYPE "fuse.chaoskit-io"

struct iofault_spec {
	char path[PATH_MAX];
	uint32_t ops;                   /* bit (1 << enum iofault_op) */
	int n_files;
	char files[IOFAULT_MAX_FILES][IOFAULT_PATTERN_MAX];
	double probability;
	int error;                      /* positive errno, 0: delay only */
	uint64_t latency_us, jitter_us;
	enum iofault_distribution distribution;
};

/* True when `rel` (a path relative to the faulted directory, "" for itself)
 * is one the spec's `files` selects; always true without `files`. */
bool iofault_files_match(const struct iofault_spec *spec, const char *rel);

struct iofault_fs;

struct iofault_op_counts {
	uint64_t seen, faulted, delayed;
};

/* Mounts the passthrough filesystem over `spec->path` (already resolved, a
 * directory) as `fsname` and starts its threads. All or nothing. */
int iofault_fs_start(const struct iofault_spec *spec, const char *fsname, struct iofault_fs **out,
		     char *why, size_t why_len);
/* Unmounts (lazily when busy: the threads serve, without faults, until the last
 * user leaves or IOFAULT_DRAIN_MS passed, then the connection is aborted), joins
 * the threads and frees everything. Returns 0, or -errno when the mount could
 * not be removed (the threads are stopped and freed in every case). */
int iofault_fs_stop(struct iofault_fs *fs);
void iofault_fs_counts(struct iofault_fs *fs, struct iofault_op_counts counts[IOF_N_OPS]);
#define IOFAULT_DRAIN_MS 2000

/* Detaches mounts of ours found in /proc/self/mountinfo: with `exact_fsname`
 * only the mount(s) of that fsname, whatever their state; else every mount
 * whose fsname starts with "chaoskit-io" and whose daemon is gone (ENOTCONN):
 * a live one belongs to a running agent. Returns how many were detached or -errno. */
int iofault_detach_leftovers(const char *exact_fsname);
/* Whether a mount whose fsname starts with "chaoskit-io" is mounted at `path`. */
bool iofault_mounted_at(const char *path);
