/* The body of a NAR transfer (cache/nar_stream.c) on arbitrary bytes: a
 * 5-byte header picks the compression, the NarSize and whether a FileSize
 * is given; the rest is the body, fed in chunk sizes derived from the input
 * and once whole.  Whatever the bytes, every failure is one the pipeline
 * knows how to sort (a content error naming the path, or -E2BIG), and the
 * counters stay within the bounds the narinfo sets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/nar_stream.h"
#include "fuzz-chunks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "contract broken: %s\n", #c); abort(); } } while (0)

static const enum nix_compression methods[] = {
	NIX_COMPRESSION_NONE, NIX_COMPRESSION_ZSTD, NIX_COMPRESSION_XZ, NIX_COMPRESSION_GZIP,
	NIX_COMPRESSION_BZIP2, NIX_COMPRESSION_BR, NIX_COMPRESSION_LZIP, NIX_COMPRESSION_LZ4,
};

/* What a content error starts with: the pipeline's messages, each naming
 * the store path. */
static const char *const content_errors[] = {
	"corrupt compressed data in NAR ", "bad NAR for ", "NarSize mismatch for ",
	"FileSize mismatch for ", "NarHash mismatch for ", "compressed NAR ",
};

static bool is_content_error(const char *msg)
{
	for (size_t i = 0; i < sizeof(content_errors) / sizeof(content_errors[0]); i++)
		if (strncmp(msg, content_errors[i], strlen(content_errors[i])) == 0)
			return strstr(msg, "/nix/store/fuzz") != NULL;
	return false;
}

static void run(const struct nar_stream_expect *want, const uint8_t *body, size_t size,
		bool chunked)
{
	struct decompressor *dec = NULL;
	struct ip_error err = { 0 };
	REQUIRE(decompressor_new(want->compression, "fuzz", &dec, &err) == 0);
	decompressor_set_memlimit(dec, 16u << 20);
	struct nar_parser *parser = nar_parser_new(&nar_null_sink_ops, NULL);
	REQUIRE(parser);
	struct nar_stream s;
	nar_stream_open(&s, want, "fuzz", "http://fuzz.test/nar", dec, parser);
	uint64_t x = fuzz_chunks_seed(body, size);
	int r = 0;
	size_t off = 0, last = 0;
	while (off < size && r == 0) {
		size_t n = chunked ? fuzz_chunks_next(&x, size - off) : size - off;
		r = nar_stream_feed(&s, body + off, n, &err);
		off += n;
		last = n;
	}
	if (r == 0)
		r = nar_stream_finish(&s, &err);
	if (r == -E2BIG)
		REQUIRE(err.msg[0] != '\0');
	else if (r < 0)
		REQUIRE(r == -EBADMSG && is_content_error(err.msg));
	/* the unit counts what it refused, and stops at the first excess */
	REQUIRE(s.file_bytes == off);
	REQUIRE(s.file_bytes <= decompress_max_input(want->compression, want->nar_size) + last);
	REQUIRE(s.nar_bytes <= want->nar_size + DECOMPRESS_OUT_CHUNK);
	REQUIRE(r != 0 || (s.nar_bytes == want->nar_size && s.file_bytes == size));
	nar_parser_free(parser);
	decompressor_free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5)
		return 0;
	struct nar_stream_expect want = { 0 };
	want.compression = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	/* NarSize 1..2^24: past the fixtures, and small enough to run fast */
	want.nar_size = ((uint64_t)data[1] | (uint64_t)data[2] << 8 | (uint64_t)data[3] << 16) + 1;
	const uint8_t *body = data + 5;
	size_t body_size = size - 5;
	if (data[4] & 1)
		want.file_size = body_size + (data[4] >> 1) % 3 - 1; /* exact, or one off */
	run(&want, body, body_size, true);
	run(&want, body, body_size, false);
	return 0;
}
