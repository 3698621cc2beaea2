/*
 * The file backend: one object is one regular file under a root directory;
 * the key's segments are directories.
 *
 * Security: every key is resolved beneath the root's directory fd and no
 * symbolic link inside the store is followed (openat2 with RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS, or a segment-by-segment openat(O_NOFOLLOW) walk where
 * openat2 is missing).  Failures of the fast path are diagnosed by the walk,
 * which names the offending component.
 *
 * Durability: a put writes a temporary file (".tess-tmp-<random>") in the
 * target directory, fsyncs it, renames it over the final name (or links it,
 * for put-if-absent) and fsyncs the directory.  Temporary names are reserved:
 * no key may have a segment starting with ".tess-tmp-" and listings skip them.
 *
 * Thread safety: the only shared state is the immutable root fd.
 */
#include "backend/builtin.h"
#include "util/error.h"
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TMP_PREFIX ".tess-tmp-"
#define TMP_PREFIX_LEN (sizeof TMP_PREFIX - 1)
#define TMP_NAME_MAX (TMP_PREFIX_LEN + 16 + 1)
/* A concurrent delete may remove a parent directory between our mkdir and
 * our create; we start over this many times before giving up. */
#define PUT_RETRIES 8
#define WRITER_BUFFER (64 * 1024)
/* Internal result: "start over", never returned to callers. */
#define RETRY 1
/* Internal result: the listing page is full. */
#define LIST_STOP 2

struct file_backend {
	tess_backend base;
	int root_fd;
};

/* ---- small helpers ------------------------------------------------------ */

static int is_tmp_name(const char *name, size_t len)
{
	return len >= TMP_PREFIX_LEN && memcmp(name, TMP_PREFIX, TMP_PREFIX_LEN) == 0;
}

static int64_t stat_mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static void close_dir(struct file_backend *fb, int fd)
{
	if (fd >= 0 && fd != fb->root_fd)
		close(fd);
}

/* The store validated the key already; we check again because a ".."
 * reaching the walk would escape the root, and we refuse our own names. */
static int check_key(const char *op, const char *key)
{
	int rc = tess_key_check(key);
	if (rc)
		return tess_err_prefix(rc, "file backend: %s: ", op);
	for (const char *seg = key;;) {
		const char *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
		if (is_tmp_name(seg, len))
			return tess_err(TESS_EINVAL, "file backend: %s '%s': segments starting "
			                "with '" TMP_PREFIX "' are reserved for temporary files", op, key);
		if (!slash)
			return 0;
		seg = slash + 1;
	}
}

/* ---- resolving keys beneath the root ------------------------------------- */

#if defined(SYS_openat2) && !defined(TESS_FILE_NO_OPENAT2)
#define HAVE_OPENAT2 1
static atomic_int openat2_missing;
#endif

/* openat2 confined to the root without symlinks; -1 with errno, ENOSYS when
 * the kernel lacks it (then we remember and always walk).  Building with
 * -DTESS_FILE_NO_OPENAT2 forces the walk, to test it. */
static int open_beneath(int root_fd, const char *path, int flags)
{
#ifdef HAVE_OPENAT2
	if (!atomic_load_explicit(&openat2_missing, memory_order_relaxed)) {
		struct open_how how = {
			.flags = (uint64_t)(flags | O_CLOEXEC),
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
		};
		long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof how);
		if (fd >= 0 || errno != ENOSYS)
			return (int)fd;
		atomic_store_explicit(&openat2_missing, 1, memory_order_relaxed);
	}
#else
	(void)root_fd; (void)path; (void)flags;
#endif
	errno = ENOSYS;
	return -1;
}

/* Component `comp` (the first comp_len bytes of key) could not be opened as
 * a directory: say why. */
static int not_a_directory(int parent_fd, const char *seg, const char *op,
                           const char *key, size_t comp_len, int create)
{
	struct stat st;
	if (fstatat(parent_fd, seg, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return create ? RETRY : tess_err(TESS_ENOTFOUND,
			                "file backend: %s '%s': no such object", op, key);
		return tess_err(tess_errno_code(errno), "file backend: %s '%s': stat '%.*s': %s",
		                op, key, (int)comp_len, key, strerror(errno));
	}
	if (S_ISLNK(st.st_mode))
		return tess_err(TESS_EPERM, "file backend: %s '%s': '%.*s' is a symbolic link; "
		                "links inside a store are not followed", op, key, (int)comp_len, key);
	if (S_ISDIR(st.st_mode))
		return RETRY; /* it was replaced while we looked */
	if (create)
		return tess_err(TESS_ECONFLICT, "file backend: %s '%s': '%.*s' is an object, "
		                "so nothing can be stored under it", op, key, (int)comp_len, key);
	return tess_err(TESS_ENOTFOUND, "file backend: %s '%s': no such object ('%.*s' is an "
	                "object, not a prefix)", op, key, (int)comp_len, key);
}

/* Open (with `create`, make) the directory `seg` inside parent_fd into *out.
 * Returns 0, RETRY when the parent vanished under us, or a negative code. */
static int open_segment(int parent_fd, const char *seg, const char *op, const char *key,
                        size_t comp_len, int create, int *out)
{
	for (int attempt = 0; attempt < PUT_RETRIES; attempt++) {
		int fd = openat(parent_fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			*out = fd;
			return 0;
		}
		int e = errno;
		if (e == ENOENT && !create)
			return tess_err(TESS_ENOTFOUND, "file backend: %s '%s': no such object", op, key);
		if (e == ENOENT) {
			if (mkdirat(parent_fd, seg, 0777) == 0) {
				/* The new entry must survive a crash like the object will. */
				if (fsync(parent_fd) != 0)
					return tess_err(TESS_EIO, "file backend: %s '%s': fsync of the directory "
					                "holding '%.*s': %s", op, key, (int)comp_len, key,
					                strerror(errno));
			} else if (errno == ENOENT) {
				return RETRY; /* our parent was removed by a concurrent delete */
			} else if (errno != EEXIST) {
				return tess_err(tess_errno_code(errno), "file backend: %s '%s': mkdir "
				                "'%.*s': %s", op, key, (int)comp_len, key, strerror(errno));
			}
			continue;
		}
		if (e == ENOTDIR || e == ELOOP) {
			int rc = not_a_directory(parent_fd, seg, op, key, comp_len, create);
			if (rc != RETRY)
				return rc;
			continue;
		}
		return tess_err(tess_errno_code(e), "file backend: %s '%s': open '%.*s': %s",
		                op, key, (int)comp_len, key, strerror(e));
	}
	return RETRY;
}

/* Walk the first dir_len bytes of key, segment by segment, never following
 * a link.  *out is an fd to close with close_dir. */
static int walk_dir(struct file_backend *fb, const char *op, const char *key,
                    size_t dir_len, int create, int *out)
{
	int fd = fb->root_fd;
	char seg[TESS_KEY_SEGMENT_MAX + 1];
	size_t start = 0;
	while (start < dir_len) {
		const char *slash = memchr(key + start, '/', dir_len - start);
		size_t end = slash ? (size_t)(slash - key) : dir_len;
		size_t len = end - start;
		/* Keys are checked, but list prefixes are not: never step outside. */
		if (len == 0 || len > TESS_KEY_SEGMENT_MAX || (len == 1 && key[start] == '.') ||
		    (len == 2 && key[start] == '.' && key[start + 1] == '.')) {
			close_dir(fb, fd);
			return tess_err(TESS_ENOTFOUND, "file backend: %s '%s': no such object "
			                "(invalid segment)", op, key);
		}
		memcpy(seg, key + start, len);
		seg[len] = '\0';
		int next = -1;
		int rc = open_segment(fd, seg, op, key, end, create, &next);
		close_dir(fb, fd);
		if (rc)
			return rc;
		fd = next;
		start = end + 1;
	}
	*out = fd;
	return 0;
}

/* Open the directory made of the first dir_len bytes of key (the root when
 * dir_len is 0). */
static int open_dir(struct file_backend *fb, const char *op, const char *key,
                    size_t dir_len, int create, int *out)
{
	if (dir_len == 0) {
		*out = fb->root_fd;
		return 0;
	}
	char path[TESS_KEY_MAX + 1];
	if (dir_len > TESS_KEY_MAX)
		return tess_err(TESS_ENOTFOUND, "file backend: %s '%s': no such object", op, key);
	memcpy(path, key, dir_len);
	path[dir_len] = '\0';
	int fd = open_beneath(fb->root_fd, path, O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		*out = fd;
		return 0;
	}
	if (errno == ENOENT && !create)
		return tess_err(TESS_ENOTFOUND, "file backend: %s '%s': no such object", op, key);
	/* Missing parts to create, a link or a file in the way, no openat2:
	 * the walk does the work or names the culprit. */
	return walk_dir(fb, op, key, dir_len, create, out);
}

/* The directory holding key, and the key's last segment. */
static int open_parent(struct file_backend *fb, const char *op, const char *key,
                       int create, int *dir_fd, const char **leaf)
{
	const char *slash = strrchr(key, '/');
	*leaf = slash ? slash + 1 : key;
	return open_dir(fb, op, key, slash ? (size_t)(slash - key) : 0, create, dir_fd);
}

/* Open the object `key` as a regular file; fills st. */
static int open_object(struct file_backend *fb, const char *op, const char *key,
                       int flags, int *out, struct stat *st)
{
	int fd = open_beneath(fb->root_fd, key, flags);
	if (fd < 0) {
		if (errno == ENOENT)
			return tess_err(TESS_ENOTFOUND, "file backend: %s '%s': no such object", op, key);
		int dir_fd;
		const char *leaf;
		int rc = open_parent(fb, op, key, 0, &dir_fd, &leaf);
		if (rc)
			return rc == RETRY ? tess_err(TESS_ENOTFOUND, "file backend: %s '%s': no such "
			                              "object", op, key) : rc;
		fd = openat(dir_fd, leaf, flags | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		close_dir(fb, dir_fd);
		if (fd < 0) {
			if (e == ENOENT)
				return tess_err(TESS_ENOTFOUND, "file backend: %s '%s': no such object", op, key);
			if (e == ELOOP)
				return tess_err(TESS_EPERM, "file backend: %s '%s': '%s' is a symbolic link; "
				                "links inside a store are not followed", op, key, key);
			return tess_err(tess_errno_code(e), "file backend: %s '%s': open: %s",
			                op, key, strerror(e));
		}
	}
	if (fstat(fd, st) != 0) {
		int e = errno;
		close(fd);
		return tess_err(TESS_EIO, "file backend: %s '%s': fstat: %s", op, key, strerror(e));
	}
	if (S_ISREG(st->st_mode)) {
		*out = fd;
		return 0;
	}
	close(fd);
	if (S_ISDIR(st->st_mode))
		return tess_err(TESS_ENOTFOUND, "file backend: %s '%s': no such object (it is a "
		                "prefix of other objects)", op, key);
	if (S_ISLNK(st->st_mode))
		return tess_err(TESS_EPERM, "file backend: %s '%s': '%s' is a symbolic link; "
		                "links inside a store are not followed", op, key, key);
	return tess_err(TESS_EPERM, "file backend: %s '%s': not a regular file", op, key);
}

/* ---- open / close ------------------------------------------------------- */


static int file_open(tess_backend **out, const char *location, const char *query,
                     unsigned flags)
{
	(void)query; /* the file backend has no options; the store owns the query */
	*out = NULL;
	if (!location || !*location)
		return tess_err(TESS_EINVAL, "file backend: empty directory path");
	if (flags & TESS_BACKEND_CREATE) {
		int rc = tess_mkdir_p(location, 1);
		if (rc)
			return rc;
	}
	int fd = open(location, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return tess_err(TESS_ENOTFOUND, "file backend: no directory at '%s'", location);
		if (e == ENOTDIR)
			return tess_err(TESS_ECONFLICT, "file backend: '%s' is not a directory", location);
		return tess_err(tess_errno_code(e), "file backend: open '%s': %s", location, strerror(e));
	}
	struct file_backend *fb = calloc(1, sizeof *fb);
	if (!fb) {
		close(fd);
		return tess_err(TESS_ENOMEM, "file backend: out of memory opening '%s'", location);
	}
	fb->base.ops = &tess_backend_file_ops;
	fb->root_fd = fd;
	*out = &fb->base;
	return 0;
}

static void file_close(tess_backend *be)
{
	if (!be)
		return;
	struct file_backend *fb = (struct file_backend *)be;
	close(fb->root_fd);
	free(fb);
}

/* ---- get / stat ----------------------------------------------------------- */

static int file_get(tess_backend *be, const char *key, uint64_t offset, uint64_t length,
                    tess_buf *out)
{
	struct file_backend *fb = (struct file_backend *)be;
	int rc = check_key("get", key);
	if (rc)
		return rc;
	int fd;
	struct stat st;
	rc = open_object(fb, "get", key, O_RDONLY | O_NONBLOCK | O_NOCTTY, &fd, &st);
	if (rc)
		return rc;
	uint64_t size = (uint64_t)st.st_size;
	if (offset > size) {
		close(fd);
		return tess_err(TESS_ERANGE, "file backend: get '%s': offset %llu is past the end "
		                "(%llu bytes)", key, (unsigned long long)offset, (unsigned long long)size);
	}
	uint64_t want = size - offset < length ? size - offset : length;
	if (want > SIZE_MAX) {
		close(fd);
		return tess_err(TESS_ENOMEM, "file backend: get '%s': %llu bytes do not fit in memory",
		                key, (unsigned long long)want);
	}
	/* One allocation for the whole range. */
	rc = tess_buf_reserve(out, (size_t)want);
	if (rc) {
		close(fd);
		return tess_err_prefix(rc, "file backend: get '%s': ", key);
	}
	size_t got = 0;
	while (got < want) {
		ssize_t n = pread(fd, out->data + out->len + got, (size_t)want - got,
		                  (off_t)(offset + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			return tess_err(TESS_EIO, "file backend: get '%s': read at %llu: %s", key,
			                (unsigned long long)(offset + got), strerror(e));
		}
		if (n == 0)
			break; /* shrunk by someone outside the store: give what is there */
		got += (size_t)n;
	}
	close(fd);
	out->len += got;
	return 0;
}

static void format_etag(char etag[72], const struct stat *st)
{
	snprintf(etag, 72, "%llx-%llx-%llx", (unsigned long long)st->st_ino,
	         (unsigned long long)st->st_size, (unsigned long long)stat_mtime_ns(st));
}

static int file_stat(tess_backend *be, const char *key, tess_stat *out)
{
	struct file_backend *fb = (struct file_backend *)be;
	int rc = check_key("stat", key);
	if (rc)
		return rc;
	int fd;
	struct stat st;
	rc = open_object(fb, "stat", key, O_PATH, &fd, &st);
	if (rc)
		return rc;
	close(fd);
	out->size = (uint64_t)st.st_size;
	out->mtime_ns = stat_mtime_ns(&st);
	format_etag(out->etag, &st);
	return 0;
}

/* ---- put: temporary file, then publish ------------------------------------ */

struct tmp_file {
	int dir_fd;
	int fd;
	const char *leaf;
	char name[TMP_NAME_MAX];
};

static void tmp_random_name(char name[TMP_NAME_MAX])
{
	uint64_t r;
	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
		/* No entropy yet: O_EXCL keeps us safe, uniqueness is only speed. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		r = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)gettid() << 40);
	}
	snprintf(name, TMP_NAME_MAX, TMP_PREFIX "%016llx", (unsigned long long)r);
}

/* What is at the leaf must be nothing or an object; an empty directory (left
 * by a crash or a racing delete) is removed, as it holds no object. */
static int check_leaf_for_put(int dir_fd, const char *op, const char *key, const char *leaf)
{
	struct stat st;
	if (fstatat(dir_fd, leaf, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return 0;
		return tess_err(tess_errno_code(errno), "file backend: %s '%s': stat: %s",
		                op, key, strerror(errno));
	}
	if (S_ISREG(st.st_mode))
		return 0;
	if (S_ISLNK(st.st_mode))
		return tess_err(TESS_EPERM, "file backend: %s '%s': '%s' is a symbolic link; "
		                "links inside a store are not followed", op, key, key);
	if (!S_ISDIR(st.st_mode))
		return tess_err(TESS_EPERM, "file backend: %s '%s': not a regular file", op, key);
	if (unlinkat(dir_fd, leaf, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return 0;
	return tess_err(TESS_ECONFLICT, "file backend: %s '%s': '%s' is a prefix of other "
	                "objects, so it cannot be an object", op, key, key);
}

/* Parent directories (created as needed) and a fresh temporary file. */
static int tmp_create(struct file_backend *fb, const char *op, const char *key,
                      struct tmp_file *t)
{
	t->fd = -1;
	int rc = open_parent(fb, op, key, 1, &t->dir_fd, &t->leaf);
	if (rc)
		return rc;
	rc = check_leaf_for_put(t->dir_fd, op, key, t->leaf);
	for (int tries = 0; !rc && tries < 16; tries++) {
		tmp_random_name(t->name);
		t->fd = openat(t->dir_fd, t->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (t->fd >= 0)
			return 0;
		if (errno == EEXIST)
			continue;
		if (errno == ENOENT)
			rc = RETRY; /* a concurrent delete removed the directory */
		else
			rc = tess_err(tess_errno_code(errno), "file backend: %s '%s': create a "
			              "temporary file: %s", op, key, strerror(errno));
	}
	if (!rc)
		rc = tess_err(TESS_EIO, "file backend: %s '%s': no free temporary name", op, key);
	close_dir(fb, t->dir_fd);
	t->dir_fd = -1;
	return rc;
}

/* tmp_create with retries for directories that vanish under us. */
static int tmp_create_retrying(struct file_backend *fb, const char *op, const char *key,
                               struct tmp_file *t)
{
	for (int attempt = 0; attempt < PUT_RETRIES; attempt++) {
		int rc = tmp_create(fb, op, key, t);
		if (rc != RETRY)
			return rc;
	}
	return tess_err(TESS_EIO, "file backend: %s '%s': the parent directory keeps "
	                "disappearing (concurrent deletes?)", op, key);
}

/* Drop the temporary file and the directory fd. */
static void tmp_discard(struct file_backend *fb, struct tmp_file *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->dir_fd >= 0)
		unlinkat(t->dir_fd, t->name, 0);
	close_dir(fb, t->dir_fd);
	t->dir_fd = -1;
}

static int write_all(int fd, const void *data, size_t len, const char *op, const char *key)
{
	int e = tess_write_full(fd, data, len);
	if (e)
		return tess_err(e == ENOMEM ? TESS_ENOMEM : TESS_EIO,
		                "file backend: %s '%s': write: %s", op, key, strerror(e));
	return 0;
}

/* Stamp, fsync and close the temporary file.  The mtime is set from the
 * nanosecond clock so that the etag (inode, size, mtime) changes on every
 * put even when a coarse file-system clock and inode reuse coincide. */
static int tmp_seal(struct tmp_file *t, const char *op, const char *key)
{
	struct timespec now[2];
	clock_gettime(CLOCK_REALTIME, &now[0]);
	now[1] = now[0];
	futimens(t->fd, now);
	if (fsync(t->fd) != 0)
		return tess_err(TESS_EIO, "file backend: %s '%s': fsync: %s", op, key, strerror(errno));
	int rc = close(t->fd);
	t->fd = -1;
	if (rc != 0 && errno != EINTR)
		return tess_err(TESS_EIO, "file backend: %s '%s': close: %s", op, key, strerror(errno));
	return 0;
}

/* Why the final name is taken, for put-if-absent; RETRY if it vanished or an
 * empty directory could be removed. */
static int explain_taken(int dir_fd, const char *op, const char *key, const char *leaf)
{
	struct stat st;
	if (fstatat(dir_fd, leaf, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? RETRY : tess_err(TESS_EIO, "file backend: %s '%s': stat: %s",
		                                          op, key, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		if (unlinkat(dir_fd, leaf, AT_REMOVEDIR) == 0 || errno == ENOENT)
			return RETRY;
		return tess_err(TESS_ECONFLICT, "file backend: %s '%s': '%s' is a prefix of other "
		                "objects, so it cannot be an object", op, key, key);
	}
	if (S_ISLNK(st.st_mode))
		return tess_err(TESS_EPERM, "file backend: %s '%s': '%s' is a symbolic link; "
		                "links inside a store are not followed", op, key, key);
	return tess_err(TESS_EEXISTS, "file backend: %s '%s': already exists (put-if-absent)",
	                op, key);
}

/* Make the sealed temporary file the object: rename over the final name,
 * or link it (which fails atomically if the name exists) for put-if-absent.
 * The directory is not fsynced here.  On failure the temp file remains. */
static int tmp_publish(struct tmp_file *t, const char *op, const char *key, unsigned flags)
{
	for (int attempt = 0; attempt < 4; attempt++) {
		if (flags & TESS_PUT_IF_ABSENT) {
			if (linkat(t->dir_fd, t->name, t->dir_fd, t->leaf, 0) == 0) {
				unlinkat(t->dir_fd, t->name, 0);
				return 0;
			}
			if (errno != EEXIST)
				return tess_err(tess_errno_code(errno), "file backend: %s '%s': link: %s",
				                op, key, strerror(errno));
			int rc = explain_taken(t->dir_fd, op, key, t->leaf);
			if (rc != RETRY)
				return rc;
			continue;
		}
		if (renameat(t->dir_fd, t->name, t->dir_fd, t->leaf) == 0)
			return 0;
		if (errno != EISDIR)
			return tess_err(tess_errno_code(errno), "file backend: %s '%s': rename: %s",
			                op, key, strerror(errno));
		/* A directory appeared at the name: fine if it is empty. */
		if (unlinkat(t->dir_fd, t->leaf, AT_REMOVEDIR) != 0 && errno != ENOENT)
			return tess_err(TESS_ECONFLICT, "file backend: %s '%s': '%s' is a prefix of "
			                "other objects, so it cannot be an object", op, key, key);
	}
	return tess_err(TESS_ECONFLICT, "file backend: %s '%s': the name keeps changing under "
	                "a concurrent writer", op, key);
}

static int fsync_dir(int dir_fd, const char *op, const char *key)
{
	if (fsync(dir_fd) != 0)
		return tess_err(TESS_EIO, "file backend: %s '%s': fsync of the directory: %s",
		                op, key, strerror(errno));
	return 0;
}

/* A whole put.  With keep_dir, the directory fd is handed to the caller
 * (who fsyncs it later) instead of being fsynced and closed. */
static int put_object(struct file_backend *fb, const char *key, const void *data,
                      size_t len, unsigned flags, int *keep_dir)
{
	int rc = check_key("put", key);
	if (rc)
		return rc;
	struct tmp_file t;
	rc = tmp_create_retrying(fb, "put", key, &t);
	if (rc)
		return rc;
	rc = write_all(t.fd, data, len, "put", key);
	if (!rc)
		rc = tmp_seal(&t, "put", key);
	if (!rc)
		rc = tmp_publish(&t, "put", key, flags);
	if (rc) {
		tmp_discard(fb, &t);
		return rc;
	}
	if (keep_dir) {
		*keep_dir = t.dir_fd;
		return 0;
	}
	rc = fsync_dir(t.dir_fd, "put", key);
	close_dir(fb, t.dir_fd);
	return rc;
}

static int file_put(tess_backend *be, const char *key, const void *data, size_t len,
                    unsigned flags)
{
	return put_object((struct file_backend *)be, key, data, len, flags, NULL);
}

/* ---- put_many: one directory fsync per distinct directory ------------------ */

struct put_order {
	const char *key;
	size_t dir_len;
	size_t index;
};

static int put_order_cmp(const void *a, const void *b)
{
	const struct put_order *x = a, *y = b;
	int c = tess_cmp_bytes(x->key, x->dir_len, y->key, y->dir_len);
	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* The directory whose fsync is pending and the requests that wait on it. */
struct pending_dir {
	int fd;
	dev_t dev;
	ino_t ino;
	size_t first; /* position in the order of the first waiting request */
};

static void pending_flush(struct file_backend *fb, struct pending_dir *p,
                          const struct put_order *order, size_t end, tess_put_req *reqs)
{
	if (p->fd < 0)
		return;
	if (fsync(p->fd) != 0) {
		int e = errno;
		for (size_t i = p->first; i < end; i++) {
			tess_put_req *r = &reqs[order[i].index];
			if (r->status == 0)
				r->status = tess_err(TESS_EIO, "file backend: put '%s': fsync of the "
				                     "directory: %s", r->key, strerror(e));
		}
	}
	close_dir(fb, p->fd);
	p->fd = -1;
}

static int file_put_many(tess_backend *be, tess_put_req *reqs, size_t n)
{
	struct file_backend *fb = (struct file_backend *)be;
	if (n == 0)
		return 0;
	if (!reqs)
		return tess_err(TESS_EINVAL, "file backend: put_many: NULL requests");
	struct put_order *order = malloc(n * sizeof *order);
	if (!order)
		return tess_err(TESS_ENOMEM, "file backend: put_many: out of memory for %zu requests", n);
	for (size_t i = 0; i < n; i++) {
		const char *slash = reqs[i].key ? strrchr(reqs[i].key, '/') : NULL;
		order[i] = (struct put_order){reqs[i].key ? reqs[i].key : "",
		                              slash ? (size_t)(slash - reqs[i].key) : 0, i};
	}
	/* Same directory together, request order kept within it. */
	qsort(order, n, sizeof *order, put_order_cmp);
	struct pending_dir p = {.fd = -1};
	for (size_t i = 0; i < n; i++) {
		tess_put_req *r = &reqs[order[i].index];
		int dir_fd = -1;
		r->status = put_object(fb, r->key, r->data, r->len, r->flags, &dir_fd);
		if (r->status)
			continue;
		struct stat st;
		if (fstat(dir_fd, &st) != 0) {
			r->status = tess_err(TESS_EIO, "file backend: put '%s': fstat of the directory: "
			                     "%s", r->key, strerror(errno));
			close_dir(fb, dir_fd);
			continue;
		}
		if (p.fd >= 0 && st.st_dev == p.dev && st.st_ino == p.ino) {
			close_dir(fb, dir_fd);
			continue;
		}
		pending_flush(fb, &p, order, i, reqs);
		p = (struct pending_dir){dir_fd, st.st_dev, st.st_ino, i};
	}
	pending_flush(fb, &p, order, n, reqs);
	free(order);
	return 0;
}

/* ---- streaming writer ------------------------------------------------------ */

static void prune_parents(struct file_backend *fb, const char *key);

struct file_writer {
	tess_writer base;
	struct tmp_file tmp;
	unsigned flags;
	int error;      /* sticky: after a failed write, commit fails too */
	size_t buffered;
	char *key;
	uint8_t buffer[WRITER_BUFFER];
};

static int file_writer_open(tess_backend *be, tess_writer **out, const char *key,
                            uint64_t size, unsigned flags)
{
	struct file_backend *fb = (struct file_backend *)be;
	*out = NULL;
	int rc = check_key("write", key);
	if (rc)
		return rc;
	struct file_writer *w = malloc(sizeof *w);
	char *key_copy = strdup(key);
	if (!w || !key_copy) {
		free(w);
		free(key_copy);
		return tess_err(TESS_ENOMEM, "file backend: write '%s': out of memory", key);
	}
	rc = tmp_create_retrying(fb, "write", key, &w->tmp);
	if (rc) {
		free(w);
		free(key_copy);
		return rc;
	}
	w->base.backend = be;
	w->flags = flags;
	w->error = 0;
	w->buffered = 0;
	w->key = key_copy;
	/* tmp.leaf points into the caller's key: repoint it at our copy. */
	w->tmp.leaf = key_copy + (w->tmp.leaf - key);
	*out = &w->base;
	return 0;
}

static int writer_flush(struct file_writer *w)
{
	int rc = write_all(w->tmp.fd, w->buffer, w->buffered, "write", w->key);
	w->buffered = 0;
	return rc;
}

static int file_writer_write(tess_writer *wr, const void *data, size_t len)
{
	struct file_writer *w = (struct file_writer *)wr;
	if (w->error)
		return tess_err(w->error, "file backend: write '%s': an earlier write failed", w->key);
	if (len == 0)
		return 0;
	int rc = 0;
	if (len <= sizeof w->buffer - w->buffered) {
		memcpy(w->buffer + w->buffered, data, len);
		w->buffered += len;
		return 0;
	}
	rc = writer_flush(w);
	if (!rc && len >= sizeof w->buffer)
		rc = write_all(w->tmp.fd, data, len, "write", w->key);
	else if (!rc) {
		memcpy(w->buffer, data, len);
		w->buffered = len;
	}
	w->error = rc;
	return rc;
}

static void writer_free(struct file_writer *w)
{
	free(w->key);
	free(w);
}

static void file_writer_abort(tess_writer *wr)
{
	if (!wr)
		return;
	struct file_writer *w = (struct file_writer *)wr;
	struct file_backend *fb = (struct file_backend *)w->base.backend;
	tmp_discard(fb, &w->tmp);
	/* Directories made for this object hold nothing now. */
	prune_parents(fb, w->key);
	writer_free(w);
}

static int file_writer_commit(tess_writer *wr)
{
	struct file_writer *w = (struct file_writer *)wr;
	struct file_backend *fb = (struct file_backend *)w->base.backend;
	int rc = w->error ? tess_err(w->error, "file backend: write '%s': not committed, an "
	                             "earlier write failed", w->key) : 0;
	if (!rc)
		rc = writer_flush(w);
	if (!rc)
		rc = tmp_seal(&w->tmp, "write", w->key);
	if (!rc)
		rc = tmp_publish(&w->tmp, "write", w->key, w->flags);
	if (rc) {
		tmp_discard(fb, &w->tmp);
		writer_free(w);
		return rc;
	}
	rc = fsync_dir(w->tmp.dir_fd, "write", w->key);
	close_dir(fb, w->tmp.dir_fd);
	writer_free(w);
	return rc;
}

/* ---- delete ------------------------------------------------------------------ */

/* Remove the now-empty directories above key, deepest first, so that a
 * prefix with no objects left disappears.  Stops at the first one that is
 * not empty; races with puts are harmless (they retry). */
static void prune_parents(struct file_backend *fb, const char *key)
{
	char path[TESS_KEY_MAX + 1];
	size_t len = strlen(key);
	memcpy(path, key, len + 1);
	for (;;) {
		char *slash = strrchr(path, '/');
		if (!slash)
			return;
		*slash = '\0';
		int dir_fd;
		const char *leaf;
		if (open_parent(fb, "delete", path, 0, &dir_fd, &leaf) != 0)
			return;
		int rc = unlinkat(dir_fd, leaf, AT_REMOVEDIR);
		close_dir(fb, dir_fd);
		if (rc != 0)
			return;
	}
}

static int file_del(tess_backend *be, const char *key)
{
	struct file_backend *fb = (struct file_backend *)be;
	int rc = check_key("delete", key);
	if (rc)
		return rc;
	int dir_fd;
	const char *leaf;
	rc = open_parent(fb, "delete", key, 0, &dir_fd, &leaf);
	if (rc)
		return rc == RETRY ? tess_err(TESS_ENOTFOUND, "file backend: delete '%s': no such "
		                              "object", key) : rc;
	struct stat st;
	if (fstatat(dir_fd, leaf, &st, AT_SYMLINK_NOFOLLOW) != 0)
		rc = errno == ENOENT ? tess_err(TESS_ENOTFOUND, "file backend: delete '%s': no such "
		                                "object", key)
		                     : tess_err(TESS_EIO, "file backend: delete '%s': stat: %s", key,
		                                strerror(errno));
	else if (S_ISDIR(st.st_mode))
		rc = tess_err(TESS_ENOTFOUND, "file backend: delete '%s': no such object (it is a "
		              "prefix of other objects)", key);
	else if (S_ISLNK(st.st_mode))
		rc = tess_err(TESS_EPERM, "file backend: delete '%s': '%s' is a symbolic link; "
		              "links inside a store are not followed", key, key);
	else if (!S_ISREG(st.st_mode))
		rc = tess_err(TESS_EPERM, "file backend: delete '%s': not a regular file", key);
	else if (unlinkat(dir_fd, leaf, 0) != 0)
		rc = errno == ENOENT ? tess_err(TESS_ENOTFOUND, "file backend: delete '%s': no such "
		                                "object", key)
		                     : tess_err(tess_errno_code(errno), "file backend: delete '%s': "
		                                "unlink: %s", key, strerror(errno));
	else
		rc = fsync_dir(dir_fd, "delete", key);
	close_dir(fb, dir_fd);
	if (!rc)
		prune_parents(fb, key);
	return rc;
}

/* ---- list ------------------------------------------------------------------- */

/*
 * Listing walks directories depth first.  Sorting one directory's entries by
 * name, a directory counting as name + "/", yields every key in global byte
 * order ("a.txt" < "a/b" < "a0").  A directory is read in passes that keep
 * only the next few entries (a bounded heap), so a directory of a million
 * files costs a million readdir steps per page but never a million names in
 * memory.  Subtrees wholly before start_after, outside the prefix, or rolled
 * up into one common prefix are not descended into (a rolled-up directory is
 * only probed for one object).
 */

struct list_item {
	char *name; /* the sort name: the entry name, plus '/' for a directory */
	size_t len;
	int is_dir;
};

struct list_batch {
	struct list_item *items;
	size_t count, cap;
	size_t seen; /* candidates offered in this pass */
};

struct lister {
	const char *prefix;
	size_t prefix_len;
	int delim; /* -1: none */
	const char *after;
	size_t after_len;
	size_t max;
	tess_list_page *page;
	size_t first; /* entries the page held before this call */
	size_t last_len; /* the last common prefix emitted; 0: none */
	char last[TESS_KEY_MAX + 1];
	char path[TESS_KEY_MAX + 2]; /* the entry being looked at, as a key */
};

enum list_visit { VISIT_SKIP, VISIT_OBJECT, VISIT_ROLLED_FILE, VISIT_ROLLED_DIR, VISIT_DESCEND };

/* Is this name (object key or common prefix) one the page may show? */
static int name_wanted(const struct lister *L, const char *name, size_t len)
{
	if (L->after && tess_cmp_bytes(name, len, L->after, L->after_len) <= 0)
		return 0;
	return !(L->last_len == len && memcmp(L->last, name, len) == 0);
}

/* May the subtree of keys starting with `dir` (which ends in '/') hold a key
 * after start_after? */
static int subtree_wanted(const struct lister *L, const char *dir, size_t len)
{
	if (!L->after || tess_cmp_bytes(dir, len, L->after, L->after_len) >= 0)
		return 1;
	return tess_starts_with(L->after, L->after_len, dir, len);
}

/* What to do with `full`: an object key, or a directory as "path/". */
static enum list_visit classify(const struct lister *L, const char *full, size_t len,
                                int is_dir, size_t *name_len)
{
	if (!tess_starts_with(full, len, L->prefix, L->prefix_len)) {
		/* Only a directory above the prefix ("a/" for prefix "a/b") matters. */
		if (is_dir && tess_starts_with(L->prefix, L->prefix_len, full, len))
			return subtree_wanted(L, full, len) ? VISIT_DESCEND : VISIT_SKIP;
		return VISIT_SKIP;
	}
	if (L->delim >= 0) {
		const char *d = memchr(full + L->prefix_len, L->delim, len - L->prefix_len);
		if (d) {
			/* Every key here rolls up into the same common prefix. */
			*name_len = (size_t)(d - full) + 1;
			if (!name_wanted(L, full, *name_len))
				return VISIT_SKIP;
			return is_dir ? VISIT_ROLLED_DIR : VISIT_ROLLED_FILE;
		}
	}
	if (is_dir)
		return subtree_wanted(L, full, len) ? VISIT_DESCEND : VISIT_SKIP;
	*name_len = len;
	return name_wanted(L, full, len) ? VISIT_OBJECT : VISIT_SKIP;
}

/* 1 for a directory, 0 for a regular file, -1 for anything else. */
static int entry_kind(DIR *dir, const struct dirent *de)
{
	if (de->d_type == DT_DIR)
		return 1;
	if (de->d_type == DT_REG)
		return 0;
	if (de->d_type != DT_UNKNOWN)
		return -1;
	struct stat st;
	if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return -1;
	return S_ISDIR(st.st_mode) ? 1 : S_ISREG(st.st_mode) ? 0 : -1;
}

static int skip_entry_name(const char *name, size_t len)
{
	if (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')))
		return 1;
	return is_tmp_name(name, len);
}

static int item_cmp(const struct list_item *a, const struct list_item *b)
{
	return tess_cmp_bytes(a->name, a->len, b->name, b->len);
}

static int item_qsort_cmp(const void *a, const void *b)
{
	return item_cmp(a, b);
}

static void heap_sift_down(struct list_item *h, size_t n, size_t i)
{
	for (;;) {
		size_t big = i, l = 2 * i + 1, r = l + 1;
		if (l < n && item_cmp(&h[l], &h[big]) > 0)
			big = l;
		if (r < n && item_cmp(&h[r], &h[big]) > 0)
			big = r;
		if (big == i)
			return;
		struct list_item t = h[i];
		h[i] = h[big];
		h[big] = t;
		i = big;
	}
}

static void heap_sift_up(struct list_item *h, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (item_cmp(&h[i], &h[parent]) <= 0)
			return;
		struct list_item t = h[i];
		h[i] = h[parent];
		h[parent] = t;
		i = parent;
	}
}

/* Keep the `want` smallest candidates (a max-heap on the sort name). */
static int batch_offer(struct list_batch *b, const char *name, size_t len, int is_dir,
                       size_t want)
{
	b->seen++;
	if (b->count == want) {
		if (tess_cmp_bytes(name, len, b->items[0].name, b->items[0].len) >= 0)
			return 0;
		char *copy = malloc(len + 1);
		if (!copy)
			return tess_err(TESS_ENOMEM, "file backend: list: out of memory");
		memcpy(copy, name, len);
		copy[len] = '\0';
		free(b->items[0].name);
		b->items[0] = (struct list_item){copy, len, is_dir};
		heap_sift_down(b->items, b->count, 0);
		return 0;
	}
	if (b->count == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		if (cap > want)
			cap = want;
		struct list_item *items = realloc(b->items, cap * sizeof *items);
		if (!items)
			return tess_err(TESS_ENOMEM, "file backend: list: out of memory");
		b->items = items;
		b->cap = cap;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return tess_err(TESS_ENOMEM, "file backend: list: out of memory");
	memcpy(copy, name, len);
	copy[len] = '\0';
	b->items[b->count] = (struct list_item){copy, len, is_dir};
	heap_sift_up(b->items, b->count++);
	return 0;
}

static void batch_clear(struct list_batch *b)
{
	for (size_t i = 0; i < b->count; i++)
		free(b->items[i].name);
	b->count = 0;
	b->seen = 0;
}

/* One pass over the directory: the `want` first entries after `cursor`
 * that the listing may need, sorted. */
static int collect(struct lister *L, DIR *dir, size_t dirkey_len, const struct list_item *cursor,
                   size_t want, struct list_batch *b)
{
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(dir);
		if (!de)
			break;
		size_t nl = strlen(de->d_name);
		if (skip_entry_name(de->d_name, nl))
			continue;
		int is_dir = entry_kind(dir, de);
		if (is_dir < 0)
			continue;
		size_t sort_len = nl + (size_t)is_dir;
		/* A directory must leave room for at least one more byte of key. */
		if (dirkey_len + sort_len + (size_t)is_dir > TESS_KEY_MAX)
			continue;
		char *sort = L->path + dirkey_len;
		memcpy(sort, de->d_name, nl);
		if (is_dir)
			sort[nl] = '/';
		if (cursor && tess_cmp_bytes(sort, sort_len, cursor->name, cursor->len) <= 0)
			continue;
		size_t name_len;
		if (classify(L, L->path, dirkey_len + sort_len, is_dir, &name_len) == VISIT_SKIP)
			continue;
		int rc = batch_offer(b, sort, sort_len, is_dir, want);
		if (rc)
			return rc;
	}
	if (errno) {
		L->path[dirkey_len] = '\0';
		return tess_err(TESS_EIO, "file backend: list '%s': read directory '%s': %s",
		                L->prefix, dirkey_len ? L->path : ".", strerror(errno));
	}
	if (b->count > 1)
		qsort(b->items, b->count, sizeof *b->items, item_qsort_cmp);
	return 0;
}

static int emit(struct lister *L, const char *name, size_t len, int is_prefix,
                uint64_t size, int64_t mtime_ns)
{
	if (L->page->count - L->first >= L->max) {
		L->page->truncated = 1;
		return LIST_STOP;
	}
	int rc = tess_list_page_add(L->page, name, len, is_prefix, size, mtime_ns);
	if (rc)
		return rc;
	if (is_prefix) {
		memcpy(L->last, name, len);
		L->last_len = len;
	}
	return 0;
}

/* Open the subdirectory of a listed item; -1 (silently) if it is gone. */
static int open_item_dir(DIR *dir, const struct list_item *item)
{
	char name[TESS_KEY_SEGMENT_MAX + 1];
	memcpy(name, item->name, item->len - 1);
	name[item->len - 1] = '\0';
	return openat(dirfd(dir), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* 1 if the directory (fd, consumed) holds at least one object, at any depth. */
static int has_object(struct lister *L, int fd)
{
	DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return tess_err(TESS_EIO, "file backend: list '%s': opendir: %s", L->prefix,
		                strerror(errno));
	}
	int found = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(dir);
		if (!de) {
			if (errno)
				found = tess_err(TESS_EIO, "file backend: list '%s': read directory: %s",
				                 L->prefix, strerror(errno));
			break;
		}
		if (skip_entry_name(de->d_name, strlen(de->d_name)))
			continue;
		int kind = entry_kind(dir, de);
		if (kind == 0) {
			found = 1;
			break;
		}
		if (kind < 0)
			continue;
		int sub = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue; /* removed meanwhile, or replaced by a link */
		found = has_object(L, sub);
		if (found)
			break;
	}
	closedir(dir);
	return found;
}

static int walk_listing(struct lister *L, int fd, size_t dirkey_len);

static int visit(struct lister *L, DIR *dir, size_t dirkey_len, const struct list_item *item)
{
	size_t full_len = dirkey_len + item->len;
	memcpy(L->path + dirkey_len, item->name, item->len);
	L->path[full_len] = '\0';
	size_t name_len = 0;
	switch (classify(L, L->path, full_len, item->is_dir, &name_len)) {
	case VISIT_SKIP:
		return 0;
	case VISIT_OBJECT: {
		struct stat st;
		if (fstatat(dirfd(dir), item->name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			return 0; /* deleted or replaced since we read the directory */
		return emit(L, L->path, full_len, 0, (uint64_t)st.st_size, stat_mtime_ns(&st));
	}
	case VISIT_ROLLED_FILE:
		return emit(L, L->path, name_len, 1, 0, 0);
	case VISIT_ROLLED_DIR: {
		int fd = open_item_dir(dir, item);
		if (fd < 0)
			return 0;
		int rc = has_object(L, fd);
		if (rc <= 0)
			return rc; /* an empty directory (say, left by a crash) is no prefix */
		return emit(L, L->path, name_len, 1, 0, 0);
	}
	case VISIT_DESCEND: {
		int fd = open_item_dir(dir, item);
		if (fd < 0)
			return 0;
		return walk_listing(L, fd, full_len);
	}
	}
	return 0;
}

static size_t list_want(const struct lister *L, size_t previous)
{
	size_t remaining = L->max - (L->page->count - L->first);
	size_t want = remaining == SIZE_MAX ? SIZE_MAX : remaining + 1;
	/* Skipped entries (empty directories) can starve a pass: grow. */
	if (previous && want < previous * 2)
		want = previous > SIZE_MAX / 2 ? SIZE_MAX : previous * 2;
	return want;
}

/* List the directory fd (consumed), whose key prefix is L->path[0..dirkey_len). */
static int walk_listing(struct lister *L, int fd, size_t dirkey_len)
{
	DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return tess_err(TESS_EIO, "file backend: list '%s': opendir: %s", L->prefix,
		                strerror(errno));
	}
	struct list_batch b = {0};
	struct list_item cursor = {0};
	size_t want = list_want(L, 0);
	int rc;
	for (;;) {
		rc = collect(L, dir, dirkey_len, cursor.name ? &cursor : NULL, want, &b);
		for (size_t i = 0; !rc && i < b.count; i++)
			rc = visit(L, dir, dirkey_len, &b.items[i]);
		if (rc || b.seen <= want)
			break;
		/* More entries follow: the next pass resumes after this batch. */
		free(cursor.name);
		cursor = b.items[b.count - 1];
		b.count--;
		batch_clear(&b);
		want = list_want(L, want);
		rewinddir(dir);
	}
	batch_clear(&b);
	free(b.items);
	free(cursor.name);
	closedir(dir);
	return rc;
}

/* Could the first dir_len bytes of a prefix name a directory of keys?  No
 * key has an empty, "." or ".." segment, and openat2 would resolve them. */
static int prefix_dir_plausible(const char *prefix, size_t dir_len)
{
	size_t start = 0;
	while (start <= dir_len) {
		const char *slash = memchr(prefix + start, '/', dir_len - start);
		size_t end = slash ? (size_t)(slash - prefix) : dir_len;
		size_t len = end - start;
		if (len == 0 || len > TESS_KEY_SEGMENT_MAX || is_tmp_name(prefix + start, len) ||
		    (len == 1 && prefix[start] == '.') ||
		    (len == 2 && prefix[start] == '.' && prefix[start + 1] == '.'))
			return 0;
		start = end + 1;
	}
	return 1;
}

static int file_list(tess_backend *be, const char *prefix, const char *delimiter,
                     const char *start_after, size_t max_entries, tess_list_page *page)
{
	struct file_backend *fb = (struct file_backend *)be;
	if (!prefix)
		prefix = "";
	if (delimiter && strlen(delimiter) > 1)
		return tess_err(TESS_EINVAL, "file backend: list '%s': the delimiter must be one "
		                "byte, not '%s'", prefix, delimiter);
	size_t prefix_len = strlen(prefix);
	page->truncated = 0;
	const char *slash = strrchr(prefix, '/');
	size_t dir_len = slash ? (size_t)(slash - prefix) : 0;
	if (prefix_len > TESS_KEY_MAX || (slash && !prefix_dir_plausible(prefix, dir_len)))
		return 0; /* no key can start with this prefix */
	struct lister *L = malloc(sizeof *L);
	if (!L)
		return tess_err(TESS_ENOMEM, "file backend: list '%s': out of memory", prefix);
	*L = (struct lister){
		.prefix = prefix,
		.prefix_len = prefix_len,
		.delim = delimiter && *delimiter ? (unsigned char)*delimiter : -1,
		.after = start_after,
		.after_len = start_after ? strlen(start_after) : 0,
		.max = max_entries,
		.page = page,
		.first = page->count,
	};
	/* Start in the deepest directory the prefix names. */
	int fd;
	int rc = open_dir(fb, "list", prefix, dir_len, 0, &fd);
	if (rc == 0 && fd == fb->root_fd) {
		/* A fresh open file description: readdir positions are per description. */
		fd = openat(fb->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			rc = tess_err(TESS_EIO, "file backend: list '%s': open the root: %s", prefix,
			              strerror(errno));
	}
	if (rc == 0) {
		memcpy(L->path, prefix, slash ? dir_len + 1 : 0);
		rc = walk_listing(L, fd, slash ? dir_len + 1 : 0);
	} else if (rc == TESS_ENOTFOUND || rc == TESS_ECONFLICT || rc == TESS_EPERM ||
	           rc == RETRY) {
		rc = 0; /* nothing there, or a link (which listings skip): no keys */
	}
	free(L);
	return rc == LIST_STOP ? 0 : rc;
}

const tess_backend_ops tess_backend_file_ops = {
	.abi = TESS_BACKEND_ABI,
	.scheme = "file",
	.caps = TESS_CAP_MULTIPROCESS | TESS_CAP_HIERARCHICAL | TESS_CAP_LOCAL,
	.open = file_open,
	.close = file_close,
	.get = file_get,
	.put = file_put,
	.writer_open = file_writer_open,
	.writer_write = file_writer_write,
	.writer_commit = file_writer_commit,
	.writer_abort = file_writer_abort,
	.stat = file_stat,
	.del = file_del,
	.list = file_list,
	.get_many = NULL,
	.put_many = file_put_many,
};
