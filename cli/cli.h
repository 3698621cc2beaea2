/*
 * cli.h - shared pieces of the `tess` command-line tool.
 *
 * Every command is a row of a table (struct cli_cmd).  A group such as
 * `tess attr` is a row whose `sub` points at another table, so nested
 * commands (`tess attr get`, later `tess array create`) dispatch through the
 * same code.  Each command group lives in its own file and exports one
 * NULL-terminated table; main.c lists the tables.
 *
 * Handlers return the process exit status: CLI_OK, CLI_FAIL (the operation
 * failed; one line on stderr) or CLI_USAGE (bad command line).
 */
#ifndef TESS_CLI_H
#define TESS_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "tessera.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

struct cli_ctx;

struct cli_cmd {
	const char *name;
	const char *synopsis; /* arguments after "tess NAME [OPTIONS]" */
	const char *summary;  /* one line, shown in the parent's command list */
	const char *help;     /* description and options, shown by --help */
	/* argv[0] is the command's own name; options are parsed from argv[1]. */
	int (*run)(struct cli_ctx *ctx, int argc, char **argv);
	/* A group: NULL-terminated list of subcommand tables; run may be NULL
	 * (cli_group_run is used). */
	const struct cli_cmd *const *sub;
};

/* The command tables of each group file (NULL-name-terminated). */
extern const struct cli_cmd cli_store_commands[];
extern const struct cli_cmd cli_blob_commands[];
extern const struct cli_cmd cli_attr_commands[];
extern const struct cli_cmd cli_array_commands[];

struct cli_ctx {
	const char *store_url;      /* --store, else $TESS_STORE, else NULL */
	tess_store *store;          /* opened on first use, closed by main */
	const struct cli_cmd *cmd;  /* the command running now */
	char path[128];             /* its full name: "tess attr get" */
};

/* ---- dispatch and usage ------------------------------------------------- */

/*
 * Run `cmd` (argv[0] is its name) as `path` ("tess attr get"): its handler,
 * or for a group cli_group_run.  Resets getopt for the command's argv.
 */
int cli_run(struct cli_ctx *ctx, const struct cli_cmd *cmd, const char *path,
            int argc, char **argv);

/* The handler of every group: parse --help/--store, then run the subcommand. */
int cli_group_run(struct cli_ctx *ctx, int argc, char **argv);

/* Run the subcommand of the running group ctx->cmd named by argv[0]. */
int cli_run_subcommand(struct cli_ctx *ctx, int argc, char **argv);

/* Find a command by name in a NULL-terminated list of tables, or NULL. */
const struct cli_cmd *cli_find(const struct cli_cmd *const *tables, const char *name);

/* Print the full help of `cmd` (whose full name is `path`) to `out`. */
void cli_print_help(FILE *out, const struct cli_cmd *cmd, const char *path);

/* Print "Usage: ..." of the running command to stdout and return CLI_OK. */
int cli_help(struct cli_ctx *ctx);

/*
 * Report a command-line mistake of the running command on stderr (the
 * message, its usage line and a pointer to --help) and return CLI_USAGE.
 */
int cli_usage_error(struct cli_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- option parsing ------------------------------------------------------ */

/* Long-option values of the options every command shares. */
enum {
	CLI_OPT_HELP = 'h',
	CLI_OPT_STORE = 0x100,
	CLI_OPT_JSON,
	CLI_OPT_FIRST_PRIVATE, /* commands number their own long options from here */
};

#define CLI_COMMON_OPTIONS \
	{ "help", no_argument, NULL, CLI_OPT_HELP }, \
	{ "store", required_argument, NULL, CLI_OPT_STORE }

/*
 * getopt_long for a command's argv, restarted for each command and silent
 * (errors are reported by cli_common_option).  `shortopts` should not start
 * with ':' or '+'; `in_order` 1 stops at the first positional argument (for
 * commands whose positionals may look like options, such as JSON "-1").
 */
int cli_getopt(int argc, char **argv, const char *shortopts,
               const struct option *longopts, int in_order);

/*
 * Handle an option that the command's own switch did not: --help, --store
 * and errors.  Returns -1 when parsing should go on, else the exit status.
 */
int cli_common_option(struct cli_ctx *ctx, int opt, char **argv);

/*
 * Parse the options of a command that has only the common ones and --json,
 * then check it has min..max positional arguments.  Returns -1 when the
 * command should go on (*json set), else the exit status.
 */
int cli_parse_json_only(struct cli_ctx *ctx, int argc, char **argv, int *json,
                        int min_args, int max_args);

/*
 * Check the number of positional arguments (argc - optind) is within
 * [min, max]; max < 0 means no limit.  Returns -1 if so, else a usage error.
 */
int cli_check_args(struct cli_ctx *ctx, int argc, char **argv, int min, int max);

/* ---- stores, errors ------------------------------------------------------ */

/*
 * The store named by --store / $TESS_STORE, opened on first use.  Returns 0,
 * or the exit status after printing why (CLI_USAGE when no store is named).
 */
int cli_store(struct cli_ctx *ctx, tess_store **out);

/* Open another store by URL (for cp --from/--to); reports failures. */
int cli_open_url(tess_store **out, const char *url);

/*
 * Print "tess: WHAT: REASON (DETAIL)" on one line, where WHAT comes from the
 * format, REASON is tess_strerror(code) and DETAIL tess_errmsg().  Returns
 * CLI_FAIL.
 */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like cli_fail but for a failure outside the library: "tess: WHAT: TEXT". */
int cli_fail_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A NODE argument as the library wants it: "/", "." and "" are the root,
 * a leading '/' and trailing '/' are dropped.  The result is written to buf
 * (cut to bufsize; keys are far shorter) and returned. */
const char *cli_node_path(const char *arg, char *buf, size_t bufsize);

/* ---- output -------------------------------------------------------------- */

/* Write `s` as a JSON string literal (quoted, escaped). */
void cli_json_string(FILE *out, const char *s);

/* Print valid JSON text re-spaced: `pretty` 1 indents by 2 spaces, 0 puts it
 * on one line with no spaces.  Every token (numbers included) stays exactly
 * as written; a newline follows. */
void cli_json_print(FILE *out, const char *json, int pretty);

/* "2024-05-01T12:00:00Z" (or with ".123456789" when `frac`) in UTC. */
void cli_format_time(char *buf, size_t size, int64_t ns, int frac);

/* "12.3 MiB"-style size. */
void cli_format_bytes(char *buf, size_t size, double bytes);

/* Write all of buf to fd, retrying on EINTR and short writes; -1 + errno. */
int cli_write_all(int fd, const void *buf, size_t len);

/* ---- progress ------------------------------------------------------------ */

/*
 * A progress line on stderr ("\r12.3 MiB / 1.0 GiB  45.0 MiB/s"), shown only
 * when stderr is a terminal and the operation has run for more than a second.
 * Use cli_progress_cb as the tess_progress_cb with the struct as payload.
 */
struct cli_progress {
	int enabled;
	int shown;
	double start;
	double last;     /* when the line was last drawn */
	uint64_t done;   /* the latest report */
	uint64_t total;
};

void cli_progress_start(struct cli_progress *p);
void cli_progress_cb(uint64_t done, uint64_t total, void *payload);
/* End the line if one was drawn. */
void cli_progress_end(struct cli_progress *p);

/* ---- arrays (array_cmds.c), for ls --------------------------------------- */

/* What `tess ls` shows of an array prefix. */
struct cli_array_brief {
	int ndim;
	int sharded;
	uint64_t shape[TESS_ARRAY_MAX_DIMS];
	uint64_t chunks[TESS_ARRAY_MAX_DIMS]; /* inner chunks of a sharded array */
	uint64_t shard[TESS_ARRAY_MAX_DIMS];
	char dtype[40];                        /* "<f4" */
};

/*
 * 1 and *out filled when NODE ("a/b": no trailing '/') is an array, by its
 * .zarray or else its zarr.json (one get each); 0 when it is not, or its
 * metadata cannot be read (ls goes on listing).
 */
int cli_array_peek(tess_store *st, const char *node, struct cli_array_brief *out);

/* "[4096x4096 <f4]" into buf. */
void cli_array_brief_text(char *buf, size_t cap, const struct cli_array_brief *b);

/* {"shape": [...], "dtype": "<f4", "chunks": [...]} (and "shard" if sharded). */
void cli_array_brief_json(FILE *out, const struct cli_array_brief *b);

#endif
