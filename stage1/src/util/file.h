/* Reading small files whole (configuration, kernel command line). */
#ifndef IP_UTIL_FILE_H
#define IP_UTIL_FILE_H

#include <stddef.h>

#include "util/error.h"

/* Reads the whole file into a malloc'd, NUL-terminated buffer.  Files larger
 * than max_size are refused with -EFBIG (nothing here reads large files). */
int file_read_all(const char *path, size_t max_size, char **buf, size_t *len, struct ip_error *err);

#endif
