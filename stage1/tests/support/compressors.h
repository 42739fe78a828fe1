/* The real compression libraries, for tests of the decoders: what a cache's
 * compressor would write, whole streams in memory. */
#ifndef IP_TESTS_COMPRESSORS_H
#define IP_TESTS_COMPRESSORS_H

#include <stddef.h>

#include "nix/narinfo.h"

struct buf {
	unsigned char *data;
	size_t len, cap;
};

void buf_put(struct buf *b, const void *p, size_t n);
/* Appends in[0..n) compressed with `m` (at its tool's default level) to out. */
void compress_with(enum nix_compression m, const unsigned char *in, size_t n, struct buf *out);

#endif
