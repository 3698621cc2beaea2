/*
 * Array commands: tess array create | import | export | write | info |
 * consolidate, and the array summary that `tess ls` prints for array prefixes.
 *
 * Data moves between .npy files and arrays in blocks of bounded size (see
 * struct block_plan): imports and writes go in chunk-aligned tiles so that
 * each chunk is encoded and stored once; exports go in C order so that the
 * file (or a pipe) is written front to back.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array/array_internal.h"
#include "util/json.h"
#include "util/npy.h"

#define MAXD TESS_ARRAY_MAX_DIMS
/* Memory for one block of elements; an F-order import needs two.  Tests
 * set $TESS_CLI_BLOCK_BYTES lower so that small arrays take many blocks. */
#define BLOCK_BYTES_DEFAULT ((uint64_t)64 << 20)
/* Room for "(d0, d1, ...)" of 32 dimensions of 20 digits. */
#define SHAPE_TEXT 800

enum {
	OPT_SHAPE = CLI_OPT_FIRST_PRIVATE,
	OPT_CHUNKS,
	OPT_DTYPE,
	OPT_CODEC,
	OPT_FILL,
	OPT_ORDER,
	OPT_ZARR_FORMAT,
	OPT_SHARD,
	OPT_SEPARATOR,
	OPT_DIMENSION_NAMES,
	OPT_REGION,
	OPT_AT,
};

/* The options of create that import shares (import takes the shape from
 * the file, and --dtype only as a check). */
#define CREATE_OPTIONS \
	{ "chunks", required_argument, NULL, OPT_CHUNKS }, \
	{ "dtype", required_argument, NULL, OPT_DTYPE }, \
	{ "codec", required_argument, NULL, OPT_CODEC }, \
	{ "fill", required_argument, NULL, OPT_FILL }, \
	{ "order", required_argument, NULL, OPT_ORDER }, \
	{ "zarr-format", required_argument, NULL, OPT_ZARR_FORMAT }, \
	{ "shard", required_argument, NULL, OPT_SHARD }, \
	{ "separator", required_argument, NULL, OPT_SEPARATOR }, \
	{ "dimension-names", required_argument, NULL, OPT_DIMENSION_NAMES }

/* ---- small parsers and formatters ---------------------------------------- */

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
	return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Decimal digits only, no sign; -1 if s[0..len) is not such a count. */
static int parse_u64(const char *s, size_t len, uint64_t *out)
{
	if (len == 0)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		uint64_t digit = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - digit) / 10)
			return -1;
		v = v * 10 + digit;
	}
	*out = v;
	return 0;
}

/* "N,M,..." into out (at most MAXD values); "" is the empty list (0-d). */
static int parse_list(const char *s, uint64_t *out, int *n)
{
	*n = 0;
	if (!*s)
		return 0;
	for (;;) {
		size_t len = strcspn(s, ",");
		if (*n == MAXD || parse_u64(s, len, &out[*n]) != 0)
			return -1;
		(*n)++;
		if (!s[len])
			return 0;
		s += len + 1;
	}
}

/* NumPy's spelling of a shape: "(3, 4)", "(5,)", "()". */
static const char *shape_text(char *buf, size_t cap, int n, const uint64_t *v)
{
	size_t len = (size_t)snprintf(buf, cap, "(");
	for (int d = 0; d < n && len < cap; d++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%" PRIu64, d ? ", " : "", v[d]);
	if (len < cap)
		snprintf(buf + len, cap - len, n == 1 ? ",)" : ")");
	return buf;
}

/* "4096x4096" for ls; "()" for a 0-d array. */
static const char *dims_text(char *buf, size_t cap, int n, const uint64_t *v)
{
	if (n == 0)
		return shape_text(buf, cap, 0, v);
	size_t len = 0;
	buf[0] = '\0';
	for (int d = 0; d < n && len < cap; d++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%" PRIu64, d ? "x" : "", v[d]);
	return buf;
}

static void json_dims(FILE *out, int n, const uint64_t *v)
{
	fputc('[', out);
	for (int d = 0; d < n; d++)
		fprintf(out, "%s%" PRIu64, d ? ", " : "", v[d]);
	fputc(']', out);
}

/* ---- dtypes -------------------------------------------------------------- */

static const char *dtype_text(char *buf, size_t cap, const tess_dtype *dt)
{
	return tess_dtype_str(buf, cap, dt);
}

static int dtype_same(const tess_dtype *a, const tess_dtype *b)
{
	return a->kind == b->kind && a->itemsize == b->itemsize && a->endian == b->endian;
}

/* The unit whose bytes a change of byte order reverses; 0 for dtypes that
 * have no byte order. */
static size_t swap_unit(const tess_dtype *dt)
{
	if (dt->kind == TESS_DT_BYTES || dt->kind == TESS_DT_BOOL || dt->itemsize == 1)
		return 0;
	if (dt->kind == TESS_DT_COMPLEX)
		return dt->itemsize / 2;
	if (dt->kind == TESS_DT_UNICODE)
		return 4;
	return dt->itemsize;
}

/* Same values, other byte order: only the bytes move (Zarr v3 arrays keep
 * their byte order in the bytes codec and present little-endian data). */
static size_t swap_needed(const tess_dtype *from, const tess_dtype *to)
{
	if (from->endian == to->endian || (from->endian != '<' && from->endian != '>') ||
	    (to->endian != '<' && to->endian != '>'))
		return 0;
	return swap_unit(to);
}

static void swap_bytes(uint8_t *buf, uint64_t nbytes, size_t unit)
{
	for (uint64_t i = 0; i + unit <= nbytes; i += unit)
		for (size_t x = 0, y = unit - 1; x < y; x++, y--) {
			uint8_t t = buf[i + x];
			buf[i + x] = buf[i + y];
			buf[i + y] = t;
		}
}

/* ---- blocks -------------------------------------------------------------- */

/*
 * A transfer of an N-d extent in blocks.  On the axes up to `axis` a block's
 * edges fall on multiples of grid[d] (in array coordinates, so on chunk
 * boundaries when grid is the chunk shape) and it spans at most mult[d] grid
 * cells; on the axes after `axis` it spans the whole extent, so a block's
 * rows along those axes are contiguous in a C-order file.
 */
struct block_plan {
	int ndim;
	int axis;              /* -1 for a 0-d extent */
	uint64_t extent[MAXD];
	uint64_t origin[MAXD]; /* array coordinates of the extent's first element */
	uint64_t grid[MAXD];
	uint64_t mult[MAXD];
};

struct block {
	uint64_t pos[MAXD];   /* of the first element, relative to the extent */
	uint64_t count[MAXD];
	uint64_t nelem;
};

static void plan_init(struct block_plan *p, int ndim, const uint64_t *extent,
                      const uint64_t *origin)
{
	memset(p, 0, sizeof *p);
	p->ndim = ndim;
	p->axis = ndim - 1;
	for (int d = 0; d < ndim; d++) {
		p->extent[d] = extent[d];
		p->origin[d] = origin ? origin[d] : 0;
		p->grid[d] = 1;
		p->mult[d] = 1;
	}
}

/* At most the cells an extent can touch (alignment may add one). */
static uint64_t cap_mult(uint64_t mult, uint64_t extent, uint64_t grid)
{
	uint64_t cells = extent / grid + 2;
	return mult < 1 ? 1 : mult < cells ? mult : cells;
}

/* Import and write: tiles of whole chunks, as many along the first axis
 * as the budget allows; when even one chunk-row is too big, the next axis
 * is tiled too, and so on down to single chunks. */
static void plan_tiles(struct block_plan *p, const uint64_t *chunks, uint64_t itemsize,
                       uint64_t budget)
{
	for (int d = 0; d < p->ndim; d++)
		p->grid[d] = chunks[d];
	for (int a = 0; a < p->ndim; a++) {
		uint64_t bytes = itemsize;
		for (int d = 0; d < p->ndim; d++)
			bytes = mul_sat(bytes, d <= a ? min_u64(chunks[d], p->extent[d])
			                              : p->extent[d]);
		if (bytes <= budget) {
			p->axis = a;
			p->mult[a] = bytes ? cap_mult(budget / bytes, p->extent[a], chunks[a]) : 1;
			return;
		}
	}
}

/* Export: the rows along `axis` that fit the budget (single indexes on the
 * axes before it), so blocks come in the file's C order; ends are put on
 * chunk boundaries when a block holds at least one chunk-row. */
static void plan_rows(struct block_plan *p, const uint64_t *chunks, uint64_t itemsize,
                      uint64_t budget)
{
	for (int a = 0; a < p->ndim; a++) {
		uint64_t row = itemsize;
		for (int d = a + 1; d < p->ndim; d++)
			row = mul_sat(row, p->extent[d]);
		if (row > budget && a + 1 < p->ndim)
			continue;
		p->axis = a;
		uint64_t rows = row && row <= budget ? budget / row : 1;
		if (rows >= chunks[a]) {
			p->grid[a] = chunks[a];
			rows /= chunks[a];
		}
		p->mult[a] = cap_mult(rows, p->extent[a], p->grid[a]);
		return;
	}
}

static uint64_t block_len(const struct block_plan *p, int d, uint64_t pos)
{
	uint64_t left = p->extent[d] - pos;
	if (d > p->axis)
		return left;
	uint64_t g = p->grid[d];
	uint64_t span = mul_sat(p->mult[d], g) - (p->origin[d] + pos) % g;
	return span < left ? span : left;
}

static void block_measure(const struct block_plan *p, struct block *b)
{
	b->nelem = 1;
	for (int d = 0; d < p->ndim; d++) {
		b->count[d] = block_len(p, d, b->pos[d]);
		b->nelem *= b->count[d];
	}
}

/* Elements of the largest block: the buffer size. */
static uint64_t plan_max_elems(const struct block_plan *p)
{
	uint64_t n = 1;
	for (int d = 0; d < p->ndim; d++)
		n = mul_sat(n, d <= p->axis ? min_u64(p->extent[d], mul_sat(p->mult[d], p->grid[d]))
		                            : p->extent[d]);
	return n;
}

/* The first block; 0 when the extent is empty. */
static int block_first(const struct block_plan *p, struct block *b)
{
	memset(b, 0, sizeof *b);
	for (int d = 0; d < p->ndim; d++)
		if (p->extent[d] == 0)
			return 0;
	block_measure(p, b);
	return 1;
}

/* The next block in C order of blocks; 0 after the last. */
static int block_next(const struct block_plan *p, struct block *b)
{
	for (int d = p->axis; d >= 0; d--) {
		b->pos[d] += b->count[d];
		if (b->pos[d] < p->extent[d]) {
			block_measure(p, b);
			return 1;
		}
		b->pos[d] = 0;
	}
	return 0;
}

static uint64_t block_budget(void)
{
	const char *env = getenv("TESS_CLI_BLOCK_BYTES");
	uint64_t v;
	if (env && parse_u64(env, strlen(env), &v) == 0 && v > 0)
		return v;
	return BLOCK_BYTES_DEFAULT;
}

/* A buffer for the plan's largest block, or NULL if it cannot be had. */
static uint8_t *block_buffer(const struct block_plan *p, uint64_t itemsize)
{
	uint64_t bytes = mul_sat(plan_max_elems(p), itemsize);
	if (bytes > SIZE_MAX / 2)
		return NULL;
	return malloc(bytes ? (size_t)bytes : 1);
}

/* ---- reading .npy files -------------------------------------------------- */

/* A .npy file being read into an array. */
struct npy_in {
	const char *verb; /* "array import", for messages */
	const char *path; /* the array, as given */
	const char *file;
	int fd;
	tess_npy_header h;
	tess_dtype dtype;
};

static int npy_open(struct npy_in *in, const char *verb, const char *path, const char *file)
{
	in->verb = verb;
	in->path = path;
	in->file = file;
	in->fd = open(file, O_RDONLY | O_CLOEXEC);
	if (in->fd < 0)
		return cli_fail_text("%s '%s': open %s: %s", verb, path, file, strerror(errno));
	struct stat sb;
	if (fstat(in->fd, &sb) != 0)
		return cli_fail_text("%s '%s': stat %s: %s", verb, path, file, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return cli_fail_text("%s '%s': %s is not a regular file (a .npy file is needed)",
		                     verb, path, file);
	int rc = tess_npy_read_header(&in->h, in->fd, file);
	if (!rc)
		rc = tess_dtype_parse(&in->dtype, in->h.descr);
	return rc ? cli_fail(rc, "%s '%s'", verb, path) : CLI_OK;
}

static void npy_close(struct npy_in *in)
{
	if (in->fd >= 0)
		close(in->fd);
	in->fd = -1;
}

static int pread_all(int fd, void *buf, size_t len, uint64_t offset)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(offset + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = ENODATA; /* the file shrank since its header was checked */
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

/*
 * Read block b of a C-order file of `shape` (the file space: for an F-order
 * file, the reversed shape) into buf, in C order.  Along the axes from
 * `axis` on the block is one contiguous run per index of the axes before.
 */
static int npy_read_block(const struct npy_in *in, int ndim, const uint64_t *shape, int axis,
                          const struct block *b, uint8_t *buf)
{
	uint64_t stride[MAXD], idx[MAXD] = { 0 }, s = 1;
	for (int d = ndim - 1; d >= 0; d--) {
		stride[d] = s;
		s *= shape[d];
	}
	size_t run = in->h.itemsize;
	for (int d = axis < 0 ? 0 : axis; d < ndim; d++)
		run *= (size_t)b->count[d];
	for (;;) {
		uint64_t at = 0;
		for (int d = 0; d < ndim; d++)
			at += (b->pos[d] + (d < axis ? idx[d] : 0)) * stride[d];
		if (pread_all(in->fd, buf, run, in->h.data_offset + at * in->h.itemsize) != 0) {
			const char *why = errno == ENODATA ? "unexpected end of file" : strerror(errno);
			return cli_fail_text("%s '%s': read %s: %s", in->verb, in->path, in->file, why);
		}
		buf += run;
		int d = axis - 1;
		for (; d >= 0; d--) {
			if (++idx[d] < b->count[d])
				break;
			idx[d] = 0;
		}
		if (d < 0)
			return CLI_OK;
	}
}

/* src holds a block of `count` (array axes) in F order; dst gets it in C order. */
static void f_to_c(const uint8_t *src, uint8_t *dst, int ndim, const uint64_t *count,
                   size_t itemsize)
{
	uint64_t fstride[MAXD], idx[MAXD] = { 0 }, total = 1;
	for (int d = 0; d < ndim; d++) {
		fstride[d] = total;
		total *= count[d];
	}
	uint64_t from = 0;
	for (uint64_t i = 0; i < total; i++) {
		memcpy(dst + i * itemsize, src + from * itemsize, itemsize);
		for (int d = ndim - 1; d >= 0; d--) {
			from += fstride[d];
			if (++idx[d] < count[d])
				break;
			from -= fstride[d] * count[d];
			idx[d] = 0;
		}
	}
}

/*
 * Write the file's data into arr at `at`, in chunk-aligned tiles.  The dtype
 * must be the array's up to byte order (checked by the caller).  A Fortran-
 * order file is the C-order file of the reversed shape, so it is tiled in
 * that space and each tile transposed in memory: no size limit.
 */
static int npy_copy_into(struct npy_in *in, tess_array *arr, const uint64_t *at,
                         uint64_t *out_bytes)
{
	const int n = in->h.ndim;
	const int fortran = in->h.fortran_order && n > 1;
	const size_t itemsize = in->h.itemsize;
	const size_t unit = swap_needed(&in->dtype, tess_array_dtype(arr));
	const uint64_t *chunks = tess_array_chunks(arr);
	uint64_t fshape[MAXD], forigin[MAXD], fchunks[MAXD];
	for (int d = 0; d < n; d++) {
		int a = fortran ? n - 1 - d : d;
		fshape[d] = in->h.shape[a];
		forigin[d] = at[a];
		fchunks[d] = chunks[a];
	}
	struct block_plan plan;
	plan_init(&plan, n, fshape, forigin);
	plan_tiles(&plan, fchunks, itemsize, fortran ? block_budget() / 2 : block_budget());
	uint8_t *buf = block_buffer(&plan, itemsize);
	uint8_t *tbuf = fortran ? block_buffer(&plan, itemsize) : NULL;
	if (!buf || (fortran && !tbuf)) {
		free(buf);
		free(tbuf);
		return cli_fail_text("%s '%s': out of memory", in->verb, in->path);
	}
	struct cli_progress progress;
	cli_progress_start(&progress);
	int status = CLI_OK;
	uint64_t done = 0;
	struct block b;
	for (int more = block_first(&plan, &b); more; more = block_next(&plan, &b)) {
		if ((status = npy_read_block(in, n, fshape, plan.axis, &b, buf)) != CLI_OK)
			break;
		uint64_t start[MAXD], count[MAXD];
		for (int d = 0; d < n; d++) {
			int a = fortran ? n - 1 - d : d;
			start[a] = at[a] + b.pos[d];
			count[a] = b.count[d];
		}
		uint8_t *data = buf;
		if (fortran) {
			f_to_c(buf, tbuf, n, count, itemsize);
			data = tbuf;
		}
		if (unit)
			swap_bytes(data, b.nelem * itemsize, unit);
		int rc = tess_array_write(arr, start, count, data);
		if (rc) {
			status = cli_fail(rc, "%s '%s'", in->verb, in->path);
			break;
		}
		done += b.nelem * itemsize;
		cli_progress_cb(done, in->h.data_size, &progress);
	}
	cli_progress_end(&progress);
	free(buf);
	free(tbuf);
	*out_bytes = done;
	return status;
}

/* The -v / --json report of a finished import, export or write. */
static void print_transfer(int json, int verbose, const char *verb, const char *path,
                           const char *file, int ndim, const uint64_t *shape,
                           const char *dtype, uint64_t bytes)
{
	if (json) {
		fputs("{\"path\": ", stdout);
		cli_json_string(stdout, path);
		fputs(", \"file\": ", stdout);
		cli_json_string(stdout, file);
		fputs(", \"shape\": ", stdout);
		json_dims(stdout, ndim, shape);
		fputs(", \"dtype\": ", stdout);
		cli_json_string(stdout, dtype);
		printf(", \"bytes\": %" PRIu64 "}\n", bytes);
	}
	if (verbose) {
		char text[SHAPE_TEXT];
		fprintf(stderr, "%s '%s': %s, shape %s, %s: %" PRIu64 " bytes\n", verb, path, file,
		        shape_text(text, sizeof text, ndim, shape), dtype, bytes);
	}
}

/* ---- creation options ---------------------------------------------------- */

/* The creation options as given, then as tess_array_opts. */
struct create_args {
	const char *shape, *chunks, *dtype, *codec, *fill, *order, *zarr_format, *shard,
	           *separator, *names;
	tess_array_opts opts;
	char *fill_text;   /* malloc'd */
	char *names_buf;   /* malloc'd copy of --dimension-names, cut at the commas */
	const char *name_ptrs[MAXD];
};

static void create_args_init(struct create_args *a)
{
	static const tess_array_opts init = TESS_ARRAY_OPTS_INIT;
	memset(a, 0, sizeof *a);
	a->opts = init;
}

static void create_args_free(struct create_args *a)
{
	free(a->fill_text);
	free(a->names_buf);
}

/* Remember a creation option; 0 if c is not one. */
static int create_option(struct create_args *a, int c)
{
	switch (c) {
	case OPT_SHAPE: a->shape = optarg; return 1;
	case OPT_CHUNKS: a->chunks = optarg; return 1;
	case OPT_DTYPE: a->dtype = optarg; return 1;
	case OPT_CODEC: a->codec = optarg; return 1;
	case OPT_FILL: a->fill = optarg; return 1;
	case OPT_ORDER: a->order = optarg; return 1;
	case OPT_ZARR_FORMAT: a->zarr_format = optarg; return 1;
	case OPT_SHARD: a->shard = optarg; return 1;
	case OPT_SEPARATOR: a->separator = optarg; return 1;
	case OPT_DIMENSION_NAMES: a->names = optarg; return 1;
	default: return 0;
	}
}

static double product(const double *v, int n)
{
	double p = 1;
	for (int i = 0; i < n; i++)
		p *= v[i];
	return p;
}

/*
 * zarr-python's guess_chunks (zarr/util.py), so that an import without
 * --chunks is chunked as zarr.array(data) would be: halve the axes in turn
 * until a chunk is near a target size that grows with the array.
 */
static void guess_chunks(int ndim, const uint64_t *shape, uint32_t itemsize, uint64_t *chunks)
{
	const double base = 256 * 1024, lo = 128 * 1024, hi = 64 * 1024 * 1024;
	double c[MAXD];
	for (int d = 0; d < ndim; d++)
		c[d] = shape[d] ? (double)shape[d] : 1;
	double target = base * pow(2, log10(product(c, ndim) * itemsize / (1024.0 * 1024)));
	target = target > hi ? hi : target < lo ? lo : target;
	for (int i = 0; ndim > 0; i++) {
		double elems = product(c, ndim), bytes = elems * itemsize;
		if ((bytes < target || fabs(bytes - target) / target < 0.5) && bytes < hi)
			break;
		if (elems == 1)
			break;
		c[i % ndim] = ceil(c[i % ndim] / 2.0);
	}
	for (int d = 0; d < ndim; d++)
		chunks[d] = (uint64_t)c[d];
}

/* --fill VALUE as JSON text: bare NaN and infinities become the strings
 * Zarr writes for them; anything else must be JSON already. */
static int fill_json(const char *arg, char **out)
{
	static const char *const words[][2] = {
		{ "NaN", "\"NaN\"" },           { "nan", "\"NaN\"" },
		{ "Infinity", "\"Infinity\"" }, { "+Infinity", "\"Infinity\"" },
		{ "inf", "\"Infinity\"" },      { "+inf", "\"Infinity\"" },
		{ "-Infinity", "\"-Infinity\"" }, { "-inf", "\"-Infinity\"" },
	};
	const char *text = arg;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strcmp(arg, words[i][0]) == 0)
			text = words[i][1];
	json_error_t err;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
	/* uint64 fill values past INT64_MAX are JSON that jansson cannot hold;
	 * the library reads them. */
	if (!v && json_error_code(&err) != json_error_numeric_overflow)
		return -1;
	json_decref(v);
	*out = strdup(text);
	return *out ? 0 : -1;
}

static int split_names(struct create_args *a, int ndim, struct cli_ctx *ctx)
{
	if (!(a->names_buf = strdup(a->names)))
		return cli_fail_text("%s: out of memory", ctx->path);
	int n = 0;
	for (char *s = a->names_buf;; n++) {
		char *comma = strchr(s, ',');
		if (n < MAXD)
			a->name_ptrs[n] = s[0] && s != comma ? s : NULL; /* empty: null */
		if (!comma) {
			n++;
			break;
		}
		*comma = '\0';
		s = comma + 1;
	}
	if (n != ndim)
		return cli_usage_error(ctx, "--dimension-names has %d names for %d dimensions",
		                       n, ndim);
	a->opts.dimension_names = a->name_ptrs;
	return -1;
}

static int parse_counts(struct cli_ctx *ctx, const char *opt, const char *arg, int ndim,
                        uint64_t *out)
{
	int n;
	if (parse_list(arg, out, &n) != 0)
		return cli_usage_error(ctx, "%s '%s': expected lengths like 512,512", opt, arg);
	if (n != ndim)
		return cli_usage_error(ctx, "%s has %d values for %d dimensions", opt, n, ndim);
	for (int d = 0; d < n; d++)
		if (out[d] == 0)
			return cli_usage_error(ctx, "%s '%s': a length of 0", opt, arg);
	return -1;
}

static int format_options(struct create_args *a, struct cli_ctx *ctx)
{
	tess_array_opts *o = &a->opts;
	if (a->zarr_format && strcmp(a->zarr_format, "2") != 0 && strcmp(a->zarr_format, "3") != 0)
		return cli_usage_error(ctx, "--zarr-format '%s': expected 2 or 3", a->zarr_format);
	o->zarr_format = a->zarr_format ? a->zarr_format[0] - '0' : 2;
	if (a->order && strcmp(a->order, "C") != 0 && strcmp(a->order, "F") != 0)
		return cli_usage_error(ctx, "--order '%s': expected C or F", a->order);
	o->order = a->order ? a->order[0] : 'C';
	if (a->separator && strcmp(a->separator, ".") != 0 && strcmp(a->separator, "/") != 0)
		return cli_usage_error(ctx, "--separator '%s': expected . or /", a->separator);
	o->dimension_separator = a->separator ? a->separator[0] : '.';
	if (o->zarr_format == 3 && o->dimension_separator == '.' && a->separator)
		return cli_usage_error(ctx, "--separator .: Zarr v3 chunk keys are c/I/J (use /)");
	if (o->zarr_format == 3)
		o->dimension_separator = '/';
	if (a->shard && o->zarr_format != 3)
		return cli_usage_error(ctx, "--shard needs --zarr-format 3");
	if (a->names && o->zarr_format != 3)
		return cli_usage_error(ctx, "--dimension-names needs --zarr-format 3");
	return -1;
}

/* Fill a->opts for an array of `shape` and dtype `dt`.  -1 when done, else
 * the exit status after reporting the mistake. */
static int create_opts_build(struct create_args *a, struct cli_ctx *ctx, int ndim,
                             const uint64_t *shape, const tess_dtype *dt)
{
	tess_array_opts *o = &a->opts;
	int rc;
	o->ndim = ndim;
	memcpy(o->shape, shape, (size_t)ndim * sizeof *shape);
	o->dtype = *dt;
	o->codec = a->codec;
	if ((rc = format_options(a, ctx)) >= 0)
		return rc;
	if (a->chunks) {
		if ((rc = parse_counts(ctx, "--chunks", a->chunks, ndim, o->chunks)) >= 0)
			return rc;
	} else {
		guess_chunks(ndim, shape, dt->itemsize, o->chunks);
	}
	if (a->shard && (rc = parse_counts(ctx, "--shard", a->shard, ndim, o->shard)) >= 0)
		return rc;
	if (a->fill) {
		if (fill_json(a->fill, &a->fill_text) != 0)
			return cli_usage_error(ctx, "--fill '%s': not a JSON value (a number, true, "
			                       "false, null, NaN, Infinity, -Infinity or a quoted "
			                       "string)", a->fill);
		o->fill = a->fill_text;
	}
	if (a->names && (rc = split_names(a, ndim, ctx)) >= 0)
		return rc;
	return -1;
}

/* ---- create -------------------------------------------------------------- */

static int run_create(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "shape", required_argument, NULL, OPT_SHAPE },
		CREATE_OPTIONS,
		{ 0 },
	};
	struct create_args a;
	create_args_init(&a);
	int c, rc;
	while ((c = cli_getopt(argc, argv, "", opts, 0)) != -1)
		if (!create_option(&a, c) && (rc = cli_common_option(ctx, c, argv)) >= 0)
			return rc;
	if ((rc = cli_check_args(ctx, argc, argv, 1, 1)) >= 0)
		return rc;
	if (!a.shape)
		return cli_usage_error(ctx, "--shape is required");
	if (!a.dtype)
		return cli_usage_error(ctx, "--dtype is required");
	uint64_t shape[MAXD];
	int ndim;
	if (parse_list(a.shape, shape, &ndim) != 0)
		return cli_usage_error(ctx, "--shape '%s': expected lengths like 4096,4096",
		                       a.shape);
	tess_dtype dt;
	if (tess_dtype_parse(&dt, a.dtype) != 0)
		return cli_usage_error(ctx, "--dtype: %s", tess_errmsg());
	const char *path = argv[optind];
	tess_store *st;
	if ((rc = create_opts_build(&a, ctx, ndim, shape, &dt)) < 0 &&
	    (rc = cli_store(ctx, &st)) == 0) {
		tess_array *arr = NULL;
		int err = tess_array_create(&arr, st, path, &a.opts);
		rc = err ? cli_fail(err, "array create '%s'", path) : CLI_OK;
		tess_array_close(arr);
	}
	create_args_free(&a);
	return rc;
}

/* ---- import -------------------------------------------------------------- */

/* The array's dtype is the file's; --dtype may only confirm it. */
static int import_check_dtype(const struct create_args *a, const struct npy_in *in,
                              struct cli_ctx *ctx)
{
	if (!a->dtype)
		return -1;
	tess_dtype want;
	char w[40], f[40];
	if (tess_dtype_parse(&want, a->dtype) != 0)
		return cli_usage_error(ctx, "--dtype: %s", tess_errmsg());
	if (!dtype_same(&want, &in->dtype))
		return cli_fail_text("array import '%s': --dtype %s differs from the dtype %s of %s "
		                     "(import does not convert)", in->path,
		                     dtype_text(w, sizeof w, &want),
		                     dtype_text(f, sizeof f, &in->dtype), in->file);
	return -1;
}

static int import_run(struct cli_ctx *ctx, struct create_args *a, struct npy_in *in,
                      const char *path, uint64_t *bytes)
{
	int rc;
	tess_store *st;
	if ((rc = npy_open(in, "array import", path, in->file)) != CLI_OK ||
	    (rc = import_check_dtype(a, in, ctx)) >= 0 ||
	    (rc = create_opts_build(a, ctx, in->h.ndim, in->h.shape, &in->dtype)) >= 0 ||
	    (rc = cli_store(ctx, &st)) != 0)
		return rc;
	tess_array *arr = NULL;
	if ((rc = tess_array_create(&arr, st, path, &a->opts)) != 0)
		return cli_fail(rc, "array import '%s'", path);
	uint64_t at[MAXD] = { 0 };
	rc = npy_copy_into(in, arr, at, bytes);
	tess_array_close(arr);
	/* Half an import is no array: take away what this command created. */
	if (rc != CLI_OK)
		tess_array_delete(st, path);
	return rc;
}

static int run_import(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		CREATE_OPTIONS,
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ 0 },
	};
	struct create_args a;
	create_args_init(&a);
	int c, rc, verbose = 0, json = 0;
	while ((c = cli_getopt(argc, argv, "v", opts, 0)) != -1) {
		if (create_option(&a, c))
			continue;
		if (c == 'v')
			verbose = 1;
		else if (c == CLI_OPT_JSON)
			json = 1;
		else if ((rc = cli_common_option(ctx, c, argv)) >= 0)
			return rc;
	}
	if ((rc = cli_check_args(ctx, argc, argv, 2, 2)) >= 0)
		return rc;
	const char *path = argv[optind];
	struct npy_in in = { .fd = -1, .file = argv[optind + 1] };
	uint64_t bytes = 0;
	rc = import_run(ctx, &a, &in, path, &bytes);
	npy_close(&in);
	if (rc == CLI_OK) {
		char dt[40];
		print_transfer(json, verbose, "array import", path, in.file, in.h.ndim, in.h.shape,
		               dtype_text(dt, sizeof dt, &in.dtype), bytes);
	}
	create_args_free(&a);
	return rc;
}

/* ---- write --------------------------------------------------------------- */

/* The block must have the array's rank and dtype (up to byte order) and
 * lie inside its shape. */
static int write_check(const struct npy_in *in, tess_array *arr, const uint64_t *at, int nat)
{
	int n = tess_array_ndim(arr);
	const uint64_t *shape = tess_array_shape(arr);
	const tess_dtype *adt = tess_array_dtype(arr);
	char s1[SHAPE_TEXT], s2[SHAPE_TEXT], s3[SHAPE_TEXT], d1[40], d2[40];
	if (in->dtype.kind != adt->kind || in->dtype.itemsize != adt->itemsize)
		return cli_fail_text("array write '%s': %s has dtype %s, the array %s (write does "
		                     "not convert)", in->path, in->file,
		                     dtype_text(d1, sizeof d1, &in->dtype),
		                     dtype_text(d2, sizeof d2, adt));
	if (in->h.ndim != n)
		return cli_fail_text("array write '%s': %s has %d dimensions, the array %d",
		                     in->path, in->file, in->h.ndim, n);
	if (nat != n)
		return cli_fail_text("array write '%s': --at has %d values, the array has %d "
		                     "dimensions", in->path, nat, n);
	for (int d = 0; d < n; d++)
		if (in->h.shape[d] > shape[d] || at[d] > shape[d] - in->h.shape[d])
			return cli_fail_text("array write '%s': a block of shape %s at %s does not fit "
			                     "in the array's shape %s (axis %d)", in->path,
			                     shape_text(s1, sizeof s1, n, in->h.shape),
			                     shape_text(s2, sizeof s2, n, at),
			                     shape_text(s3, sizeof s3, n, shape), d);
	return CLI_OK;
}

static int run_write(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "at", required_argument, NULL, OPT_AT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ 0 },
	};
	const char *at_arg = NULL;
	int c, rc, verbose = 0, json = 0;
	while ((c = cli_getopt(argc, argv, "v", opts, 0)) != -1) {
		switch (c) {
		case OPT_AT: at_arg = optarg; break;
		case 'v': verbose = 1; break;
		case CLI_OPT_JSON: json = 1; break;
		default:
			if ((rc = cli_common_option(ctx, c, argv)) >= 0)
				return rc;
		}
	}
	if ((rc = cli_check_args(ctx, argc, argv, 2, 2)) >= 0)
		return rc;
	uint64_t at[MAXD] = { 0 };
	int nat = -1; /* no --at: the origin, whatever the rank */
	if (at_arg && parse_list(at_arg, at, &nat) != 0)
		return cli_usage_error(ctx, "--at '%s': expected offsets like 0,512", at_arg);
	const char *path = argv[optind];
	struct npy_in in = { .fd = -1 };
	tess_store *st;
	tess_array *arr = NULL;
	uint64_t bytes = 0;
	if ((rc = cli_store(ctx, &st)) != 0)
		return rc;
	if ((rc = tess_array_open(&arr, st, path)) != 0)
		return cli_fail(rc, "array write '%s'", path);
	rc = npy_open(&in, "array write", path, argv[optind + 1]);
	if (rc == CLI_OK)
		rc = write_check(&in, arr, at, nat < 0 ? tess_array_ndim(arr) : nat);
	if (rc == CLI_OK)
		rc = npy_copy_into(&in, arr, at, &bytes);
	npy_close(&in);
	tess_array_close(arr);
	if (rc == CLI_OK) {
		char dt[40];
		print_transfer(json, verbose, "array write", path, in.file, in.h.ndim, in.h.shape,
		               dtype_text(dt, sizeof dt, &in.dtype), bytes);
	}
	return rc;
}

/* ---- export -------------------------------------------------------------- */

/* --region as written: per axis an optional start and stop (Python slices). */
struct region_arg {
	int n;
	int64_t lo[MAXD], hi[MAXD];
	unsigned char has_lo[MAXD], has_hi[MAXD];
};

static int parse_index(const char *s, size_t len, int64_t *out)
{
	int neg = len > 0 && s[0] == '-';
	uint64_t v;
	if (parse_u64(s + neg, len - (size_t)neg, &v) != 0 || v > INT64_MAX)
		return -1;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

/* "a:b,:b,a:,:" (missing trailing axes mean whole); -1 on bad syntax. */
static int region_parse(const char *s, struct region_arg *r)
{
	memset(r, 0, sizeof *r);
	for (;;) {
		size_t len = strcspn(s, ",");
		const char *colon = memchr(s, ':', len);
		if (r->n == MAXD || !colon || memchr(colon + 1, ':', len - (size_t)(colon - s) - 1))
			return -1;
		size_t lo_len = (size_t)(colon - s), hi_len = len - lo_len - 1;
		int i = r->n++;
		r->has_lo[i] = lo_len > 0;
		r->has_hi[i] = hi_len > 0;
		if ((lo_len && parse_index(s, lo_len, &r->lo[i]) != 0) ||
		    (hi_len && parse_index(colon + 1, hi_len, &r->hi[i]) != 0))
			return -1;
		if (!s[len])
			return 0;
		s += len + 1;
	}
}

/* A slice bound: negative counts from the end, as in Python; out of range
 * is an error rather than clipped, so a typo does not export less. */
static int bound_resolve(int64_t v, uint64_t extent, uint64_t *out)
{
	if (v < 0) {
		uint64_t back = (uint64_t)(-(v + 1)) + 1;
		if (back > extent)
			return -1;
		*out = extent - back;
		return 0;
	}
	if ((uint64_t)v > extent)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

static int region_resolve(const struct region_arg *r, const char *arg, const char *path,
                          int ndim, const uint64_t *shape, uint64_t *start, uint64_t *count)
{
	char text[SHAPE_TEXT];
	if (r->n > ndim)
		return cli_fail_text("array export '%s': --region '%s' has %d axes, the array %d",
		                     path, arg, r->n, ndim);
	for (int d = 0; d < ndim; d++) {
		uint64_t lo = 0, hi = shape[d];
		if (d < r->n && ((r->has_lo[d] && bound_resolve(r->lo[d], shape[d], &lo) != 0) ||
		                 (r->has_hi[d] && bound_resolve(r->hi[d], shape[d], &hi) != 0)))
			return cli_fail_text("array export '%s': --region '%s': axis %d is outside "
			                     "the shape %s", path, arg, d,
			                     shape_text(text, sizeof text, ndim, shape));
		if (lo > hi)
			return cli_fail_text("array export '%s': --region '%s': axis %d starts at "
			                     "%" PRIu64 " after its stop %" PRIu64, path, arg, d, lo, hi);
		start[d] = lo;
		count[d] = hi - lo;
	}
	return CLI_OK;
}

/* Where an export goes: standard output, or a temporary file renamed over
 * FILE when complete, so a failure never leaves a partial FILE. */
struct out_file {
	int fd;
	const char *name;
	char *tmp; /* NULL for standard output */
};

static int out_open(struct out_file *o, const char *path, const char *file)
{
	o->name = file;
	o->tmp = NULL;
	if (strcmp(file, "-") == 0) {
		o->fd = STDOUT_FILENO;
		return CLI_OK;
	}
	const char *slash = strrchr(file, '/');
	const char *base = slash ? slash + 1 : file;
	int dir_len = slash ? (int)(slash - file) + 1 : 0;
	if (!base[0])
		return cli_fail_text("array export '%s': %s is not a file name", path, file);
	if (asprintf(&o->tmp, "%.*s.%s.tess-XXXXXX", dir_len, file, base) < 0) {
		o->tmp = NULL;
		return cli_fail_text("array export '%s': out of memory", path);
	}
	o->fd = mkstemp(o->tmp);
	if (o->fd < 0) {
		int err = errno;
		free(o->tmp);
		o->tmp = NULL;
		return cli_fail_text("array export '%s': create %s: %s", path, file, strerror(err));
	}
	/* mkstemp makes 0600; give the file the mode a plain create would. */
	mode_t mask = umask(0);
	umask(mask);
	fchmod(o->fd, 0666 & ~mask);
	return CLI_OK;
}

static void out_abort(struct out_file *o)
{
	if (!o->tmp)
		return;
	close(o->fd);
	unlink(o->tmp);
	free(o->tmp);
	o->tmp = NULL;
}

static int out_commit(struct out_file *o, const char *path)
{
	if (!o->tmp)
		return CLI_OK;
	int err = fsync(o->fd) != 0 ? errno : 0;
	if (close(o->fd) != 0 && !err)
		err = errno;
	if (!err && rename(o->tmp, o->name) != 0)
		err = errno;
	if (err) {
		unlink(o->tmp);
		free(o->tmp);
		o->tmp = NULL;
		return cli_fail_text("array export '%s': write %s: %s", path, o->name,
		                     strerror(err));
	}
	free(o->tmp);
	o->tmp = NULL;
	return CLI_OK;
}

/* Header, then the region in C-order blocks. */
static int export_data(tess_array *arr, const char *path, struct out_file *o,
                       const uint64_t *start, const uint64_t *count, uint64_t *out_bytes)
{
	int n = tess_array_ndim(arr);
	size_t itemsize = tess_array_dtype(arr)->itemsize;
	char descr[40];
	dtype_text(descr, sizeof descr, tess_array_dtype(arr));
	int rc = tess_npy_write_header(o->fd, descr, n, count, NULL);
	if (rc)
		return cli_fail(rc, "array export '%s' to %s", path, o->name);
	struct block_plan plan;
	plan_init(&plan, n, count, start);
	plan_rows(&plan, tess_array_chunks(arr), itemsize, block_budget());
	uint8_t *buf = block_buffer(&plan, itemsize);
	if (!buf)
		return cli_fail_text("array export '%s': out of memory", path);
	uint64_t total = itemsize, done = 0;
	for (int d = 0; d < n; d++)
		total *= count[d];
	struct cli_progress progress;
	cli_progress_start(&progress);
	int status = CLI_OK;
	struct block b;
	for (int more = block_first(&plan, &b); more; more = block_next(&plan, &b)) {
		uint64_t at[MAXD];
		for (int d = 0; d < n; d++)
			at[d] = start[d] + b.pos[d];
		if ((rc = tess_array_read(arr, at, b.count, buf)) != 0) {
			status = cli_fail(rc, "array export '%s'", path);
			break;
		}
		if (cli_write_all(o->fd, buf, (size_t)(b.nelem * itemsize)) != 0) {
			const char *to = o->tmp ? o->name : "standard output";
			status = cli_fail_text("array export '%s': write %s: %s", path, to,
			                       strerror(errno));
			break;
		}
		done += b.nelem * itemsize;
		cli_progress_cb(done, total, &progress);
	}
	cli_progress_end(&progress);
	free(buf);
	*out_bytes = done;
	return status;
}

static int run_export(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "region", required_argument, NULL, OPT_REGION },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ 0 },
	};
	const char *region = NULL;
	int c, rc, verbose = 0, json = 0;
	while ((c = cli_getopt(argc, argv, "v", opts, 0)) != -1) {
		switch (c) {
		case OPT_REGION: region = optarg; break;
		case 'v': verbose = 1; break;
		case CLI_OPT_JSON: json = 1; break;
		default:
			if ((rc = cli_common_option(ctx, c, argv)) >= 0)
				return rc;
		}
	}
	if ((rc = cli_check_args(ctx, argc, argv, 2, 2)) >= 0)
		return rc;
	const char *path = argv[optind], *file = argv[optind + 1];
	if (json && strcmp(file, "-") == 0)
		return cli_usage_error(ctx, "--json needs a FILE: standard output carries "
		                       "the data");
	struct region_arg r = { 0 };
	if (region && region_parse(region, &r) != 0)
		return cli_usage_error(ctx, "--region '%s': expected slices like 0:100,:,5: "
		                       "(start:stop per axis)", region);
	tess_store *st;
	tess_array *arr = NULL;
	if ((rc = cli_store(ctx, &st)) != 0)
		return rc;
	if ((rc = tess_array_open(&arr, st, path)) != 0)
		return cli_fail(rc, "array export '%s'", path);
	int n = tess_array_ndim(arr);
	uint64_t start[MAXD], count[MAXD], bytes = 0;
	struct out_file o = { .fd = -1 };
	rc = region_resolve(&r, region, path, n, tess_array_shape(arr), start, count);
	if (rc == CLI_OK && (rc = out_open(&o, path, file)) == CLI_OK) {
		rc = export_data(arr, path, &o, start, count, &bytes);
		if (rc == CLI_OK)
			rc = out_commit(&o, path);
		else
			out_abort(&o);
	}
	if (rc == CLI_OK) {
		char dt[40];
		print_transfer(json, verbose, "array export", path, file, n, count,
		               dtype_text(dt, sizeof dt, tess_array_dtype(arr)), bytes);
	}
	tess_array_close(arr);
	return rc;
}

/* ---- metadata as JSON (info, ls) ----------------------------------------- */

/* Metadata text parsed; uint64 fill values past INT64_MAX (zarr-python
 * writes 18446744073709551615) survive through util/json's tagging and are
 * printed back as numbers by tess_json_dumps. */
static json_t *parse_meta_text(const char *text, size_t len)
{
	json_error_t err;
	return tess_json_loadb(text, len, &err);
}

/* The node's .zarray (*fmt 2) or zarr.json (*fmt 3), parsed.  TESS_ENOTFOUND
 * when it has neither, TESS_ECORRUPT when the text is not JSON; the library
 * message is only set for errors of the store. */
static int meta_load(tess_store *st, const char *node, json_t **doc, int *fmt)
{
	static const char *const names[] = { ".zarray", "zarr.json" };
	for (int i = 0; i < 2; i++) {
		char *key = NULL;
		if (asprintf(&key, "%s%s%s", node, node[0] ? "/" : "", names[i]) < 0)
			return TESS_ENOMEM;
		void *data = NULL;
		size_t len = 0;
		int rc = tess_blob_get(&data, &len, st, key);
		free(key);
		if (rc == TESS_ENOTFOUND)
			continue;
		if (rc)
			return rc;
		*doc = parse_meta_text(data, len);
		tess_free(data);
		*fmt = i + 2;
		return *doc ? 0 : TESS_ECORRUPT;
	}
	return TESS_ENOTFOUND;
}

/* A JSON array of counts into out; -1 if it is not one. */
static int json_counts(const json_t *v, uint64_t *out, int *n)
{
	if (!json_is_array(v) || json_array_size(v) > MAXD)
		return -1;
	*n = (int)json_array_size(v);
	for (int d = 0; d < *n; d++) {
		const json_t *x = json_array_get(v, (size_t)d);
		if (!json_is_integer(x) || json_integer_value(x) < 0)
			return -1;
		out[d] = (uint64_t)json_integer_value(x);
	}
	return 0;
}

/* The sharding_indexed codec of a v3 array, or NULL. */
static const json_t *v3_sharding(const json_t *doc)
{
	const json_t *first = json_array_get(json_object_get(doc, "codecs"), 0);
	const json_t *name = json_object_get(first, "name");
	if (json_is_string(name) && strcmp(json_string_value(name), "sharding_indexed") == 0)
		return first;
	return NULL;
}

/* A dtype's typestring: v2 as written, v3 data_type names as typestrings
 * ("float32" -> "<f4"), anything else as its JSON text. */
static void meta_dtype(const json_t *doc, int fmt, char *buf, size_t cap)
{
	const json_t *v = json_object_get(doc, fmt == 2 ? "dtype" : "data_type");
	tess_dtype dt;
	if (json_is_string(v) && tess_dtype_parse(&dt, json_string_value(v)) == 0) {
		if (fmt == 2)
			snprintf(buf, cap, "%s", json_string_value(v));
		else
			tess_dtype_str(buf, cap, &dt);
		return;
	}
	char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	snprintf(buf, cap, "%s", text ? text : "?");
	free(text);
}

/* Shape, chunks, shard and dtype from a metadata document; -1 if it does not
 * describe an array (a v3 group, or fields of the wrong types). */
static int brief_from_doc(const json_t *doc, int fmt, struct cli_array_brief *b)
{
	memset(b, 0, sizeof *b);
	int n, nc;
	const json_t *chunks;
	if (fmt == 3) {
		const json_t *type = json_object_get(doc, "node_type");
		if (!json_is_string(type) || strcmp(json_string_value(type), "array") != 0)
			return -1;
		chunks = json_object_get(json_object_get(json_object_get(doc, "chunk_grid"),
		                                         "configuration"), "chunk_shape");
	} else {
		chunks = json_object_get(doc, "chunks");
	}
	if (json_counts(json_object_get(doc, "shape"), b->shape, &n) != 0 ||
	    json_counts(chunks, b->chunks, &nc) != 0 || nc != n)
		return -1;
	b->ndim = n;
	const json_t *sh = fmt == 3 ? v3_sharding(doc) : NULL;
	if (sh) {
		memcpy(b->shard, b->chunks, sizeof b->shard);
		const json_t *inner = json_object_get(json_object_get(sh, "configuration"),
		                                      "chunk_shape");
		if (json_counts(inner, b->chunks, &nc) != 0 || nc != n)
			return -1;
		b->sharded = 1;
	}
	for (int d = 0; d < n; d++)
		if (b->chunks[d] == 0 || (b->sharded && b->shard[d] == 0))
			return -1; /* the grid would divide by zero */
	meta_dtype(doc, fmt, b->dtype, sizeof b->dtype);
	return 0;
}

int cli_array_peek(tess_store *st, const char *node, struct cli_array_brief *out)
{
	json_t *doc = NULL;
	int fmt;
	if (meta_load(st, node, &doc, &fmt) != 0)
		return 0;
	int is = brief_from_doc(doc, fmt, out) == 0;
	json_decref(doc);
	return is;
}

void cli_array_brief_text(char *buf, size_t cap, const struct cli_array_brief *b)
{
	char dims[SHAPE_TEXT];
	snprintf(buf, cap, "[%s %s]", dims_text(dims, sizeof dims, b->ndim, b->shape), b->dtype);
}

void cli_array_brief_json(FILE *out, const struct cli_array_brief *b)
{
	fputs("{\"shape\": ", out);
	json_dims(out, b->ndim, b->shape);
	fputs(", \"dtype\": ", out);
	cli_json_string(out, b->dtype);
	fputs(", \"chunks\": ", out);
	json_dims(out, b->ndim, b->chunks);
	if (b->sharded) {
		fputs(", \"shard\": ", out);
		json_dims(out, b->ndim, b->shard);
	}
	fputc('}', out);
}

/* ---- info ---------------------------------------------------------------- */

static json_t *json_dims_new(int n, const uint64_t *v)
{
	json_t *a = json_array();
	for (int d = 0; a && d < n; d++)
		json_array_append_new(a, json_integer((json_int_t)v[d]));
	return a;
}

/* Chunks (or shards) in the grid: the product of ceil(shape / chunk). */
static uint64_t grid_cells(const struct cli_array_brief *b, const uint64_t *cell)
{
	uint64_t n = 1;
	for (int d = 0; d < b->ndim; d++)
		n = mul_sat(n, b->shape[d] / cell[d] + (b->shape[d] % cell[d] != 0));
	return n;
}

/* "F" when a transpose codec (at the top or inside the shards) reverses
 * the axes, else "C": the element order within chunks. */
static const char *v3_order(const json_t *doc, int ndim)
{
	const json_t *codecs = json_object_get(doc, "codecs"), *sh = v3_sharding(doc);
	if (sh)
		codecs = json_object_get(json_object_get(sh, "configuration"), "codecs");
	size_t i;
	const json_t *c;
	json_array_foreach(codecs, i, c) {
		const json_t *name = json_object_get(c, "name");
		if (!json_is_string(name) || strcmp(json_string_value(name), "transpose") != 0)
			continue;
		const json_t *order = json_object_get(json_object_get(c, "configuration"), "order");
		int reversed = ndim > 1 && json_is_array(order) &&
		               (int)json_array_size(order) == ndim;
		for (int d = 0; reversed && d < ndim; d++) {
			json_int_t axis = json_integer_value(json_array_get(order, (size_t)d));
			reversed = axis == ndim - 1 - d;
		}
		return reversed ? "F" : "C";
	}
	return "C";
}

static void copy_member(json_t *to, const char *name, const json_t *from, const char *key)
{
	const json_t *v = json_object_get(from, key);
	json_object_set_new(to, name, v ? json_deep_copy(v) : json_null());
}

/* Everything info shows, as one JSON object. */
static json_t *info_object(const char *path, const json_t *doc, int fmt,
                           const struct cli_array_brief *b)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "path", json_string(path));
	json_object_set_new(o, "zarr_format", json_integer(fmt));
	json_object_set_new(o, "shape", json_dims_new(b->ndim, b->shape));
	json_object_set_new(o, "chunks", json_dims_new(b->ndim, b->chunks));
	json_object_set_new(o, "shard",
	                    b->sharded ? json_dims_new(b->ndim, b->shard) : json_null());
	json_object_set_new(o, "dtype", json_string(b->dtype));
	copy_member(o, "fill_value", doc, "fill_value");
	if (fmt == 2) {
		const json_t *order = json_object_get(doc, "order");
		json_object_set_new(o, "order", json_is_string(order) ? json_deep_copy(order)
		                                                      : json_string("C"));
		copy_member(o, "compressor", doc, "compressor");
		copy_member(o, "filters", doc, "filters");
		const json_t *sep = json_object_get(doc, "dimension_separator");
		json_object_set_new(o, "dimension_separator",
		                    json_is_string(sep) ? json_deep_copy(sep) : json_string("."));
	} else {
		json_object_set_new(o, "order", json_string(v3_order(doc, b->ndim)));
		copy_member(o, "data_type", doc, "data_type");
		copy_member(o, "codecs", doc, "codecs");
		copy_member(o, "chunk_key_encoding", doc, "chunk_key_encoding");
		copy_member(o, "dimension_names", doc, "dimension_names");
	}
	json_object_set_new(o, "nchunks", json_integer((json_int_t)grid_cells(b, b->chunks)));
	json_object_set_new(o, "nshards",
	                    b->sharded ? json_integer((json_int_t)grid_cells(b, b->shard))
	                               : json_null());
	return o;
}

/* One "label: value" line with the value as compact JSON. */
static void print_json_line(const char *label, const json_t *v)
{
	char *text = NULL;
	if (tess_json_dumps(&text, v) != 0 || !text) {
		printf("%-14s ?\n", label);
		return;
	}
	printf("%-14s ", label);
	cli_json_print(stdout, text, 0);
	tess_free(text);
}

static void info_print_text(const json_t *o, int fmt, const struct cli_array_brief *b)
{
	char dims[SHAPE_TEXT];
	printf("%-14s %s\n", "path:", json_string_value(json_object_get(o, "path")));
	printf("%-14s %d\n", "zarr format:", fmt);
	printf("%-14s %s\n", "shape:", shape_text(dims, sizeof dims, b->ndim, b->shape));
	printf("%-14s %s\n", "chunks:", shape_text(dims, sizeof dims, b->ndim, b->chunks));
	if (b->sharded)
		printf("%-14s %s\n", "shard:", shape_text(dims, sizeof dims, b->ndim, b->shard));
	printf("%-14s %s\n", "dtype:", b->dtype);
	printf("%-14s %s\n", "order:", json_string_value(json_object_get(o, "order")));
	print_json_line("fill value:", json_object_get(o, "fill_value"));
	if (fmt == 2) {
		print_json_line("compressor:", json_object_get(o, "compressor"));
		print_json_line("filters:", json_object_get(o, "filters"));
		printf("%-14s %s\n", "separator:",
		       json_string_value(json_object_get(o, "dimension_separator")));
	} else {
		print_json_line("codecs:", json_object_get(o, "codecs"));
		print_json_line("chunk keys:", json_object_get(o, "chunk_key_encoding"));
		if (!json_is_null(json_object_get(o, "dimension_names")))
			print_json_line("dim names:", json_object_get(o, "dimension_names"));
	}
	uint64_t nchunks = (uint64_t)json_integer_value(json_object_get(o, "nchunks"));
	uint64_t cells[MAXD] = { 0 };
	for (int d = 0; d < b->ndim; d++)
		cells[d] = b->shape[d] / b->chunks[d] + (b->shape[d] % b->chunks[d] != 0);
	printf("%-14s %s = %" PRIu64 " chunk%s", "grid:",
	       dims_text(dims, sizeof dims, b->ndim, cells), nchunks, nchunks == 1 ? "" : "s");
	if (b->sharded)
		printf(" in %" PRIu64 " shards",
		       (uint64_t)json_integer_value(json_object_get(o, "nshards")));
	fputc('\n', stdout);
}

static int info_show(tess_store *st, const char *path, int json)
{
	char node[TESS_KEY_MAX + 1];
	cli_node_path(path, node, sizeof node);
	json_t *doc = NULL;
	int fmt, rc = meta_load(st, node, &doc, &fmt);
	if (rc == TESS_ECORRUPT)
		return cli_fail_text("array info '%s': its metadata is not valid JSON", path);
	if (rc == TESS_ENOTFOUND)
		return cli_fail_text("array info '%s': no .zarray or zarr.json there", path);
	if (rc)
		return cli_fail(rc, "array info '%s'", path);
	struct cli_array_brief b;
	json_t *o = NULL;
	int status = CLI_OK;
	if (brief_from_doc(doc, fmt, &b) != 0)
		status = cli_fail_text("array info '%s': its metadata does not describe an array",
		                       path);
	else if (!(o = info_object(node, doc, fmt, &b)))
		status = cli_fail_text("array info '%s': out of memory", path);
	if (o && json) {
		char *text = NULL;
		if (tess_json_dumps(&text, o) == 0 && text) {
					cli_json_print(stdout, text, 1);
		}
		else
			status = cli_fail_text("array info '%s': out of memory", path);
		tess_free(text);
	} else if (o) {
		info_print_text(o, fmt, &b);
	}
	json_decref(o);
	json_decref(doc);
	return status;
}

static int run_info(struct cli_ctx *ctx, int argc, char **argv)
{
	int rc, json;
	if ((rc = cli_parse_json_only(ctx, argc, argv, &json, 1, 1)) >= 0)
		return rc;
	const char *path = argv[optind];
	tess_store *st;
	tess_array *arr = NULL;
	if ((rc = cli_store(ctx, &st)) != 0)
		return rc;
	/* Open first: an array the library cannot read is reported as such. */
	if ((rc = tess_array_open(&arr, st, path)) != 0)
		return cli_fail(rc, "array info '%s'", path);
	tess_array_close(arr);
	return info_show(st, path, json);
}

/* ---- consolidate --------------------------------------------------------- */

static int run_consolidate(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS, { 0 } };
	int c, rc;
	while ((c = cli_getopt(argc, argv, "", opts, 0)) != -1)
		if ((rc = cli_common_option(ctx, c, argv)) >= 0)
			return rc;
	if ((rc = cli_check_args(ctx, argc, argv, 0, 0)) >= 0)
		return rc;
	tess_store *st;
	if ((rc = cli_store(ctx, &st)) != 0)
		return rc;
	if ((rc = tess_array_consolidate(st)) != 0)
		return cli_fail(rc, "array consolidate");
	return CLI_OK;
}

/* ---- the tables ---------------------------------------------------------- */

#define CREATE_OPTIONS_HELP \
	"  --chunks C,D,...     chunk shape (with --shard: the inner chunks); default:\n" \
	"                       zarr-python's automatic chunking\n" \
	"  --codec SPEC         blosc[:CNAME[:CLEVEL[:SHUFFLE]]], zstd[:LEVEL],\n" \
	"                       lz4[:ACCEL], gzip[:LEVEL], zlib[:LEVEL] or none\n" \
	"                       (CNAME blosclz, lz4, lz4hc, zlib, zstd; SHUFFLE\n" \
	"                       noshuffle, shuffle, bitshuffle);\n" \
	"                       default blosc:lz4:5:shuffle\n" \
	"  --fill VALUE         fill value as JSON (0, 1.5, true, null, '\"text\"');\n" \
	"                       NaN, Infinity and -Infinity may be bare; default 0\n" \
	"  --order C|F          element order within chunks (default C)\n" \
	"  --zarr-format 2|3    .zarray (default) or zarr.json\n" \
	"  --shard S,T,...      v3: shard shape, a multiple of --chunks\n" \
	"  --separator .|/      v2 chunk keys 0.0 (default) or 0/0\n" \
	"  --dimension-names a,b,...\n" \
	"                       v3: a name per axis (an empty one: none)\n"

static const struct cli_cmd array_subcommands[] = {
	{
		.name = "create",
		.synopsis = "PATH --shape N,M,... --dtype DTYPE",
		.summary = "Create an empty array (every element the fill value).",
		.help =
			"Parent groups are created as Zarr groups.  Fails (exit 1) if a node\n"
			"already exists at PATH.\n"
			"\n"
			"Options:\n"
			"  --shape N,M,...      the array's shape ('' for a 0-d array)\n"
			"  --dtype DTYPE        NumPy typestring (<f4, |u1, >i8, |S5, <U3, |b1) or\n"
			"                       plain name (float32, uint8, int64, bool, complex64)\n"
			CREATE_OPTIONS_HELP
			"  -h, --help           show this help\n"
			"\n"
			"Examples:\n"
			"  tess array create temp --shape 4096,4096 --chunks 512,512 --dtype float32\n"
			"  tess array create counts --shape 100,100 --chunks 10,10 --dtype '>u2' \\\n"
			"      --codec zstd:3 --fill 65535 --separator /\n"
			"  tess array create vol --shape 1024,1024,1024 --chunks 32,32,32 \\\n"
			"      --shard 256,256,256 --dtype uint16 --zarr-format 3\n",
		.run = run_create,
	},
	{
		.name = "import",
		.synopsis = "PATH FILE.npy",
		.summary = "Create an array from a NumPy .npy file.",
		.help =
			"The shape and dtype come from the file; the data is streamed in chunk-\n"
			"aligned blocks of at most 64 MiB (Fortran-order files too).  If the\n"
			"import fails, the new array is deleted again.\n"
			"\n"
			"Options:\n"
			"  --dtype DTYPE        fail unless the file has this dtype (no conversion)\n"
			CREATE_OPTIONS_HELP
			"  -v, --verbose        report the shape, dtype and bytes on stderr\n"
			"  --json               print {\"path\", \"file\", \"shape\", \"dtype\", \"bytes\"}\n"
			"  -h, --help           show this help\n"
			"\n"
			"Examples:\n"
			"  tess array import temp temp.npy --chunks 512,512 --codec zstd\n"
			"  tess array import vol vol.npy --zarr-format 3 --chunks 32,32,32 \\\n"
			"      --shard 256,256,256\n",
		.run = run_import,
	},
	{
		.name = "export",
		.synopsis = "PATH FILE.npy|- [--region a:b,c:d,...]",
		.summary = "Write an array, or a region of it, to a NumPy .npy file.",
		.help =
			"FILE is written under a temporary name and renamed when complete, so a\n"
			"failure never leaves a partial FILE; '-' writes to standard output.\n"
			"The dtype is the array's (v3 arrays read as little endian).\n"
			"\n"
			"Options:\n"
			"  --region SLICES      per axis start:stop as in Python (a:b, :b, a:, :;\n"
			"                       negative counts from the end); axes left out are\n"
			"                       whole; bounds outside the shape are an error\n"
			"  -v, --verbose        report the shape, dtype and bytes on stderr\n"
			"  --json               print {\"path\", \"file\", \"shape\", \"dtype\", \"bytes\"}\n"
			"                       (needs FILE)\n"
			"  -h, --help           show this help\n"
			"\n"
			"Examples:\n"
			"  tess array export temp temp.npy\n"
			"  tess array export temp corner.npy --region 0:256,0:256\n"
			"  tess array export vol - --region 10:11 | python3 -c \\\n"
			"      'import io, numpy, sys; print(numpy.load(io.BytesIO(sys.stdin.buffer.read())))'\n",
		.run = run_export,
	},
	{
		.name = "write",
		.synopsis = "PATH FILE.npy --at I,J,...",
		.summary = "Write a block from a .npy file into an existing array.",
		.help =
			"The file must have the array's number of dimensions and dtype (byte\n"
			"order aside: no conversion) and fit inside the shape at the offset.\n"
			"\n"
			"Options:\n"
			"  --at I,J,...         where the block's first element goes (default: the\n"
			"                       origin)\n"
			"  -v, --verbose        report the shape, dtype and bytes on stderr\n"
			"  --json               print {\"path\", \"file\", \"shape\", \"dtype\", \"bytes\"}\n"
			"  -h, --help           show this help\n"
			"\n"
			"Examples:\n"
			"  tess array write temp patch.npy --at 512,1024\n",
		.run = run_write,
	},
	{
		.name = "info",
		.synopsis = "PATH",
		.summary = "Show an array's shape, chunks, dtype, codecs and fill value.",
		.help =
			"Shows the shape, chunk shape (and shard shape), dtype, Zarr format,\n"
			"element order, fill value, codecs (v2: compressor and filters; v3: the\n"
			"codecs list), chunk key layout and the number of chunks in the grid.\n"
			"\n"
			"Options:\n"
			"  --json        print one JSON object: path, zarr_format, shape, chunks,\n"
			"                shard, dtype, order, fill_value, nchunks, nshards, and\n"
			"                compressor, filters, dimension_separator (v2) or\n"
			"                data_type, codecs, chunk_key_encoding, dimension_names (v3)\n"
			"  -h, --help    show this help\n"
			"\n"
			"Examples:\n"
			"  tess array info temp\n"
			"  tess array info --json vol | jq .codecs\n",
		.run = run_info,
	},
	{
		.name = "consolidate",
		.synopsis = "",
		.summary = "Write .zmetadata: the metadata of every node, for fast opens.",
		.help =
			"Writes the store's consolidated metadata (.zmetadata at the root) as\n"
			"zarr.consolidate_metadata does.  Tessera keeps it up to date when it\n"
			"creates, resizes or deletes v2 arrays; run this after other tools\n"
			"changed the store.\n"
			"\n"
			"Options:\n"
			"  -h, --help    show this help\n",
		.run = run_consolidate,
	},
	{ 0 },
};

static const struct cli_cmd *const array_tables[] = { array_subcommands, NULL };

const struct cli_cmd cli_array_commands[] = {
	{
		.name = "array",
		.synopsis = "COMMAND [ARGS...]",
		.summary = "Create, import, export and inspect N-d arrays (Zarr v2 and v3).",
		.help =
			"PATH is the '/'-separated path of the array in the store.  Arrays are\n"
			"plain Zarr: zarr-python opens them with zarr.open(STORE_DIR + '/' + PATH).\n",
		.sub = array_tables,
	},
	{ 0 },
};
