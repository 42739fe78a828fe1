#include "cache/nar_stream.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "nix/store_path.h"

void nar_stream_open(struct nar_stream *s, const struct nar_stream_expect *want,
		     const char *basename, const char *url, struct decompressor *dec,
		     struct nar_parser *parser)
{
	s->want = *want;
	s->max_file_bytes = decompress_max_input(want->compression, want->nar_size);
	s->basename = basename;
	s->url = url;
	s->dec = dec;
	s->parser = parser;
	sha256_init(&s->nar_hash);
	s->file_bytes = s->nar_bytes = 0;
	s->memory_needed = 0;
	s->nar_failure = 0;
	s->failed = 0;
}

/* Records the NAR side's failure, so that the stream can tell it from the
 * decoder's own complaint when the decoder hands it back. */
static int nar_side_failed(struct nar_stream *s, int code)
{
	s->nar_failure = code;
	return code;
}

/* The decoder's output callback. */
static int on_nar_bytes(void *ctx, const void *data, size_t len, struct ip_error *err)
{
	struct nar_stream *s = ctx;
	s->nar_bytes += len;
	if (s->nar_bytes > s->want.nar_size)
		return nar_side_failed(s, ip_fail(err, -EBADMSG, "NarSize mismatch for %s/%s (NAR %s): "
						  "expected %" PRIu64 " bytes, got more", NIX_STORE_DIR,
						  s->basename, s->url, s->want.nar_size));
	sha256_update(&s->nar_hash, data, len);
	int r = nar_parser_feed(s->parser, data, len, err);
	if (r == -EBADMSG)
		r = ip_fail_ctx(err, r, "bad NAR for %s/%s (%s)", NIX_STORE_DIR, s->basename, s->url);
	else if (r < 0) /* the sink: disk full, read-only, ... */
		r = ip_fail_ctx(err, r, "writing %s/%s", NIX_STORE_DIR, s->basename);
	return r < 0 ? nar_side_failed(s, r) : 0;
}

/* A failure of the decoder call just made: the decoder's own complaint is
 * named here, the NAR side's already is. */
static int decoder_failed(struct nar_stream *s, int r, struct ip_error *err)
{
	if (s->nar_failure)
		return r;
	return ip_fail_ctx(err, r, "corrupt compressed data in NAR %s of %s/%s", s->url, NIX_STORE_DIR,
			   s->basename);
}

static int feed(struct nar_stream *s, const void *data, size_t len, struct ip_error *err)
{
	s->file_bytes += len;
	if (s->file_bytes > s->max_file_bytes)
		return ip_fail(err, -EBADMSG, "compressed NAR %s of %s/%s is too long: more than %" PRIu64
			       " bytes for a NarSize of %" PRIu64 ", beyond the worst case of %s (endless "
			       "padding or empty frames)", s->url, NIX_STORE_DIR, s->basename,
			       s->max_file_bytes, s->want.nar_size, decompressor_name(s->want.compression));
	if (s->want.file_size && s->file_bytes > s->want.file_size)
		return ip_fail(err, -EBADMSG, "FileSize mismatch for %s/%s (NAR %s): expected %" PRIu64
			       " bytes, got more", NIX_STORE_DIR, s->basename, s->url, s->want.file_size);
	int r = decompressor_feed(s->dec, data, len, on_nar_bytes, s, err);
	if (r == -E2BIG && !s->nar_failure) { /* nothing wrong with the NAR: the caller decides */
		s->memory_needed = decompressor_memory_needed(s->dec);
		return r;
	}
	return r < 0 ? decoder_failed(s, r, err) : 0;
}

int nar_stream_feed(struct nar_stream *s, const void *data, size_t len, struct ip_error *err)
{
	if (s->failed)
		return s->failed;
	int r = feed(s, data, len, err);
	if (r < 0)
		s->failed = r;
	return r;
}

static int finish(struct nar_stream *s, struct ip_error *err)
{
	int r = decompressor_finish(s->dec, on_nar_bytes, s, err);
	if (r < 0)
		return decoder_failed(s, r, err);
	if (s->want.file_size && s->file_bytes != s->want.file_size)
		return ip_fail(err, -EBADMSG, "FileSize mismatch for %s/%s (NAR %s): expected %" PRIu64
			       " bytes, got %" PRIu64, NIX_STORE_DIR, s->basename, s->url,
			       s->want.file_size, s->file_bytes);
	/* FileHash is not checked: it is not signed, so it proves nothing that
	 * the signed NarHash below does not, and hashing the compressed bytes
	 * too was 4% of the CPU time (real Nix does not check it either).
	 * FileSize is: it bounds what a transfer may send. */
	r = nar_parser_finish(s->parser, err);
	if (r < 0)
		return ip_fail_ctx(err, r, "bad NAR for %s/%s (%s)", NIX_STORE_DIR, s->basename, s->url);
	if (s->nar_bytes != s->want.nar_size)
		return ip_fail(err, -EBADMSG, "NarSize mismatch for %s/%s (NAR %s): expected %" PRIu64
			       " bytes, got %" PRIu64, NIX_STORE_DIR, s->basename, s->url,
			       s->want.nar_size, s->nar_bytes);
	struct nix_hash got;
	sha256_final(&s->nar_hash, got.bytes);
	if (!nix_hash_equal(&got, &s->want.nar_hash)) {
		char want_text[NIX_HASH_TEXT_MAX], got_text[NIX_HASH_TEXT_MAX];
		nix_hash_format(&s->want.nar_hash, want_text);
		nix_hash_format(&got, got_text);
		return ip_fail(err, -EBADMSG, "NarHash mismatch for %s/%s (NAR %s): expected %s, got %s",
			       NIX_STORE_DIR, s->basename, s->url, want_text, got_text);
	}
	return 0;
}

int nar_stream_finish(struct nar_stream *s, struct ip_error *err)
{
	if (s->failed)
		return s->failed;
	int r = finish(s, err);
	if (r < 0)
		s->failed = r;
	return r;
}

uint64_t nar_stream_memory_needed(const struct nar_stream *s)
{
	return s->memory_needed;
}
