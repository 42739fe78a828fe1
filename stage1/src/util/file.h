/* Reading small files whole (configuration, kernel command line).  The one
 * read loop: fs_read_file_at (util/fs.h) uses it too. */
#ifndef IP_UTIL_FILE_H
#define IP_UTIL_FILE_H

#include <stddef.h>

#include "util/error.h"

/* Reads the whole file into a malloc'd, NUL-terminated buffer.  Files larger
 * than max_size are refused with -EFBIG (nothing here reads large files). */
int file_read_all(const char *path, size_t max_size, char **buf, size_t *len, struct ip_error *err);

/* The same for an open descriptor (read from where it is to its end; not
 * closed).  name is for messages. */
int file_read_fd(int fd, const char *name, size_t max_size, char **buf, size_t *len,
		 struct ip_error *err);

#endif
