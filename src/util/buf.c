/* tess_buf and tess_list_page: the growable containers backends fill. */
#include "util/error.h"
#include "tessera/sys/backend.h"

#include <stdlib.h>
#include <string.h>

int tess_buf_reserve(tess_buf *buf, size_t extra)
{
	if (extra <= buf->cap - buf->len)
		return 0;
	if (buf->fixed)
		return tess_err(TESS_ENOMEM, "fixed buffer of %zu bytes cannot hold %zu more after %zu",
		                buf->cap, extra, buf->len);
	if (extra > SIZE_MAX - buf->len)
		return tess_err(TESS_ENOMEM, "buffer of %zu + %zu bytes is too large", buf->len, extra);
	size_t need = buf->len + extra;
	size_t cap = buf->cap ? buf->cap : (need > 64 ? need : 64); /* first reservation exact */
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	uint8_t *p = realloc(buf->data, cap);
	if (!p)
		return tess_err(TESS_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
	buf->data = p;
	buf->cap = cap;
	return 0;
}

int tess_buf_append(tess_buf *buf, const void *data, size_t len)
{
	int rc = tess_buf_reserve(buf, len);
	if (rc)
		return rc;
	if (len)
		memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	return 0;
}

tess_buf tess_buf_fixed(void *mem, size_t cap)
{
	return (tess_buf){mem, 0, cap, 1};
}

void tess_buf_free(tess_buf *buf)
{
	if (!buf->fixed)
		free(buf->data);
	memset(buf, 0, sizeof *buf);
}

int tess_list_page_add(tess_list_page *page, const char *key, size_t key_len,
                       int is_prefix, uint64_t size, int64_t mtime_ns)
{
	if (page->count == page->cap) {
		size_t cap = page->cap ? page->cap * 2 : 64;
		tess_list_entry *e = realloc(page->entries, cap * sizeof *e);
		if (!e)
			return tess_err(TESS_ENOMEM, "out of memory growing a listing page");
		page->entries = e;
		page->cap = cap;
	}
	char *copy = malloc(key_len + 1);
	if (!copy)
		return tess_err(TESS_ENOMEM, "out of memory copying a listed key");
	memcpy(copy, key, key_len);
	copy[key_len] = '\0';
	page->entries[page->count++] = (tess_list_entry){copy, is_prefix, size, mtime_ns};
	return 0;
}

void tess_list_page_clear(tess_list_page *page)
{
	for (size_t i = 0; i < page->count; i++)
		free(page->entries[i].key);
	page->count = 0;
	page->truncated = 0;
}

void tess_list_page_free(tess_list_page *page)
{
	tess_list_page_clear(page);
	free(page->entries);
	memset(page, 0, sizeof *page);
}
