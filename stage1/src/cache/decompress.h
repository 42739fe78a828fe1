/* Streaming decompression of NAR files: push compressed bytes in, get NAR
 * bytes out through a callback, in pieces of at most DECOMPRESS_OUT_CHUNK.
 *
 * Every method real Nix reads (src/libutil/compression.cc: br through
 * libbrotli, the others through libarchive's filters), each through the
 * library libarchive itself would call, used directly because its push
 * interface fits a pipeline fed by a socket, where libarchive's reader
 * wants to pull and block:
 *   zstd (libzstd), xz and lzip (liblzma), gzip (zlib), bzip2 (libbz2), br
 *   (libbrotlidec), lz4 (liblz4 frames), and `none`.
 * Not read: lzma (.lzma: real Nix 2.8 aborts on such a NAR), compress (.Z),
 * lzop, grzip, lrzip (libarchive runs external programs for the last
 * three); no cache writes them.
 * Concatenated streams/frames/members are accepted, as the command-line
 * tools accept them (not for br, whose tool does not); bytes after
 * the end of the compressed data and a compressed stream that stops early
 * are errors. */
#ifndef IP_CACHE_DECOMPRESS_H
#define IP_CACHE_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "nix/narinfo.h"
#include "util/error.h"

#define DECOMPRESS_OUT_CHUNK (128 * 1024)
/* Bounds on decoder memory, whatever a stream asks for: zstd windows up to
 * 2^25 (32 MiB; Nix writes 2-8 MiB ones), xz decoders up to 80 MiB
 * (xz -9 needs 65 MiB; Nix's default preset 6 needs 9 MiB).  A decoder's
 * own limit (decompressor_set_memlimit) may be lower; these are the most it
 * may ever be. */
#define DECOMPRESS_ZSTD_WINDOW_LOG_MAX 25
#define DECOMPRESS_XZ_MEMLIMIT (80u * 1024 * 1024)  /* lzip too */
/* br: windows up to 16 MiB (RFC 7932; large windows are refused).  The
 * ring buffer grows by doubling up to the window, the old one freed after
 * the copy: 8 + 16 MiB at the peak, plus libbrotli's tables. */
#define DECOMPRESS_BR_MEMORY_MAX (26u * 1024 * 1024)
/* lz4 frames: blocks up to 4 MiB; liblz4 holds one block of input, one of
 * output and 128 KiB of history at most. */
#define DECOMPRESS_LZ4_MEMORY (9u * 1024 * 1024)
/* For messages: what decompressor_new accepts. */
#define DECOMPRESS_SUPPORTED_NAMES "zstd, xz, bzip2, gzip, br, lzip, lz4, none"
/* What a zstd stream needs besides its window (libzstd's block buffers and
 * context, ~0.4 MiB, rounded up), and what every decoder holds besides its
 * library's state (the output chunk). */
#define DECOMPRESS_ZSTD_OVERHEAD (1024u * 1024)
#define DECOMPRESS_FIXED_MEMORY DECOMPRESS_OUT_CHUNK
/* Compressed bytes a stream may take beyond its output, for every format
 * but `none` (see decompress_max_input). */
#define DECOMPRESS_INPUT_SLACK (64u * 1024)

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

/* Holds the decoder to `bytes` of memory in all (its library's state and
 * its buffers), for the stream it is about to decode: call after
 * decompressor_new/_reuse, before the first feed.  A zstd window is then at
 * most the largest power of two that fits (never above 2^25). */
void decompressor_set_memlimit(struct decompressor *d, uint64_t bytes);
/* After -E2BIG from a feed: what the stream needs (to decode it again with
 * that limit); 0 when no limit would do. */
uint64_t decompressor_memory_needed(const struct decompressor *d);

/* The most compressed bytes a stream of `method` may take to decode to
 * `nar_size` bytes: the signed NarSize bounds a transfer whatever the
 * unsigned FileSize says (or when it is absent).  The worst cases are
 * below 1% (zstd: n/256 + a frame header; xz: 3 bytes per 64 KiB LZMA2
 * chunk + block and stream headers; bzip2: 1% + 600 bytes; gzip: 5 bytes
 * per 64 KiB stored block + member headers; br: 4 bytes per 64 KiB
 * uncompressed meta-block; lz4: 4 bytes per block + the frame header),
 * except lzip, which has no stored blocks: 1.4% on random data (4 MB from
 * /dev/urandom, lzip -0 and -6); the bound allows n/64 +
 * DECOMPRESS_INPUT_SLACK, so that zstd skippable or empty frames and xz
 * stream padding, which decode to nothing, cannot go on for ever. */
uint64_t decompress_max_input(enum nix_compression method, uint64_t nar_size);

/* Decompresses `len` bytes; every piece of output goes to out(ctx, ...).
 * -EBADMSG on corrupt input (err says what), -E2BIG when the stream needs
 * more memory than the decoder's limit (decompressor_memory_needed), or the
 * callback's error. */
int decompressor_feed(struct decompressor *d, const void *data, size_t len, decompress_out_fn out,
		      void *ctx, struct ip_error *err);
/* End of input: -EBADMSG ("truncated") unless the compressed data ended. */
int decompressor_finish(struct decompressor *d, decompress_out_fn out, void *ctx,
			struct ip_error *err);

const char *decompressor_name(enum nix_compression method);

#endif
