#include "cache/content_encoding.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache/decompress.h"

static const struct {
	const char *name;
	enum nix_compression method;
} codings[] = {
	{ "identity", NIX_COMPRESSION_NONE }, { "gzip", NIX_COMPRESSION_GZIP },
	/* RFC 9110 8.4.1.3: a recipient SHOULD treat x-gzip as gzip */
	{ "x-gzip", NIX_COMPRESSION_GZIP },  { "zstd", NIX_COMPRESSION_ZSTD },
	{ "br", NIX_COMPRESSION_BR },
	/* not registered codings, but what S3 returns for objects Nix's S3
	 * store wrote with narinfo-compression = xz / bzip2 */
	{ "xz", NIX_COMPRESSION_XZ },        { "bzip2", NIX_COMPRESSION_BZIP2 },
};

int content_encoding_method(const char *value, enum nix_compression *out, struct ip_error *err)
{
	if (value[0] == '\0') {
		*out = NIX_COMPRESSION_NONE;
		return 0;
	}
	for (size_t i = 0; i < sizeof(codings) / sizeof(codings[0]); i++) {
		/* coding names are case-insensitive (RFC 9110 8.4.1) */
		if (strcasecmp(value, codings[i].name) == 0) {
			*out = codings[i].method;
			return 0;
		}
	}
	return ip_fail(err, -ENOTSUP, "Content-Encoding '%s' is not supported (supported: zstd, br, gzip, xz, bzip2, identity)",
		       value);
}

/* The decoded document, in a buffer of the cap's size (a narinfo's 1 MiB:
 * pages never written cost nothing), trimmed at the end. */
struct sink {
	char *buf;
	size_t len, max;
};

static int sink_put(void *ctx, const void *data, size_t len, struct ip_error *err)
{
	struct sink *s = ctx;
	if (len > s->max - s->len)
		return ip_fail(err, -EFBIG, "larger than %zu bytes once decoded", s->max);
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	return 0;
}

int content_encoding_decode(enum nix_compression method, const void *in, size_t len,
			    size_t max_out, char **out, size_t *out_len, struct ip_error *err)
{
	struct sink s = { .buf = malloc(max_out + 1), .max = max_out };
	struct decompressor *d = NULL;
	if (!s.buf)
		return ip_fail(err, -ENOMEM, "out of memory");
	int r = decompressor_new(method, decompressor_name(method), &d, err);
	if (r < 0) {
		free(s.buf);
		return r;
	}
	decompressor_set_memlimit(d, CONTENT_ENCODING_MEMLIMIT);
	r = decompressor_feed(d, in, len, sink_put, &s, err);
	if (r >= 0)
		r = decompressor_finish(d, sink_put, &s, err);
	decompressor_free(d);
	if (r < 0) {
		free(s.buf);
		return r;
	}
	s.buf[s.len] = '\0';
	char *trimmed = realloc(s.buf, s.len + 1);
	*out = trimmed ? trimmed : s.buf;
	*out_len = s.len;
	return 0;
}
