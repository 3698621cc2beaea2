/* Fuzz target: key validation and store URL parsing never crash, and a key
 * that passes obeys the documented rules. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"
#include "tessera/sys/backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (tess_key_check(s) == 0) {
		size_t n = strlen(s);
		if (n == 0 || n > TESS_KEY_MAX || s[0] == '/' || s[n - 1] == '/' ||
		    strstr(s, "//") || strchr(s, '\\') || strcmp(s, "..") == 0 ||
		    strncmp(s, "../", 3) == 0 || strstr(s, "/../") ||
		    (n >= 3 && strcmp(s + n - 3, "/..") == 0))
			abort();
	}
	tess_url u;
	tess_url_parse(&u, s);
	tess_url_free(&u);
	free(s);
	return 0;
}
