/* narinfo and nix-cache-info parsing: the real files `nix copy` wrote, good
 * variations, and a table of bad ones with the exact message. */
#include <stdio.h>
#include <stdlib.h>

#include "nix/narinfo.h"
#include "support/nix_fixtures.h"
#include "test.h"
#include "util/sha256.h"

#define H1 "c7hka4a9iij0n12kpiiqyjsx65hbs8l1"
#define H2 "i1cyw3zcajkgiravwgx7vzp6wvyq2fsi"
#define NARHASH "sha256:13w19wwvpfqyfq1fixzqjphj7dil4vlv9gada02f9kpl04qnmkw4"
#define BASE "StorePath: /nix/store/" H1 "-fixture-dep\n" \
	"URL: nar/x.nar\n" \
	"NarHash: " NARHASH "\n" \
	"NarSize: 128\n"

static void real_narinfos(void)
{
	struct nix_fixtures fx;
	CHECK(nix_fixtures_load(&fx) == 0);
	size_t len;
	char *text = nix_fixture_narinfo(fx.top.path, &len);
	CHECK(text);
	struct narinfo ni;
	struct ip_error err = { 0 };
	int r = narinfo_parse(text, len, &ni, &err);
	free(text);
	CHECK_STR(err.msg, "");
	CHECK_INT(r, ==, 0);
	CHECK_STR(ni.store_path, fx.top.path);
	CHECK(strncmp(ni.url, "nar/", 4) == 0 && strstr(ni.url, ".nar"));
	CHECK_INT(ni.compression, ==, NIX_COMPRESSION_NONE);
	CHECK_STR(ni.compression_name, "none");
	char h[NIX_HASH_TEXT_MAX];
	nix_hash_format(&ni.nar_hash, h);
	CHECK_STR(h, fx.top.nar_hash);
	CHECK_INT(ni.nar_size, ==, fx.top.nar_size);
	CHECK(ni.has_file_hash && nix_hash_equal(&ni.file_hash, &ni.nar_hash)); /* compression none */
	CHECK_INT(ni.file_size, ==, ni.nar_size);
	CHECK_INT(ni.n_references, ==, 1);
	CHECK_STR(ni.references[0], fx.dep.path + strlen("/nix/store/"));
	CHECK(ni.deriver && strstr(ni.deriver, "-fixture-top.drv"));
	CHECK_INT(ni.n_sigs, ==, 2);
	CHECK(ni.ca == NULL);

	/* The NAR `nix copy` uploaded hashes to NarHash. */
	char rel[256];
	snprintf(rel, sizeof(rel), "nix/cache/%s", ni.url);
	size_t nar_len = 0;
	unsigned char *nar = test_read_data(rel, &nar_len);
	CHECK(nar);
	struct sha256 ctx;
	struct nix_hash got;
	sha256_init(&ctx);
	sha256_update(&ctx, nar, nar_len);
	sha256_final(&ctx, got.bytes);
	free(nar);
	CHECK(nix_hash_equal(&got, &ni.nar_hash));
	CHECK_INT(nar_len, ==, ni.nar_size);
	narinfo_free(&ni);

	text = nix_fixture_narinfo(fx.dep.path, &len);
	CHECK(text);
	r = narinfo_parse(text, len, &ni, &err);
	free(text);
	CHECK_INT(r, ==, 0);
	CHECK_INT(ni.n_references, ==, 0);
	CHECK_INT(ni.n_sigs, ==, 1);
	narinfo_free(&ni);
}

static void good_variations(void)
{
	static const struct {
		const char *name, *text;
		enum nix_compression c;
		const char *cname;
		size_t refs;
	} cases[] = {
		{ "minimal: bzip2 when Compression is missing", BASE, NIX_COMPRESSION_BZIP2, "bzip2", 0 },
		{ "empty Compression is bzip2", BASE "Compression: \n", NIX_COMPRESSION_BZIP2, "bzip2", 0 },
		{ "Compression: with nothing after the colon", BASE "Compression:\n", NIX_COMPRESSION_BZIP2, "bzip2", 0 },
		{ "zstd", BASE "Compression: zstd\n", NIX_COMPRESSION_ZSTD, "zstd", 0 },
		{ "xz", "Compression: xz\n" BASE, NIX_COMPRESSION_XZ, "xz", 0 },
		{ "gzip", BASE "Compression: gzip\n", NIX_COMPRESSION_GZIP, "gzip", 0 },
		{ "none", BASE "Compression: none\n", NIX_COMPRESSION_NONE, "none", 0 },
		{ "br", BASE "Compression: br\n", NIX_COMPRESSION_BR, "br", 0 },
		{ "lzip", BASE "Compression: lzip\n", NIX_COMPRESSION_LZIP, "lzip", 0 },
		{ "lz4", BASE "Compression: lz4\n", NIX_COMPRESSION_LZ4, "lz4", 0 },
		{ "lzop is parsed but unsupported", BASE "Compression: lzop\n", NIX_COMPRESSION_UNSUPPORTED, "lzop", 0 },
		{ "unknown keys ignored, even twice", "Foo: bar baz\n" BASE "System: x86_64-linux\nFoo: again\nX-Weird: \x01\n",
		  NIX_COMPRESSION_BZIP2, "bzip2", 0 },
		{ "CRLF", "StorePath: /nix/store/" H1 "-fixture-dep\r\nURL: nar/x.nar\r\nNarHash: " NARHASH
			  "\r\nNarSize: 128\r\nCompression: xz\r\nReferences: " H1 "-fixture-dep\r\n",
		  NIX_COMPRESSION_XZ, "xz", 1 },
		{ "no final newline", BASE "Compression: zstd", NIX_COMPRESSION_ZSTD, "zstd", 0 },
		{ "blank lines", "\n" BASE "\n\n", NIX_COMPRESSION_BZIP2, "bzip2", 0 },
		{ "unknown-deriver", BASE "Deriver: unknown-deriver\n", NIX_COMPRESSION_BZIP2, "bzip2", 0 },
		{ "references: several, self included, extra spaces",
		  BASE "References: " H1 "-fixture-dep  " H2 "-fixture-top\n", NIX_COMPRESSION_BZIP2, "bzip2", 2 },
		{ "References: with nothing", BASE "References: \n", NIX_COMPRESSION_BZIP2, "bzip2", 0 },
		{ "all optional keys", BASE "FileHash: " NARHASH "\nFileSize: 99\nDeriver: " H2 "-x.drv\n"
			"Sig: a:b\nSig: c:d\nCA: fixed:r:sha256:" "13w19wwvpfqyfq1fixzqjphj7dil4vlv9gada02f9kpl04qnmkw4\n",
		  NIX_COMPRESSION_BZIP2, "bzip2", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct narinfo ni;
		struct ip_error err = { 0 };
		int r = narinfo_parse(cases[i].text, strlen(cases[i].text), &ni, &err);
		if (r != 0 || ni.compression != cases[i].c || strcmp(ni.compression_name, cases[i].cname) ||
		    ni.n_references != cases[i].refs || strcmp(ni.url, "nar/x.nar") || ni.nar_size != 128) {
			test_record_failure(__FILE__, __LINE__, "%s: %d %s", cases[i].name, r, err.msg);
			if (r == 0)
				narinfo_free(&ni);
			return;
		}
		narinfo_free(&ni);
	}
	struct narinfo ni;
	const char *all = cases[sizeof(cases) / sizeof(cases[0]) - 1].text;
	CHECK_INT(narinfo_parse(all, strlen(all), &ni, NULL), ==, 0);
	CHECK(ni.has_file_hash);
	CHECK_INT(ni.file_size, ==, 99);
	CHECK_STR(ni.deriver, H2 "-x.drv");
	CHECK_INT(ni.n_sigs, ==, 2);
	CHECK_STR(ni.sigs[1], "c:d");
	CHECK_STR(ni.ca, "fixed:r:sha256:13w19wwvpfqyfq1fixzqjphj7dil4vlv9gada02f9kpl04qnmkw4");
	narinfo_free(&ni);
	/* NarHash in the other spellings. */
	const char *sri = "StorePath: /nix/store/" H1 "-a\nURL: u\nNarSize: 1\n"
			  "NarHash: sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
	CHECK_INT(narinfo_parse(sri, strlen(sri), &ni, NULL), ==, 0);
	CHECK_INT(ni.nar_hash.bytes[0], ==, 0xe3);
	narinfo_free(&ni);
}

static void bad_ones(void)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "URL: u\nNarHash: " NARHASH "\nNarSize: 1\n", "narinfo: missing StorePath" },
		{ "StorePath: /nix/store/" H1 "-a\nNarHash: " NARHASH "\nNarSize: 1\n", "narinfo: missing URL" },
		{ "StorePath: /nix/store/" H1 "-a\nURL: u\nNarSize: 1\n", "narinfo: missing NarHash" },
		{ "StorePath: /nix/store/" H1 "-a\nURL: u\nNarHash: " NARHASH "\n", "narinfo: missing NarSize" },
		{ "", "narinfo: missing StorePath" },
		{ BASE "NarSize: 5\n", "narinfo line 5: duplicate NarSize (first on line 4)" },
		{ BASE "URL: y\n", "narinfo line 5: duplicate URL (first on line 2)" },
		{ BASE "Compression: xz\nCompression: xz\n", "narinfo line 6: duplicate Compression (first on line 5)" },
		{ "StorePath: /nix/store/" H1 "-a\nURL: u\nNarHash: " NARHASH "\nNarSize: 0\n", "narinfo line 4: NarSize: must be greater than 0" },
		{ "StorePath: /nix/store/" H1 "-a\nURL: u\nNarHash: " NARHASH "\nNarSize: -1\n", "narinfo line 4: NarSize: \"-1\" is not a decimal size" },
		{ "StorePath: /nix/store/" H1 "-a\nURL: u\nNarHash: " NARHASH "\nNarSize: 12a\n", "NarSize: \"12a\" is not a decimal size" },
		{ "StorePath: /nix/store/" H1 "-a\nURL: u\nNarHash: " NARHASH "\nNarSize: 18446744073709551616\n", "NarSize: \"18446744073709551616\" is not a decimal size" },
		{ "StorePath: /nix/store/" H1 "-a\nURL: u\nNarHash: " NARHASH "\nNarSize:  1\n", "NarSize: \" 1\" is not a decimal size" },
		{ BASE "FileSize: \n", "narinfo line 5: FileSize: \"\" is not a decimal size" },
		{ BASE "garbage\n", "narinfo line 5: \"garbage\" is not \"Key: value\"" },
		{ BASE ": value\n", "narinfo line 5: \": value\" is not \"Key: value\"" },
		{ "StorePath:/nix/store/" H1 "-a\n", "narinfo line 1: StorePath: expected a space after ':'" },
		{ "StorePath: /nix/store/short\n", "narinfo line 1: StorePath: store path name \"short\" is not" },
		{ "StorePath: /nix/store/" H1 "-a/bin\n", "narinfo line 1: StorePath: store path name" },
		{ "StorePath: /gnu/store/" H1 "-a\n", "narinfo line 1: StorePath: store path \"/gnu/store/" },
		{ "StorePath: /nix/store/" H1 "-a\nURL: u\nNarHash: sha256:abc\n", "narinfo line 3: NarHash: hash \"sha256:abc\": 3 characters" },
		{ "StorePath: /nix/store/" H1 "-a\nURL: u\nNarHash: md5:abc\n", "narinfo line 3: NarHash: hash \"md5:abc\": unsupported algorithm \"md5\"" },
		{ BASE "FileHash: sha256:e\n", "narinfo line 5: FileHash: hash" },
		{ BASE "References: " H1 "\n", "narinfo line 5: References: store path name \"" H1 "\" is not" },
		{ BASE "References: " H1 "-a " H2 "-b " H1 "-a\n", "narinfo line 5: References: \"" H1 "-a\" listed twice" },
		{ BASE "Deriver: \n", "narinfo line 5: Deriver: store path name \"\" is not" },
		{ BASE "Deriver: x.drv\n", "narinfo line 5: Deriver: store path name \"x.drv\"" },
		{ BASE "Sig: nocolon\n", "narinfo line 5: Sig: \"nocolon\" is not <key name>:<base64>" },
		{ BASE "Sig: :abc\n", "narinfo line 5: Sig: \":abc\" is not <key name>:<base64>" },
		{ BASE "Sig: a:b c\n", "narinfo line 5: Sig: \"a:b c\" is not" },
		{ "StorePath: /nix/store/" H1 "-a\nURL: \n", "narinfo line 2: URL: empty or contains spaces or control characters" },
		{ "StorePath: /nix/store/" H1 "-a\nURL: a b\n", "narinfo line 2: URL: empty or contains spaces" },
		{ BASE "Compression: x\x7fz\n", "narinfo line 5: Compression: bad compression name \"x\\x7fz\"" },
		{ BASE "CA: \n", "narinfo line 5: CA: empty" },
		{ BASE "Compression: xz\rjunk\n", "narinfo line 5: Compression: bad compression name \"xz\\x0djunk\"" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct narinfo ni;
		memset(&ni, 0xa5, sizeof(ni));
		struct ip_error err = { 0 };
		int r = narinfo_parse(cases[i].text, strlen(cases[i].text), &ni, &err);
		bool empty = ni.store_path == NULL && ni.references == NULL && ni.sigs == NULL &&
			     ni.compression_name == NULL && ni.url == NULL;
		if (r != -EBADMSG || !strstr(err.msg, cases[i].msg) || !empty) {
			test_record_failure(__FILE__, __LINE__, "case %zu: %d \"%s\", want \"%s\"%s", i, r,
					    err.msg, cases[i].msg, empty ? "" : " (and *out not empty)");
			return;
		}
	}
}

static void nul_size_and_sig_limits(void)
{
	char text[] = BASE "Sig: a:b\0\n";
	struct narinfo ni;
	struct ip_error err = { 0 };
	CHECK_INT(narinfo_parse(text, sizeof(text) - 1, &ni, &err), ==, -EBADMSG);
	CHECK_STR(err.msg, "narinfo line 5: NUL byte");

	size_t big = NARINFO_MAX_SIZE + 1;
	char *huge = malloc(big);
	CHECK(huge);
	memset(huge, '\n', big);
	memcpy(huge, BASE, strlen(BASE));
	ip_error_clear(&err);
	int r = narinfo_parse(huge, big, &ni, &err);
	int r2 = narinfo_parse(huge, big - 1, &ni, NULL); /* at the limit: only blank lines after BASE */
	if (r2 == 0)
		narinfo_free(&ni);
	free(huge);
	CHECK_INT(r, ==, -EBADMSG);
	CHECK_CONTAINS(err.msg, "more than the limit of 1048576");
	CHECK_INT(r2, ==, 0);

	/* NARINFO_MAX_SIGS signatures are fine, one more is not. */
	char many[4096] = BASE;
	for (int i = 0; i < NARINFO_MAX_SIGS; i++)
		strcat(many, "Sig: k:s\n");
	CHECK_INT(narinfo_parse(many, strlen(many), &ni, NULL), ==, 0);
	CHECK_INT(ni.n_sigs, ==, NARINFO_MAX_SIGS);
	narinfo_free(&ni);
	strcat(many, "Sig: k:s\n");
	ip_error_clear(&err);
	CHECK_INT(narinfo_parse(many, strlen(many), &ni, &err), ==, -EBADMSG);
	CHECK_STR(err.msg, "narinfo line 69: Sig: more than 64 signatures");
}

static void fingerprint(void)
{
	struct nix_fixtures fx;
	CHECK(nix_fixtures_load(&fx) == 0);
	size_t len;
	char *text = nix_fixture_narinfo(fx.top.path, &len);
	CHECK(text);
	struct narinfo ni;
	CHECK_INT(narinfo_parse(text, len, &ni, NULL), ==, 0);
	free(text);
	char *fp = narinfo_fingerprint(&ni);
	char want[1024];
	snprintf(want, sizeof(want), "1;%s;%s;%llu;%s", fx.top.path, fx.top.nar_hash, fx.top.nar_size,
		 fx.dep.path);
	CHECK_STR(fp, want);
	free(fp);
	narinfo_free(&ni);

	/* References are sorted and written as full paths; none gives a trailing ';'. */
	const char *t = BASE "References: " H2 "-b " H1 "-a " H1 "-0\n";
	CHECK_INT(narinfo_parse(t, strlen(t), &ni, NULL), ==, 0);
	fp = narinfo_fingerprint(&ni);
	CHECK_STR(fp, "1;/nix/store/" H1 "-fixture-dep;" NARHASH ";128;/nix/store/" H1 "-0,/nix/store/" H1
		      "-a,/nix/store/" H2 "-b");
	CHECK_STR(ni.references[0], H2 "-b"); /* as listed */
	free(fp);
	narinfo_free(&ni);
	CHECK_INT(narinfo_parse(BASE, strlen(BASE), &ni, NULL), ==, 0);
	fp = narinfo_fingerprint(&ni);
	CHECK_STR(fp, "1;/nix/store/" H1 "-fixture-dep;" NARHASH ";128;");
	free(fp);
	narinfo_free(&ni);
}

static void cache_info(void)
{
	size_t len;
	char *text = test_read_text("nix/cache/nix-cache-info", &len);
	CHECK(text);
	struct nix_cache_info ci;
	struct ip_error err = { 0 };
	int r = nix_cache_info_parse(text, len, &ci, &err);
	free(text);
	CHECK_INT(r, ==, 0);
	CHECK_STR(ci.store_dir, "/nix/store");
	CHECK_INT(ci.priority, ==, 50);
	CHECK(!ci.want_mass_query);

	const char *t = "StoreDir: /nix/store\r\nWantMassQuery: 1\nPriority: 40\nno colon here\nOther: x\n";
	CHECK_INT(nix_cache_info_parse(t, strlen(t), &ci, &err), ==, 0);
	CHECK(ci.want_mass_query);
	CHECK_INT(ci.priority, ==, 40);
	t = "StoreDir:/gnu/store\nPriority: -3";
	CHECK_INT(nix_cache_info_parse(t, strlen(t), &ci, &err), ==, 0);
	CHECK_STR(ci.store_dir, "/gnu/store"); /* the caller decides: it is not /nix/store */
	CHECK_INT(ci.priority, ==, -3);
	CHECK_INT(nix_cache_info_parse("", 0, &ci, &err), ==, 0);
	CHECK_STR(ci.store_dir, "/nix/store");

	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "Priority: high\n", "nix-cache-info line 1: Priority \"high\" is not an integer" },
		{ "StoreDir: /nix/store\nPriority: 99999999999\n", "line 2: Priority \"99999999999\"" },
		{ "WantMassQuery: yes\n", "nix-cache-info line 1: WantMassQuery \"yes\" is not 0 or 1" },
		{ "StoreDir: \n", "nix-cache-info line 1: bad StoreDir \"\"" },
		{ "StoreDir: /a b\n", "bad StoreDir \"/a b\"" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ip_error_clear(&err);
		r = nix_cache_info_parse(bad[i].text, strlen(bad[i].text), &ci, &err);
		if (r != -EBADMSG || !strstr(err.msg, bad[i].msg))
			test_record_failure(__FILE__, __LINE__, "\"%s\": %d \"%s\"", bad[i].text, r, err.msg);
		CHECK_INT(r, ==, -EBADMSG);
	}
}

TEST_MAIN("narinfo",
	TEST_CASE(real_narinfos),
	TEST_CASE(good_variations),
	TEST_CASE(bad_ones),
	TEST_CASE(nul_size_and_sig_limits),
	TEST_CASE(fingerprint),
	TEST_CASE(cache_info))
