/*
 * The C half of the codec peer test (peer.py is the other half).
 *
 *   codec_peer_helper DIR
 *
 * DIR/manifest.json lists cases {"name", "zarr_format", "config",
 * "itemsize", "json"}; for each, DIR/NAME.raw holds the original bytes and
 * DIR/NAME.enc what numcodecs encoded (absent when numcodecs cannot write
 * that configuration) and DIR/NAME.dec what numcodecs decodes it to when
 * that is not NAME.raw (lossy deltas).  For every case this makes the codec
 * from "config", decodes NAME.enc and compares it with NAME.dec or
 * NAME.raw, checks that the codec's
 * JSON equals "json" (what zarr-python writes), and writes its own encoding
 * of NAME.raw to NAME.tess for peer.py to decode with numcodecs.
 * Prints one line per failure; exits 1 when there was any.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "util/json.h"

static int failures;

static void fail(const char *name, const char *what)
{
	fprintf(stderr, "FAIL %s: %s: %s\n", name, what, tess_errmsg());
	failures++;
}

static int read_file(const char *dir, const char *name, const char *ext, tess_buf *out)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (tess_buf_append(out, chunk, n)) {
			fclose(f);
			return -1;
		}
	fclose(f);
	return 0;
}

static int write_file(const char *dir, const char *name, const char *ext, const void *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	int ok = fwrite(p, 1, n, f) == n;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static void check_json(const char *name, const tess_codec *c, int fmt, const json_t *want)
{
	json_t *got = tess_codec_to_json(c, fmt);
	if (!got) {
		fail(name, "to_json");
		return;
	}
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_SORT_KEYS), *w = json_dumps(want, JSON_SORT_KEYS);
		fprintf(stderr, "FAIL %s: JSON %s, zarr-python writes %s\n", name, g, w);
		failures++;
		free(g);
		free(w);
	}
	json_decref(got);
}

static void run_case(const char *dir, const json_t *tc)
{
	const char *name = json_string_value(json_object_get(tc, "name"));
	tess_codec_ctx ctx = {
		.zarr_format = (int)json_integer_value(json_object_get(tc, "zarr_format")),
		.itemsize = (uint32_t)json_integer_value(json_object_get(tc, "itemsize")),
	};
	tess_codec *c;
	if (tess_codec_from_json(&c, json_object_get(tc, "config"), &ctx)) {
		fail(name, "from_json");
		return;
	}
	tess_buf raw = {0}, want = {0}, enc = {0}, dec = {0}, mine = {0};
	if (read_file(dir, name, "raw", &raw)) {
		fprintf(stderr, "FAIL %s: cannot read the .raw file\n", name);
		failures++;
		goto out;
	}
	/* lossy codecs (delta to a narrower type, float deltas) decode to what
	 * numcodecs decodes, NAME.dec */
	if (read_file(dir, name, "dec", &want) != 0 && tess_buf_append(&want, raw.data, raw.len)) {
		fail(name, "out of memory");
		goto out;
	}
	if (read_file(dir, name, "enc", &enc) == 0) {
		if (c->ops->decode(c, enc.data, enc.len, &dec, want.len))
			fail(name, "decoding numcodecs' bytes");
		else if (dec.len != want.len || (want.len && memcmp(dec.data, want.data, want.len))) {
			fprintf(stderr, "FAIL %s: decoded %zu bytes differ from numcodecs' %zu\n", name,
			        dec.len, want.len);
			failures++;
		}
	}
	check_json(name, c, ctx.zarr_format, json_object_get(tc, "json"));
	if (c->ops->encode(c, raw.data, raw.len, &mine))
		fail(name, "encoding");
	else if (write_file(dir, name, "tess", mine.data, mine.len)) {
		fprintf(stderr, "FAIL %s: cannot write the .tess file\n", name);
		failures++;
	}
out:
	tess_buf_free(&raw);
	tess_buf_free(&want);
	tess_buf_free(&enc);
	tess_buf_free(&dec);
	tess_buf_free(&mine);
	tess_codec_free(c);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	tess_buf text = {0};
	json_t *manifest;
	if (read_file(argv[1], "manifest", "json", &text) ||
	    tess_json_parse(&manifest, (const char *)text.data, text.len, "manifest.json")) {
		fprintf(stderr, "cannot read %s/manifest.json: %s\n", argv[1], tess_errmsg());
		return 2;
	}
	tess_buf_free(&text);
	size_t i;
	json_t *tc;
	json_array_foreach(manifest, i, tc)
		run_case(argv[1], tc);
	printf("codec peer helper: %zu cases, %d failures\n", json_array_size(manifest), failures);
	json_decref(manifest);
	return failures ? 1 : 0;
}
