/* The body of one NAR transfer: compressed bytes in, a verified archive out.
 *
 *   feed(buf, len) -> FileSize and worst-case bounds -> decompressor
 *                  -> NarSize, NarHash (sha256) -> NAR parser -> its sink
 *
 * Single-threaded and blind to where the bytes come from: no threads, no
 * HTTP, no store.  The caller obtains the decompressor (and sets its memory
 * limit) and the parser (attached to its sink), and keeps them: the stream
 * only borrows them between nar_stream_open and the end of the transfer.
 * The archive is good only once nar_stream_finish returned 0 (see nar.h:
 * the sink has seen the whole tree before trailing data can be refused).
 *
 * Errors (with err naming the store path and the URL):
 *   -EBADMSG  the content is wrong: corrupt compressed data, a bad NAR, a
 *             FileSize or NarSize other than the narinfo's, a NarHash
 *             mismatch, more compressed bytes than any NarSize-long stream
 *             can take; fetching the NAR again may help
 *   -E2BIG    the decoder needs more memory than its limit
 *             (nar_stream_memory_needed says how much)
 *   other     the sink's own error (disk full, ...), with its context
 * After an error the stream only repeats its code. */
#ifndef IP_CACHE_NAR_STREAM_H
#define IP_CACHE_NAR_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/decompress.h"
#include "nix/hash.h"
#include "nix/nar.h"
#include "nix/narinfo.h"
#include "util/error.h"
#include "util/sha256.h"

/* What the signed narinfo promises about the transfer. */
struct nar_stream_expect {
	enum nix_compression compression;
	struct nix_hash nar_hash;
	uint64_t nar_size;
	uint64_t file_size;               /* 0: the narinfo gives none */
};

/* Embeddable (no allocation).  Callers read file_bytes and nar_bytes and
 * leave the rest to the stream. */
struct nar_stream {
	struct nar_stream_expect want;
	uint64_t max_file_bytes;          /* decompress_max_input of want */
	const char *basename, *url;       /* for messages */
	struct decompressor *dec;
	struct nar_parser *parser;
	struct sha256 nar_hash;
	uint64_t file_bytes;              /* compressed bytes fed */
	uint64_t nar_bytes;               /* NAR bytes decoded */
	uint64_t memory_needed;           /* after the decoder's -E2BIG */
	int nar_failure;                  /* the NAR side's error, inside the decoder's callback */
	int failed;                       /* first error, repeated */
};

/* Starts a transfer of the NAR of `basename` from `url` (both kept, for
 * messages, until the end of the stream).  `dec` is ready for a new stream
 * (decompressor_new/_reuse, memory limit set); `parser` is fresh or reset,
 * attached to its sink. */
void nar_stream_open(struct nar_stream *s, const struct nar_stream_expect *want,
		     const char *basename, const char *url, struct decompressor *dec,
		     struct nar_parser *parser);
/* The next `len` compressed bytes. */
int nar_stream_feed(struct nar_stream *s, const void *data, size_t len, struct ip_error *err);
/* The end of the transfer (once): the compressed data must have ended, and
 * the sizes, the archive and its hash must be the narinfo's. */
int nar_stream_finish(struct nar_stream *s, struct ip_error *err);
/* After -E2BIG: what the decoder needs to decode this stream (0 when no
 * limit would do, or when the -E2BIG was the sink's). */
uint64_t nar_stream_memory_needed(const struct nar_stream *s);

#endif
