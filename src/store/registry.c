/* The backend registry: schemes to vtables.  Built-ins register on first use. */
#include "backend/builtin.h"
#include "util/error.h"

#include <pthread.h>
#include <string.h>

#define MAX_BACKENDS 32

static const tess_backend_ops *registry[MAX_BACKENDS];
static size_t registry_len;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;

static int register_locked(const tess_backend_ops *ops)
{
	if (!ops || !ops->scheme || !ops->open)
		return tess_err(TESS_EINVAL, "backend registration: missing scheme or open");
	if (ops->abi < TESS_BACKEND_ABI_MIN || ops->abi > TESS_BACKEND_ABI)
		return tess_err(TESS_EVERSION, "backend '%s': ABI %d, this library speaks %d to %d",
		                ops->scheme, ops->abi, TESS_BACKEND_ABI_MIN, TESS_BACKEND_ABI);
	for (size_t i = 0; i < registry_len; i++)
		if (strcmp(registry[i]->scheme, ops->scheme) == 0)
			return tess_err(TESS_EEXISTS, "backend '%s' is already registered", ops->scheme);
	if (registry_len == MAX_BACKENDS)
		return tess_err(TESS_ENOMEM, "backend '%s': registry full (%d)", ops->scheme, MAX_BACKENDS);
	registry[registry_len++] = ops;
	return 0;
}

static void register_builtins(void)
{
	register_locked(&tess_backend_file_ops);
	register_locked(&tess_backend_mem_ops);
	register_locked(&tess_backend_lmdb_ops);
	register_locked(&tess_backend_s3_ops);
}

int tess_backend_register(const tess_backend_ops *ops)
{
	pthread_once(&builtins_once, register_builtins);
	pthread_mutex_lock(&registry_lock);
	int rc = register_locked(ops);
	pthread_mutex_unlock(&registry_lock);
	return rc;
}

const tess_backend_ops *tess_backend_find(const char *scheme)
{
	pthread_once(&builtins_once, register_builtins);
	const tess_backend_ops *found = NULL;
	pthread_mutex_lock(&registry_lock);
	for (size_t i = 0; i < registry_len && !found; i++)
		if (strcmp(registry[i]->scheme, scheme) == 0)
			found = registry[i];
	pthread_mutex_unlock(&registry_lock);
	return found;
}
