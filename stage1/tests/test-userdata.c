/* userdata: every form of EC2 user-data, the policy, gzip, the tag source. */
#include "test.h"
#include "userdata/userdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#define H "0123456789abcdfghijklmnpqrsvwxyz" /* 32 Nix base-32 characters */
#define SYS "/nix/store/" H "-nixos-system-web-24.05"
#define KEY1 "cache.example.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY="
#define KEY2 "other-1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

enum policy_sel { P_NONE, P_SUBS, P_KEYS, P_BOTH };

struct ud_case {
	const char *name;
	const char *input;
	enum policy_sel policy;
	enum userdata_kind kind;
	int rc;
	const char *system;   /* OK */
	size_t n_subs, n_keys;
	const char *text;     /* NOT_OURS: in reason; MALFORMED: in error; OK: in warning 0 */
	unsigned line;        /* MALFORMED */
};

static const struct ud_case ud_cases[] = {
	/* --- ours: bare store path ---------------------------------------- */
	{ "bare path", SYS, P_NONE, USERDATA_OK, 0, SYS, 0, 0, NULL, 0 },
	{ "bare path, whitespace", "\n  " SYS " \r\n\n", P_NONE, USERDATA_OK, 0, SYS, 0, 0, NULL, 0 },
	{ "bare path, comments", "# booted by CI\n" SYS " # web\n", P_NONE, USERDATA_OK, 0, SYS, 0, 0,
	  NULL, 0 },
	{ "bare path, BOM", "\xef\xbb\xbf" SYS "\n", P_NONE, USERDATA_OK, 0, SYS, 0, 0, NULL, 0 },
	/* --- ours: document ------------------------------------------------ */
	{ "document, system only", "system = " SYS "\n", P_NONE, USERDATA_OK, 0, SYS, 0, 0, NULL, 0 },
	{ "document, all keys allowed",
	  "# web fleet\nsystem = " SYS "\nsubstituters = s3://cache?region=eu-west-1 https://c.example.org\n"
	  "trusted-public-keys = " KEY1 " " KEY2 "\n",
	  P_BOTH, USERDATA_OK, 0, SYS, 2, 2, NULL, 0 },
	{ "document, substituters not allowed",
	  "system = " SYS "\nsubstituters = https://c.example.org\n", P_NONE, USERDATA_OK, 0, SYS, 0, 0,
	  "line 2: substituters ignored: allow-user-data-substituters is off", 0 },
	{ "document, keys not allowed",
	  "system = " SYS "\ntrusted-public-keys = " KEY1 "\n", P_SUBS, USERDATA_OK, 0, SYS, 0, 0,
	  "line 2: trusted-public-keys ignored: allow-user-data-keys is off", 0 },
	{ "document, keys allowed, subs not", "system=" SYS "\nsubstituters=http://a\n"
	  "trusted-public-keys=" KEY1 "\n", P_KEYS, USERDATA_OK, 0, SYS, 0, 1,
	  "substituters ignored", 0 },
	{ "document, empty substituters", "system = " SYS "\nsubstituters =\n", P_NONE, USERDATA_OK, 0,
	  SYS, 0, 0, NULL, 0 },
	{ "document, crlf", "system = " SYS "\r\n", P_NONE, USERDATA_OK, 0, SYS, 0, 0, NULL, 0 },
	/* --- not ours ------------------------------------------------------ */
	{ "empty", "", P_NONE, USERDATA_NOT_OURS, 0, NULL, 0, 0, "user-data is empty", 0 },
	{ "whitespace", " \n\t\n", P_NONE, USERDATA_NOT_OURS, 0, NULL, 0, 0, "empty", 0 },
	{ "script", "#!/bin/sh\necho hello\n", P_NONE, USERDATA_NOT_OURS, 0, NULL, 0, 0, "a script", 0 },
	{ "cloud-config", "#cloud-config\npackages: [git]\n", P_NONE, USERDATA_NOT_OURS, 0, NULL, 0, 0,
	  "cloud-init user-data (#cloud-config)", 0 },
	{ "cloud-boothook", "#cloud-boothook\nx\n", P_NONE, USERDATA_NOT_OURS, 0, NULL, 0, 0,
	  "(#cloud-boothook)", 0 },
	{ "include", "#include\nhttps://x\n", P_NONE, USERDATA_NOT_OURS, 0, NULL, 0, 0, "(#include)", 0 },
	{ "mime", "Content-Type: multipart/mixed; boundary=\"x\"\n", P_NONE, USERDATA_NOT_OURS, 0, NULL,
	  0, 0, "MIME", 0 },
	{ "nix expression", "{ config, pkgs, ... }:\n{\n  services.nginx.enable = true;\n}\n", P_NONE,
	  USERDATA_NOT_OURS, 0, NULL, 0, 0, "(line 1: '{ config, pkgs, ... }:')", 0 },
	{ "nix expression after comment", "# amazon-init\nlet x = 1; in {}\n", P_NONE,
	  USERDATA_NOT_OURS, 0, NULL, 0, 0, "line 2", 0 },
	{ "script without shebang", "echo hi\nsystem = " SYS "\n", P_NONE, USERDATA_NOT_OURS, 0, NULL,
	  0, 0, "neither a store path nor", 0 },
	{ "comments only", "# nothing\n#  here\n", P_NONE, USERDATA_NOT_OURS, 0, NULL, 0, 0,
	  "only comments", 0 },
	{ "other path", "/etc/nixos/configuration.nix\n", P_NONE, USERDATA_NOT_OURS, 0, NULL, 0, 0,
	  "neither", 0 },
	/* --- malformed ----------------------------------------------------- */
	{ "unknown key", "system = " SYS "\nfoo = bar\n", P_NONE, USERDATA_MALFORMED, -EINVAL, NULL, 0,
	  0, "line 2: unknown key 'foo'", 2 },
	{ "unknown key first", "foo = bar\n", P_NONE, USERDATA_MALFORMED, -EINVAL, NULL, 0, 0,
	  "line 1: unknown key 'foo'", 1 },
	{ "missing system", "# x\nsubstituters = https://a\n", P_BOTH, USERDATA_MALFORMED, -EINVAL,
	  NULL, 0, 0, "missing the required 'system' setting", 0 },
	{ "duplicate system", "system = " SYS "\nsystem = " SYS "\n", P_NONE, USERDATA_MALFORMED,
	  -EINVAL, NULL, 0, 0, "line 2: 'system' set twice (first on line 1)", 2 },
	{ "system two paths", "system = " SYS " " SYS "\n", P_NONE, USERDATA_MALFORMED, -EINVAL, NULL,
	  0, 0, "line 1: 'system' takes one store path", 1 },
	{ "system empty", "system =\n", P_NONE, USERDATA_MALFORMED, -EINVAL, NULL, 0, 0,
	  "line 1: 'system' needs a store path", 1 },
	{ "bad hash char", "system = /nix/store/e123456789abcdfghijklmnpqrsvwxyz-x\n", P_NONE,
	  USERDATA_MALFORMED, -EINVAL, NULL, 0, 0,
	  "line 1: not a valid store path: store path name \"e123456789abcdfghijklmnpqrsvwxyz-x\": character 1 of the hash is not base-32", 1 },
	{ "short hash", "\n\n/nix/store/abc-x\n", P_NONE, USERDATA_MALFORMED, -EINVAL, NULL, 0, 0,
	  "line 3: not a valid store path: ", 3 },
	{ "sub-path", SYS "/init\n", P_NONE, USERDATA_MALFORMED, -EINVAL, NULL, 0, 0,
	  "a path inside a store path", 1 },
	{ "no name", "/nix/store/" H "-\n", P_NONE, USERDATA_MALFORMED, -EINVAL, NULL, 0, 0,
	  "is not <32 base-32 characters>-<name>", 1 },
	{ "dot name", "/nix/store/" H "-.\n", P_NONE, USERDATA_MALFORMED, -EINVAL, NULL, 0, 0,
	  "name is \".\" or \"..\"", 1 },
	{ "dot-dash name", "/nix/store/" H "-.-x\n", P_NONE, USERDATA_MALFORMED, -EINVAL, NULL, 0, 0,
	  "starts with \".-\"", 1 },
	{ "bad name char", "/nix/store/" H "-a b\n", P_NONE, USERDATA_MALFORMED, -EINVAL, NULL, 0, 0,
	  "line 1: expected a single store path", 1 },
	{ "bad name char 2", "/nix/store/" H "-a!b\n", P_NONE, USERDATA_MALFORMED, -EINVAL, NULL, 0, 0,
	  "character 2 of the name", 1 },
	{ "two paths", SYS "\n" SYS "\n", P_NONE, USERDATA_MALFORMED, -EINVAL, NULL, 0, 0,
	  "line 2: expected a single store path and nothing else", 2 },
	{ "path then settings", SYS "\nsystem = x\n", P_NONE, USERDATA_MALFORMED, -EINVAL, NULL, 0, 0,
	  "line 2: expected a single store path", 2 },
	{ "document then junk", "system = " SYS "\nhello\n", P_NONE, USERDATA_MALFORMED, -EINVAL,
	  NULL, 0, 0, "line 2: expected 'key = value'", 2 },
	{ "bad substituter", "system = " SYS "\nsubstituters = ftp://x\n", P_BOTH, USERDATA_MALFORMED,
	  -EINVAL, NULL, 0, 0, "line 2: substituter 'ftp://x': unsupported URL scheme (use http://, https://, s3:// or file://)", 2 },
	{ "bad substituter, not allowed", "system = " SYS "\nsubstituters = cache\n", P_NONE,
	  USERDATA_MALFORMED, -EINVAL, NULL, 0, 0, "line 2: substituter 'cache': unsupported URL scheme", 2 },
	{ "bad key", "system = " SYS "\ntrusted-public-keys = k:abc\n", P_BOTH, USERDATA_MALFORMED,
	  -EINVAL, NULL, 0, 0, "line 2: key 'k' is not 32 bytes of base64", 2 },
	{ "key without name", "system = " SYS "\ntrusted-public-keys = :x\n", P_BOTH,
	  USERDATA_MALFORMED, -EINVAL, NULL, 0, 0, "expected '<name>:<base64 key>'", 2 },
	{ "include directive", "system = " SYS "\ninclude /etc/x\n", P_NONE, USERDATA_MALFORMED,
	  -EINVAL, NULL, 0, 0, "line 2: 'include' directives are not supported", 2 },
};

static const char *nul_cases[][3] = {
	/* input (with a NUL at '@'), expected error, line */
	{ "system = " SYS "\n# x@y\n", "line 2: NUL byte in column 4", "2" },
	{ SYS "\n@\n", "line 2: NUL byte in column 1", "2" },
};

static struct userdata_policy policy_of(enum policy_sel p)
{
	struct userdata_policy pol = {
		.allow_substituters = p == P_SUBS || p == P_BOTH,
		.allow_keys = p == P_KEYS || p == P_BOTH,
	};
	return pol;
}

/* Returns NULL when the result matches the case, else a reason. */
static const char *check_case(const struct ud_case *t, const struct userdata_result *r, int rc,
			      const struct ip_error *err, char *why, size_t why_size)
{
	if (rc != t->rc || r->kind != t->kind) {
		snprintf(why, why_size, "rc %d kind %s (%s / %s), want rc %d kind %s", rc,
			 userdata_kind_name(r->kind), ip_error_str(err), r->reason, t->rc,
			 userdata_kind_name(t->kind));
		return why;
	}
	if (t->kind == USERDATA_OK) {
		if (strcmp(r->system, t->system) != 0 || r->n_substituters != t->n_subs ||
		    r->n_keys != t->n_keys) {
			snprintf(why, why_size, "system %s subs %zu keys %zu", r->system,
				 r->n_substituters, r->n_keys);
			return why;
		}
		if (t->text && (r->n_warnings == 0 || !strstr(r->warnings[0], t->text))) {
			snprintf(why, why_size, "warning \"%s\" lacks \"%s\"",
				 r->n_warnings ? r->warnings[0] : "", t->text);
			return why;
		}
		if (!t->text && r->n_warnings) {
			snprintf(why, why_size, "unexpected warning \"%s\"", r->warnings[0]);
			return why;
		}
	} else if (t->kind == USERDATA_NOT_OURS) {
		if (!strstr(r->reason, t->text)) {
			snprintf(why, why_size, "reason \"%s\" lacks \"%s\"", r->reason, t->text);
			return why;
		}
	} else {
		if (!strstr(ip_error_str(err), t->text) || r->error_line != t->line) {
			snprintf(why, why_size, "error \"%s\" line %u, want \"%s\" line %u",
				 ip_error_str(err), r->error_line, t->text, t->line);
			return why;
		}
	}
	return NULL;
}

static struct userdata_result result; /* 17 KiB: keep it off the stack */

static void table(void)
{
	for (size_t i = 0; i < sizeof(ud_cases) / sizeof(ud_cases[0]); i++) {
		const struct ud_case *t = &ud_cases[i];
		struct userdata_policy pol = policy_of(t->policy);
		struct ip_error err = { 0 };
		int rc = userdata_parse((const uint8_t *)t->input, strlen(t->input), &pol, &result, &err);
		char why[1024];
		if (check_case(t, &result, rc, &err, why, sizeof(why))) {
			test_record_failure(__FILE__, __LINE__, "%s: %s", t->name, why);
			return;
		}
		CHECK(result.source == USERDATA_SOURCE_USER_DATA);
		CHECK(!result.gzipped);
	}
}

static void lists_in_order(void)
{
	const char *doc = "system = " SYS "\n"
			  "substituters = s3://b?region=x  https://a http://c\n"
			  "trusted-public-keys = " KEY2 " " KEY1 "\n";
	struct userdata_policy pol = { .allow_substituters = true, .allow_keys = true };
	struct ip_error err = { 0 };
	CHECK_INT(userdata_parse((const uint8_t *)doc, strlen(doc), &pol, &result, &err), ==, 0);
	CHECK(result.format == USERDATA_FORMAT_DOCUMENT);
	CHECK_INT(result.n_substituters, ==, 3);
	CHECK_STR(result.substituters[0], "s3://b?region=x");
	CHECK_STR(result.substituters[1], "https://a");
	CHECK_STR(result.substituters[2], "http://c");
	CHECK_INT(result.n_keys, ==, 2);
	CHECK_STR(result.keys[0], KEY2);
	CHECK_STR(result.keys[1], KEY1);
	CHECK(!result.substituters_ignored && !result.keys_ignored);

	/* NULL policy: both off. */
	CHECK_INT(userdata_parse((const uint8_t *)doc, strlen(doc), NULL, &result, &err), ==, 0);
	CHECK_INT(result.n_substituters, ==, 0);
	CHECK_INT(result.n_keys, ==, 0);
	CHECK(result.substituters_ignored && result.keys_ignored);
	CHECK_INT(result.n_warnings, ==, 2);
}

static void nul_bytes(void)
{
	for (size_t i = 0; i < sizeof(nul_cases) / sizeof(nul_cases[0]); i++) {
		char buf[256];
		size_t n = strlen(nul_cases[i][0]);
		memcpy(buf, nul_cases[i][0], n);
		char *at = memchr(buf, '@', n);
		*at = '\0';
		struct ip_error err = { 0 };
		int rc = userdata_parse((const uint8_t *)buf, n, NULL, &result, &err);
		CHECK_INT(rc, ==, -EINVAL);
		CHECK(result.kind == USERDATA_MALFORMED);
		CHECK_CONTAINS(ip_error_str(&err), nul_cases[i][1]);
		CHECK_INT(result.error_line, ==, atoi(nul_cases[i][2]));
	}
	/* Binary junk that claims nothing is not ours. */
	static const uint8_t junk[] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0 };
	struct ip_error err = { 0 };
	CHECK_INT(userdata_parse(junk, sizeof(junk), NULL, &result, &err), ==, 0);
	CHECK(result.kind == USERDATA_NOT_OURS);
	CHECK_STR(result.reason, "binary data that is not gzip");
}

static void too_big(void)
{
	size_t n = USERDATA_SIZE_MAX + 1;
	uint8_t *buf = malloc(n);
	CHECK(buf);
	memset(buf, '#', n);
	struct ip_error err = { 0 };
	int rc = userdata_parse(buf, n, NULL, &result, &err);
	free(buf);
	CHECK_INT(rc, ==, -E2BIG);
	CHECK(result.kind == USERDATA_MALFORMED);
	CHECK_STR(ip_error_str(&err), "user-data is 16385 bytes, over the limit of 16384");

	/* Exactly at the limit is fine. */
	char doc[USERDATA_SIZE_MAX];
	memset(doc, '\n', sizeof(doc));
	const char *line = "system = " SYS;
	memcpy(doc, line, strlen(line));
	ip_error_clear(&err);
	CHECK_INT(userdata_parse((const uint8_t *)doc, sizeof(doc), NULL, &result, &err), ==, 0);
	CHECK(result.kind == USERDATA_OK);
}

/* gzip-compresses src into a malloc'd buffer. */
static uint8_t *gzip(const void *src, size_t n, size_t *out_len)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	size_t cap = deflateBound(&zs, n) + 64;
	uint8_t *out = malloc(cap);
	zs.next_in = (Bytef *)src;
	zs.avail_in = (uInt)n;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	int r = deflate(&zs, Z_FINISH);
	*out_len = cap - zs.avail_out;
	deflateEnd(&zs);
	if (r != Z_STREAM_END) {
		free(out);
		return NULL;
	}
	return out;
}

static void gzipped(void)
{
	struct ip_error err = { 0 };
	size_t gl;
	const char *doc = "system = " SYS "\nsubstituters = https://a\n";
	uint8_t *gz = gzip(doc, strlen(doc), &gl);
	CHECK(gz);
	struct userdata_policy pol = { .allow_substituters = true };
	int rc = userdata_parse(gz, gl, &pol, &result, &err);
	free(gz);
	CHECK_INT(rc, ==, 0);
	CHECK(result.kind == USERDATA_OK && result.gzipped);
	CHECK_STR(result.system, SYS);
	CHECK_INT(result.n_substituters, ==, 1);

	gz = gzip(SYS "\n", strlen(SYS) + 1, &gl);
	CHECK(gz);
	rc = userdata_parse(gz, gl, NULL, &result, &err);
	free(gz);
	CHECK_INT(rc, ==, 0);
	CHECK(result.format == USERDATA_FORMAT_STORE_PATH && result.gzipped);

	gz = gzip("#cloud-config\n", 14, &gl);
	CHECK(gz);
	rc = userdata_parse(gz, gl, NULL, &result, &err);
	free(gz);
	CHECK_INT(rc, ==, 0);
	CHECK(result.kind == USERDATA_NOT_OURS && result.gzipped);
}

static void gzip_bounds(void)
{
	struct ip_error err = { 0 };
	size_t gl;
	/* A bomb: 1 MiB of newlines after a valid first line. */
	size_t n = 1 << 20;
	char *big = malloc(n);
	CHECK(big);
	memset(big, '\n', n);
	memcpy(big, "system = " SYS, strlen("system = " SYS));
	uint8_t *gz = gzip(big, n, &gl);
	CHECK(gz);
	CHECK_INT(gl, <, USERDATA_SIZE_MAX);
	int rc = userdata_parse(gz, gl, NULL, &result, &err);
	free(gz);
	CHECK_INT(rc, ==, -E2BIG);
	CHECK(result.kind == USERDATA_MALFORMED);
	CHECK_STR(ip_error_str(&err), "gzip-compressed user-data is over 16384 bytes uncompressed");

	/* A big gzipped script is still someone else's. */
	memcpy(big, "#!/bin/bash\n", 12);
	gz = gzip(big, n, &gl);
	CHECK(gz);
	ip_error_clear(&err);
	rc = userdata_parse(gz, gl, NULL, &result, &err);
	free(gz);
	CHECK_INT(rc, ==, 0);
	CHECK(result.kind == USERDATA_NOT_OURS);
	CHECK_CONTAINS(result.reason, "a script");
	CHECK_CONTAINS(result.reason, "over 16384 bytes uncompressed");

	/* Exactly 16 KiB uncompressed is within the limit. */
	memset(big, '\n', USERDATA_SIZE_MAX);
	memcpy(big, SYS, strlen(SYS));
	gz = gzip(big, USERDATA_SIZE_MAX, &gl);
	CHECK(gz);
	ip_error_clear(&err);
	rc = userdata_parse(gz, gl, NULL, &result, &err);
	free(gz);
	free(big);
	CHECK_INT(rc, ==, 0);
	CHECK(result.kind == USERDATA_OK);
}

static void bad_gzip(void)
{
	struct ip_error err = { 0 };
	static const uint8_t junk[] = { 0x1f, 0x8b, 0x08, 0x00, 'n', 'o', 't', ' ', 'g', 'z', 'i', 'p' };
	int rc = userdata_parse(junk, sizeof(junk), NULL, &result, &err);
	CHECK_INT(rc, ==, -EBADMSG);
	CHECK(result.kind == USERDATA_MALFORMED);
	CHECK_CONTAINS(ip_error_str(&err), "bad gzip");

	size_t gl;
	const char *doc = "system = " SYS "\n";
	uint8_t *gz = gzip(doc, strlen(doc), &gl);
	CHECK(gz);
	ip_error_clear(&err);
	rc = userdata_parse(gz, gl - 6, NULL, &result, &err); /* truncated trailer */
	CHECK_INT(rc, ==, -EBADMSG);
	CHECK_STR(ip_error_str(&err), "bad gzip: truncated stream");

	uint8_t *more = malloc(gl + 3);
	CHECK(more);
	memcpy(more, gz, gl);
	memcpy(more + gl, "xyz", 3);
	free(gz);
	ip_error_clear(&err);
	rc = userdata_parse(more, gl + 3, NULL, &result, &err);
	free(more);
	CHECK_INT(rc, ==, -EBADMSG);
	CHECK_STR(ip_error_str(&err), "bad gzip: 3 bytes after the end of the stream");

	/* A corrupted CRC. */
	gz = gzip(doc, strlen(doc), &gl);
	CHECK(gz);
	gz[gl - 8] ^= 0xff;
	ip_error_clear(&err);
	rc = userdata_parse(gz, gl, NULL, &result, &err);
	free(gz);
	CHECK_INT(rc, ==, -EBADMSG);
	CHECK_CONTAINS(ip_error_str(&err), "bad gzip: incorrect data check");
}

static struct userdata_result tag_result;

static void tag_source(void)
{
	struct ip_error err = { 0 };
	CHECK_INT(userdata_parse_tag(" " SYS "\n", strlen(SYS) + 2, &tag_result, &err), ==, 0);
	CHECK(tag_result.kind == USERDATA_OK);
	CHECK(tag_result.source == USERDATA_SOURCE_TAG);
	CHECK_STR(tag_result.system, SYS);
	CHECK_STR(userdata_source_name(tag_result.source), "instance tag");

	struct userdata_result empty;
	CHECK_INT(userdata_parse_tag("  ", 2, &empty, &err), ==, 0);
	CHECK(empty.kind == USERDATA_NOT_OURS);

	struct userdata_result bad;
	CHECK_INT(userdata_parse_tag("system = x", 10, &bad, &err), ==, -EINVAL);
	CHECK(bad.kind == USERDATA_MALFORMED);
	CHECK_CONTAINS(ip_error_str(&err), "tag value is not a valid store path");

	/* user-data wins when both name a system. */
	const char *other = "/nix/store/" H "-other";
	CHECK_INT(userdata_parse((const uint8_t *)other, strlen(other), NULL, &result, &err), ==, 0);
	CHECK(userdata_choose(&result, &tag_result) == &result);
	/* Someone else's user-data: the tag decides. */
	CHECK_INT(userdata_parse((const uint8_t *)"#!/bin/sh\n", 10, NULL, &result, &err), ==, 0);
	CHECK(userdata_choose(&result, &tag_result) == &tag_result);
	CHECK(userdata_choose(NULL, &tag_result) == &tag_result);
	/* Broken user-data: the built-in system, not the tag's. */
	ip_error_clear(&err);
	CHECK_INT(userdata_parse((const uint8_t *)"foo = 1", 7, NULL, &result, &err), ==, -EINVAL);
	CHECK(userdata_choose(&result, &tag_result) == NULL);
	CHECK(userdata_choose(NULL, &empty) == NULL);
	CHECK(userdata_choose(NULL, NULL) == NULL);
}

/* The list limits are named and enforced. */
static void limits_named(void)
{
	CHECK_INT(USERDATA_SIZE_MAX, ==, 16384);
	const char *many = "system = " SYS "\nsubstituters = http://1 http://2 http://3 http://4 "
			   "http://5 http://6 http://7 http://8 http://9 http://10 http://11 http://12 "
			   "http://13 http://14 http://15 http://16 http://17\n";
	struct ip_error err = { 0 };
	CHECK_INT(userdata_parse((const uint8_t *)many, strlen(many), NULL, &result, &err), ==, -E2BIG);
	CHECK_STR(ip_error_str(&err), "line 2: more than 16 substituters");
}

TEST_MAIN("userdata",
	TEST_CASE(table),
	TEST_CASE(lists_in_order),
	TEST_CASE(nul_bytes),
	TEST_CASE(too_big),
	TEST_CASE(gzipped),
	TEST_CASE(gzip_bounds),
	TEST_CASE(bad_gzip),
	TEST_CASE(tag_source),
	TEST_CASE(limits_named))
