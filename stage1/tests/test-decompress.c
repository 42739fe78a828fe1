/* Decompression of every method Nix writes, fed in chunks of every size:
 * whole streams, concatenated ones, and truncated/corrupt/trailing data. */
/* VLA parameters in brotli's prototypes (see cache/decompress.c) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wvla"
#include <brotli/encode.h>
#pragma GCC diagnostic pop
#include <bzlib.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>

#include "cache/decompress.h"
#include "support/compressors.h"
#include "test.h"

#define PLAIN_SIZE (300 * 1024 + 17)

static unsigned char *plain;

static void make_plain(void)
{
	if (plain)
		return;
	plain = malloc(PLAIN_SIZE);
	uint32_t x = 12345;
	for (size_t i = 0; i < PLAIN_SIZE; i++) {
		/* half text-like (compressible), half noise */
		x = x * 1103515245u + 12345u;
		plain[i] = (i / 4096) % 2 ? (unsigned char)(x >> 24) : (unsigned char)("nix-archive-1 "[i % 14]);
	}
}

static int collect(void *ctx, const void *data, size_t len, struct ip_error *err)
{
	(void)err;
	if (len > DECOMPRESS_OUT_CHUNK)
		return -E2BIG;
	buf_put(ctx, data, len);
	return 0;
}

/* Feeds `in` in chunks of `chunk` bytes; returns the first error. */
static int run(enum nix_compression m, const struct buf *in, size_t chunk, struct buf *out,
	       struct ip_error *err)
{
	struct decompressor *d;
	int r = decompressor_new(m, "x", &d, err);
	if (r < 0)
		return r;
	for (size_t off = 0; off < in->len && r == 0; off += chunk) {
		size_t n = in->len - off < chunk ? in->len - off : chunk;
		r = decompressor_feed(d, in->data + off, n, collect, out, err);
	}
	if (r == 0)
		r = decompressor_finish(d, collect, out, err);
	decompressor_free(d);
	return r;
}

static const enum nix_compression methods[] = {
	NIX_COMPRESSION_ZSTD, NIX_COMPRESSION_XZ, NIX_COMPRESSION_GZIP, NIX_COMPRESSION_BZIP2,
	NIX_COMPRESSION_BR,   NIX_COMPRESSION_LZIP, NIX_COMPRESSION_LZ4,
	NIX_COMPRESSION_NONE,
};
static const size_t chunks[] = { 1, 7, 4096, 65536, 1 << 30 };

static void round_trip_every_chunk_size(void)
{
	make_plain();
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		struct buf comp = { 0 };
		compress_with(methods[i], plain, PLAIN_SIZE, &comp);
		CHECK(comp.len > 0);
		for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
			struct buf in = comp;
			struct buf out = { 0 };
			struct ip_error err = { 0 };
			int r = run(methods[i], &in, chunks[k], &out, &err);
			if (r != 0 || out.len != PLAIN_SIZE || memcmp(out.data, plain, PLAIN_SIZE) != 0) {
				test_record_failure(__FILE__, __LINE__, "%s, chunk %zu: r=%d (%s), %zu bytes",
						    decompressor_name(methods[i]), chunks[k], r, err.msg, out.len);
				free(out.data);
				free(comp.data);
				return;
			}
			free(out.data);
		}
		free(comp.data);
	}
}

/* A whole small stream in one feed: some decoders report its end in their
 * first call. */
static void tiny_stream_in_one_feed(void)
{
	make_plain();
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		struct buf comp = { 0 }, out = { 0 };
		struct ip_error err = { 0 };
		compress_with(methods[i], plain, 100, &comp);
		int r = run(methods[i], &comp, comp.len, &out, &err);
		bool ok = r == 0 && out.len == 100 && memcmp(out.data, plain, 100) == 0;
		free(out.data);
		free(comp.data);
		if (!ok) {
			test_record_failure(__FILE__, __LINE__, "%s: r=%d (%s)", decompressor_name(methods[i]), r,
					    err.msg);
			return;
		}
	}
}

static void concatenated_streams(void)
{
	make_plain();
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		struct buf comp = { 0 };
		compress_with(methods[i], plain, 1000, &comp);
		compress_with(methods[i], plain + 1000, 2000, &comp);
		struct buf out = { 0 };
		struct ip_error err = { 0 };
		int r = run(methods[i], &comp, 333, &out, &err);
		bool ok = r == 0 && out.len == 3000 && memcmp(out.data, plain, 3000) == 0;
		/* brotli streams do not concatenate (`brotli -d` refuses what
		 * follows the first) */
		if (methods[i] == NIX_COMPRESSION_BR)
			ok = r == -EBADMSG && strstr(err.msg, "data after the end of the stream");
		free(out.data);
		free(comp.data);
		if (!ok) {
			test_record_failure(__FILE__, __LINE__, "%s: r=%d (%s)",
					    decompressor_name(methods[i]), r, err.msg);
			return;
		}
	}
}

static void truncated_is_an_error(void)
{
	make_plain();
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (methods[i] == NIX_COMPRESSION_NONE)
			continue; /* nothing to notice: the NAR parser does */
		struct buf comp = { 0 };
		compress_with(methods[i], plain, 50000, &comp);
		size_t cuts[] = { comp.len - 1, comp.len / 2, 3 };
		for (size_t k = 0; k < 3; k++) {
			struct buf in = { comp.data, cuts[k], 0 };
			struct buf out = { 0 };
			struct ip_error err = { 0 };
			int r = run(methods[i], &in, 4096, &out, &err);
			free(out.data);
			if (r != -EBADMSG || !strstr(err.msg, decompressor_name(methods[i]))) {
				test_record_failure(__FILE__, __LINE__, "%s cut at %zu: r=%d (%s)",
						    decompressor_name(methods[i]), cuts[k], r, err.msg);
				free(comp.data);
				return;
			}
		}
		free(comp.data);
	}
}

static void trailing_garbage_and_corruption(void)
{
	make_plain();
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (methods[i] == NIX_COMPRESSION_NONE)
			continue;
		struct buf comp = { 0 };
		compress_with(methods[i], plain, 50000, &comp);
		buf_put(&comp, "garbage!", 8);
		struct buf out = { 0 };
		struct ip_error err = { 0 };
		int r = run(methods[i], &comp, 4096, &out, &err);
		free(out.data);
		if (r != -EBADMSG) {
			test_record_failure(__FILE__, __LINE__, "%s + garbage: r=%d (%s)",
					    decompressor_name(methods[i]), r, err.msg);
			free(comp.data);
			return;
		}
		/* flip bytes in the middle */
		comp.len -= 8;
		for (size_t k = comp.len / 3; k < comp.len / 3 + 16; k++)
			comp.data[k] ^= 0x5a;
		memset(&out, 0, sizeof(out));
		ip_error_clear(&err);
		r = run(methods[i], &comp, 4096, &out, &err);
		bool same = r == 0 && out.len == 50000 && memcmp(out.data, plain, 50000) == 0;
		free(out.data);
		free(comp.data);
		/* xz, gzip, bzip2, lzip and lz4 frames (lz4's default) carry
		 * checksums; zstd frames only do when asked for (Nix's do not),
		 * br never: then the output differs, and NarHash is what
		 * catches it */
		bool has_check = methods[i] != NIX_COMPRESSION_ZSTD && methods[i] != NIX_COMPRESSION_BR &&
				 methods[i] != NIX_COMPRESSION_LZ4;
		if (same || (r == 0 && has_check)) {
			test_record_failure(__FILE__, __LINE__, "%s corrupted: r=%d",
					    decompressor_name(methods[i]), r);
			return;
		}
	}
}

static void unsupported_names_the_method(void)
{
	struct decompressor *d = NULL;
	struct ip_error err = { 0 };
	CHECK_INT(decompressor_new(NIX_COMPRESSION_UNSUPPORTED, "lzop", &d, &err), ==, -ENOTSUP);
	CHECK_CONTAINS(err.msg, "compression 'lzop' is not supported");
	CHECK(d == NULL);
}

static void empty_input_is_an_error(void)
{
	struct buf in = { 0 }, out = { 0 };
	struct ip_error err = { 0 };
	CHECK_INT(run(NIX_COMPRESSION_ZSTD, &in, 1, &out, &err), ==, -EBADMSG);
	CHECK_CONTAINS(err.msg, "zstd: no compressed data");
}

static int refuse(void *ctx, const void *data, size_t len, struct ip_error *err)
{
	(void)data;
	(void)len;
	(void)err;
	++*(int *)ctx;
	return -ENOSPC;
}

static void consumer_error_stops(void)
{
	make_plain();
	struct buf comp = { 0 };
	compress_with(NIX_COMPRESSION_ZSTD, plain, PLAIN_SIZE, &comp);
	struct decompressor *d;
	CHECK_INT(decompressor_new(NIX_COMPRESSION_ZSTD, "zstd", &d, NULL), ==, 0);
	int calls = 0;
	int r = decompressor_feed(d, comp.data, comp.len, refuse, &calls, NULL);
	decompressor_free(d);
	free(comp.data);
	CHECK_INT(r, ==, -ENOSPC);
	CHECK_INT(calls, ==, 1);
}

/* Feeds a whole stream to a decoder that decompressor_reuse prepared. */
static int run_reused(struct decompressor *d, enum nix_compression m, const struct buf *in,
		      struct buf *out, struct ip_error *err)
{
	int r = decompressor_reuse(d, m, decompressor_name(m), err);
	if (r == 0)
		r = decompressor_feed(d, in->data, in->len, collect, out, err);
	if (r == 0)
		r = decompressor_finish(d, collect, out, err);
	return r;
}

/* The pipeline keeps its decoders: one decoder, reused for every method in
 * turn, twice round, after a corrupt stream and after a stream cut short
 * in the middle, gives the same bytes as a new one each time. */
static void reuse_is_like_new(void)
{
	make_plain();
	struct decompressor *d;
	struct ip_error err = { 0 };
	CHECK_INT(decompressor_new(NIX_COMPRESSION_XZ, "xz", &d, &err), ==, 0);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
			struct buf comp = { 0 }, out = { 0 };
			compress_with(methods[i], plain, PLAIN_SIZE, &comp);
			if (methods[i] != NIX_COMPRESSION_NONE) {
				/* a stream abandoned halfway, then a corrupt one */
				CHECK_INT(decompressor_reuse(d, methods[i], "x", &err), ==, 0);
				CHECK_INT(decompressor_feed(d, comp.data, comp.len / 2, collect, &out, &err), ==, 0);
				out.len = 0;
				struct buf bad = { 0 };
				buf_put(&bad, "garbage, not a stream at all", 28);
				CHECK_INT(run_reused(d, methods[i], &bad, &out, &err), ==, -EBADMSG);
				free(bad.data);
				out.len = 0;
				ip_error_clear(&err);
			}
			int r = run_reused(d, methods[i], &comp, &out, &err);
			bool ok = r == 0 && out.len == PLAIN_SIZE && memcmp(out.data, plain, PLAIN_SIZE) == 0;
			free(out.data);
			free(comp.data);
			if (!ok) {
				test_record_failure(__FILE__, __LINE__, "round %d, %s: r=%d (%s)", round,
						    decompressor_name(methods[i]), r, err.msg);
				decompressor_free(d);
				return;
			}
		}
	}
	CHECK_INT(decompressor_reuse(d, NIX_COMPRESSION_UNSUPPORTED, "lzop", &err), ==, -ENOTSUP);
	CHECK_CONTAINS(err.msg, "compression 'lzop' is not supported");
	decompressor_free(d);
}

/* The signed NarSize bounds the compressed bytes: the bound is exact for
 * `none`, and the real libraries stay under it on incompressible data
 * (their worst case). */
static void max_input_bounds_every_method(void)
{
	static const struct {
		enum nix_compression m;
		uint64_t nar_size, want;
	} cases[] = {
		{ NIX_COMPRESSION_NONE, 1000, 1000 },
		{ NIX_COMPRESSION_ZSTD, 0, DECOMPRESS_INPUT_SLACK },
		{ NIX_COMPRESSION_XZ, 6400, 6400 + 100 + DECOMPRESS_INPUT_SLACK },
		{ NIX_COMPRESSION_BZIP2, 1ull << 30, (1ull << 30) + (1ull << 24) + DECOMPRESS_INPUT_SLACK },
		{ NIX_COMPRESSION_GZIP, 64, 65 + DECOMPRESS_INPUT_SLACK },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_INT(decompress_max_input(cases[i].m, cases[i].nar_size), ==, cases[i].want);
	size_t n = 1 << 20;
	unsigned char *noise = malloc(n);
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		noise[i] = (unsigned char)x;
	}
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		for (size_t len = 1; len <= n; len *= 32) {
			struct buf comp = { 0 };
			compress_with(methods[i], noise, len, &comp);
			if (comp.len > decompress_max_input(methods[i], len))
				test_record_failure(__FILE__, __LINE__, "%s: %zu bytes of noise took %zu", 
						    decompressor_name(methods[i]), len, comp.len);
			free(comp.data);
		}
	}
	free(noise);
}

/* A stream compressed by the real library with a big window or dictionary. */
static void compress_big_window(enum nix_compression m, struct buf *out)
{
	size_t cap = PLAIN_SIZE * 2 + 4096;
	unsigned char *tmp = malloc(cap);
	size_t len = 0;
	if (m == NIX_COMPRESSION_XZ) {
		/* xz --lzma2=preset=0,dict=64MiB */
		lzma_options_lzma opt;
		lzma_lzma_preset(&opt, 0);
		opt.dict_size = 64u << 20;
		lzma_filter filters[] = { { LZMA_FILTER_LZMA2, &opt }, { LZMA_VLI_UNKNOWN, NULL } };
		CHECK_INT(lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC64, NULL, plain, PLAIN_SIZE, tmp,
						    &len, cap), ==, LZMA_OK);
	} else {
		/* zstd --long=25, streamed: the size unknown, the window stays 2^25 */
		ZSTD_CCtx *c = ZSTD_createCCtx();
		ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 25);
		ZSTD_inBuffer in = { plain, PLAIN_SIZE, 0 };
		ZSTD_outBuffer ob = { tmp, cap, 0 };
		ZSTD_compressStream2(c, &ob, &in, ZSTD_e_continue);
		ZSTD_inBuffer none = { NULL, 0, 0 };
		while (ZSTD_compressStream2(c, &ob, &none, ZSTD_e_end) > 0)
			;
		len = ob.pos;
		ZSTD_freeCCtx(c);
	}
	buf_put(out, tmp, len);
	free(tmp);
}

/* A decoder held to a small limit stops a big-dictionary stream with
 * -E2BIG and says what it needs; with that limit it decodes it. */
static void memlimit_stops_and_names_the_need(void)
{
	static const struct {
		enum nix_compression m;
		uint64_t min_need, max_need;
	} cases[] = {
		{ NIX_COMPRESSION_XZ, 64u << 20, 66u << 20 },
		{ NIX_COMPRESSION_ZSTD, (32u << 20) + DECOMPRESS_ZSTD_OVERHEAD,
		  (32u << 20) + DECOMPRESS_ZSTD_OVERHEAD + DECOMPRESS_FIXED_MEMORY },
	};
	make_plain();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum nix_compression m = cases[i].m;
		struct buf comp = { 0 }, out = { 0 };
		struct ip_error err = { 0 };
		struct decompressor *d;
		compress_big_window(m, &comp);
		CHECK_INT(decompressor_new(m, "x", &d, &err), ==, 0);
		decompressor_set_memlimit(d, 16u << 20);
		CHECK_INT(decompressor_feed(d, comp.data, comp.len, collect, &out, &err), ==, -E2BIG);
		CHECK_INT(out.len, ==, 0);
		uint64_t need = decompressor_memory_needed(d);
		if (need < cases[i].min_need || need > cases[i].max_need)
			test_record_failure(__FILE__, __LINE__, "%s: needs %llu", decompressor_name(m),
					    (unsigned long long)need);
		CHECK_CONTAINS(err.msg, "more than the 16 MiB allowed");
		ip_error_clear(&err);
		CHECK_INT(decompressor_reuse(d, m, "x", &err), ==, 0);
		decompressor_set_memlimit(d, need);
		CHECK_INT(decompressor_feed(d, comp.data, comp.len, collect, &out, &err), ==, 0);
		CHECK_INT(decompressor_finish(d, collect, &out, &err), ==, 0);
		CHECK(out.len == PLAIN_SIZE && memcmp(out.data, plain, PLAIN_SIZE) == 0);
		decompressor_free(d);
		free(comp.data);
		free(out.data);
	}
}

/* brotli has no limit of its own: a 16 MiB window over 10 MiB of output
 * (libbrotli's ring buffer grows past 8 MiB)
 * is stopped by the counting allocator at 8 MiB, and decodes with what it
 * says it needs.  lz4 needs its constant. */
static void memlimit_br_and_lz4(void)
{
	size_t n = 10u << 20;
	unsigned char *big = malloc(n);
	uint32_t x = 7;
	for (size_t k = 0; k < n; k++) {
		x = x * 1103515245u + 12345u;
		big[k] = k % 64 < 8 ? (unsigned char)(x >> 24) : (unsigned char)("nix-archive-1 "[k % 14]);
	}
	size_t cap = n + 4096, len = cap;
	unsigned char *comp = malloc(cap);
	CHECK(BrotliEncoderCompress(1, 24, BROTLI_MODE_GENERIC, n, big, &len, comp));
	struct buf out = { 0 };
	struct ip_error err = { 0 };
	struct decompressor *d;
	CHECK_INT(decompressor_new(NIX_COMPRESSION_BR, "br", &d, &err), ==, 0);
	decompressor_set_memlimit(d, 8u << 20);
	CHECK_INT(decompressor_feed(d, comp, len, collect, &out, &err), ==, -E2BIG);
	CHECK_CONTAINS(err.msg, "br: the window needs more than the 8 MiB allowed");
	uint64_t need = decompressor_memory_needed(d);
	CHECK_INT(need, ==, DECOMPRESS_BR_MEMORY_MAX + DECOMPRESS_FIXED_MEMORY);
	ip_error_clear(&err);
	out.len = 0;
	CHECK_INT(decompressor_reuse(d, NIX_COMPRESSION_BR, "br", &err), ==, 0);
	decompressor_set_memlimit(d, need);
	CHECK_INT(decompressor_feed(d, comp, len, collect, &out, &err), ==, 0);
	CHECK_INT(decompressor_finish(d, collect, &out, &err), ==, 0);
	CHECK(out.len == n && memcmp(out.data, big, n) == 0);
	decompressor_free(d);
	free(out.data);
	free(comp);
	free(big);

	make_plain();
	struct buf lz = { 0 };
	compress_with(NIX_COMPRESSION_LZ4, plain, PLAIN_SIZE, &lz);
	CHECK_INT(decompressor_new(NIX_COMPRESSION_LZ4, "lz4", &d, &err), ==, 0);
	decompressor_set_memlimit(d, 4u << 20);
	memset(&out, 0, sizeof(out));
	CHECK_INT(decompressor_feed(d, lz.data, lz.len, collect, &out, &err), ==, -E2BIG);
	CHECK_INT(decompressor_memory_needed(d), ==, DECOMPRESS_LZ4_MEMORY + DECOMPRESS_FIXED_MEMORY);
	decompressor_free(d);
	free(lz.data);
	free(out.data);
}

TEST_MAIN("decompress",
	  TEST_CASE(max_input_bounds_every_method),
	  TEST_CASE(memlimit_stops_and_names_the_need),
	  TEST_CASE(memlimit_br_and_lz4),
	  TEST_CASE(reuse_is_like_new),
	  TEST_CASE(round_trip_every_chunk_size),
	  TEST_CASE(tiny_stream_in_one_feed),
	  TEST_CASE(concatenated_streams),
	  TEST_CASE(truncated_is_an_error),
	  TEST_CASE(trailing_garbage_and_corruption),
	  TEST_CASE(unsupported_names_the_method),
	  TEST_CASE(empty_input_is_an_error),
	  TEST_CASE(consumer_error_stops))
