/* Nix base-32 against what real Nix printed (data/nix/hashes.tsv, written by
 * tools/make-format-fixtures from nix-hash --to-base32). */
#include <stdio.h>
#include <stdlib.h>

#include "nix/hash.h"
#include "test.h"

/* A data file as a NUL-terminated string (test_read_data gives raw bytes). */
static char *read_text(const char *rel)
{
	size_t len = 0;
	unsigned char *data = test_read_data(rel, &len);
	char *text = data ? realloc(data, len + 1) : NULL;
	if (!text) {
		free(data);
		return NULL;
	}
	text[len] = '\0';
	return text;
}

static int hexbytes(const char *hex, uint8_t *out, size_t max)
{
	size_t n = strlen(hex);
	if (n % 2 || n / 2 > max)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return (int)(n / 2);
}

static void encodes_like_nix(void)
{
	char *tsv = read_text("nix/hashes.tsv");
	CHECK(tsv);
	int rows = 0;
	char *save = NULL;
	for (char *line = strtok_r(tsv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		char algo[16], hex[200], b32[200], sri[200];
		if (sscanf(line, "%15s %199s %199s %199s", algo, hex, b32, sri) != 4) {
			test_record_failure(__FILE__, __LINE__, "bad line %s", line);
			break;
		}
		uint8_t bytes[64], back[64];
		int n = hexbytes(hex, bytes, sizeof(bytes));
		char text[120];
		if (n <= 0 || nix_base32_len((size_t)n) != strlen(b32)) {
			test_record_failure(__FILE__, __LINE__, "%s: length %d vs \"%s\"", algo, n, b32);
			break;
		}
		nix_base32_encode(bytes, (size_t)n, text);
		if (strcmp(text, b32) != 0) {
			test_record_failure(__FILE__, __LINE__, "%s %s: got %s, Nix says %s", algo, hex, text, b32);
			break;
		}
		if (nix_base32_decode(b32, strlen(b32), back, (size_t)n) != 0 ||
		    memcmp(back, bytes, (size_t)n) != 0) {
			test_record_failure(__FILE__, __LINE__, "%s %s: decode differs", algo, b32);
			break;
		}
		rows++;
	}
	free(tsv);
	CHECK_INT(rows, >=, 16); /* sha256, sha1, md5, sha512: 16, 20, 32 and 64 bytes */
}

static void lengths(void)
{
	CHECK_INT(nix_base32_len(0), ==, 0);
	CHECK_INT(nix_base32_len(1), ==, 2);
	CHECK_INT(nix_base32_len(16), ==, 26);
	CHECK_INT(nix_base32_len(20), ==, 32); /* store path hashes */
	CHECK_INT(nix_base32_len(32), ==, 52);
	CHECK_INT(nix_base32_len(64), ==, 103);
}

static void round_trips_every_length(void)
{
	uint32_t x = 12345;
	for (size_t n = 1; n <= 70; n++) {
		uint8_t bytes[70], back[70];
		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			bytes[i] = (uint8_t)(x >> 16);
		}
		char text[128];
		nix_base32_encode(bytes, n, text);
		CHECK_INT(strlen(text), ==, nix_base32_len(n));
		CHECK_INT(nix_base32_decode(text, strlen(text), back, n), ==, 0);
		CHECK_MEM(back, bytes, n);
	}
}

static void decode_rejects(void)
{
	uint8_t out[32];
	char ok[53];
	memset(ok, '0', 52);
	ok[52] = '\0';
	CHECK_INT(nix_base32_decode(ok, 52, out, 32), ==, 0);
	ok[0] = '1'; /* the single bit of the first character that is in range */
	CHECK_INT(nix_base32_decode(ok, 52, out, 32), ==, 0);
	CHECK_INT(out[31], ==, 0x80);
	static const char bad_first[] = "2zvyxwsrqpnmlkjihgfdcba";
	for (const char *c = bad_first; *c; c++) {
		ok[0] = *c; /* sets bits beyond 256 */
		CHECK_INT(nix_base32_decode(ok, 52, out, 32), ==, -EINVAL);
	}
	ok[0] = '0';
	static const char not_alphabet[] = "eotuEAZ=-_ /\x80";
	for (const char *c = not_alphabet; *c; c++) {
		ok[10] = *c;
		CHECK_INT(nix_base32_decode(ok, 52, out, 32), ==, -EINVAL);
	}
	ok[10] = '0';
	CHECK_INT(nix_base32_decode(ok, 51, out, 32), ==, -EINVAL);
	CHECK_INT(nix_base32_decode(ok, 52, out, 31), ==, -EINVAL);
	CHECK(nix_base32_valid_char('z') && !nix_base32_valid_char('e') && !nix_base32_valid_char('\0'));
}

static void base64(void)
{
	uint8_t out[32];
	CHECK_INT(nix_base64_decode("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", 44, out, 32), ==, 0);
	CHECK_INT(out[0], ==, 0xe3);
	CHECK_INT(nix_base64_decode("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", 43, out, 32), ==, 0);
	CHECK_INT(nix_base64_decode("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF==", 44, out, 32), ==, -EINVAL);
	CHECK_INT(nix_base64_decode("47DEQpj8HBSa-_TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", 44, out, 32), ==, -EINVAL);
	CHECK_INT(nix_base64_decode("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hS", 40, out, 32), ==, -EINVAL);
	CHECK_INT(nix_base64_decode("", 0, out, 32), ==, -EINVAL);
}

TEST_MAIN("base32",
	TEST_CASE(encodes_like_nix),
	TEST_CASE(lengths),
	TEST_CASE(round_trips_every_length),
	TEST_CASE(decode_rejects),
	TEST_CASE(base64))
