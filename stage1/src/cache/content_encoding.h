/* Content-Encoding of the answers read whole: narinfos and nix-cache-info.
 *
 * Caches send them encoded: niks3 and Nix's own S3 store (with
 * narinfo-compression) store narinfos in S3 with `Content-Encoding: zstd`
 * (or xz, br ...), which S3 returns whatever the request asked; harmonia
 * encodes on the fly when the request accepts it.  Real Nix decodes them
 * (src/libstore/filetransfer.cc, the "content-encoding" header).
 *
 * The body is decoded after the transfer, all at once (these documents are
 * small), by the same decoders as the NARs, under a memory limit of its own,
 * and the caller's size cap applies to the decoded bytes: a small encoded
 * answer that would decode to gigabytes stops at the cap.  Pure functions
 * over (buf, len); http.c calls them. */
#ifndef IP_CACHE_CONTENT_ENCODING_H
#define IP_CACHE_CONTENT_ENCODING_H

#include <stddef.h>

#include "nix/narinfo.h"
#include "util/error.h"

/* What a request for a narinfo or nix-cache-info says it accepts: the
 * standard codings harmonia and other servers offer, best first. */
#define CONTENT_ENCODING_ACCEPT "zstd, br, gzip"
/* The longest header value kept (longer ones are unsupported anyway). */
#define CONTENT_ENCODING_NAME_MAX 32
/* Decoder memory for one document: a zstd window up to 16 MiB, xz up to
 * preset 7, br's largest window (Nix compresses narinfos with the default
 * presets: xz -6 needs 9 MiB, zstd -3 a window no larger than the
 * document). */
#define CONTENT_ENCODING_MEMLIMIT (32u * 1024 * 1024)

/* The method of a Content-Encoding value (`identity` and empty: none;
 * gzip/x-gzip, br, zstd, xz, bzip2).  -ENOTSUP names any other value (a
 * list of several codings included). */
int content_encoding_method(const char *value, enum nix_compression *out, struct ip_error *err);

/* Decodes `len` bytes of `method` into a new NUL-terminated buffer (*out,
 * *out_len without the NUL).  -EFBIG when the decoded document would be
 * larger than max_out; -EBADMSG for corrupt or truncated data; -E2BIG when
 * it needs more than CONTENT_ENCODING_MEMLIMIT. */
int content_encoding_decode(enum nix_compression method, const void *in, size_t len,
			    size_t max_out, char **out, size_t *out_len, struct ip_error *err);

#endif
