/* Commands on the store as a whole: init. */
#include "cli.h"

#include <stdlib.h>

static int run_init(struct cli_ctx *ctx, int argc, char **argv)
{
	int rc, json;
	if ((rc = cli_parse_json_only(ctx, argc, argv, &json, 0, 1)) >= 0)
		return rc;
	const char *url = optind < argc ? argv[optind] : ctx->store_url;
	if (!url || !url[0])
		url = getenv("TESS_STORE");
	if (!url || !url[0])
		return cli_usage_error(ctx, "no store: give a URL, --store URL or set TESS_STORE");

	tess_store *st = NULL;
	rc = tess_store_init(&st, url, NULL);
	if (rc)
		return cli_fail(rc, "init '%s'", url);
	if (json) {
		fputs("{\"url\": ", stdout);
		cli_json_string(stdout, tess_store_url(st));
		fputs("}\n", stdout);
	} else {
		printf("Initialized Tessera store at %s\n", tess_store_url(st));
	}
	tess_store_close(st);
	return CLI_OK;
}

const struct cli_cmd cli_store_commands[] = {
	{
		.name = "init",
		.synopsis = "[URL]",
		.summary = "Create a new store (a Zarr v2 group with Tessera's .tessera/ area).",
		.help =
			"Creates the store at URL, or at --store / $TESS_STORE when URL is not\n"
			"given.  A directory that already holds a plain Zarr group is adopted:\n"
			"its .zgroup is kept.  Fails (exit 1) if URL is already a Tessera store.\n"
			"\n"
			"Options:\n"
			"  --json        print {\"url\": URL} instead of a sentence\n"
			"  -h, --help    show this help\n"
			"\n"
			"Examples:\n"
			"  tess init ./my-store\n"
			"  tess init lmdb:///data/runs.lmdb\n",
		.run = run_init,
	},
	{ 0 },
};
