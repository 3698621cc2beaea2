/*
 * Copies: store to store (any backends), store to local files, local files to
 * store; one object or, with TESS_RECURSIVE, a tree.  Everything streams in
 * BLOB_CHUNK pieces, so memory stays bounded whatever the sizes.
 */
#include "blob/internal.h"
#include "store/internal.h"
#include "util/error.h"
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- store to store --------------------------------------------------------- */

static int copy_object(tess_store *dst, const char *dkey, tess_store *src,
                       const char *skey, blob_progress *p)
{
	tess_blob_reader *r;
	int rc = tess_blob_reader_open(&r, src, skey);
	if (rc)
		return rc;
	uint64_t size = tess_blob_reader_size(r);
	size_t cap = size < BLOB_CHUNK ? (size_t)size + 1 : BLOB_CHUNK;
	char *buf = malloc(cap);
	if (!buf) {
		tess_blob_reader_close(r);
		return tess_err(TESS_ENOMEM, "copy '%s': out of memory", skey);
	}
	size_t n;
	if (size < BLOB_CHUNK) { /* small: one get, one put */
		size_t got = 0;
		while (!(rc = tess_blob_reader_read(r, buf + got, cap - got, &n)) && n > 0)
			got += n;
		if (!rc)
			rc = tess_blob_put(dst, dkey, buf, got, 0);
		if (!rc)
			blob_progress_add(p, got);
	} else {
		tess_blob_writer *w;
		rc = tess_blob_writer_open(&w, dst, dkey, size, 0);
		while (!rc && !(rc = tess_blob_reader_read(r, buf, cap, &n)) && n > 0) {
			rc = tess_blob_writer_write(w, buf, n);
			blob_progress_add(p, n);
		}
		if (rc)
			tess_blob_writer_abort(w);
		else
			rc = tess_blob_writer_commit(w);
	}
	free(buf);
	tess_blob_reader_close(r);
	return rc;
}

/* Calls fn for every object under "key/" (or the whole store for ""), with
 * the part of the key after that prefix. */
typedef int (*tree_fn)(const char *key, const char *rel, uint64_t size, void *ctx);

static int for_each_in_tree(tess_store *st, const char *key, tree_fn fn, void *ctx,
                            size_t *count)
{
	char *prefix = key[0] ? tess_key_join(key, "") : strdup("");
	if (!prefix)
		return tess_err(TESS_ENOMEM, "copy '%s': out of memory", key);
	size_t plen = strlen(prefix);
	tess_list *it;
	int rc = tess_list_open(&it, st, prefix, TESS_RECURSIVE);
	free(prefix);
	if (rc)
		return rc;
	const tess_list_entry *e;
	while ((rc = tess_list_next(&e, it)) == 0) {
		if (!e->is_prefix && (rc = fn(e->key, e->key + plen, e->size, ctx)))
			break;
		(*count)++;
	}
	tess_list_close(it);
	return rc == TESS_ITEROVER ? 0 : rc;
}

/* Is `inner` the key `outer` or inside it ("a/b" inside "a")? */
static int key_within(const char *inner, const char *outer)
{
	size_t n = strlen(outer);
	if (n == 0)
		return 1;
	return strncmp(inner, outer, n) == 0 && (inner[n] == '\0' || inner[n] == '/');
}

struct store_copy {
	tess_store *dst;
	const char *dkey;
	tess_store *src;
	blob_progress *p;
};

static int copy_tree_entry(const char *key, const char *rel, uint64_t size, void *ctx)
{
	struct store_copy *c = ctx;
	char *dk = tess_key_join(c->dkey, rel);
	if (!dk)
		return tess_err(TESS_ENOMEM, "copy '%s': out of memory", key);
	int rc = copy_object(c->dst, dk, c->src, key, c->p);
	free(dk);
	return rc;
}

int tess_blob_copy(tess_store *dst, const char *dst_key, tess_store *src,
                   const char *src_key, unsigned flags, tess_progress_cb progress,
                   void *payload)
{
	blob_progress p = {progress, payload, 0, 0};
	tess_stat sb;
	if (!(flags & TESS_RECURSIVE)) {
		int rc = tess_blob_stat(&sb, src, src_key);
		if (rc)
			return rc;
		p.total = sb.size;
		return copy_object(dst, dst_key, src, src_key, &p);
	}
	int same = dst == src || strcmp(tess_store_url(dst), tess_store_url(src)) == 0;
	if (same && key_within(dst_key, src_key))
		return tess_err(TESS_EINVAL, "copy '%s' to '%s': the destination is inside the source",
		                src_key, dst_key);
	size_t count = 0;
	int rc = 0;
	if (src_key[0] && tess_blob_stat(&sb, src, src_key) == 0) {
		if ((rc = copy_object(dst, dst_key, src, src_key, &p)))
			return rc;
		count++;
	}
	struct store_copy c = {dst, dst_key, src, &p};
	if ((rc = for_each_in_tree(src, src_key, copy_tree_entry, &c, &count)))
		return rc;
	if (count == 0)
		return tess_err(TESS_ENOTFOUND, "copy '%s': no such blob or prefix", src_key);
	return 0;
}

/* ---- store to local ------------------------------------------------------------- */

/* Write one object to a local file: a temporary name, fsync, rename, so no
 * partial file is ever left at `path`. */
static int object_to_file(const char *path, tess_store *src, const char *key, blob_progress *p)
{
	size_t len = strlen(path);
	char *tmp = malloc(len + 32);
	if (!tmp)
		return tess_err(TESS_ENOMEM, "copy '%s': out of memory", key);
	snprintf(tmp, len + 32, "%s.tess-tmp-XXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int rc = tess_err(tess_errno_code(errno), "copy '%s' to '%s': %s", key, path,
		                  strerror(errno));
		free(tmp);
		return rc;
	}
	fchmod(fd, 0666 & ~(mode_t)umask(umask(0)));
	int rc = blob_get_fd(src, key, fd, p);
	if (!rc && fsync(fd) != 0)
		rc = tess_err(TESS_EIO, "copy '%s' to '%s': fsync: %s", key, path, strerror(errno));
	if (close(fd) != 0 && !rc)
		rc = tess_err(TESS_EIO, "copy '%s' to '%s': close: %s", key, path, strerror(errno));
	if (!rc && rename(tmp, path) != 0)
		rc = tess_err(tess_errno_code(errno), "copy '%s' to '%s': %s", key, path, strerror(errno));
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}

static int is_dir(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

struct local_copy {
	const char *root;
	blob_progress *p;
	tess_store *src;
};

static int tree_entry_to_local(const char *key, const char *rel, uint64_t size, void *ctx)
{
	struct local_copy *c = ctx;
	/* rel comes from a validated key: no "..", no empty or absolute parts. */
	size_t n = strlen(c->root) + strlen(rel) + 2;
	char *path = malloc(n);
	if (!path)
		return tess_err(TESS_ENOMEM, "copy '%s': out of memory", key);
	snprintf(path, n, "%s/%s", c->root, rel);
	char *parent = strdup(path);
	int rc = parent ? tess_mkdir_p(dirname(parent), 0) : tess_err(TESS_ENOMEM, "out of memory");
	free(parent);
	if (!rc)
		rc = object_to_file(path, c->src, key, c->p);
	free(path);
	return rc;
}

int tess_blob_copy_to_local(const char *local_path, tess_store *src, const char *src_key,
                            unsigned flags, tess_progress_cb progress, void *payload)
{
	blob_progress p = {progress, payload, 0, 0};
	tess_stat sb;
	int rc;
	if (!(flags & TESS_RECURSIVE)) {
		if ((rc = tess_blob_stat(&sb, src, src_key)))
			return rc;
		p.total = sb.size;
		if (!is_dir(local_path))
			return object_to_file(local_path, src, src_key, &p);
		const char *base = strrchr(src_key, '/');
		base = base ? base + 1 : src_key;
		size_t n = strlen(local_path) + strlen(base) + 2;
		char *path = malloc(n);
		if (!path)
			return tess_err(TESS_ENOMEM, "copy '%s': out of memory", src_key);
		snprintf(path, n, "%s/%s", local_path, base);
		rc = object_to_file(path, src, src_key, &p);
		free(path);
		return rc;
	}
	if ((rc = tess_mkdir_p(local_path, 0)))
		return rc;
	struct local_copy c = {local_path, &p, src};
	size_t count = 0;
	if ((rc = for_each_in_tree(src, src_key, tree_entry_to_local, &c, &count)))
		return rc;
	if (count == 0)
		return tess_err(TESS_ENOTFOUND, "copy '%s': no blobs under this prefix", src_key);
	return 0;
}

/* ---- local to store ------------------------------------------------------------- */

static int file_to_object(tess_store *dst, const char *key, const char *path,
                          unsigned flags, blob_progress *p)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return tess_err(tess_errno_code(errno), "copy '%s': %s", path, strerror(errno));
	int rc = blob_put_fd(dst, key, fd, flags & TESS_PUT_IF_ABSENT, p);
	close(fd);
	return rc;
}

static int dir_to_store(tess_store *dst, const char *key, const char *dir, unsigned flags,
                        blob_progress *p, size_t *count)
{
	DIR *d = opendir(dir);
	if (!d)
		return tess_err(tess_errno_code(errno), "copy '%s': %s", dir, strerror(errno));
	int rc = 0;
	struct dirent *de;
	while (!rc && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		size_t n = strlen(dir) + strlen(de->d_name) + 2;
		char *path = malloc(n);
		char *child = tess_key_join(key, de->d_name);
		struct stat sb;
		if (!path || !child) {
			rc = tess_err(TESS_ENOMEM, "copy '%s': out of memory", dir);
		} else if (snprintf(path, n, "%s/%s", dir, de->d_name), lstat(path, &sb) != 0) {
			rc = tess_err(tess_errno_code(errno), "copy '%s': %s", path, strerror(errno));
		} else if (S_ISLNK(sb.st_mode)) {
			rc = tess_err(TESS_EPERM, "copy '%s': is a symbolic link; refusing to follow it", path);
		} else if (S_ISDIR(sb.st_mode)) {
			rc = dir_to_store(dst, child, path, flags, p, count);
		} else if (S_ISREG(sb.st_mode)) {
			rc = tess_key_check(child);
			if (!rc)
				rc = file_to_object(dst, child, path, flags, p);
			(*count)++;
		} else {
			rc = tess_err(TESS_EINVAL, "copy '%s': not a regular file or directory", path);
		}
		free(path);
		free(child);
	}
	closedir(d);
	return rc;
}

int tess_blob_copy_from_local(tess_store *dst, const char *dst_key, const char *local_path,
                              unsigned flags, tess_progress_cb progress, void *payload)
{
	blob_progress p = {progress, payload, 0, 0};
	struct stat sb;
	if (lstat(local_path, &sb) != 0)
		return tess_err(tess_errno_code(errno), "copy '%s': %s", local_path, strerror(errno));
	if (S_ISLNK(sb.st_mode) && stat(local_path, &sb) != 0)
		return tess_err(tess_errno_code(errno), "copy '%s': %s", local_path, strerror(errno));
	if (S_ISREG(sb.st_mode)) {
		p.total = (uint64_t)sb.st_size;
		return file_to_object(dst, dst_key, local_path, flags, &p);
	}
	if (!S_ISDIR(sb.st_mode))
		return tess_err(TESS_EINVAL, "copy '%s': not a regular file or directory", local_path);
	if (!(flags & TESS_RECURSIVE))
		return tess_err(TESS_EINVAL, "copy '%s': is a directory (copy it recursively)",
		                local_path);
	if (dst_key[0] && tess_key_check(dst_key))
		return TESS_EINVAL;
	size_t count = 0;
	int rc = dir_to_store(dst, dst_key, local_path, flags, &p, &count);
	if (!rc && count == 0)
		return tess_err(TESS_ENOTFOUND, "copy '%s': no files in this directory", local_path);
	return rc;
}
