/* The origin rule (credentials stay with the cache), the redaction of
 * userinfo, and the one substituter URL check. */
#include <stdio.h>

#include "cache/origin.h"
#include "test.h"

#define AWS "https://cache.s3.eu-west-1.amazonaws.com"

static void place_table(void)
{
	static const struct {
		const char *base, *url;
		enum url_place want;
	} cases[] = {
		/* inside */
		{ AWS, AWS "/nar/1abc.nar.zst", URL_INSIDE },
		{ AWS, "HTTPS://Cache.S3.EU-West-1.AmazonAWS.com/nar/x", URL_INSIDE },
		{ AWS, "https://cache.s3.eu-west-1.amazonaws.com:443/nar/x", URL_INSIDE },
		{ AWS, "https://%63ache.s3.eu-west-1.amazonaws.com/nar/x", URL_INSIDE },
		{ AWS, AWS "/nar/x?versionId=1", URL_INSIDE },
		{ AWS "/fleet", AWS "/fleet/nar/x", URL_INSIDE },
		{ "http://127.0.0.1:9000/bucket", "http://127.0.0.1:9000/bucket/nar/x", URL_INSIDE },
		{ "http://b.localhost:9000", "http://b.localhost:9000/x.narinfo", URL_INSIDE },
		{ "http://[::1]:9000/b", "http://[::1]:9000/b/nar/x", URL_INSIDE },
		{ "http://127.0.0.1/b", "http://0x7f.1/b/nar/x", URL_INSIDE }, /* curl's own IPv4 forms */
		/* the userinfo trick: the base is a string prefix, the host is the attacker's */
		{ AWS, AWS ":443@evil.example/nar/x", URL_USERINFO },
		{ AWS, AWS "@evil.example/nar/x", URL_USERINFO },
		{ "http://b.localhost:9000", "http://b.localhost:9000@127.0.0.1:9001/nar/x", URL_USERINFO },
		{ AWS, "https://user:pw@cache.s3.eu-west-1.amazonaws.com/nar/x", URL_USERINFO },
		{ AWS, "https://;auth=x@cache.s3.eu-west-1.amazonaws.com/nar/x", URL_USERINFO },
		{ "https://u:p@cache.example", "https://u:p@cache.example/nar/x", URL_USERINFO },
		/* suffix host, sibling host, trailing dot */
		{ AWS, AWS ".evil.example/nar/x", URL_OTHER_HOST },
		{ AWS, "https://cache.s3.eu-west-1.amazonaws.com./nar/x", URL_OTHER_HOST },
		{ AWS, "https://other.s3.eu-west-1.amazonaws.com/nar/x", URL_OTHER_HOST },
		{ "http://127.0.0.1:9000/b", "http://127.0.0.2:9000/b/nar/x", URL_OTHER_HOST },
		{ "http://127.0.0.1/b", "http://127.0.0.10/b/nar/x", URL_OTHER_HOST },
		{ "http://b.localhost", "http://b.localhost.evil.localhost/nar/x", URL_OTHER_HOST },
		/* port: explicit, a longer number with the same digits, default vs not */
		{ AWS, AWS ":8443/nar/x", URL_OTHER_PORT },
		{ "http://127.0.0.1:900/b", "http://127.0.0.1:9000/b/nar/x", URL_OTHER_PORT },
		{ "http://b.localhost", "http://b.localhost:8080/nar/x", URL_OTHER_PORT },
		/* scheme */
		{ AWS, "http://cache.s3.eu-west-1.amazonaws.com/nar/x", URL_OTHER_SCHEME },
		{ "http://b.localhost", "https://b.localhost/nar/x", URL_OTHER_SCHEME },
		{ "http://127.0.0.1/b", "file:///b/nar/x", URL_OTHER_SCHEME },
		/* path: another bucket on the same endpoint, escapes, the base itself */
		{ "http://127.0.0.1:9000/bucket", "http://127.0.0.1:9000/bucketx/nar/x", URL_OUTSIDE_PATH },
		{ "http://127.0.0.1:9000/bucket", "http://127.0.0.1:9000/other/nar/x", URL_OUTSIDE_PATH },
		{ "http://127.0.0.1:9000/bucket", "http://127.0.0.1:9000/bucket/../other/x", URL_OUTSIDE_PATH },
		{ "http://127.0.0.1:9000/bucket", "http://127.0.0.1:9000/bucket/%2e%2e/other/x", URL_OUTSIDE_PATH },
		{ "http://127.0.0.1:9000/bucket", "http://127.0.0.1:9000/bucket/nar%2Fx", URL_OUTSIDE_PATH },
		{ "http://127.0.0.1:9000/bucket", "http://127.0.0.1:9000/bucket", URL_OUTSIDE_PATH },
		{ "http://127.0.0.1:9000/bucket", "http://127.0.0.1:9000/bucket/", URL_OUTSIDE_PATH },
		{ AWS "/fleet", AWS "/fleetwood/nar/x", URL_OUTSIDE_PATH },
		/* not parseable */
		{ AWS, "https://a@b@c/x", URL_MALFORMED },
		{ AWS, "https://cache.s3.eu-west-1.amazonaws.com:99999/x", URL_MALFORMED },
		{ AWS, "https://ho st/x", URL_MALFORMED },
		{ "not a url", AWS "/x", URL_MALFORMED },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum url_place got = url_place_in(cases[i].base, cases[i].url);
		if (got != cases[i].want)
			test_record_failure(__FILE__, __LINE__, "base %s, url %s: %s, want %s", cases[i].base,
					    cases[i].url, url_place_name(got), url_place_name(cases[i].want));
	}
}

static void origin_for_messages(void)
{
	char out[160];
	url_origin("http://b.localhost:9000@127.0.0.1:9001/nar/x", out, sizeof(out));
	CHECK_STR(out, "http://127.0.0.1:9001");
	url_origin(AWS "/nar/x", out, sizeof(out));
	CHECK_STR(out, AWS ":443");
	url_origin("http://a@b@c/", out, sizeof(out));
	CHECK_STR(out, "(unparseable URL)");
}

static void redact_table(void)
{
	static const struct {
		const char *url, *want;
	} cases[] = {
		{ "https://cache.example/x", "https://cache.example/x" },
		{ "https://user:secret@cache.example/x", "https://[redacted]@cache.example/x" },
		{ "https://user:pa/ss@cache.example/x", "https://[redacted]@cache.example/x" },
		{ "https://a:b@c@cache.example", "https://[redacted][redacted]@cache.example" },
		{ "s3://key:secret@bucket?region=x", "s3://[redacted]@bucket?region=x" },
		{ "s3://b?endpoint=http://u:secret@h:9000&region=x", "s3://b?endpoint=http://[redacted]@h:9000&region=x" },
		{ "s3://b?endpoint=http%3A%2F%2Fu%3Asecret%40h", "s3://b?endpoint=http%3A%2F%2F[redacted]%40h" },
		{ "secret@", "[redacted]@" },
		{ "", "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[200];
		url_redact(cases[i].url, out, sizeof(out));
		if (strcmp(out, cases[i].want) != 0)
			test_record_failure(__FILE__, __LINE__, "%s -> %s, want %s", cases[i].url, out,
					    cases[i].want);
		CHECK(!strstr(out, "secret"));
	}
	char small[12];
	url_redact("https://user:secret@h/x", small, sizeof(small));
	CHECK_STR(small, "https://[re");
}

static void substituter_check_table(void)
{
	static const struct {
		const char *url;
		const char *error; /* NULL: accepted */
	} cases[] = {
		{ "http://127.0.0.1:8080", NULL },
		{ "https://cache.example/sub/dir//", NULL },
		{ "https://cache.example?priority=10", NULL },
		{ "https://cache.example/a@b", NULL },                 /* '@' in the path: no userinfo */
		{ "file:///srv/cache", NULL },
		{ "s3://my-cache?region=eu-west-1", NULL },
		{ "s3://my-cache/pre@fix?region=eu-west-1", NULL },
		{ "s3://b?endpoint=http://127.0.0.1:9000", NULL },
		{ "", "empty or longer than" },
		{ "http://a b", "space, a control character" },
		{ "http://caf\xc3\xa9.example", "non-ASCII byte at byte 11" },
		{ "ftp://host/x", "unsupported URL scheme" },
		{ "cache.example", "unsupported URL scheme" },
		{ "http://", "has no host" },
		{ "http:///x", "has no host" },
		{ "http://host:99999/", "is not a URL curl can parse" },
		{ "s3://", "substituter 's3://': S3 URL: no bucket name" },
		{ "s3://b?region=EU", "is not a region name" },
		/* userinfo: refused, the secret not repeated */
		{ "https://user:secret@cache.example/x", "substituter 'https://[redacted]@cache.example/x' "
						       "carries a user name or password" },
		{ "http://secret@127.0.0.1:8080", "carries a user name or password" },
		{ "https://user:pa/secret@cache.example", "is not a URL curl can parse" },
		{ "s3://key:secret@bucket", "carries a user name or password" },
		{ "file://user:secret@/srv/cache", "carries a user name or password" },
		{ "s3://b?endpoint=http://u:secret@h", "endpoint host has a character '@'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ip_error err = { 0 };
		int r = substituter_url_check(cases[i].url, strlen(cases[i].url), &err);
		bool ok = cases[i].error ? r == -EINVAL && strstr(err.msg, cases[i].error) : r == 0;
		if (!ok)
			test_record_failure(__FILE__, __LINE__, "'%s': r=%d '%s', want '%s'", cases[i].url, r,
					    err.msg, cases[i].error ? cases[i].error : "accepted");
		if (strstr(err.msg, "secret"))
			test_record_failure(__FILE__, __LINE__, "'%s': the message repeats the secret: %s",
					    cases[i].url, err.msg);
	}
	/* the length is the caller's (a word inside a longer line) */
	struct ip_error err = { 0 };
	CHECK_INT(substituter_url_check("http://h:1 trailing", 10, &err), ==, 0);
	char long_url[SUBSTITUTER_URL_MAX + 8];
	memset(long_url, 'a', sizeof(long_url) - 1);
	long_url[sizeof(long_url) - 1] = '\0';
	memcpy(long_url, "http://", 7);
	CHECK_INT(substituter_url_check(long_url, SUBSTITUTER_URL_MAX, &err), ==, -EINVAL);
	CHECK_CONTAINS(err.msg, "longer than 2047 bytes");
}

static const struct test_case cases[] = {
	{ "place: scheme, host, port, userinfo, path, parsed by curl", place_table },
	{ "origin for messages", origin_for_messages },
	{ "redact: userinfo cut, wherever it hides", redact_table },
	{ "substituter URL check: one function for config, user-data, command line", substituter_check_table },
};

int main(int argc, char **argv)
{
	return test_main("origin", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
