#include "util/fs.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int tess_write_full(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void fsync_parent_of(char *dir)
{
	char *slash = strrchr(dir, '/');
	const char *parent = !slash ? "." : slash == dir ? "/" : dir;
	if (slash && slash != dir)
		*slash = '\0';
	int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	if (slash && slash != dir)
		*slash = '/';
}

int tess_mkdir_p(const char *path, int durable)
{
	size_t len = strlen(path);
	char *copy = strdup(path);
	if (!copy)
		return tess_err(TESS_ENOMEM, "mkdir '%s': out of memory", path);
	int rc = 0;
	for (size_t i = 1; i <= len && !rc; i++) {
		if (copy[i] != '/' && copy[i] != '\0')
			continue;
		char saved = copy[i];
		copy[i] = '\0';
		if (mkdir(copy, 0777) == 0) {
			if (durable)
				fsync_parent_of(copy);
		} else if (errno != EEXIST) {
			rc = tess_err(tess_errno_code(errno), "cannot create directory '%s': %s", copy,
			              strerror(errno));
		}
		copy[i] = saved;
	}
	free(copy);
	return rc;
}
