/* The FUSE passthrough backend of io-fault (docs/draft/iofault.md).
 *
 * Before mounting over the directory we take an O_PATH fd to it: the daemon
 * reaches the real files below the mount through that fd, every operation an
 * *at() call relative to it or to an O_PATH fd of a looked-up inode (the design
 * of libfuse's passthrough_ll). The session runs on libfuse's multi-threaded
 * loop in threads of the agent; the kernel talks to it through a /dev/fuse fd
 * we open and mount with ourselves, so that only we decide what is unmounted
 * (libfuse would unmount whatever sits at the path when it stops).
 *
 * Nodes are keyed by (st_dev, st_ino) and the nodeid is the node's address.
 * Paths for `files` are read back from /proc/self/fd, which the kernel keeps
 * right across renames. */
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include "faults/iofault.h"

#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse3/fuse_lowlevel.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define NODE_BUCKETS 1024
#define MAX_WORKERS 64
/* Attribute and entry caching when no metadata operation is faulted: each
 * cached answer is one the daemon does not see. */
#define CACHE_TIMEOUT_S 1.0
#define FUSECTL_DIR "/sys/fs/fuse/connections"

struct node {
	struct node *next;
	dev_t dev;
	ino_t ino;
	int fd;                 /* O_PATH */
	uint64_t nlookup;       /* under fs->lock */
};

/* Open files and directories are listed in the fs: after an aborted connection
 * the kernel never sends their RELEASE, and stop frees what is left. */
struct open_link {
	struct open_link *prev, *next;
	bool is_dir;
};

struct open_file {
	struct open_link link;
	int fd;
	bool matched;           /* the file is one `files` selects */
};

struct open_dir {
	struct open_link link;
	DIR *dir;
	off_t offset;
	struct dirent *entry;
	bool matched;
};

struct iofault_fs {
	struct iofault_spec spec;
	char root_path[PATH_MAX];       /* as /proc/self/fd shows it */
	size_t root_len;
	double timeout;
	bool data_direct;               /* read or write faulted: matched files bypass the page cache */
	struct node root;
	pthread_mutex_t lock;           /* the node table and the open list */
	struct node *buckets[NODE_BUCKETS];
	struct open_link open_list;     /* circular, under lock */

	struct fuse_session *se;
	struct fuse_loop_config *loop_cfg;
	pthread_t loop_thread;
	bool loop_started;
	dev_t mount_dev;

	atomic_bool armed;
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;       /* CLOCK_MONOTONIC: wakes delayed operations at stop */
	bool stopping;                  /* under stop_lock */

	_Atomic uint64_t seen[IOF_N_OPS], faulted[IOF_N_OPS], delayed[IOF_N_OPS];
};

/* --- fault decisions ------------------------------------------------------------ */

static _Thread_local uint64_t rng_state;

static uint64_t rng_next(void)
{
	if (rng_state == 0) {
		if (getrandom(&rng_state, sizeof(rng_state), 0) != sizeof(rng_state) || rng_state == 0)
			rng_state = (uint64_t)time(NULL) * 2654435761u + (uint64_t)pthread_self() + 1;
	}
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static double rng_unit(void) { return (double)(rng_next() >> 11) / 9007199254740992.0; }

static uint64_t draw_delay_us(const struct iofault_spec *s)
{
	double us = (double)s->latency_us;
	switch (s->distribution) {
	case IOF_DIST_CONSTANT:
		break;
	case IOF_DIST_UNIFORM:
		us += (2.0 * rng_unit() - 1.0) * (double)s->jitter_us;
		break;
	case IOF_DIST_NORMAL: {
		double u1 = rng_unit(), u2 = rng_unit();
		if (u1 < 1e-300)
			u1 = 1e-300;
		us += sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2) * (double)s->jitter_us;
		break;
	}
	}
	if (us < 0)
		us = 0;
	if (us > (double)IOFAULT_MAX_DELAY_US)
		us = (double)IOFAULT_MAX_DELAY_US;
	return (uint64_t)us;
}

/* Sleeps until the delay has passed or the fault is being removed. */
static void delay_op(struct iofault_fs *fs, uint64_t us)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(us / 1000000);
	until.tv_nsec += (long)(us % 1000000) * 1000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&fs->stop_lock);
	while (!fs->stopping) {
		if (pthread_cond_timedwait(&fs->stop_cond, &fs->stop_lock, &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&fs->stop_lock);
}

/* Counts the operation and decides its fate: 0 to carry it out (after any
 * delay), or the errno to answer with. */
static int inject(struct iofault_fs *fs, enum iofault_op op, bool matched)
{
	atomic_fetch_add_explicit(&fs->seen[op], 1, memory_order_relaxed);
	const struct iofault_spec *s = &fs->spec;
	if (!(s->ops & (1u << op)) || !matched || !atomic_load_explicit(&fs->armed, memory_order_acquire))
		return 0;
	if (s->probability < 1.0 && rng_unit() >= s->probability)
		return 0;
	if (s->latency_us || s->jitter_us) {
		atomic_fetch_add_explicit(&fs->delayed[op], 1, memory_order_relaxed);
		delay_op(fs, draw_delay_us(s));
	}
	if (s->error) {
		atomic_fetch_add_explicit(&fs->faulted[op], 1, memory_order_relaxed);
		return s->error;
	}
	return 0;
}

/* --- nodes ------------------------------------------------------------------------- */

static struct iofault_fs *fs_of(fuse_req_t req) { return fuse_req_userdata(req); }

static struct node *node_of(fuse_req_t req, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? &fs_of(req)->root : (struct node *)(uintptr_t)ino;
}

static size_t bucket_of(dev_t dev, ino_t ino) { return (size_t)((ino * 31u + dev) % NODE_BUCKETS); }

/* The node for an O_PATH fd just opened (taken over: closed when a node for the
 * inode exists already), its lookup count raised by one. */
static struct node *node_get(struct iofault_fs *fs, int fd, const struct stat *st)
{
	if (st->st_dev == fs->root.dev && st->st_ino == fs->root.ino) {
		close(fd);
		return &fs->root;
	}
	pthread_mutex_lock(&fs->lock);
	size_t b = bucket_of(st->st_dev, st->st_ino);
	struct node *n;
	for (n = fs->buckets[b]; n; n = n->next)
		if (n->dev == st->st_dev && n->ino == st->st_ino)
			break;
	if (n) {
		close(fd);
	} else {
		n = calloc(1, sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&fs->lock);
			close(fd);
			return NULL;
		}
		n->dev = st->st_dev;
		n->ino = st->st_ino;
		n->fd = fd;
		n->next = fs->buckets[b];
		fs->buckets[b] = n;
	}
	n->nlookup++;
	pthread_mutex_unlock(&fs->lock);
	return n;
}

static void node_forget(struct iofault_fs *fs, struct node *n, uint64_t count)
{
	if (n == &fs->root)
		return;
	pthread_mutex_lock(&fs->lock);
	n->nlookup = count >= n->nlookup ? 0 : n->nlookup - count;
	if (n->nlookup == 0) {
		struct node **p = &fs->buckets[bucket_of(n->dev, n->ino)];
		while (*p && *p != n)
			p = &(*p)->next;
		if (*p)
			*p = n->next;
		close(n->fd);
		free(n);
	}
	pthread_mutex_unlock(&fs->lock);
}

static void open_track(struct iofault_fs *fs, struct open_link *l, bool is_dir)
{
	l->is_dir = is_dir;
	pthread_mutex_lock(&fs->lock);
	l->next = fs->open_list.next;
	l->prev = &fs->open_list;
	fs->open_list.next->prev = l;
	fs->open_list.next = l;
	pthread_mutex_unlock(&fs->lock);
}

static void open_untrack(struct iofault_fs *fs, struct open_link *l)
{
	pthread_mutex_lock(&fs->lock);
	l->prev->next = l->next;
	l->next->prev = l->prev;
	pthread_mutex_unlock(&fs->lock);
}

static void proc_fd_path(int fd, char *buf, size_t len) { snprintf(buf, len, "/proc/self/fd/%d", fd); }

/* The node's path relative to the faulted directory ("" for itself); false when
 * it cannot be known (then the operation passes). */
static bool node_relpath(struct iofault_fs *fs, struct node *n, char *buf, size_t len)
{
	if (n == &fs->root) {
		buf[0] = 0;
		return true;
	}
	char link[64], target[PATH_MAX];
	proc_fd_path(n->fd, link, sizeof(link));
	ssize_t got = readlink(link, target, sizeof(target) - 1);
	if (got <= 0)
		return false;
	target[got] = 0;
	if ((size_t)got <= fs->root_len || strncmp(target, fs->root_path, fs->root_len) != 0 ||
	    target[fs->root_len] != '/')
		return false;
	snprintf(buf, len, "%s", target + fs->root_len + 1);
	return true;
}

static bool node_matches(struct iofault_fs *fs, struct node *n)
{
	if (fs->spec.n_files == 0)
		return true;
	char rel[PATH_MAX];
	return node_relpath(fs, n, rel, sizeof(rel)) && iofault_files_match(&fs->spec, rel);
}

static bool child_matches(struct iofault_fs *fs, struct node *parent, const char *name)
{
	if (fs->spec.n_files == 0)
		return true;
	char rel[PATH_MAX], child[PATH_MAX + NAME_MAX + 2];
	if (!node_relpath(fs, parent, rel, sizeof(rel)))
		return false;
	snprintf(child, sizeof(child), "%s%s%s", rel, rel[0] ? "/" : "", name);
	return iofault_files_match(&fs->spec, child);
}

static int do_lookup(struct iofault_fs *fs, struct node *parent, const char *name, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->attr_timeout = e->entry_timeout = fs->timeout;
	int fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		int err = errno;
		close(fd);
		return err;
	}
	struct node *n = node_get(fs, fd, &e->attr);
	if (!n)
		return ENOMEM;
	e->ino = n == &fs->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
	return 0;
}

static void reply_entry_of(fuse_req_t req, struct node *parent, const char *name)
{
	struct fuse_entry_param e;
	int err = do_lookup(fs_of(req), parent, name, &e);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

/* New objects belong to the caller, not to the agent, and get the mode asked
 * for whatever the agent's umask is at that moment. */
static void own_new(fuse_req_t req, int dirfd, const char *name, mode_t mode, bool set_mode)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	if (fchownat(dirfd, name, ctx->uid, ctx->gid, AT_SYMLINK_NOFOLLOW) < 0)
		log_debug("io-fault: chown of new %s: %s", name, strerror(errno));
	if (set_mode && fchmodat(dirfd, name, mode & 07777, 0) < 0)
		log_debug("io-fault: chmod of new %s: %s", name, strerror(errno));
}

/* --- operations ------------------------------------------------------------------------- */

#define INJECT_OR_RETURN(req, op, matched)                    \
	do {                                                  \
		int injected_ = inject(fs_of(req), op, matched);  \
		if (injected_) {                              \
			fuse_reply_err(req, injected_);       \
			return;                               \
		}                                             \
	} while (0)

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* Writes go to the daemon one by one (no writeback cache), so write and
	 * fsync faults see what the program did. */
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	/* With attributes never cached (metadata faults), auto_inval_data would send
	 * a GETATTR before every cached read: 40x fewer reads per second. The cache
	 * is dropped at each open instead (keep_cache = 0). */
	conn->want &= ~(unsigned)FUSE_CAP_AUTO_INVAL_DATA;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct iofault_fs *fs = fs_of(req);
	struct node *p = node_of(req, parent);
	INJECT_OR_RETURN(req, IOF_LOOKUP, child_matches(fs, p, name));
	reply_entry_of(req, p, name);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	node_forget(fs_of(req), node_of(req, ino), nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		node_forget(fs_of(req), node_of(req, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct iofault_fs *fs = fs_of(req);
	struct node *n = node_of(req, ino);
	INJECT_OR_RETURN(req, IOF_GETATTR, node_matches(fs, n));
	struct stat st;
	if (fstatat(n->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_attr(req, &st, fs->timeout);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
	struct iofault_fs *fs = fs_of(req);
	struct node *n = node_of(req, ino);
	enum iofault_op op = (to_set & FUSE_SET_ATTR_SIZE) && (fs->spec.ops & (1u << IOF_TRUNCATE)) ? IOF_TRUNCATE
												      : IOF_SETATTR;
	INJECT_OR_RETURN(req, op, node_matches(fs, n));
	/* fchmod/futimens on a directory fd come with that directory's handle */
	int fd = -1;
	if (fi && fi->fh) {
		struct open_link *l = (struct open_link *)(uintptr_t)fi->fh;
		fd = l->is_dir ? dirfd(((struct open_dir *)l)->dir) : ((struct open_file *)l)->fd;
	}
	char proc[64];
	proc_fd_path(n->fd, proc, sizeof(proc));
	int r = 0;
	if (to_set & FUSE_SET_ATTR_MODE)
		r = fd >= 0 ? fchmod(fd, attr->st_mode) : chmod(proc, attr->st_mode);
	if (r == 0 && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
		uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;
		r = fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	}
	if (r == 0 && (to_set & FUSE_SET_ATTR_SIZE)) {
		if (fd >= 0) {
			r = ftruncate(fd, attr->st_size);
		} else {
			int wfd = open(proc, O_WRONLY | O_CLOEXEC);
			r = wfd < 0 ? -1 : ftruncate(wfd, attr->st_size);
			if (wfd >= 0) {
				int saved = errno;
				close(wfd);
				errno = saved;
			}
		}
	}
	if (r == 0 && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))) {
		struct timespec tv[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
		if (to_set & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		r = fd >= 0 ? futimens(fd, tv) : utimensat(AT_FDCWD, proc, tv, 0);
	}
	if (r < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	struct stat st;
	if (fstatat(n->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_attr(req, &st, fs->timeout);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct iofault_fs *fs = fs_of(req);
	struct node *n = node_of(req, ino);
	INJECT_OR_RETURN(req, IOF_READLINK, node_matches(fs, n));
	char buf[PATH_MAX + 1];
	ssize_t got = readlinkat(n->fd, "", buf, sizeof(buf) - 1);
	if (got < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	buf[got] = 0;
	fuse_reply_readlink(req, buf);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct iofault_fs *fs = fs_of(req);
	struct node *p = node_of(req, parent);
	INJECT_OR_RETURN(req, IOF_MKNOD, child_matches(fs, p, name));
	if (mknodat(p->fd, name, mode, rdev) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	own_new(req, p->fd, name, mode, true);
	reply_entry_of(req, p, name);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct iofault_fs *fs = fs_of(req);
	struct node *p = node_of(req, parent);
	INJECT_OR_RETURN(req, IOF_MKDIR, child_matches(fs, p, name));
	if (mkdirat(p->fd, name, mode) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	own_new(req, p->fd, name, mode, true);
	reply_entry_of(req, p, name);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct iofault_fs *fs = fs_of(req);
	struct node *p = node_of(req, parent);
	INJECT_OR_RETURN(req, IOF_SYMLINK, child_matches(fs, p, name));
	if (symlinkat(link, p->fd, name) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	own_new(req, p->fd, name, 0, false);
	reply_entry_of(req, p, name);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct iofault_fs *fs = fs_of(req);
	struct node *n = node_of(req, ino), *p = node_of(req, newparent);
	INJECT_OR_RETURN(req, IOF_LINK, node_matches(fs, n) || child_matches(fs, p, newname));
	if (linkat(n->fd, "", p->fd, newname, AT_EMPTY_PATH) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	reply_entry_of(req, p, newname);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct iofault_fs *fs = fs_of(req);
	struct node *p = node_of(req, parent);
	INJECT_OR_RETURN(req, IOF_UNLINK, child_matches(fs, p, name));
	fuse_reply_err(req, unlinkat(p->fd, name, 0) < 0 ? errno : 0);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct iofault_fs *fs = fs_of(req);
	struct node *p = node_of(req, parent);
	INJECT_OR_RETURN(req, IOF_RMDIR, child_matches(fs, p, name));
	fuse_reply_err(req, unlinkat(p->fd, name, AT_REMOVEDIR) < 0 ? errno : 0);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct iofault_fs *fs = fs_of(req);
	struct node *p = node_of(req, parent), *np = node_of(req, newparent);
	INJECT_OR_RETURN(req, IOF_RENAME, child_matches(fs, p, name) || child_matches(fs, np, newname));
	int r = flags ? renameat2(p->fd, name, np->fd, newname, flags) : renameat(p->fd, name, np->fd, newname);
	fuse_reply_err(req, r < 0 ? errno : 0);
}

static struct open_file *open_file_new(struct iofault_fs *fs, int fd, bool matched)
{
	struct open_file *f = calloc(1, sizeof(*f));
	if (f) {
		f->fd = fd;
		f->matched = matched;
		open_track(fs, &f->link, false);
	}
	return f;
}

static void open_file_free(struct iofault_fs *fs, struct open_file *f)
{
	open_untrack(fs, &f->link);
	close(f->fd);
	free(f);
}

static void set_open_semantics(struct iofault_fs *fs, struct fuse_file_info *fi, bool matched)
{
	/* A faulted file bypasses the page cache so that every read and write
	 * reaches the daemon; the others are cached as usual (mmap works) but the
	 * cache is dropped at each open. */
	fi->direct_io = fs->data_direct && matched;
	fi->keep_cache = 0;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct iofault_fs *fs = fs_of(req);
	struct node *n = node_of(req, ino);
	bool matched = node_matches(fs, n);
	INJECT_OR_RETURN(req, IOF_OPEN, matched);
	char proc[64];
	proc_fd_path(n->fd, proc, sizeof(proc));
	int fd = open(proc, (fi->flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW)) | O_CLOEXEC);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	struct open_file *f = open_file_new(fs, fd, matched);
	if (!f) {
		close(fd);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)f;
	set_open_semantics(fs, fi, matched);
	if (fuse_reply_open(req, fi) != 0)
		open_file_free(fs, f);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
	struct iofault_fs *fs = fs_of(req);
	struct node *p = node_of(req, parent);
	bool matched = child_matches(fs, p, name);
	INJECT_OR_RETURN(req, IOF_CREATE, matched);
	int flags = (fi->flags & ~(O_NOCTTY | O_NOFOLLOW)) | O_CLOEXEC | O_CREAT;
	int fd = openat(p->fd, name, flags | O_EXCL, mode);
	bool created = fd >= 0;
	if (fd < 0 && errno == EEXIST && !(fi->flags & O_EXCL))
		fd = openat(p->fd, name, flags & ~O_CREAT, mode);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	if (created) {
		const struct fuse_ctx *ctx = fuse_req_ctx(req);
		if (fchown(fd, ctx->uid, ctx->gid) < 0 || fchmod(fd, mode & 07777) < 0)
			log_debug("io-fault: owner/mode of new %s: %s", name, strerror(errno));
	}
	struct fuse_entry_param e;
	int err = do_lookup(fs, p, name, &e);
	struct open_file *f = err ? NULL : open_file_new(fs, fd, matched);
	if (!f) {
		close(fd);
		fuse_reply_err(req, err ? err : ENOMEM);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)f;
	set_open_semantics(fs, fi, matched);
	if (fuse_reply_create(req, &e, fi) != 0)
		open_file_free(fs, f);
}

static struct open_file *file_of(struct fuse_file_info *fi) { return (struct open_file *)(uintptr_t)fi->fh; }

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	struct open_file *f = file_of(fi);
	INJECT_OR_RETURN(req, IOF_READ, f->matched);
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = f->fd;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)ino;
	struct open_file *f = file_of(fi);
	INJECT_OR_RETURN(req, IOF_WRITE, f->matched);
	ssize_t done = pwrite(f->fd, data, size, off);
	if (done < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, (size_t)done);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	struct open_file *f = file_of(fi);
	INJECT_OR_RETURN(req, IOF_FLUSH, f->matched);
	/* close() of a duplicate: what the program's close() would have done to
	 * the real file (NFS writes back there, for instance). */
	int dup_fd = dup(f->fd);
	fuse_reply_err(req, dup_fd < 0 ? errno : (close(dup_fd) < 0 ? errno : 0));
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	open_file_free(fs_of(req), file_of(fi));
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	struct open_file *f = file_of(fi);
	INJECT_OR_RETURN(req, IOF_FSYNC, f->matched);
	int r = datasync ? fdatasync(f->fd) : fsync(f->fd);
	fuse_reply_err(req, r < 0 ? errno : 0);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len, struct fuse_file_info *fi)
{
	(void)ino;
	struct open_file *f = file_of(fi);
	INJECT_OR_RETURN(req, IOF_FALLOCATE, f->matched);
	fuse_reply_err(req, fallocate(f->fd, mode, off, len) < 0 ? errno : 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct iofault_fs *fs = fs_of(req);
	struct node *n = node_of(req, ino);
	INJECT_OR_RETURN(req, IOF_STATFS, node_matches(fs, n));
	struct statvfs sv;
	if (fstatvfs(n->fd, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

static struct open_dir *dir_of(struct fuse_file_info *fi) { return (struct open_dir *)(uintptr_t)fi->fh; }

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct iofault_fs *fs = fs_of(req);
	struct node *n = node_of(req, ino);
	bool matched = node_matches(fs, n);
	INJECT_OR_RETURN(req, IOF_OPENDIR, matched);
	struct open_dir *d = calloc(1, sizeof(*d));
	int fd = openat(n->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = !d ? ENOMEM : fd < 0 ? errno : 0;
	if (!err) {
		d->dir = fdopendir(fd);
		if (!d->dir)
			err = errno;
	}
	if (err) {
		if (fd >= 0)
			close(fd);
		free(d);
		fuse_reply_err(req, err);
		return;
	}
	d->matched = matched;
	open_track(fs, &d->link, true);
	fi->fh = (uint64_t)(uintptr_t)d;
	if (fuse_reply_open(req, fi) != 0) {
		open_untrack(fs, &d->link);
		closedir(d->dir);
		free(d);
	}
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, struct fuse_file_info *fi)
{
	(void)ino;
	struct open_dir *d = dir_of(fi);
	INJECT_OR_RETURN(req, IOF_READDIR, d->matched);
	char *buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (offset != d->offset) {
		seekdir(d->dir, offset);
		d->entry = NULL;
		d->offset = offset;
	}
	size_t used = 0;
	int err = 0;
	for (;;) {
		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dir);
			if (!d->entry) {
				err = errno;
				break;
			}
		}
		struct stat st = { .st_ino = d->entry->d_ino, .st_mode = (mode_t)d->entry->d_type << 12 };
		off_t next = d->entry->d_off;
		size_t need = fuse_add_direntry(req, buf + used, size - used, d->entry->d_name, &st, next);
		if (need > size - used)
			break;
		used += need;
		d->entry = NULL;
		d->offset = next;
	}
	if (err && used == 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	struct open_dir *d = dir_of(fi);
	open_untrack(fs_of(req), &d->link);
	closedir(d->dir);
	free(d);
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	struct open_dir *d = dir_of(fi);
	INJECT_OR_RETURN(req, IOF_FSYNC, d->matched);
	int fd = dirfd(d->dir);
	int r = datasync ? fdatasync(fd) : fsync(fd);
	fuse_reply_err(req, r < 0 ? errno : 0);
}

static const struct fuse_lowlevel_ops passthrough_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.symlink = op_symlink,
	.link = op_link,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.fallocate = op_fallocate,
	.statfs = op_statfs,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
};

/* --- mountinfo ------------------------------------------------------------------------------ */

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape_mountinfo(char *s)
{
	char *out = s;
	for (char *in = s; *in; in++) {
		if (in[0] == '\\' && in[1] >= '0' && in[1] <= '7' && in[2] >= '0' && in[2] <= '7' && in[3] >= '0' &&
		    in[3] <= '7') {
			*out++ = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
			in += 3;
		} else {
			*out++ = *in;
		}
	}
	*out = 0;
}

struct mount_entry {
	dev_t dev;
	char mountpoint[PATH_MAX];
	char fstype[64];
	char source[256];
};

/* Calls `fn` for each line of /proc/self/mountinfo, in order (a mount comes after
 * the one it sits on); stops when fn returns non-zero and returns that. */
static int mountinfo_each(int (*fn)(const struct mount_entry *m, void *arg), void *arg)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	int r = 0;
	struct mount_entry *m = malloc(sizeof(*m));
	if (!m) {
		fclose(f);
		return -ENOMEM;
	}
	while (r == 0 && getline(&line, &cap, f) > 0) {
		/* id parent major:minor root mountpoint options [optional...] - fstype source superopts */
		char *save = NULL, *field[5] = { 0 };
		char *tok = strtok_r(line, " \n", &save);
		for (int i = 0; tok && i < 5; i++, tok = strtok_r(NULL, " \n", &save))
			field[i] = tok;
		while (tok && strcmp(tok, "-") != 0)
			tok = strtok_r(NULL, " \n", &save);
		char *fstype = tok ? strtok_r(NULL, " \n", &save) : NULL;
		char *source = fstype ? strtok_r(NULL, " \n", &save) : NULL;
		if (!field[4] || !source)
			continue;
		unsigned major_no = 0, minor_no = 0;
		if (sscanf(field[2], "%u:%u", &major_no, &minor_no) == 2)
			m->dev = makedev(major_no, minor_no);
		snprintf(m->mountpoint, sizeof(m->mountpoint), "%s", field[4]);
		snprintf(m->fstype, sizeof(m->fstype), "%s", fstype);
		snprintf(m->source, sizeof(m->source), "%s", source);
		unescape_mountinfo(m->mountpoint);
		unescape_mountinfo(m->source);
		r = fn(m, arg);
	}
	free(m);
	free(line);
	fclose(f);
	return r;
}

static bool is_ours(const struct mount_entry *m)
{
	return strncmp(m->source, IOFAULT_FSNAME_PREFIX, strlen(IOFAULT_FSNAME_PREFIX)) == 0 &&
	       strncmp(m->fstype, "fuse", 4) == 0;
}

struct top_query {
	const char *path;
	char source[256];       /* of the topmost mount at path, "" if none */
};

static int top_at(const struct mount_entry *m, void *arg)
{
	struct top_query *q = arg;
	if (strcmp(m->mountpoint, q->path) == 0)
		snprintf(q->source, sizeof(q->source), "%s", m->source);
	return 0;
}

static void top_mount_source(const char *path, char *source, size_t len)
{
	struct top_query q = { .path = path };
	mountinfo_each(top_at, &q);
	snprintf(source, len, "%s", q.source);
}

struct ours_query {
	const char *path;
	bool found;
};

static int ours_at(const struct mount_entry *m, void *arg)
{
	struct ours_query *q = arg;
	if (strcmp(m->mountpoint, q->path) == 0 && is_ours(m))
		q->found = true;
	return 0;
}

struct dev_query {
	dev_t dev;
	bool found;
};

static int dev_listed(const struct mount_entry *m, void *arg)
{
	struct dev_query *q = arg;
	if (m->dev == q->dev && is_ours(m))
		q->found = true;
	return 0;
}

/* Whether our mount with this device number is still in this mount namespace. */
static bool mount_dev_listed(dev_t dev)
{
	struct dev_query q = { .dev = dev };
	mountinfo_each(dev_listed, &q);
	return q.found;
}

bool iofault_mounted_at(const char *path)
{
	struct ours_query q = { .path = path };
	mountinfo_each(ours_at, &q);
	return q.found;
}

struct leftover_query {
	const char *exact;
	char (*points)[PATH_MAX];
	int n, cap;
};

static int collect_leftover(const struct mount_entry *m, void *arg)
{
	struct leftover_query *q = arg;
	if (!is_ours(m) || (q->exact && strcmp(m->source, q->exact) != 0))
		return 0;
	if (q->n == q->cap) {
		int cap = q->cap ? q->cap * 2 : 8;
		char (*grown)[PATH_MAX] = realloc(q->points, (size_t)cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		q->points = grown;
		q->cap = cap;
	}
	snprintf(q->points[q->n++], PATH_MAX, "%s", m->mountpoint);
	return 0;
}

int iofault_detach_leftovers(const char *exact_fsname)
{
	struct leftover_query q = { .exact = exact_fsname };
	int r = mountinfo_each(collect_leftover, &q);
	if (r < 0) {
		free(q.points);
		return r;
	}
	int detached = 0, failed = 0;
	/* Deepest first: a mount found later may sit on one found earlier. */
	for (int i = q.n - 1; i >= 0; i--) {
		const char *mp = q.points[i];
		if (!exact_fsname) {
			struct statfs sf;
			/* A daemon that answers belongs to a running agent. statfs, not
			 * stat: FUSE answers stat from cached attributes, statfs never. */
			if (statfs(mp, &sf) == 0 || errno != ENOTCONN)
				continue;
		}
		char top[256];
		top_mount_source(mp, top, sizeof(top));
		if (strncmp(top, IOFAULT_FSNAME_PREFIX, strlen(IOFAULT_FSNAME_PREFIX)) != 0 ||
		    (exact_fsname && strcmp(top, exact_fsname) != 0)) {
			log_warn("io-fault: a chaoskit-io mount at %s is covered by another mount (%s); left alone", mp,
				 top);
			failed++;
			continue;
		}
		if (umount2(mp, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
			log_error("io-fault: detaching the leftover mount at %s: %s", mp, strerror(errno));
			failed++;
			continue;
		}
		log_warn("io-fault: detached leftover mount %s at %s", top, mp);
		detached++;
	}
	free(q.points);
	return failed && !detached ? -EBUSY : detached;
}

/* --- start / stop ---------------------------------------------------------------------------- */

static void *loop_main(void *arg)
{
	struct iofault_fs *fs = arg;
	int r = fuse_session_loop_mt(fs->se, fs->loop_cfg);
	if (r < 0 && r != -ENODEV)
		log_debug("io-fault: session loop ended: %s", strerror(-r));
	return NULL;
}

static void free_nodes(struct iofault_fs *fs)
{
	for (size_t b = 0; b < NODE_BUCKETS; b++) {
		struct node *n = fs->buckets[b];
		while (n) {
			struct node *next = n->next;
			close(n->fd);
			free(n);
			n = next;
		}
		fs->buckets[b] = NULL;
	}
}

static void fs_free(struct iofault_fs *fs)
{
	if (fs->se)
		fuse_session_destroy(fs->se); /* closes the /dev/fuse fd */
	if (fs->loop_cfg)
		fuse_loop_cfg_destroy(fs->loop_cfg);
	free_nodes(fs);
	while (fs->open_list.next != &fs->open_list) {
		struct open_link *l = fs->open_list.next;
		open_untrack(fs, l);
		if (l->is_dir) {
			closedir(((struct open_dir *)l)->dir);
		} else {
			close(((struct open_file *)l)->fd);
		}
		free(l);
	}
	if (fs->root.fd >= 0)
		close(fs->root.fd);
	pthread_cond_destroy(&fs->stop_cond);
	pthread_mutex_destroy(&fs->stop_lock);
	pthread_mutex_destroy(&fs->lock);
	free(fs);
}

/* Ends a connection whose mount is gone from every path but still used:
 * /sys/fs/fuse/connections/<dev>/abort. fusectl is mounted for that when it is
 * not, and unmounted again: the host is left with the mounts it had. */
static int abort_connection(dev_t dev)
{
	char path[128];
	snprintf(path, sizeof(path), FUSECTL_DIR "/%u/abort", (unsigned)minor(dev));
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool mounted_here = false;
	if (fd < 0 && errno == ENOENT && mount("fusectl", FUSECTL_DIR, "fusectl", 0, NULL) == 0) {
		mounted_here = true;
		fd = open(path, O_WRONLY | O_CLOEXEC);
	}
	int r = fd < 0 ? -errno : 0;
	if (fd >= 0) {
		r = write(fd, "1", 1) == 1 ? 0 : -errno;
		close(fd);
	}
	if (mounted_here && umount2(FUSECTL_DIR, MNT_DETACH) < 0)
		log_warn("io-fault: cannot unmount the fusectl mounted at %s: %s", FUSECTL_DIR, strerror(errno));
	return r;
}

/* A process of another mount namespace that still has the mount (copied there
 * when it unshared its namespace): the usual reason the filesystem outlives our
 * unmount. "" when none is found. */
static void find_other_holder(dev_t dev, char *buf, size_t len)
{
	buf[0] = 0;
	struct stat self;
	if (stat("/proc/self/ns/mnt", &self) < 0)
		return;
	DIR *proc = opendir("/proc");
	if (!proc)
		return;
	ino_t seen[64];
	int n_seen = 0;
	char want[32];
	snprintf(want, sizeof(want), " %u:%u ", major(dev), minor(dev));
	struct dirent *de;
	while (!buf[0] && (de = readdir(proc))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		char path[300];
		struct stat ns;
		snprintf(path, sizeof(path), "/proc/%s/ns/mnt", de->d_name);
		if (stat(path, &ns) < 0 || ns.st_ino == self.st_ino)
			continue;
		bool known = false;
		for (int i = 0; i < n_seen; i++)
			known |= seen[i] == ns.st_ino;
		if (known)
			continue;
		if (n_seen < 64)
			seen[n_seen++] = ns.st_ino;
		snprintf(path, sizeof(path), "/proc/%s/mountinfo", de->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		char line[4096];
		while (fgets(line, sizeof(line), f)) {
			if (strstr(line, want) && strstr(line, IOFAULT_FSNAME_PREFIX)) {
				char comm[64] = "?";
				snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
				FILE *c = fopen(path, "re");
				if (c) {
					if (fgets(comm, sizeof(comm), c))
						comm[strcspn(comm, "\n")] = 0;
					fclose(c);
				}
				snprintf(buf, len, " (pid %s, %s, holds a copy in mount namespace %lu)", de->d_name, comm,
					 (unsigned long)ns.st_ino);
				break;
			}
		}
		fclose(f);
	}
	closedir(proc);
}

static void stop_threads(struct iofault_fs *fs, bool unmounted)
{
	if (!fs->loop_started)
		return;
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += unmounted ? IOFAULT_DRAIN_MS / 1000 : 0;
	if (pthread_timedjoin_np(fs->loop_thread, NULL, &deadline) == 0)
		return;
	char holder[512];
	find_other_holder(fs->mount_dev, holder, sizeof(holder));
	int r = abort_connection(fs->mount_dev);
	if (r < 0)
		log_error("io-fault: cannot abort FUSE connection %u: %s", (unsigned)minor(fs->mount_dev), strerror(-r));
	else if (unmounted)
		log_warn("io-fault: %s was still in use %d ms after the unmount%s: connection aborted, the remaining "
			 "users get ENOTCONN", fs->spec.path, IOFAULT_DRAIN_MS, holder);
	pthread_join(fs->loop_thread, NULL);
}

int iofault_fs_start(const struct iofault_spec *spec, const char *fsname, struct iofault_fs **out, char *why,
		     size_t why_len)
{
	struct iofault_fs *fs = calloc(1, sizeof(*fs));
	if (!fs) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	fs->spec = *spec;
	fs->root.fd = -1;
	fs->open_list.next = fs->open_list.prev = &fs->open_list;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->stop_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fs->stop_cond, &ca);
	pthread_condattr_destroy(&ca);
	const uint32_t metadata = 1u << IOF_LOOKUP | 1u << IOF_GETATTR;
	fs->timeout = (spec->ops & metadata) ? 0.0 : CACHE_TIMEOUT_S;
	fs->data_direct = spec->ops & (1u << IOF_READ | 1u << IOF_WRITE);

	int r;
	int devfd = -1;
	fs->root.fd = open(spec->path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fs->root.fd < 0 || fstat(fs->root.fd, &st) < 0) {
		r = -errno;
		snprintf(why, why_len, "cannot open %s: %s", spec->path, strerror(-r));
		goto fail;
	}
	fs->root.dev = st.st_dev;
	fs->root.ino = st.st_ino;
	char link[64];
	proc_fd_path(fs->root.fd, link, sizeof(link));
	ssize_t got = readlink(link, fs->root_path, sizeof(fs->root_path) - 1);
	if (got <= 0) {
		r = got < 0 ? -errno : -EIO;
		snprintf(why, why_len, "cannot read back %s: %s", link, strerror(-r));
		goto fail;
	}
	fs->root_path[got] = 0;
	fs->root_len = strcmp(fs->root_path, "/") == 0 ? 0 : (size_t)got;

	char *argv[] = { "chaoskit-io", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	fs->se = fuse_session_new(&args, &passthrough_ops, sizeof(passthrough_ops), fs);
	fuse_opt_free_args(&args);
	fs->loop_cfg = fuse_loop_cfg_create();
	if (!fs->se || !fs->loop_cfg) {
		r = -ENOMEM;
		snprintf(why, why_len, "cannot create the FUSE session");
		goto fail;
	}
	fuse_loop_cfg_set_max_threads(fs->loop_cfg, MAX_WORKERS);
	fuse_loop_cfg_set_idle_threads(fs->loop_cfg, 4);

	devfd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (devfd < 0) {
		r = -errno;
		snprintf(why, why_len, "cannot open /dev/fuse: %s", strerror(-r));
		goto fail;
	}
	char devpath[32];
	snprintf(devpath, sizeof(devpath), "/dev/fd/%d", devfd);
	if (fuse_session_mount(fs->se, devpath) != 0) {
		r = -EIO;
		snprintf(why, why_len, "libfuse refused the /dev/fuse fd");
		goto fail;
	}
	int devfd_owned_by_session = devfd;
	devfd = -1;
	char opts[256];
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=%o,user_id=0,group_id=0,allow_other,default_permissions",
		 devfd_owned_by_session, (unsigned)(st.st_mode & S_IFMT));
	if (mount(fsname, spec->path, IOFAULT_FSTYPE, MS_NOSUID | MS_NODEV, opts) < 0) {
		r = -errno;
		snprintf(why, why_len, "mount of FUSE over %s: %s", spec->path, strerror(-r));
		goto fail;
	}
	r = -pthread_create(&fs->loop_thread, NULL, loop_main, fs);
	if (r < 0) {
		snprintf(why, why_len, "cannot start the FUSE threads: %s", strerror(-r));
		umount2(spec->path, MNT_DETACH | UMOUNT_NOFOLLOW);
		goto fail;
	}
	fs->loop_started = true;
	/* The first request through the mount answers INIT and proves the daemon
	 * serves before the fault counts as applied. */
	struct stat mst;
	if (stat(spec->path, &mst) < 0) {
		r = -errno;
		snprintf(why, why_len, "the FUSE mount over %s does not answer: %s", spec->path, strerror(-r));
		if (umount2(spec->path, UMOUNT_NOFOLLOW) < 0)
			umount2(spec->path, MNT_DETACH | UMOUNT_NOFOLLOW);
		stop_threads(fs, true);
		goto fail;
	}
	fs->mount_dev = mst.st_dev;
	atomic_store_explicit(&fs->armed, true, memory_order_release);
	*out = fs;
	return 0;
fail:
	if (devfd >= 0)
		close(devfd);
	fs_free(fs);
	return r;
}

int iofault_fs_stop(struct iofault_fs *fs)
{
	atomic_store_explicit(&fs->armed, false, memory_order_release);
	pthread_mutex_lock(&fs->stop_lock);
	fs->stopping = true;
	pthread_cond_broadcast(&fs->stop_cond);
	pthread_mutex_unlock(&fs->stop_lock);

	char fsname_top[256];
	top_mount_source(fs->spec.path, fsname_top, sizeof(fsname_top));
	int r = 0;
	bool unmounted = false;
	struct stat st;
	/* Only when the topmost mount at the path is ours: umount2 takes the top one. */
	if (strncmp(fsname_top, IOFAULT_FSNAME_PREFIX, strlen(IOFAULT_FSNAME_PREFIX)) == 0 &&
	    stat(fs->spec.path, &st) == 0 && st.st_dev == fs->mount_dev) {
		if (umount2(fs->spec.path, UMOUNT_NOFOLLOW) == 0) {
			unmounted = true;
		} else if (errno == EBUSY && umount2(fs->spec.path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {
			log_info("io-fault: %s is busy: detached lazily", fs->spec.path);
			unmounted = true;
		} else {
			r = -errno;
			log_error("io-fault: unmounting %s: %s", fs->spec.path, strerror(errno));
		}
	} else if (mount_dev_listed(fs->mount_dev)) {
		r = -EBUSY;
		log_error("io-fault: the mount over %s is not the topmost one there any more; its connection is "
			  "aborted instead", fs->spec.path);
	} else {
		log_warn("io-fault: the mount over %s was already removed by someone else", fs->spec.path);
	}
	stop_threads(fs, unmounted);
	fs_free(fs);
	return r;
}

void iofault_fs_counts(struct iofault_fs *fs, struct iofault_op_counts counts[IOF_N_OPS])
{
	for (int i = 0; i < IOF_N_OPS; i++) {
		counts[i].seen = atomic_load_explicit(&fs->seen[i], memory_order_relaxed);
		counts[i].faulted = atomic_load_explicit(&fs->faulted[i], memory_order_relaxed);
		counts[i].delayed = atomic_load_explicit(&fs->delayed[i], memory_order_relaxed);
	}
}
