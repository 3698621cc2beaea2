/* Shared helpers of `tess`: dispatch, option parsing, errors, JSON, progress. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- dispatch and usage ------------------------------------------------- */

static int is_group(const struct cli_cmd *cmd)
{
	return cmd->sub != NULL;
}

const struct cli_cmd *cli_find(const struct cli_cmd *const *tables, const char *name)
{
	for (; tables && *tables; tables++)
		for (const struct cli_cmd *c = *tables; c->name; c++)
			if (strcmp(c->name, name) == 0)
				return c;
	return NULL;
}

static void print_usage_line(FILE *out, const struct cli_cmd *cmd, const char *path)
{
	fprintf(out, "Usage: %s [OPTIONS]%s%s\n", path,
	        cmd->synopsis[0] ? " " : "", cmd->synopsis);
}

static void print_command_list(FILE *out, const struct cli_cmd *group)
{
	size_t width = 0;
	for (const struct cli_cmd *const *t = group->sub; *t; t++)
		for (const struct cli_cmd *c = *t; c->name; c++)
			if (strlen(c->name) > width)
				width = strlen(c->name);
	fputs("\nCommands:\n", out);
	for (const struct cli_cmd *const *t = group->sub; *t; t++)
		for (const struct cli_cmd *c = *t; c->name; c++)
			fprintf(out, "  %-*s  %s\n", (int)width, c->name, c->summary);
}

void cli_print_help(FILE *out, const struct cli_cmd *cmd, const char *path)
{
	print_usage_line(out, cmd, path);
	fprintf(out, "\n%s\n", cmd->summary);
	if (is_group(cmd))
		print_command_list(out, cmd);
	if (cmd->help && cmd->help[0])
		fprintf(out, "\n%s", cmd->help);
	if (is_group(cmd))
		fprintf(out, "\nRun '%s COMMAND --help' for the options of a command.\n", path);
}

int cli_help(struct cli_ctx *ctx)
{
	cli_print_help(stdout, ctx->cmd, ctx->path);
	return CLI_OK;
}

int cli_usage_error(struct cli_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", ctx->path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	print_usage_line(stderr, ctx->cmd, ctx->path);
	fprintf(stderr, "Try '%s --help' for more information.\n", ctx->path);
	return CLI_USAGE;
}

int cli_run(struct cli_ctx *ctx, const struct cli_cmd *cmd, const char *path,
            int argc, char **argv)
{
	ctx->cmd = cmd;
	snprintf(ctx->path, sizeof ctx->path, "%s", path);
	optind = 0; /* GNU getopt: start over on this command's argv */
	if (cmd->run)
		return cmd->run(ctx, argc, argv);
	return cli_group_run(ctx, argc, argv);
}

int cli_run_subcommand(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc < 1)
		return cli_usage_error(ctx, "missing command");
	const struct cli_cmd *sub = cli_find(ctx->cmd->sub, argv[0]);
	if (!sub)
		return cli_usage_error(ctx, "unknown command '%s'", argv[0]);
	char path[sizeof ctx->path];
	if (snprintf(path, sizeof path, "%s %s", ctx->path, sub->name) >= (int)sizeof path)
		return cli_usage_error(ctx, "command '%s' nested too deeply", sub->name);
	return cli_run(ctx, sub, path, argc, argv);
}

int cli_group_run(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS, { 0 } };
	int c, rc;
	while ((c = cli_getopt(argc, argv, "", opts, 1)) != -1)
		if ((rc = cli_common_option(ctx, c, argv)) >= 0)
			return rc;
	return cli_run_subcommand(ctx, argc - optind, argv + optind);
}

/* ---- option parsing ------------------------------------------------------ */

int cli_getopt(int argc, char **argv, const char *shortopts,
               const struct option *longopts, int in_order)
{
	/* ':' first: a missing option argument returns ':' instead of '?'. */
	char spec[64];
	snprintf(spec, sizeof spec, "%s:h%s", in_order ? "+" : "", shortopts);
	opterr = 0;
	return getopt_long(argc, argv, spec, longopts, NULL);
}

/* How the user wrote the option getopt just complained about. */
static const char *bad_option_text(char **argv, char *buf, size_t size)
{
	if (optopt > 0 && optopt < 0x80 && isprint(optopt)) {
		snprintf(buf, size, "-%c", optopt);
		return buf;
	}
	return argv[optind - 1];
}

int cli_common_option(struct cli_ctx *ctx, int opt, char **argv)
{
	char buf[8];
	switch (opt) {
	case CLI_OPT_HELP:
		return cli_help(ctx);
	case CLI_OPT_STORE:
		ctx->store_url = optarg;
		return -1;
	case ':':
		return cli_usage_error(ctx, "option '%s' needs an argument",
		                       bad_option_text(argv, buf, sizeof buf));
	default:
		return cli_usage_error(ctx, "unknown option '%s'",
		                       bad_option_text(argv, buf, sizeof buf));
	}
}

int cli_check_args(struct cli_ctx *ctx, int argc, char **argv, int min, int max)
{
	int n = argc - optind;
	if (n < min)
		return cli_usage_error(ctx, "missing argument");
	if (max >= 0 && n > max)
		return cli_usage_error(ctx, "too many arguments (unexpected '%s')",
		                       argv[optind + max]);
	return -1;
}

/* ---- stores, errors ------------------------------------------------------ */

/* Copy `msg` to `out` as one line: newlines and tabs become spaces. */
static void one_line(char *out, size_t size, const char *msg)
{
	size_t i = 0;
	for (; msg[i] && i + 1 < size; i++)
		out[i] = (msg[i] == '\n' || msg[i] == '\r' || msg[i] == '\t') ? ' ' : msg[i];
	out[i] = '\0';
}

static int vfail(int code, const char *hint, const char *fmt, va_list ap)
{
	char what[1200], detail[1100];
	vsnprintf(what, sizeof what, fmt, ap);
	one_line(detail, sizeof detail, tess_errmsg());
	fprintf(stderr, "tess: %s: %s", what, tess_strerror(code));
	if (detail[0])
		fprintf(stderr, " (%s)", detail);
	fprintf(stderr, "%s\n", hint ? hint : "");
	return CLI_FAIL;
}

int cli_fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(code, NULL, fmt, ap);
	va_end(ap);
	return CLI_FAIL;
}

int cli_fail_text(const char *fmt, ...)
{
	va_list ap;
	fputs("tess: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAIL;
}

static int fail_with_hint(int code, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail_with_hint(int code, const char *hint, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(code, hint, fmt, ap);
	va_end(ap);
	return CLI_FAIL;
}

int cli_open_url(tess_store **out, const char *url)
{
	int rc = tess_store_open(out, url, NULL);
	if (rc == TESS_ENOTFOUND && !strstr(tess_errmsg(), "tess init"))
		return fail_with_hint(rc, "; create one with 'tess init'", "store '%s'", url);
	if (rc)
		return cli_fail(rc, "store '%s'", url);
	return 0;
}

int cli_store(struct cli_ctx *ctx, tess_store **out)
{
	if (!ctx->store) {
		const char *url = ctx->store_url;
		if (!url || !url[0])
			url = getenv("TESS_STORE");
		if (!url || !url[0]) {
			fputs("tess: no store: give --store URL or set TESS_STORE\n", stderr);
			return CLI_USAGE;
		}
		int rc = cli_open_url(&ctx->store, url);
		if (rc)
			return rc;
	}
	*out = ctx->store;
	return 0;
}

const char *cli_node_path(const char *arg, char *buf, size_t bufsize)
{
	while (*arg == '/')
		arg++;
	if (strcmp(arg, ".") == 0)
		arg = "";
	snprintf(buf, bufsize, "%s", arg);
	size_t len = strlen(buf);
	while (len > 0 && buf[len - 1] == '/')
		buf[--len] = '\0';
	return buf;
}

/* ---- output -------------------------------------------------------------- */

void cli_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

/* A line break plus indentation in pretty mode; nothing in compact mode. */
static void newline_indent(FILE *out, int pretty, int depth)
{
	if (!pretty)
		return;
	fputc('\n', out);
	for (int i = 0; i < depth; i++)
		fputs("  ", out);
}

static const char *skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* Copy a string literal starting at the opening quote; return past its end. */
static const char *copy_string(FILE *out, const char *p)
{
	fputc(*p++, out);
	while (*p && *p != '"') {
		if (*p == '\\' && p[1])
			fputc(*p++, out);
		fputc(*p++, out);
	}
	if (*p)
		fputc(*p++, out);
	return p;
}

/* Only whitespace changes, so numbers keep their exact spelling (a JSON
 * library would re-print 0.1 as 0.10000000000000001). */
void cli_json_print(FILE *out, const char *json, int pretty)
{
	int depth = 0;
	const char *p = skip_space(json);
	while (*p) {
		char c = *p;
		if (c == '"') {
			p = copy_string(out, p);
			continue;
		}
		p++;
		switch (c) {
		case ' ': case '\t': case '\n': case '\r':
			break;
		case '{': case '[': {
			const char *next = skip_space(p);
			fputc(c, out);
			if (*next == (c == '{' ? '}' : ']')) {
				fputc(*next, out);
				p = next + 1;
			} else {
				newline_indent(out, pretty, ++depth);
			}
			break;
		}
		case '}': case ']':
			newline_indent(out, pretty, --depth);
			fputc(c, out);
			break;
		case ',':
			fputc(c, out);
			newline_indent(out, pretty, depth);
			break;
		case ':':
			fputs(pretty ? ": " : ":", out);
			break;
		default:
			fputc(c, out);
		}
	}
	fputc('\n', out);
}

void cli_format_time(char *buf, size_t size, int64_t ns, int frac)
{
	int64_t sec = ns / 1000000000;
	int64_t rem = ns % 1000000000;
	if (rem < 0) { /* round toward minus infinity for times before 1970 */
		rem += 1000000000;
		sec--;
	}
	time_t t = (time_t)sec;
	struct tm tm;
	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, size, "?");
		return;
	}
	char base[40];
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac)
		snprintf(buf, size, "%s.%09lldZ", base, (long long)rem);
	else
		snprintf(buf, size, "%sZ", base);
}

void cli_format_bytes(char *buf, size_t size, double bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	if (bytes < 1024) {
		snprintf(buf, size, "%.0f B", bytes);
		return;
	}
	size_t u = 0;
	bytes /= 1024;
	while (bytes >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, size, "%.1f %s", bytes, units[u]);
}

int cli_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- progress ------------------------------------------------------------ */

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_start(struct cli_progress *p)
{
	p->enabled = isatty(STDERR_FILENO);
	p->shown = 0;
	p->start = now_seconds();
	p->last = 0;
	p->done = 0;
	p->total = 0;
}

static void progress_draw(struct cli_progress *p, double t)
{
	char d[32], tot[32], rate[32];
	cli_format_bytes(d, sizeof d, (double)p->done);
	cli_format_bytes(rate, sizeof rate, (double)p->done / (t - p->start));
	if (p->total) {
		cli_format_bytes(tot, sizeof tot, (double)p->total);
		fprintf(stderr, "\r%s / %s  %s/s\033[K", d, tot, rate);
	} else {
		fprintf(stderr, "\r%s  %s/s\033[K", d, rate);
	}
	fflush(stderr);
	p->shown = 1;
	p->last = t;
}

void cli_progress_cb(uint64_t done, uint64_t total, void *payload)
{
	struct cli_progress *p = payload;
	if (!p || !p->enabled)
		return;
	p->done = done;
	p->total = total;
	double t = now_seconds();
	/* Quick operations stay silent; a long one redraws ten times a second. */
	if (t - p->start <= 1.0 || (p->shown && t - p->last < 0.1))
		return;
	progress_draw(p, t);
}

void cli_progress_end(struct cli_progress *p)
{
	if (!p->shown)
		return;
	progress_draw(p, now_seconds()); /* the final count, then the newline */
	fputc('\n', stderr);
	p->shown = 0;
}

int cli_parse_json_only(struct cli_ctx *ctx, int argc, char **argv, int *json,
                        int min_args, int max_args)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ 0 },
	};
	int c, rc;
	*json = 0;
	while ((c = cli_getopt(argc, argv, "", opts, 0)) != -1) {
		if (c == CLI_OPT_JSON)
			*json = 1;
		else if ((rc = cli_common_option(ctx, c, argv)) >= 0)
			return rc;
	}
	return cli_check_args(ctx, argc, argv, min_args, max_args);
}
