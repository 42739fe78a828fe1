/* The real compression libraries (see compressors.h). */
#include "support/compressors.h"

#include <bzlib.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

void buf_put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->data = realloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void compress_with(enum nix_compression m, const unsigned char *in, size_t n, struct buf *out)
{
	size_t cap = n + n / 2 + 1024;
	unsigned char *tmp = malloc(cap);
	size_t len = 0;
	switch (m) {
	case NIX_COMPRESSION_ZSTD:
		len = ZSTD_compress(tmp, cap, in, n, 3);
		break;
	case NIX_COMPRESSION_XZ:
		lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, in, n, tmp, &len, cap);
		break;
	case NIX_COMPRESSION_GZIP: {
		z_stream z = { 0 };
		deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
		z.next_in = (Bytef *)in;
		z.avail_in = (uInt)n;
		z.next_out = tmp;
		z.avail_out = (uInt)cap;
		deflate(&z, Z_FINISH);
		len = z.total_out;
		deflateEnd(&z);
		break;
	}
	case NIX_COMPRESSION_BZIP2: {
		unsigned int l = (unsigned int)cap;
		BZ2_bzBuffToBuffCompress((char *)tmp, &l, (char *)in, (unsigned)n, 9, 0, 0);
		len = l;
		break;
	}
	case NIX_COMPRESSION_NONE:
		memcpy(tmp, in, n);
		len = n;
		break;
	default:
		break;
	}
	buf_put(out, tmp, len);
	free(tmp);
}

