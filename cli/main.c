/*
 * tess - the Tessera command-line tool.
 *
 * main.c holds the top of the command tree: global options, `help` and the
 * list of command tables.  A new command group is a new file exporting a
 * table (see cli.h) plus one line in top_tables below.
 */
#include "cli.h"

#include <errno.h>
#include <string.h>

static int run_help(struct cli_ctx *ctx, int argc, char **argv);
static int run_top(struct cli_ctx *ctx, int argc, char **argv);

static const struct cli_cmd help_commands[] = {
	{
		.name = "help",
		.synopsis = "[COMMAND [SUBCOMMAND...]]",
		.summary = "Show the help of tess or of a command.",
		.help = "Same as 'tess COMMAND --help'.\n",
		.run = run_help,
	},
	{ 0 },
};

/* Pyramids (pyramid_cmds.c) and rasters through GDAL (raster_cmds.c). */
extern const struct cli_cmd cli_pyramid_commands[];
extern const struct cli_cmd cli_raster_commands[];

/* The order here is the order of `tess --help`. */
static const struct cli_cmd *const top_tables[] = {
	cli_store_commands,
	cli_blob_commands,
	cli_attr_commands,
	cli_array_commands,
	cli_pyramid_commands,
	cli_raster_commands,
	help_commands,
	NULL,
};

static const struct cli_cmd top = {
	.name = "tess",
	.synopsis = "COMMAND [ARGS...]",
	.summary = "Work with a Tessera store: blobs (byte objects at keys), arrays and attributes.",
	.help =
		"Global options:\n"
		"  --store URL    the store to work on (default: $TESS_STORE)\n"
		"  -h, --help     show this help\n"
		"  --version      show the version of tess and libtessera\n"
		"\n"
		"Store URLs:\n"
		"  PATH, file://PATH     a directory\n"
		"  lmdb://PATH           one LMDB file\n"
		"  mem://NAME            memory of this process (gone when tess exits)\n"
		"\n"
		"Exit status: 0 success, 1 the operation failed (one line on stderr),\n"
		"2 bad command line or no store named.\n",
	.run = run_top,
	.sub = top_tables,
};

enum { OPT_VERSION = CLI_OPT_FIRST_PRIVATE };

static int run_top(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	int c, rc;
	while ((c = cli_getopt(argc, argv, "", opts, 1)) != -1) {
		if (c == OPT_VERSION) {
			printf("tess %s (libtessera %s)\n", TESS_VERSION_STRING, tess_version());
			return CLI_OK;
		}
		if ((rc = cli_common_option(ctx, c, argv)) >= 0)
			return rc;
	}
	return cli_run_subcommand(ctx, argc - optind, argv + optind);
}

static int run_help(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS, { 0 } };
	int c, rc;
	while ((c = cli_getopt(argc, argv, "", opts, 0)) != -1)
		if ((rc = cli_common_option(ctx, c, argv)) >= 0)
			return rc;
	const struct cli_cmd *cmd = &top;
	char path[sizeof ctx->path] = "tess";
	for (int i = optind; i < argc; i++) {
		const struct cli_cmd *sub = cli_find(cmd->sub, argv[i]);
		if (!sub)
			return cli_usage_error(ctx, "no command '%s %s'", path, argv[i]);
		size_t len = strlen(path);
		snprintf(path + len, sizeof path - len, " %s", sub->name);
		cmd = sub;
	}
	cli_print_help(stdout, cmd, path);
	return CLI_OK;
}

int main(int argc, char **argv)
{
	struct cli_ctx ctx = { 0 };
	int rc = cli_run(&ctx, &top, "tess", argc, argv);
	tess_store_close(ctx.store);
	/* Output that never reached its destination is a failure too. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (rc == CLI_OK)
			rc = cli_fail_text("standard output: %s", strerror(errno));
	}
	return rc;
}
