/* Blob commands: put, get, ls, stat, rm, cp. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IO_CHUNK (1u << 20)

enum {
	OPT_IF_ABSENT = CLI_OPT_FIRST_PRIVATE,
	OPT_FROM,
	OPT_TO,
};

/* ---- shared pieces -------------------------------------------------------- */

static int check_key(const char *verb, const char *key)
{
	int rc = tess_key_check(key);
	return rc ? cli_fail(rc, "%s '%s'", verb, key) : 0;
}

/* The -v / --json report of a finished transfer. */
static void print_summary(int json, int verbose, const char *verb,
                          const char *key, uint64_t bytes)
{
	if (json) {
		fputs("{\"key\": ", stdout);
		cli_json_string(stdout, key);
		printf(", \"bytes\": %" PRIu64 "}\n", bytes);
	}
	if (verbose)
		fprintf(stderr, "%s '%s': %" PRIu64 " bytes\n", verb, key, bytes);
}

/* The last segment of a key or path ("a/b/" -> "b"), written to buf. */
static const char *last_segment(const char *s, char *buf, size_t size)
{
	size_t len = strlen(s);
	while (len > 1 && s[len - 1] == '/')
		len--;
	size_t start = len;
	while (start > 0 && s[start - 1] != '/')
		start--;
	snprintf(buf, size, "%.*s", (int)(len - start), s + start);
	return buf;
}

static int is_directory(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Drop trailing '/' (for "dir/" given to a recursive operation). */
static void strip_trailing_slashes(char *s)
{
	size_t len = strlen(s);
	while (len > 0 && s[len - 1] == '/')
		s[--len] = '\0';
}

/* ---- put ------------------------------------------------------------------ */

/* Stream fd into key through a writer; nothing is visible until commit. */
static int put_stream(tess_store *st, const char *key, int fd, const char *src_name,
                      unsigned flags, uint64_t total, uint64_t *out_bytes)
{
	char *buf = malloc(IO_CHUNK);
	if (!buf)
		return cli_fail_text("put '%s': out of memory", key);
	tess_blob_writer *w = NULL;
	int rc = tess_blob_writer_open(&w, st, key, TESS_SIZE_UNKNOWN, flags);
	if (rc) {
		free(buf);
		return cli_fail(rc, "put '%s'", key);
	}
	struct cli_progress progress;
	cli_progress_start(&progress);
	uint64_t done = 0;
	int status = CLI_OK;
	for (;;) {
		ssize_t n = read(fd, buf, IO_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			status = cli_fail_text("put '%s': read %s: %s", key, src_name, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if ((rc = tess_blob_writer_write(w, buf, (size_t)n)) != 0) {
			status = cli_fail(rc, "put '%s'", key);
			break;
		}
		done += (uint64_t)n;
		cli_progress_cb(done, total, &progress);
	}
	cli_progress_end(&progress);
	free(buf);
	if (status != CLI_OK) {
		tess_blob_writer_abort(w);
		return status;
	}
	if ((rc = tess_blob_writer_commit(w)) != 0)
		return cli_fail(rc, "put '%s'", key);
	*out_bytes = done;
	return CLI_OK;
}

/* A regular file goes through the library's local copy; anything else
 * (pipes, devices) through the streaming writer. */
static int put_file(tess_store *st, const char *key, const char *path,
                    unsigned flags, uint64_t *out_bytes)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_fail_text("put '%s': open %s: %s", key, path, strerror(errno));
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		int err = errno;
		close(fd);
		return cli_fail_text("put '%s': stat %s: %s", key, path, strerror(err));
	}
	if (S_ISDIR(sb.st_mode)) {
		close(fd);
		return cli_fail_text("put '%s': %s is a directory (use 'tess cp -r')", key, path);
	}
	if (!S_ISREG(sb.st_mode)) {
		int status = put_stream(st, key, fd, path, flags, 0, out_bytes);
		close(fd);
		return status;
	}
	close(fd);
	struct cli_progress progress;
	cli_progress_start(&progress);
	int rc = tess_blob_copy_from_local(st, key, path, flags, cli_progress_cb, &progress);
	cli_progress_end(&progress);
	if (rc)
		return cli_fail(rc, "put '%s'", key);
	*out_bytes = (uint64_t)sb.st_size;
	return CLI_OK;
}

static int run_put(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "if-absent", no_argument, NULL, OPT_IF_ABSENT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ 0 },
	};
	int c, rc, verbose = 0, json = 0;
	unsigned flags = 0;
	while ((c = cli_getopt(argc, argv, "v", opts, 0)) != -1) {
		switch (c) {
		case OPT_IF_ABSENT: flags |= TESS_PUT_IF_ABSENT; break;
		case 'v': verbose = 1; break;
		case CLI_OPT_JSON: json = 1; break;
		default:
			if ((rc = cli_common_option(ctx, c, argv)) >= 0)
				return rc;
		}
	}
	if ((rc = cli_check_args(ctx, argc, argv, 1, 2)) >= 0)
		return rc;
	const char *key = argv[optind];
	const char *src = optind + 1 < argc ? argv[optind + 1] : "-";
	tess_store *st;
	if ((rc = check_key("put", key)) || (rc = cli_store(ctx, &st)))
		return rc;
	uint64_t bytes = 0;
	if (strcmp(src, "-") == 0) {
		/* `tess put k < file`: the size is known, so progress can show it. */
		struct stat sb;
		uint64_t total = fstat(STDIN_FILENO, &sb) == 0 && S_ISREG(sb.st_mode)
		                 ? (uint64_t)sb.st_size : 0;
		rc = put_stream(st, key, STDIN_FILENO, "standard input", flags, total, &bytes);
	} else {
		rc = put_file(st, key, src, flags, &bytes);
	}
	if (rc == CLI_OK)
		print_summary(json, verbose, "put", key, bytes);
	return rc;
}

/* ---- get ------------------------------------------------------------------ */

static int get_to_stdout(tess_store *st, const char *key, uint64_t *out_bytes)
{
	tess_blob_reader *r = NULL;
	int rc = tess_blob_reader_open(&r, st, key);
	if (rc)
		return cli_fail(rc, "get '%s'", key);
	char *buf = malloc(IO_CHUNK);
	if (!buf) {
		tess_blob_reader_close(r);
		return cli_fail_text("get '%s': out of memory", key);
	}
	struct cli_progress progress;
	cli_progress_start(&progress);
	uint64_t total = tess_blob_reader_size(r), done = 0;
	int status = CLI_OK;
	for (;;) {
		size_t n = 0;
		if ((rc = tess_blob_reader_read(r, buf, IO_CHUNK, &n)) != 0) {
			status = cli_fail(rc, "get '%s'", key);
			break;
		}
		if (n == 0)
			break;
		if (cli_write_all(STDOUT_FILENO, buf, n) != 0) {
			status = cli_fail_text("get '%s': write to standard output: %s",
			                       key, strerror(errno));
			break;
		}
		done += n;
		cli_progress_cb(done, total, &progress);
	}
	cli_progress_end(&progress);
	free(buf);
	tess_blob_reader_close(r);
	*out_bytes = done;
	return status;
}

static int get_to_file(tess_store *st, const char *key, const char *dest,
                       uint64_t *out_bytes)
{
	/* An existing directory receives the object under its last key segment. */
	char *path = NULL;
	if (is_directory(dest)) {
		char base[TESS_KEY_SEGMENT_MAX + 1];
		last_segment(key, base, sizeof base);
		if (asprintf(&path, "%s/%s", dest, base) < 0)
			return cli_fail_text("get '%s': out of memory", key);
		dest = path;
	}
	struct cli_progress progress;
	cli_progress_start(&progress);
	int rc = tess_blob_copy_to_local(dest, st, key, 0, cli_progress_cb, &progress);
	cli_progress_end(&progress);
	int status = CLI_OK;
	struct stat sb;
	if (rc)
		status = cli_fail(rc, "get '%s'", key);
	else
		*out_bytes = stat(dest, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	free(path);
	return status;
}

static int run_get(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ 0 },
	};
	int c, rc, verbose = 0, json = 0;
	while ((c = cli_getopt(argc, argv, "v", opts, 0)) != -1) {
		switch (c) {
		case 'v': verbose = 1; break;
		case CLI_OPT_JSON: json = 1; break;
		default:
			if ((rc = cli_common_option(ctx, c, argv)) >= 0)
				return rc;
		}
	}
	if ((rc = cli_check_args(ctx, argc, argv, 1, 2)) >= 0)
		return rc;
	const char *key = argv[optind];
	const char *dest = optind + 1 < argc ? argv[optind + 1] : "-";
	int to_stdout = strcmp(dest, "-") == 0;
	if (json && to_stdout)
		return cli_usage_error(ctx, "--json needs a FILE: standard output carries the data");
	tess_store *st;
	if ((rc = check_key("get", key)) || (rc = cli_store(ctx, &st)))
		return rc;
	uint64_t bytes = 0;
	rc = to_stdout ? get_to_stdout(st, key, &bytes) : get_to_file(st, key, dest, &bytes);
	if (rc == CLI_OK)
		print_summary(json, verbose, "get", key, bytes);
	return rc;
}

/* ---- ls ------------------------------------------------------------------- */

struct ls_out {
	int json;
	int long_format;
	int all; /* -a: show Zarr metadata keys too */
	size_t count; /* printed */
	size_t seen;  /* printed or hidden: a prefix holding only metadata exists */
	tess_store *st; /* to tell arrays among the prefixes */
};

/* Zarr's own metadata objects (.zgroup, .zattrs, .zarray, .zmetadata,
 * zarr.json): structure, not content, so ls leaves them out unless -a. */
static int is_zarr_metadata(const char *key)
{
	const char *base = strrchr(key, '/');
	base = base ? base + 1 : key;
	return strcmp(base, ".zgroup") == 0 || strcmp(base, ".zattrs") == 0 ||
	       strcmp(base, ".zarray") == 0 || strcmp(base, ".zmetadata") == 0 ||
	       strcmp(base, "zarr.json") == 0;
}

/* A prefix entry ("x/") that is an array: 1 and *b filled.  One metadata
 * get per prefix (two when it has no .zarray), never a listing. */
static int prefix_is_array(struct ls_out *o, const char *key, struct cli_array_brief *b)
{
	char node[TESS_KEY_MAX + 1];
	size_t len = strlen(key);
	if (len == 0 || len > TESS_KEY_MAX || key[len - 1] != '/')
		return 0;
	snprintf(node, sizeof node, "%.*s", (int)(len - 1), key);
	return cli_array_peek(o->st, node, b);
}

static void ls_print(struct ls_out *o, const char *key, int is_prefix,
                     uint64_t size, int64_t mtime_ns)
{
	char when[48] = "-", array[1024] = "";
	struct cli_array_brief b;
	o->seen++;
	if (!o->all && !is_prefix && is_zarr_metadata(key))
		return;
	if (!is_prefix)
		cli_format_time(when, sizeof when, mtime_ns, 0);
	int is_array = is_prefix && prefix_is_array(o, key, &b);
	if (is_array)
		cli_array_brief_text(array, sizeof array, &b);
	if (o->json) {
		fputs(o->count ? ",\n  {\"key\": " : "[\n  {\"key\": ", stdout);
		cli_json_string(stdout, key);
		if (is_prefix)
			fputs(", \"size\": 0, \"mtime\": null, \"type\": \"prefix\"", stdout);
		else
			printf(", \"size\": %" PRIu64 ", \"mtime\": \"%s\", \"type\": \"object\"",
			       size, when);
		if (is_array) {
			fputs(", \"array\": ", stdout);
			cli_array_brief_json(stdout, &b);
		}
		fputc('}', stdout);
	} else if (o->long_format) {
		if (is_prefix)
			printf("%12s  %-20s  %s%s%s\n", "-", when, key, is_array ? "  " : "", array);
		else
			printf("%12" PRIu64 "  %-20s  %s\n", size, when, key);
	} else {
		printf("%s%s%s\n", key, is_array ? "  " : "", array);
	}
	o->count++;
}

/* Print every entry under prefix; entries go out as they arrive. */
static int ls_prefix(struct ls_out *o, tess_store *st, const char *prefix,
                     unsigned flags, const char *arg)
{
	tess_list *it = NULL;
	int rc = tess_list_open(&it, st, prefix, flags);
	if (rc)
		return cli_fail(rc, "ls '%s'", arg);
	const tess_list_entry *e;
	while ((rc = tess_list_next(&e, it)) == 0)
		ls_print(o, e->key, e->is_prefix, e->size, e->mtime_ns);
	int status = rc == TESS_ITEROVER ? CLI_OK : cli_fail(rc, "ls '%s'", arg);
	tess_list_close(it);
	return status;
}

/*
 * A named PREFIX behaves like a path given to ls(1): the object with that
 * exact key (if any), then what lies under "PREFIX/".  A name that matches
 * nothing is an error; an empty store root is not.
 */
static int ls_named(struct ls_out *o, tess_store *st, const char *arg,
                    unsigned flags)
{
	size_t len = strlen(arg);
	if (arg[len - 1] != '/') {
		tess_stat sb;
		int rc = tess_blob_stat(&sb, st, arg);
		if (rc == 0)
			ls_print(o, arg, 0, sb.size, sb.mtime_ns);
		else if (rc != TESS_ENOTFOUND)
			return cli_fail(rc, "ls '%s'", arg);
	}
	/* An array is listed as one entry, not descended into (its chunks are
	 * listed with -r). */
	if (!(flags & TESS_RECURSIVE)) {
		size_t node_len = len;
		while (node_len > 0 && arg[node_len - 1] == '/')
			node_len--;
		char *entry = NULL;
		if (asprintf(&entry, "%.*s/", (int)node_len, arg) < 0)
			return cli_fail_text("ls '%s': out of memory", arg);
		struct cli_array_brief b;
		int array = node_len > 0 && prefix_is_array(o, entry, &b);
		if (array)
			ls_print(o, entry, 1, 0, 0);
		free(entry);
		if (array)
			return CLI_OK;
	}
	char *dir = NULL;
	if (asprintf(&dir, "%s%s", arg, arg[len - 1] == '/' ? "" : "/") < 0)
		return cli_fail_text("ls '%s': out of memory", arg);
	int status = ls_prefix(o, st, dir, flags, arg);
	free(dir);
	if (status == CLI_OK && o->seen == 0)
		return cli_fail_text("ls '%s': not found (no object or prefix '%s')", arg, arg);
	return status;
}

static int run_ls(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "recursive", no_argument, NULL, 'r' },
		{ "long", no_argument, NULL, 'l' },
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ 0 },
	};
	struct ls_out o = { 0 };
	unsigned flags = 0;
	int c, rc;
	while ((c = cli_getopt(argc, argv, "rla", opts, 0)) != -1) {
		switch (c) {
		case 'a': o.all = 1; break;
		case 'r': flags |= TESS_RECURSIVE; break;
		case 'l': o.long_format = 1; break;
		case CLI_OPT_JSON: o.json = 1; break;
		default:
			if ((rc = cli_common_option(ctx, c, argv)) >= 0)
				return rc;
		}
	}
	if ((rc = cli_check_args(ctx, argc, argv, 0, 1)) >= 0)
		return rc;
	tess_store *st;
	if ((rc = cli_store(ctx, &st)))
		return rc;
	o.st = st;
	const char *arg = optind < argc ? argv[optind] : "";
	while (*arg == '/')
		arg++;
	if (strcmp(arg, ".") == 0)
		arg = "";
	rc = arg[0] ? ls_named(&o, st, arg, flags) : ls_prefix(&o, st, "", flags, "/");
	if (rc == CLI_OK && o.json)
		fputs(o.count ? "\n]\n" : "[]\n", stdout);
	return rc;
}

/* ---- stat ----------------------------------------------------------------- */

static int run_stat(struct cli_ctx *ctx, int argc, char **argv)
{
	int rc, json;
	if ((rc = cli_parse_json_only(ctx, argc, argv, &json, 1, 1)) >= 0)
		return rc;
	const char *key = argv[optind];
	tess_store *st;
	if ((rc = cli_store(ctx, &st)))
		return rc;
	tess_stat sb;
	if ((rc = tess_blob_stat(&sb, st, key)) != 0)
		return cli_fail(rc, "stat '%s'", key);
	char when[48], size[32];
	cli_format_time(when, sizeof when, sb.mtime_ns, 0);
	if (json) {
		fputs("{\"key\": ", stdout);
		cli_json_string(stdout, key);
		printf(", \"size\": %" PRIu64 ", \"mtime\": \"%s\", \"mtime_ns\": %" PRId64
		       ", \"etag\": ", sb.size, when, sb.mtime_ns);
		cli_json_string(stdout, sb.etag);
		fputs("}\n", stdout);
	} else {
		cli_format_bytes(size, sizeof size, (double)sb.size);
		printf("key:   %s\nsize:  %" PRIu64 " (%s)\nmtime: %s\netag:  %s\n",
		       key, sb.size, size, when, sb.etag);
	}
	return CLI_OK;
}

/* ---- rm ------------------------------------------------------------------- */

static int run_rm(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "recursive", no_argument, NULL, 'r' },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ 0 },
	};
	unsigned flags = 0;
	int c, rc, force = 0, verbose = 0, json = 0;
	while ((c = cli_getopt(argc, argv, "rfv", opts, 0)) != -1) {
		switch (c) {
		case 'r': flags |= TESS_RECURSIVE; break;
		case 'f': force = 1; break;
		case 'v': verbose = 1; break;
		case CLI_OPT_JSON: json = 1; break;
		default:
			if ((rc = cli_common_option(ctx, c, argv)) >= 0)
				return rc;
		}
	}
	if ((rc = cli_check_args(ctx, argc, argv, 1, -1)) >= 0)
		return rc;
	tess_store *st;
	if ((rc = cli_store(ctx, &st)))
		return rc;
	/* Like rm(1): report each key that fails, go on with the others. */
	int status = CLI_OK;
	size_t reported = 0;
	for (int i = optind; i < argc; i++) {
		char *key = argv[i];
		if ((flags & TESS_RECURSIVE) && key[0] && key[0] != '/')
			strip_trailing_slashes(key); /* "dir/" names the tree "dir" */
		/* The library empties the whole store for "" -recursive; "rm -r /"
		 * or an empty shell variable must not do that: keys are checked. */
		size_t deleted = 0;
		rc = tess_key_check(key);
		if (rc == 0)
			rc = tess_blob_delete(&deleted, st, key, flags);
		if (rc == TESS_ENOTFOUND && force)
			rc = 0;
		if (rc) {
			status = cli_fail(rc, "rm '%s'", key);
			continue;
		}
		if (json) {
			fputs(reported++ ? ",\n  {\"key\": " : "[\n  {\"key\": ", stdout);
			cli_json_string(stdout, key);
			printf(", \"deleted\": %zu}", deleted);
		}
		if (verbose)
			fprintf(stderr, "rm '%s': %zu object%s deleted\n", key, deleted,
			        deleted == 1 ? "" : "s");
	}
	if (json)
		fputs(reported ? "\n]\n" : "[]\n", stdout);
	return status;
}

/* ---- cp ------------------------------------------------------------------- */

/* One side of a copy: a local path, or a key in a store. */
struct cp_side {
	int local;
	char *name; /* path or key (malloc'd) */
	tess_store *st;
};

/* "local:PATH", or a path starting with "/", "./" or "../" (or "." / ".."). */
static int local_path_of(const char *arg, const char **path)
{
	if (strncmp(arg, "local:", 6) == 0) {
		*path = arg + 6;
		return 1;
	}
	*path = arg;
	return arg[0] == '/' || strncmp(arg, "./", 2) == 0 || strncmp(arg, "../", 3) == 0 ||
	       strcmp(arg, ".") == 0 || strcmp(arg, "..") == 0;
}

static int cp_parse_side(struct cp_side *side, const char *arg)
{
	const char *name;
	side->local = local_path_of(arg, &name);
	side->name = strdup(name);
	if (!side->name)
		return cli_fail_text("cp: out of memory");
	if (!side->local)
		strip_trailing_slashes(side->name);
	return 0;
}

/* Stores that cp opened besides the current one, closed when it ends. */
struct cp_stores {
	tess_store *opened[2];
	size_t count;
};

/* A store for a side: --from/--to URL, else the current store.  The same URL
 * is opened once (LMDB allows one environment per file per process). */
static int cp_store(struct cli_ctx *ctx, const char *url, struct cp_stores *stores,
                    tess_store **out)
{
	const char *current = ctx->store_url && ctx->store_url[0] ? ctx->store_url
	                                                          : getenv("TESS_STORE");
	if (!url || (current && strcmp(url, current) == 0))
		return cli_store(ctx, out);
	for (size_t i = 0; i < stores->count; i++) {
		if (strcmp(tess_store_url(stores->opened[i]), url) == 0) {
			*out = stores->opened[i];
			return 0;
		}
	}
	int rc = cli_open_url(out, url);
	if (rc == 0)
		stores->opened[stores->count++] = *out;
	return rc;
}

static void cp_stores_close(struct cp_stores *stores)
{
	for (size_t i = 0; i < stores->count; i++)
		tess_store_close(stores->opened[i]);
}

/* DST ending in '/' (or an existing local directory, for one object) means
 * "into": the last segment of SRC is appended. */
static int cp_resolve_dst(struct cp_side *dst, const char *dst_arg,
                          const struct cp_side *src, int recursive)
{
	size_t len = strlen(dst_arg);
	int into = len > 0 && dst_arg[len - 1] == '/';
	if (dst->local && !recursive && is_directory(dst->name))
		into = 1;
	if (!into)
		return 0;
	char base[4096];
	last_segment(src->name, base, sizeof base);
	char *joined = NULL;
	strip_trailing_slashes(dst->name);
	if (asprintf(&joined, "%s%s%s", dst->name, dst->name[0] ? "/" : "", base) < 0)
		return cli_fail_text("cp: out of memory");
	free(dst->name);
	dst->name = joined;
	return 0;
}

struct cp_progress {
	struct cli_progress line;
	uint64_t done;
};

static void cp_progress_cb(uint64_t done, uint64_t total, void *payload)
{
	struct cp_progress *p = payload;
	p->done = done;
	cli_progress_cb(done, total, &p->line);
}

/* A copy being prepared and run: both sides and the stores opened for it. */
struct cp_job {
	struct cp_side src;
	struct cp_side dst;
	struct cp_stores stores;
	unsigned flags;
};

static int cp_prepare(struct cli_ctx *ctx, struct cp_job *job, const char *from,
                      const char *to, const char *src_arg, const char *dst_arg)
{
	struct cp_side *src = &job->src, *dst = &job->dst;
	int rc;
	if ((rc = cp_parse_side(src, src_arg)) || (rc = cp_parse_side(dst, dst_arg)))
		return rc;
	if (src->local && dst->local)
		return cli_usage_error(ctx, "both sides are local paths (use cp(1))");
	if (src->local && from)
		return cli_usage_error(ctx, "--from names a store but SRC '%s' is a local path",
		                       src_arg);
	if (dst->local && to)
		return cli_usage_error(ctx, "--to names a store but DST '%s' is a local path",
		                       dst_arg);
	if (!src->local && (rc = cp_store(ctx, from, &job->stores, &src->st)))
		return rc;
	if (!dst->local && (rc = cp_store(ctx, to, &job->stores, &dst->st)))
		return rc;
	return cp_resolve_dst(dst, dst_arg, src, job->flags & TESS_RECURSIVE);
}

static int cp_run(struct cp_job *job, struct cp_progress *progress)
{
	struct cp_side *src = &job->src, *dst = &job->dst;
	int rc;
	if (src->local)
		rc = tess_blob_copy_from_local(dst->st, dst->name, src->name, job->flags,
		                               cp_progress_cb, progress);
	else if (dst->local)
		rc = tess_blob_copy_to_local(dst->name, src->st, src->name, job->flags,
		                             cp_progress_cb, progress);
	else
		rc = tess_blob_copy(dst->st, dst->name, src->st, src->name, job->flags,
		                    cp_progress_cb, progress);
	if (rc)
		return cli_fail(rc, "cp '%s' -> '%s'", src->name, dst->name);
	return CLI_OK;
}

/* Bytes copied: the object's size for one object, else the progress total
 * (which counts every object of a tree). */
static uint64_t cp_bytes(const struct cp_job *job, uint64_t reported)
{
	const struct cp_side *dst = &job->dst;
	if (job->flags & TESS_RECURSIVE)
		return reported;
	if (dst->local) {
		struct stat sb;
		return stat(dst->name, &sb) == 0 ? (uint64_t)sb.st_size : reported;
	}
	tess_stat ts;
	return tess_blob_stat(&ts, dst->st, dst->name) == 0 ? ts.size : reported;
}

static void cp_report(const struct cp_job *job, int json, int verbose, uint64_t bytes)
{
	if (json) {
		fputs("{\"src\": ", stdout);
		cli_json_string(stdout, job->src.name);
		fputs(", \"dst\": ", stdout);
		cli_json_string(stdout, job->dst.name);
		printf(", \"bytes\": %" PRIu64 "}\n", bytes);
	}
	if (verbose)
		fprintf(stderr, "cp '%s' -> '%s': %" PRIu64 " bytes\n",
		        job->src.name, job->dst.name, bytes);
}

static int run_cp(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "recursive", no_argument, NULL, 'r' },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "to", required_argument, NULL, OPT_TO },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ 0 },
	};
	struct cp_job job = { .flags = 0 };
	const char *from = NULL, *to = NULL;
	int c, rc, verbose = 0, json = 0;
	while ((c = cli_getopt(argc, argv, "rv", opts, 0)) != -1) {
		switch (c) {
		case 'r': job.flags |= TESS_RECURSIVE; break;
		case OPT_FROM: from = optarg; break;
		case OPT_TO: to = optarg; break;
		case 'v': verbose = 1; break;
		case CLI_OPT_JSON: json = 1; break;
		default:
			if ((rc = cli_common_option(ctx, c, argv)) >= 0)
				return rc;
		}
	}
	if ((rc = cli_check_args(ctx, argc, argv, 2, 2)) >= 0)
		return rc;
	rc = cp_prepare(ctx, &job, from, to, argv[optind], argv[optind + 1]);
	if (rc == CLI_OK) {
		struct cp_progress progress = { .done = 0 };
		cli_progress_start(&progress.line);
		rc = cp_run(&job, &progress);
		cli_progress_end(&progress.line);
		if (rc == CLI_OK && (json || verbose))
			cp_report(&job, json, verbose, cp_bytes(&job, progress.done));
	}
	cp_stores_close(&job.stores);
	free(job.src.name);
	free(job.dst.name);
	return rc;
}

/* ---- the table ------------------------------------------------------------ */

const struct cli_cmd cli_blob_commands[] = {
	{
		.name = "put",
		.synopsis = "KEY [FILE|-]",
		.summary = "Store a file (or standard input) at KEY.",
		.help =
			"Reads FILE, or standard input when FILE is '-' or missing, and stores\n"
			"it at KEY atomically: readers see the old object or the whole new one.\n"
			"\n"
			"Options:\n"
			"  --if-absent     fail (exit 1) if KEY already exists\n"
			"  -v, --verbose   report the bytes stored on stderr\n"
			"  --json          print {\"key\": KEY, \"bytes\": N} on stdout\n"
			"  -h, --help      show this help\n"
			"\n"
			"Examples:\n"
			"  tess put sims/1/manifest manifest.json\n"
			"  echo hello | tess put notes/hello\n",
		.run = run_put,
	},
	{
		.name = "get",
		.synopsis = "KEY [FILE|-]",
		.summary = "Write the object at KEY to a file (or standard output).",
		.help =
			"Writes to standard output when FILE is '-' or missing.  A FILE is\n"
			"written under a temporary name and renamed when complete, so a failure\n"
			"never leaves a partial file.  If FILE is a directory, the object lands\n"
			"in it under the last segment of KEY.\n"
			"\n"
			"Options:\n"
			"  -v, --verbose   report the bytes written on stderr\n"
			"  --json          print {\"key\": KEY, \"bytes\": N} (needs FILE)\n"
			"  -h, --help      show this help\n",
		.run = run_get,
	},
	{
		.name = "ls",
		.synopsis = "[PREFIX]",
		.summary = "List keys, like ls(1): \"dir/\" entries for prefixes.",
		.help =
			"Without PREFIX lists the root.  PREFIX names an object and/or a\n"
			"\"directory\": 'tess ls sims' shows the object 'sims' if there is one,\n"
			"then everything under 'sims/'.  A PREFIX that matches nothing is an\n"
			"error (exit 1).  Keys are printed in full, in byte order.\n"
			"\n"
			"Options:\n"
			"  -r, --recursive  list every key below, without \"dir/\" entries\n"
			"  -l, --long       show size in bytes and mtime (UTC) before the key\n"
			"  -a, --all        also show Zarr metadata objects (.zgroup, .zattrs,\n"
			"                   .zarray, .zmetadata, zarr.json), hidden by default\n"
			"  --json           one JSON array of {\"key\", \"size\", \"mtime\",\n"
			"                   \"type\": \"object\" | \"prefix\"} (mtime null for prefixes)\n"
			"  -h, --help       show this help\n",
		.run = run_ls,
	},
	{
		.name = "stat",
		.synopsis = "KEY",
		.summary = "Show the size, mtime and etag of an object.",
		.help =
			"Options:\n"
			"  --json        print {\"key\", \"size\", \"mtime\" (ISO-8601 UTC),\n"
			"                \"mtime_ns\", \"etag\"}\n"
			"  -h, --help    show this help\n",
		.run = run_stat,
	},
	{
		.name = "rm",
		.synopsis = "KEY...",
		.summary = "Delete objects (with -r, whole trees).",
		.help =
			"A KEY that does not exist is an error (exit 1, the key named on stderr);\n"
			"the other keys are still deleted.\n"
			"\n"
			"Options:\n"
			"  -r, --recursive  also delete everything under KEY/\n"
			"  -f, --force      ignore keys that do not exist\n"
			"  -v, --verbose    report the number of objects deleted on stderr\n"
			"  --json           print a JSON array of {\"key\", \"deleted\"}\n"
			"  -h, --help       show this help\n",
		.run = run_rm,
	},
	{
		.name = "cp",
		.synopsis = "SRC DST",
		.summary = "Copy objects or trees between stores and local files.",
		.help =
			"Each side is a key in a store or a local path:\n"
			"  local:PATH, /PATH, ./PATH, ../PATH   a local file or directory\n"
			"  anything else                        a key; SRC in the --from store,\n"
			"                                       DST in the --to store (both\n"
			"                                       default to --store / $TESS_STORE)\n"
			"At least one side must be a key.  A DST ending in '/' means \"into\": the\n"
			"last segment of SRC is appended.  Copying one object to an existing\n"
			"local directory also puts it inside.  Local files are written under a\n"
			"temporary name and renamed.\n"
			"\n"
			"Options:\n"
			"  -r, --recursive  copy SRC and everything under SRC/ to DST, DST/...\n"
			"  --from URL       the store SRC is read from\n"
			"  --to URL         the store DST is written to\n"
			"  -v, --verbose    report the bytes copied on stderr\n"
			"  --json           print {\"src\", \"dst\", \"bytes\"} on stdout\n"
			"  -h, --help       show this help\n"
			"\n"
			"Examples:\n"
			"  tess cp runs/1/log runs/1/log.bak\n"
			"  tess cp -r ./results sims/7/results\n"
			"  tess cp -r sims/7 ./sims7-copy\n"
			"  tess cp -r --to lmdb:///tmp/archive.lmdb sims/7 sims/7\n",
		.run = run_cp,
	},
	{ 0 },
};
