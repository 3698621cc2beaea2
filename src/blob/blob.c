/* Blobs: put, get, stream, stat, delete and list over the object layer. */
#include "blob/internal.h"
#include "store/internal.h"
#include "util/error.h"
#include "util/fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LIST_PAGE 1000

void blob_progress_add(blob_progress *p, uint64_t bytes)
{
	if (!p)
		return;
	p->done += bytes;
	if (p->cb)
		p->cb(p->done, p->total, p->payload);
}

/* Key checks every write goes through: valid, and not in `.tessera/`. */
static int check_writable(const char *key)
{
	int rc = tess_key_check(key);
	if (rc)
		return rc;
	if (tess_key_is_reserved(key))
		return tess_err(TESS_EPERM, "blob '%s': '.tessera/' is reserved for the store itself", key);
	return 0;
}

int tess_blob_put(tess_store *st, const char *key, const void *data, size_t len,
                  unsigned flags)
{
	int rc = check_writable(key);
	return rc ? rc : st->ops->put(st->be, key, data, len, flags);
}

int tess_blob_put_many(tess_store *st, tess_put_req *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((reqs[i].status = check_writable(reqs[i].key)))
			return reqs[i].status;
	return tess_obj_put_many(st, reqs, n);
}

int tess_blob_get_many(tess_store *st, tess_get_req *reqs, size_t n)
{
	return tess_obj_get_many(st, reqs, n);
}

/* ---- streaming writer ------------------------------------------------------- */

struct tess_blob_writer {
	tess_store *st;
	tess_writer *w;
	uint64_t size;    /* promised size or TESS_SIZE_UNKNOWN */
	uint64_t written;
	char *key;        /* for messages */
};

int tess_blob_writer_open(tess_blob_writer **out, tess_store *st, const char *key,
                          uint64_t size, unsigned flags)
{
	*out = NULL;
	int rc = check_writable(key);
	if (rc)
		return rc;
	tess_blob_writer *bw = calloc(1, sizeof *bw);
	if (!bw || !(bw->key = strdup(key))) {
		free(bw);
		return tess_err(TESS_ENOMEM, "blob '%s': out of memory", key);
	}
	bw->st = st;
	bw->size = size;
	if ((rc = st->ops->writer_open(st->be, &bw->w, key, size, flags))) {
		free(bw->key);
		free(bw);
		return rc;
	}
	*out = bw;
	return 0;
}

int tess_blob_writer_write(tess_blob_writer *bw, const void *data, size_t len)
{
	if (bw->size != TESS_SIZE_UNKNOWN && len > bw->size - bw->written)
		return tess_err(TESS_EINVAL, "blob '%s': more than the %llu bytes announced", bw->key,
		                (unsigned long long)bw->size);
	int rc = bw->st->ops->writer_write(bw->w, data, len);
	if (!rc)
		bw->written += len;
	return rc;
}

static void writer_free(tess_blob_writer *bw)
{
	free(bw->key);
	free(bw);
}

int tess_blob_writer_commit(tess_blob_writer *bw)
{
	if (bw->size != TESS_SIZE_UNKNOWN && bw->written != bw->size) {
		int rc = tess_err(TESS_EINVAL, "blob '%s': %llu bytes written, %llu announced",
		                  bw->key, (unsigned long long)bw->written,
		                  (unsigned long long)bw->size);
		tess_blob_writer_abort(bw);
		return rc;
	}
	int rc = bw->st->ops->writer_commit(bw->w);
	writer_free(bw);
	return rc;
}

void tess_blob_writer_abort(tess_blob_writer *bw)
{
	if (!bw)
		return;
	bw->st->ops->writer_abort(bw->w);
	writer_free(bw);
}

int tess_blob_put_fd(tess_store *st, const char *key, int fd, unsigned flags)
{
	return blob_put_fd(st, key, fd, flags, NULL);
}

/* What is left to read of a regular file; unknown for pipes and devices. */
static uint64_t fd_remaining(int fd)
{
	struct stat sb;
	off_t pos = lseek(fd, 0, SEEK_CUR);
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || pos < 0 || pos > sb.st_size)
		return TESS_SIZE_UNKNOWN;
	return (uint64_t)(sb.st_size - pos);
}

int blob_put_fd(tess_store *st, const char *key, int fd, unsigned flags, blob_progress *p)
{
	tess_blob_writer *bw;
	int rc = tess_blob_writer_open(&bw, st, key, fd_remaining(fd), flags);
	if (rc)
		return rc;
	char *buf = malloc(BLOB_CHUNK);
	if (!buf) {
		tess_blob_writer_abort(bw);
		return tess_err(TESS_ENOMEM, "blob '%s': out of memory", key);
	}
	for (;;) {
		ssize_t n = read(fd, buf, BLOB_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = tess_err(TESS_EIO, "blob '%s': reading the input: %s", key, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if ((rc = tess_blob_writer_write(bw, buf, (size_t)n)))
			break;
		blob_progress_add(p, (uint64_t)n);
	}
	free(buf);
	if (rc) {
		tess_blob_writer_abort(bw);
		return rc;
	}
	return tess_blob_writer_commit(bw);
}

/* ---- get ---------------------------------------------------------------------- */

int tess_blob_get(void **out, size_t *out_len, tess_store *st, const char *key)
{
	*out = NULL;
	*out_len = 0;
	tess_buf buf = {0};
	int rc = tess_obj_get(st, key, 0, UINT64_MAX, &buf);
	if (!rc)
		rc = tess_buf_reserve(&buf, 1);
	if (rc) {
		tess_buf_free(&buf);
		return rc;
	}
	buf.data[buf.len] = '\0';
	*out = buf.data;
	*out_len = buf.len;
	return 0;
}

int tess_blob_read(size_t *out_len, tess_store *st, const char *key, uint64_t offset,
                   void *dst, size_t length)
{
	return tess_obj_read(out_len, st, key, offset, dst, length);
}

int tess_blob_stat(tess_stat *out, tess_store *st, const char *key)
{
	int rc = tess_key_check(key);
	return rc ? rc : st->ops->stat(st->be, key, out);
}

/* ---- streaming reader ----------------------------------------------------------- */

struct tess_blob_reader {
	tess_store *st;
	char *key;
	tess_stat stat;
	uint64_t pos;
};

int tess_blob_reader_open(tess_blob_reader **out, tess_store *st, const char *key)
{
	*out = NULL;
	tess_blob_reader *r = calloc(1, sizeof *r);
	if (!r || !(r->key = strdup(key))) {
		free(r);
		return tess_err(TESS_ENOMEM, "blob '%s': out of memory", key);
	}
	r->st = st;
	int rc = tess_blob_stat(&r->stat, st, key);
	if (rc) {
		tess_blob_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* The object is read in ranges; if it was replaced meanwhile, the pieces
 * would come from two versions.  One stat at the end catches that. */
static int reader_check_unchanged(tess_blob_reader *r)
{
	tess_stat now;
	int rc = r->st->ops->stat(r->st->be, r->key, &now);
	if (rc == TESS_ENOTFOUND || (!rc && strcmp(now.etag, r->stat.etag) != 0))
		return tess_err(TESS_ECONFLICT, "blob '%s' changed while being read", r->key);
	return rc;
}

int tess_blob_reader_read(tess_blob_reader *r, void *dst, size_t cap, size_t *out_len)
{
	*out_len = 0;
	if (r->pos >= r->stat.size || cap == 0)
		return 0;
	size_t n;
	int rc = tess_obj_read(&n, r->st, r->key, r->pos, dst, cap);
	if (rc == TESS_ERANGE || rc == TESS_ENOTFOUND || (!rc && n == 0))
		return tess_err(TESS_ECONFLICT, "blob '%s' changed while being read", r->key);
	if (rc)
		return rc;
	r->pos += n;
	*out_len = n;
	if (r->pos >= r->stat.size)
		return reader_check_unchanged(r);
	return 0;
}

uint64_t tess_blob_reader_size(const tess_blob_reader *r) { return r->stat.size; }

void tess_blob_reader_close(tess_blob_reader *r)
{
	if (!r)
		return;
	free(r->key);
	free(r);
}

static int write_all(int fd, const void *data, size_t len, const char *key)
{
	int e = tess_write_full(fd, data, len);
	return e ? tess_err(TESS_EIO, "blob '%s': writing the output: %s", key, strerror(e)) : 0;
}

int tess_blob_get_fd(tess_store *st, const char *key, int fd)
{
	return blob_get_fd(st, key, fd, NULL);
}

int blob_get_fd(tess_store *st, const char *key, int fd, blob_progress *p)
{
	tess_blob_reader *r;
	int rc = tess_blob_reader_open(&r, st, key);
	if (rc)
		return rc;
	size_t cap = r->stat.size < BLOB_CHUNK ? (size_t)r->stat.size + 1 : BLOB_CHUNK;
	char *buf = malloc(cap);
	if (!buf) {
		tess_blob_reader_close(r);
		return tess_err(TESS_ENOMEM, "blob '%s': out of memory", key);
	}
	size_t n;
	while (!(rc = tess_blob_reader_read(r, buf, cap, &n)) && n > 0) {
		if ((rc = write_all(fd, buf, n, key)))
			break;
		blob_progress_add(p, n);
	}
	free(buf);
	tess_blob_reader_close(r);
	return rc;
}

/* ---- listing ---------------------------------------------------------------------- */

struct tess_list {
	tess_store *st;
	char *prefix;
	int recursive;
	tess_list_page page;
	size_t next;    /* index of the next entry in page */
	char *last_key; /* where the next page starts */
	int done;
};

int tess_list_open(tess_list **out, tess_store *st, const char *prefix, unsigned flags)
{
	*out = NULL;
	if (!prefix)
		prefix = "";
	if (strlen(prefix) > TESS_KEY_MAX || strchr(prefix, '\\') || prefix[0] == '/')
		return tess_err(TESS_EINVAL, "list: invalid prefix '%.200s'", prefix);
	tess_list *it = calloc(1, sizeof *it);
	if (!it || !(it->prefix = strdup(prefix))) {
		free(it);
		return tess_err(TESS_ENOMEM, "list '%s': out of memory", prefix);
	}
	it->st = st;
	it->recursive = (flags & TESS_RECURSIVE) != 0;
	*out = it;
	return 0;
}

static int list_fetch(tess_list *it)
{
	tess_list_page_clear(&it->page);
	it->next = 0;
	int rc = it->st->ops->list(it->st->be, it->prefix, it->recursive ? NULL : "/",
	                           it->last_key, LIST_PAGE, &it->page);
	if (rc)
		return tess_err_prefix(rc, "list '%s': ", it->prefix);
	if (!it->page.truncated)
		it->done = 1;
	if (it->page.count > 0) {
		char *k = strdup(it->page.entries[it->page.count - 1].key);
		if (!k)
			return tess_err(TESS_ENOMEM, "list '%s': out of memory", it->prefix);
		free(it->last_key);
		it->last_key = k;
	}
	return 0;
}

int tess_list_next(const tess_list_entry **out, tess_list *it)
{
	*out = NULL;
	for (;;) {
		if (it->next == it->page.count) {
			if (it->done)
				return TESS_ITEROVER;
			int rc = list_fetch(it);
			if (rc)
				return rc;
			continue;
		}
		const tess_list_entry *e = &it->page.entries[it->next++];
		if (tess_key_is_reserved(e->key))
			continue;
		*out = e;
		return 0;
	}
}

void tess_list_close(tess_list *it)
{
	if (!it)
		return;
	tess_list_page_free(&it->page);
	free(it->prefix);
	free(it->last_key);
	free(it);
}

/* ---- delete ------------------------------------------------------------------------ */

/* Keys a recursive delete of the whole store keeps: the root group. */
static int keep_on_wipe(const char *key) { return strcmp(key, ".zgroup") == 0; }

int tess_blob_delete(size_t *out_count, tess_store *st, const char *key, unsigned flags)
{
	size_t count = 0;
	int rc = 0;
	if (out_count)
		*out_count = 0;
	int whole_store = (flags & TESS_RECURSIVE) && key[0] == '\0';
	if (!whole_store) {
		if ((rc = check_writable(key)))
			return rc;
		rc = st->ops->del(st->be, key);
		if (rc && rc != TESS_ENOTFOUND)
			return rc;
		count += rc == 0;
		if (!(flags & TESS_RECURSIVE))
			goto done;
	}
	/* tess_key_join(key, "") is "key/": everything under the key */
	char *prefix = whole_store ? strdup("") : tess_key_join(key, "");
	tess_list *it;
	if (!prefix)
		return tess_err(TESS_ENOMEM, "delete '%s': out of memory", key);
	rc = tess_list_open(&it, st, prefix, TESS_RECURSIVE);
	free(prefix);
	if (rc)
		return rc;
	const tess_list_entry *e;
	tess_del_batch b = {0};
	while ((rc = tess_list_next(&e, it)) == 0) {
		if (whole_store && keep_on_wipe(e->key))
			continue;
		rc = tess_del_batch_add(&b, st, e->key);
		if (rc)
			break;
	}
	if (rc == TESS_ITEROVER) {
		int frc = tess_del_batch_flush(&b, st);
		if (frc)
			rc = frc;
	}
	count += b.deleted;
	tess_del_batch_free(&b);
	tess_list_close(it);
	if (rc != TESS_ITEROVER)
		return rc;
	rc = 0;
done:
	if (out_count)
		*out_count = count;
	if (count == 0)
		return tess_err(TESS_ENOTFOUND, "delete '%s': no such blob%s", key,
		                flags & TESS_RECURSIVE ? " or prefix" : "");
	return 0;
}
