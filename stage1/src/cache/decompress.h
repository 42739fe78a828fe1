/* Streaming decompression of NAR files: push compressed bytes in, get NAR
 * bytes out through a callback, in pieces of at most DECOMPRESS_OUT_CHUNK.
 *
 * zstd through libzstd, xz through liblzma, gzip through zlib, bzip2
 * through libbz2 (the libraries libarchive's raw filters would call; used
 * directly because their push interfaces fit a pipeline fed by a socket,
 * where libarchive's reader wants to pull and block), and `none`.
 * Concatenated streams/frames/members are accepted, as the command-line
 * tools accept them; bytes after the end of the compressed data and a
 * compressed stream that stops early are errors. */
#ifndef IP_CACHE_DECOMPRESS_H
#define IP_CACHE_DECOMPRESS_H

#include <stddef.h>

#include "nix/narinfo.h"
#include "util/error.h"

#define DECOMPRESS_OUT_CHUNK (128 * 1024)
/* Bounds on decoder memory, whatever a stream asks for: zstd windows up to
 * 2^25 (32 MiB; Nix writes 2-8 MiB ones), xz decoders up to 80 MiB
 * (xz -9 needs 65 MiB; Nix's default preset 6 needs 9 MiB). */
#define DECOMPRESS_ZSTD_WINDOW_LOG_MAX 25
#define DECOMPRESS_XZ_MEMLIMIT (80u * 1024 * 1024)

typedef int (*decompress_out_fn)(void *ctx, const void *data, size_t len, struct ip_error *err);

struct decompressor;

/* -ENOTSUP for NIX_COMPRESSION_UNSUPPORTED (err names `name`). */
int decompressor_new(enum nix_compression method, const char *name, struct decompressor **out,
		     struct ip_error *err);
void decompressor_free(struct decompressor *d);
/* Makes `d` ready for a new stream of `method`, as decompressor_new would,
 * keeping what it allocated when the method is the same (the download
 * pipeline reuses its decoders: no window allocated, touched and unmapped
 * again for every NAR).  On error `d` can only be freed. */
int decompressor_reuse(struct decompressor *d, enum nix_compression method, const char *name,
		       struct ip_error *err);

/* Decompresses `len` bytes; every piece of output goes to out(ctx, ...).
 * -EBADMSG on corrupt input (err says what), or the callback's error. */
int decompressor_feed(struct decompressor *d, const void *data, size_t len, decompress_out_fn out,
		      void *ctx, struct ip_error *err);
/* End of input: -EBADMSG ("truncated") unless the compressed data ended. */
int decompressor_finish(struct decompressor *d, decompress_out_fn out, void *ctx,
			struct ip_error *err);

const char *decompressor_name(enum nix_compression method);

#endif
