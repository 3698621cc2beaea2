/* Attribute commands: tess attr get | set | rm. */
#include "cli.h"

#include <jansson.h>
#include <string.h>

enum {
	OPT_COMPACT = CLI_OPT_FIRST_PRIVATE,
	OPT_RAW,
	OPT_STRING,
};

/* NODE and NAME as the user wrote them, for messages ("/" for the root). */
static const char *shown_node(const char *node)
{
	return node[0] ? node : "/";
}

/* ---- get ------------------------------------------------------------------ */

/* --raw: a string value is printed as its text, anything else as JSON. */
static int print_raw(const char *json, int compact)
{
	json_error_t err;
	json_t *v = json_loads(json, JSON_DECODE_ANY, &err);
	if (!v)
		return -1;
	if (json_is_string(v)) {
		fwrite(json_string_value(v), 1, json_string_length(v), stdout);
		fputc('\n', stdout);
	} else {
		cli_json_print(stdout, json, !compact);
	}
	json_decref(v);
	return 0;
}

static int run_attr_get(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "compact", no_argument, NULL, OPT_COMPACT },
		{ "raw", no_argument, NULL, OPT_RAW },
		{ 0 },
	};
	int c, rc, compact = 0, raw = 0;
	while ((c = cli_getopt(argc, argv, "", opts, 0)) != -1) {
		switch (c) {
		case CLI_OPT_JSON: break; /* the output is JSON anyway */
		case OPT_COMPACT: compact = 1; break;
		case OPT_RAW: raw = 1; break;
		default:
			if ((rc = cli_common_option(ctx, c, argv)) >= 0)
				return rc;
		}
	}
	if ((rc = cli_check_args(ctx, argc, argv, 1, 2)) >= 0)
		return rc;
	char node[TESS_KEY_MAX + 1];
	cli_node_path(argv[optind], node, sizeof node);
	const char *name = optind + 1 < argc ? argv[optind + 1] : NULL;
	tess_store *st;
	if ((rc = cli_store(ctx, &st)))
		return rc;
	char *json = NULL;
	rc = name ? tess_attr_get(&json, st, node, name) : tess_attr_get_all(&json, st, node);
	if (rc) {
		if (name)
			return cli_fail(rc, "attr get '%s' '%s'", shown_node(node), name);
		return cli_fail(rc, "attr get '%s'", shown_node(node));
	}
	if (!raw || print_raw(json, compact) != 0)
		cli_json_print(stdout, json, !compact);
	tess_free(json);
	return CLI_OK;
}

/* ---- set ------------------------------------------------------------------ */

/* A value that is not JSON is refused here, with a hint, before the store is
 * touched: a bare word like  meters  is the usual mistake. */
static int check_json_value(const char *node, const char *name, const char *value)
{
	json_error_t err;
	json_t *v = json_loads(value, JSON_DECODE_ANY, &err);
	if (v) {
		json_decref(v);
		return 0;
	}
	/* Text that does not start like a number, array, object or string was
	 * most likely meant as a string. */
	if (!strchr("[{\"-0123456789", value[0]))
		return cli_fail_text("attr set '%s' '%s': invalid JSON value '%s' (%s); "
		                     "quote strings as '\"%s\"' or use --string",
		                     shown_node(node), name, value, err.text, value);
	return cli_fail_text("attr set '%s' '%s': invalid JSON value '%s' (%s)",
	                     shown_node(node), name, value, err.text);
}

static int run_attr_set(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ "string", no_argument, NULL, OPT_STRING },
		{ 0 },
	};
	int c, rc, as_string = 0;
	/* In order: options come first, so a value such as -1 is not an option. */
	while ((c = cli_getopt(argc, argv, "s", opts, 1)) != -1) {
		if (c == 's' || c == OPT_STRING)
			as_string = 1;
		else if ((rc = cli_common_option(ctx, c, argv)) >= 0)
			return rc;
	}
	if ((rc = cli_check_args(ctx, argc, argv, 3, 3)) >= 0)
		return rc;
	char node[TESS_KEY_MAX + 1];
	cli_node_path(argv[optind], node, sizeof node);
	const char *name = argv[optind + 1], *value = argv[optind + 2];
	if (!as_string && (rc = check_json_value(node, name, value)))
		return rc;
	tess_store *st;
	if ((rc = cli_store(ctx, &st)))
		return rc;
	rc = as_string ? tess_attr_set_string(st, node, name, value)
	               : tess_attr_set(st, node, name, value);
	if (rc)
		return cli_fail(rc, "attr set '%s' '%s'", shown_node(node), name);
	return CLI_OK;
}

/* ---- rm ------------------------------------------------------------------- */

static int run_attr_rm(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS, { 0 } };
	int c, rc;
	while ((c = cli_getopt(argc, argv, "", opts, 0)) != -1)
		if ((rc = cli_common_option(ctx, c, argv)) >= 0)
			return rc;
	if ((rc = cli_check_args(ctx, argc, argv, 2, 2)) >= 0)
		return rc;
	char node[TESS_KEY_MAX + 1];
	cli_node_path(argv[optind], node, sizeof node);
	const char *name = argv[optind + 1];
	tess_store *st;
	if ((rc = cli_store(ctx, &st)))
		return rc;
	if ((rc = tess_attr_delete(st, node, name)) != 0)
		return cli_fail(rc, "attr rm '%s' '%s'", shown_node(node), name);
	return CLI_OK;
}

/* ---- the tables ----------------------------------------------------------- */

static const struct cli_cmd attr_subcommands[] = {
	{
		.name = "get",
		.synopsis = "NODE [NAME]",
		.summary = "Print an attribute, or all attributes of NODE, as JSON.",
		.help =
			"Without NAME prints the node's attributes as one JSON object ({} when\n"
			"it has none).  Numbers are printed exactly as stored.\n"
			"\n"
			"Options:\n"
			"  --compact     print the JSON on one line\n"
			"  --raw         print a string value without quotes and escapes\n"
			"  --json        accepted for uniformity (the output is JSON anyway)\n"
			"  -h, --help    show this help\n"
			"\n"
			"Examples:\n"
			"  tess attr get /\n"
			"  tess attr get sims/7 units\n",
		.run = run_attr_get,
	},
	{
		.name = "set",
		.synopsis = "NODE NAME VALUE",
		.summary = "Set attribute NAME of NODE to a JSON value.",
		.help =
			"VALUE must be JSON: a number, true/false/null, an array, an object, or\n"
			"a string in double quotes (in a shell: '\"meters\"').  A node that does\n"
			"not exist yet is created as a Zarr group, with its parents.\n"
			"Options go before NODE, so a VALUE such as -1 is not taken for one.\n"
			"\n"
			"Options:\n"
			"  -s, --string  store VALUE as a JSON string, as typed\n"
			"  -h, --help    show this help\n"
			"\n"
			"Examples:\n"
			"  tess attr set / title '\"Basin study\"'\n"
			"  tess attr set sims/7 dt 0.5\n"
			"  tess attr set sims/7 tags '[\"a\", \"b\"]'\n"
			"  tess attr set --string sims/7 units meters\n",
		.run = run_attr_set,
	},
	{
		.name = "rm",
		.synopsis = "NODE NAME",
		.summary = "Delete attribute NAME of NODE.",
		.help =
			"Fails (exit 1) if the attribute is not set.\n"
			"\n"
			"Options:\n"
			"  -h, --help    show this help\n",
		.run = run_attr_rm,
	},
	{ 0 },
};

static const struct cli_cmd *const attr_tables[] = { attr_subcommands, NULL };

const struct cli_cmd cli_attr_commands[] = {
	{
		.name = "attr",
		.synopsis = "COMMAND [ARGS...]",
		.summary = "Get, set and delete JSON attributes of nodes (Zarr .zattrs).",
		.help =
			"NODE is a '/'-separated path of a group or array; '/', '.' and '' name\n"
			"the root.  Attributes are the node's Zarr .zattrs, so zarr-python sees\n"
			"them as group.attrs / array.attrs.\n",
		.sub = attr_tables,
	},
	{ 0 },
};
