/* Hash texts in the three spellings, against what real Nix printed, and
 * NarHash = sha256 of `nix-store --dump` as Nix computes it. */
#include <stdio.h>
#include <stdlib.h>

#include "nix/hash.h"
#include "test.h"
#include "util/sha256.h"

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

struct row {
	char hex[65], b32[53], sri[60];
};

static int sha256_rows(struct row *rows, int max)
{
	char *tsv = read_text("nix/hashes.tsv");
	if (!tsv)
		return 0;
	int n = 0;
	char *save = NULL;
	for (char *line = strtok_r(tsv, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
		char algo[16];
		if (sscanf(line, "%15s %64s %52s %59s", algo, rows[n].hex, rows[n].b32, rows[n].sri) == 4 &&
		    strcmp(algo, "sha256") == 0)
			n++;
	}
	free(tsv);
	return n;
}

static void every_spelling_parses_to_the_same_hash(void)
{
	struct row rows[16];
	int n = sha256_rows(rows, 16);
	CHECK_INT(n, >=, 7);
	for (int i = 0; i < n; i++) {
		char texts[7][80];
		snprintf(texts[0], 80, "sha256:%s", rows[i].b32);
		snprintf(texts[1], 80, "sha256:%s", rows[i].hex);
		snprintf(texts[2], 80, "%s", rows[i].hex);
		snprintf(texts[3], 80, "%s", rows[i].b32);
		snprintf(texts[4], 80, "%s", rows[i].sri);
		snprintf(texts[5], 80, "sha256:%s", rows[i].sri + 7); /* Nix accepts base64 after ':' too */
		snprintf(texts[6], 80, "%s", rows[i].hex);
		for (char *c = texts[6]; *c; c++)
			if (*c >= 'a' && *c <= 'f')
				*c = (char)(*c - 'a' + 'A');
		struct nix_hash first;
		for (int t = 0; t < 7; t++) {
			struct nix_hash h;
			struct ip_error err = { 0 };
			int r = nix_hash_parse(texts[t], strlen(texts[t]), &h, &err);
			if (r != 0) {
				test_record_failure(__FILE__, __LINE__, "\"%s\": %s", texts[t], err.msg);
				return;
			}
			if (t == 0)
				first = h;
			CHECK(nix_hash_equal(&h, &first));
		}
		char out[NIX_HASH_TEXT_MAX], hex[NIX_SHA256_HEX_LEN + 1];
		nix_hash_format(&first, out);
		nix_hash_format_hex(&first, hex);
		CHECK_STR(out, texts[0]);
		CHECK_STR(hex, rows[i].hex);
	}
}

static void rejects_with_a_clear_message(void)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported algorithm \"md5\" (only sha256)" },
		{ "sha1:143xibwh31h9bvxzalr0sjvbbvpa6ffs", "unsupported algorithm \"sha1\"" },
		{ "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==", "unsupported algorithm \"sha512\"" },
		{ "SHA256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73", "unsupported algorithm \"SHA256\"" },
		{ "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c7", "51 characters, expected 52 (base-32) or 64 (hex) or 44 (base64)" },
		{ "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c733", "53 characters" },
		{ "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c7e", "invalid base-32" },
		{ "sha256:2mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73", "invalid base-32" },
		{ "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g", "invalid hex" },
		{ "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8", "62 characters, expected 52 (base-32) or 64 (hex)" },
		{ "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF=", "SRI sha256 has 43 base64 characters, expected 44" },
		{ "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSu!U=", "invalid base64" },
		{ "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "44 characters, expected 52 (base-32) or 64 (hex)" },
		{ "", "0 characters" },
		{ "sha256:", "0 characters" },
		{ "sha256", "6 characters" },
		{ "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73\n", "53 characters" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nix_hash h;
		struct ip_error err = { 0 };
		int r = nix_hash_parse(cases[i].text, strlen(cases[i].text), &h, &err);
		if (r != -EINVAL || !strstr(err.msg, cases[i].msg)) {
			test_record_failure(__FILE__, __LINE__, "\"%s\": %d \"%s\", want \"%s\"",
					    cases[i].text, r, err.msg, cases[i].msg);
			return;
		}
	}
	/* An embedded NUL is just a bad character; the message stays printable. */
	struct nix_hash h;
	struct ip_error err = { 0 };
	char nul[] = "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c7\0";
	CHECK_INT(nix_hash_parse(nul, 59, &h, &err), ==, -EINVAL);
	CHECK_CONTAINS(err.msg, "\\x00");
}

static void hash_file(const char *rel, char *out)
{
	size_t len = 0;
	unsigned char *data = test_read_data(rel, &len);
	struct sha256 ctx;
	struct nix_hash h;
	sha256_init(&ctx);
	/* In uneven pieces, as the engine will. */
	for (size_t off = 0, step = 1; data && off < len; off += step, step = step * 3 + 1)
		sha256_update(&ctx, data + off, off + step > len ? len - off : step);
	sha256_final(&ctx, h.bytes);
	nix_hash_format(&h, out);
	free(data);
}

static void nar_hash_is_what_nix_says(void)
{
	static const char *const nars[] = { "tree", "file", "empty-file", "exec", "symlink",
					    "empty-dir", "limits", "deep" };
	for (size_t i = 0; i < sizeof(nars) / sizeof(nars[0]); i++) {
		char rel[128], got[NIX_HASH_TEXT_MAX];
		snprintf(rel, sizeof(rel), "nars/%s.nar", nars[i]);
		hash_file(rel, got);
		snprintf(rel, sizeof(rel), "nars/%s.narhash", nars[i]);
		char *want = read_text(rel);
		CHECK(want);
		want[strcspn(want, "\n")] = '\0';
		bool same = strcmp(got, want) == 0;
		if (!same)
			test_record_failure(__FILE__, __LINE__, "%s: %s, Nix: %s", nars[i], got, want);
		free(want);
		CHECK(same);
	}
}

static void sha256_of_nothing(void)
{
	struct sha256 ctx;
	struct nix_hash h;
	char hex[65];
	sha256_init(&ctx);
	sha256_update(&ctx, "", 0);
	sha256_final(&ctx, h.bytes);
	nix_hash_format_hex(&h, hex);
	CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_MAIN("hash",
	TEST_CASE(every_spelling_parses_to_the_same_hash),
	TEST_CASE(rejects_with_a_clear_message),
	TEST_CASE(nar_hash_is_what_nix_says),
	TEST_CASE(sha256_of_nothing))
