#include "util/file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int file_read_all(const char *path, size_t max_size, char **buf, size_t *len, struct ip_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ip_fail(err, -errno, "cannot open %s: %s", path, strerror(errno));
	int r = file_read_fd(fd, path, max_size, buf, len, err);
	close(fd);
	return r;
}

int file_read_fd(int fd, const char *path, size_t max_size, char **buf, size_t *len,
		 struct ip_error *err)
{
	int r = 0;
	char *data = NULL;
	size_t used = 0;
	data = malloc(max_size + 1);
	if (!data) {
		r = ip_fail(err, -ENOMEM, "reading %s: out of memory", path);
		goto fail;
	}
	/* Read one byte more than allowed to tell "exactly max" from "too big". */
	for (;;) {
		ssize_t n = read(fd, data + used, max_size + 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = ip_fail(err, -errno, "reading %s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max_size) {
			r = ip_fail(err, -EFBIG, "%s is larger than %zu bytes", path, max_size);
			goto fail;
		}
	}
	data[used] = '\0';
	*buf = data;
	*len = used;
	data = NULL;
fail:
	free(data);
	return r;
}
