/* Content-Encoding of narinfo and nix-cache-info answers: the header's
 * names, bodies encoded by the real libraries, and the size cap applied to
 * the decoded bytes. */
#include <stdlib.h>

#include "cache/content_encoding.h"
#include "support/compressors.h"
#include "test.h"

static const struct {
	const char *value;
	int r;
	enum nix_compression method;
} names[] = {
	{ "", 0, NIX_COMPRESSION_NONE },       { "identity", 0, NIX_COMPRESSION_NONE },
	{ "gzip", 0, NIX_COMPRESSION_GZIP },   { "x-gzip", 0, NIX_COMPRESSION_GZIP },
	{ "GZip", 0, NIX_COMPRESSION_GZIP },   { "zstd", 0, NIX_COMPRESSION_ZSTD },
	{ "xz", 0, NIX_COMPRESSION_XZ },       { "bzip2", 0, NIX_COMPRESSION_BZIP2 },
	{ "br", 0, NIX_COMPRESSION_BR },       { "lz4", -ENOTSUP, 0 },
	{ "deflate", -ENOTSUP, 0 },            { "gzip, zstd", -ENOTSUP, 0 },
	{ "compress", -ENOTSUP, 0 },           { "aes128gcm", -ENOTSUP, 0 },
};

static void header_values(void)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct ip_error err = { 0 };
		enum nix_compression m = NIX_COMPRESSION_UNSUPPORTED;
		int r = content_encoding_method(names[i].value, &m, &err);
		if (r != names[i].r || (r == 0 && m != names[i].method)) {
			test_record_failure(__FILE__, __LINE__, "'%s': r=%d method=%d", names[i].value, r, (int)m);
			return;
		}
		if (r < 0)
			CHECK_CONTAINS(err.msg, names[i].value);
	}
}

static const char narinfo[] =
	"StorePath: /nix/store/7h7qgvs4kgzsn8a6rb274saxyqh4jxlz-hello-2.12\n"
	"URL: nar/1w1fff338fvdw53sqgamddn1b2xgds473pv6y13gizdbqjv4i5p3.nar.zst\n"
	"Compression: zstd\n"
	"NarHash: sha256:1w1fff338fvdw53sqgamddn1b2xgds473pv6y13gizdbqjv4i5p3\n"
	"NarSize: 226552\n";

static const enum nix_compression methods[] = {
	NIX_COMPRESSION_ZSTD, NIX_COMPRESSION_XZ, NIX_COMPRESSION_GZIP, NIX_COMPRESSION_BZIP2,
	NIX_COMPRESSION_BR,
};

/* narinfo[] encoded with `m` by the real library, its last `cut` bytes
 * left out, decoded under a cap of 4096. */
static int decode_narinfo(enum nix_compression m, size_t cut, char **out, size_t *len, struct ip_error *err)
{
	struct buf enc = { 0 };
	compress_with(m, (const unsigned char *)narinfo, sizeof(narinfo) - 1, &enc);
	int r = content_encoding_decode(m, enc.data, enc.len - cut, 4096, out, len, err);
	free(enc.data);
	return r;
}

static void every_coding_decodes(void)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		char *out = NULL;
		size_t len = 0;
		struct ip_error err = { 0 };
		int r = decode_narinfo(methods[i], 0, &out, &len, &err);
		if (r != 0 || len != sizeof(narinfo) - 1 || strcmp(out, narinfo) != 0) {
			test_record_failure(__FILE__, __LINE__, "method %d: r=%d (%s), %zu bytes", (int)methods[i],
					    r, err.msg, len);
			free(out);
			return;
		}
		free(out);
	}
}

/* 64 KiB of the same line compresses to a few hundred bytes: the cap is on
 * what it decodes to, whatever arrived. */
static void cap_applies_after_decoding(void)
{
	size_t n = 64 * 1024;
	unsigned char *big = malloc(n);
	for (size_t k = 0; k < n; k++)
		big[k] = "X-Padding: aaaaaaaaaaaaaaa\n"[k % 27];
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		struct buf enc = { 0 };
		compress_with(methods[i], big, n, &enc);
		char *out = NULL;
		size_t len = 0;
		struct ip_error err = { 0 };
		int r = content_encoding_decode(methods[i], enc.data, enc.len, n - 1, &out, &len, &err);
		bool small = enc.len < 4096;
		free(enc.data);
		if (r != -EFBIG || out || !small || !strstr(err.msg, "65535 bytes once decoded")) {
			test_record_failure(__FILE__, __LINE__, "method %d: r=%d (%s)", (int)methods[i], r, err.msg);
			free(out);
			free(big);
			return;
		}
		/* exactly at the cap is fine */
		struct buf again = { 0 };
		compress_with(methods[i], big, n, &again);
		r = content_encoding_decode(methods[i], again.data, again.len, n, &out, &len, &err);
		free(again.data);
		free(out);
		if (r != 0 || len != n) {
			test_record_failure(__FILE__, __LINE__, "method %d at the cap: r=%d", (int)methods[i], r);
			free(big);
			return;
		}
	}
	free(big);
}

static void corrupt_and_truncated(void)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		char *out = NULL;
		size_t len = 0;
		struct ip_error err = { 0 };
		int r = decode_narinfo(methods[i], 5, &out, &len, &err);
		CHECK_INT(r, ==, -EBADMSG);
		CHECK(out == NULL);
		/* a plain narinfo that claims an encoding */
		r = content_encoding_decode(methods[i], narinfo, sizeof(narinfo) - 1, 4096, &out, &len, &err);
		CHECK_INT(r, ==, -EBADMSG);
	}
}

TEST_MAIN("content-encoding", TEST_CASE(header_values), TEST_CASE(every_coding_decodes),
	  TEST_CASE(cap_applies_after_decoding), TEST_CASE(corrupt_and_truncated))
