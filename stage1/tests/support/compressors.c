/* The real compression libraries (see compressors.h). */
#include "support/compressors.h"

/* VLA parameters in brotli's prototypes (see cache/decompress.c) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wvla"
#include <brotli/encode.h>
#pragma GCC diagnostic pop
#include <bzlib.h>
#include <lz4frame.h>
#include <lzma.h>
#include <stdint.h>
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

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* An lzip member (lzip's manual, "File format"): "LZIP", version 1, the
 * dictionary size, an LZMA stream with lc=3 lp=0 pb=2 and its end marker
 * (liblzma's raw LZMA1 encoder writes one), CRC32, data size, member size. */
static size_t lzip_member(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
	lzma_options_lzma opt;
	lzma_lzma_preset(&opt, 6);
	opt.dict_size = 1u << 23; /* 8 MiB: header byte 0x17 */
	lzma_filter filters[] = { { LZMA_FILTER_LZMA1, &opt }, { LZMA_VLI_UNKNOWN, NULL } };
	memcpy(out, "LZIP\x01\x17", 6);
	size_t pos = 6;
	if (lzma_raw_buffer_encode(filters, NULL, in, n, out, &pos, cap - 20) != LZMA_OK)
		return 0;
	put_le(out + pos, lzma_crc32(in, n, 0), 4);
	put_le(out + pos + 4, n, 8);
	put_le(out + pos + 12, pos + 20, 8);
	return pos + 20;
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
	case NIX_COMPRESSION_BR:
		len = cap;
		BrotliEncoderCompress(BROTLI_DEFAULT_QUALITY, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, n, in,
				      &len, tmp);
		break;
	case NIX_COMPRESSION_LZ4:
		len = LZ4F_compressFrame(tmp, cap, in, n, NULL);
		break;
	case NIX_COMPRESSION_LZIP:
		len = lzip_member(in, n, tmp, cap);
		break;
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

