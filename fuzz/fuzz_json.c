/* Fuzz target: our JSON writer.  Whatever jansson parses, tess_json_dump
 * writes text that parses back to an equal value; doubles print in a form
 * that round-trips exactly. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_double(const uint8_t *data, size_t size)
{
	double d;
	if (size < sizeof d)
		return;
	memcpy(&d, data, sizeof d);
	if (!isfinite(d))
		return;
	char buf[48];
	tess_json_format_double(buf, d);
	if (strtod(buf, NULL) != d)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_double(data, size);
	json_t *v;
	if (tess_json_parse(&v, (const char *)data, size, "fuzz") != 0)
		return 0;
	char *text;
	if (tess_json_dumps(&text, v) == 0) {
		json_t *back;
		if (tess_json_parse(&back, text, strlen(text), "fuzz-back") != 0)
			abort();
		if (!json_equal(v, back))
			abort();
		json_decref(back);
		free(text);
	}
	json_decref(v);
	return 0;
}
