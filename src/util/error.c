#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char errmsg[1024];

const char *tess_strerror(int code)
{
	switch (code) {
	case TESS_OK: return "success";
	case TESS_EINVAL: return "invalid argument";
	case TESS_ENOTFOUND: return "not found";
	case TESS_EEXISTS: return "already exists";
	case TESS_EIO: return "I/O error";
	case TESS_ECORRUPT: return "corrupt data";
	case TESS_ENOTSUP: return "not supported";
	case TESS_ECONFLICT: return "conflict";
	case TESS_ENOMEM: return "out of memory";
	case TESS_EAUTH: return "authentication failed";
	case TESS_EBUSY: return "busy";
	case TESS_EVERSION: return "unsupported version";
	case TESS_EPERM: return "not permitted";
	case TESS_ERANGE: return "out of range";
	case TESS_ITEROVER: return "iteration over";
	default: return "unknown error";
	}
}

const char *tess_errmsg(void) { return errmsg; }

void tess_error_clear(void) { errmsg[0] = '\0'; }

void tess_free(void *ptr) { free(ptr); }

const char *tess_version(void) { return TESS_VERSION_STRING; }

int tess_err(int code, const char *fmt, ...)
{
	/* Format aside first: the arguments may include tess_errmsg() itself. */
	char msg[sizeof errmsg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	memcpy(errmsg, msg, sizeof errmsg);
	return code;
}

int tess_err_prefix(int code, const char *fmt, ...)
{
	char old[sizeof errmsg];
	memcpy(old, errmsg, sizeof old);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(errmsg, sizeof errmsg, fmt, ap);
	va_end(ap);
	size_t used = n < 0 ? 0 : (size_t)n < sizeof errmsg ? (size_t)n : sizeof errmsg - 1;
	size_t room = sizeof errmsg - 1 - used;
	size_t old_len = strnlen(old, sizeof old - 1);
	size_t copy = old_len < room ? old_len : room;
	memcpy(errmsg + used, old, copy);
	errmsg[used + copy] = '\0';
	return code;
}

int tess_errno_code(int errnum)
{
	switch (errnum) {
	case ENOENT: return TESS_ENOTFOUND;
	case EEXIST: return TESS_EEXISTS;
	case ENOMEM: return TESS_ENOMEM;
	case EINVAL: case ENAMETOOLONG: return TESS_EINVAL;
	case ENOTDIR: case EISDIR: case ENOTEMPTY: return TESS_ECONFLICT;
	case ELOOP: case EACCES: case EPERM: case EROFS: return TESS_EPERM;
	default: return TESS_EIO;
	}
}
