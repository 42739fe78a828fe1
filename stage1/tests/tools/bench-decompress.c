/* Decompression speed: our push decoders (cache/decompress.c: liblzma, libbz2,
 * zlib, libzstd directly) against libarchive's raw format with read filters,
 * on the same file.
 *   cc -O2 -Istage1/src -o /tmp/bench-decompress stage1/tests/tools/bench-decompress.c \
 *      stage1/src/cache/decompress.c stage1/src/util/error.c -larchive -llzma -lbz2 -lz -lzstd
 *   /tmp/bench-decompress FILE xz|bzip2|gzip|zstd */
#include <archive.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/decompress.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long long total;
static int count(void *ctx, const void *data, size_t len, struct ip_error *err)
{
	(void)ctx; (void)data; (void)err;
	total += len;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	FILE *f = fopen(argv[1], "rb");
	if (!f)
		return 1;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *in = malloc((size_t)size);
	if (fread(in, 1, (size_t)size, f) != (size_t)size)
		return 1;
	fclose(f);
	enum nix_compression m = !strcmp(argv[2], "xz") ? NIX_COMPRESSION_XZ
			       : !strcmp(argv[2], "bzip2") ? NIX_COMPRESSION_BZIP2
			       : !strcmp(argv[2], "gzip") ? NIX_COMPRESSION_GZIP : NIX_COMPRESSION_ZSTD;

	for (int round = 0; round < 2; round++) {
		/* ours, fed in 64 KiB pieces like the network ring */
		double t0 = now();
		struct decompressor *d;
		decompressor_new(m, argv[2], &d, NULL);
		total = 0;
		for (long off = 0; off < size; off += 65536)
			decompressor_feed(d, in + off, (size_t)(size - off < 65536 ? size - off : 65536), count, NULL, NULL);
		decompressor_finish(d, count, NULL, NULL);
		decompressor_free(d);
		double t1 = now();
		unsigned long long ours = total;

		/* libarchive raw + filter, from memory */
		struct archive *a = archive_read_new();
		archive_read_support_filter_all(a);
		archive_read_support_format_raw(a);
		struct archive_entry *e;
		static char buf[128 * 1024];
		total = 0;
		if (archive_read_open_memory(a, in, (size_t)size) != ARCHIVE_OK ||
		    archive_read_next_header(a, &e) != ARCHIVE_OK)
			return 1;
		for (;;) {
			la_ssize_t k = archive_read_data(a, buf, sizeof(buf));
			if (k <= 0)
				break;
			total += (unsigned long long)k;
		}
		archive_read_free(a);
		double t2 = now();
		printf("%s: ours %.0f MB/s, libarchive %.0f MB/s (output %llu / %llu bytes)\n", argv[2],
		       (double)ours / (t1 - t0) / 1e6, (double)total / (t2 - t1) / 1e6, ours, total);
	}
	return 0;
}
