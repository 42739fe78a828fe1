/* aws/s3_url: s3:// substituter URLs to object URLs, as Nix maps them. */
#include "test.h"
#include "aws/s3_url.h"

#include <stdio.h>

struct map_case {
	const char *url;
	const char *region_from_imds; /* NULL: none */
	const char *key;
	const char *want;            /* object URL */
	const char *region;          /* resulting region */
	bool explicit_region;
};

static const struct map_case map_cases[] = {
	/* No endpoint: virtual-hosted on AWS by default. */
	{ "s3://cache", NULL, "nix-cache-info",
	  "https://cache.s3.us-east-1.amazonaws.com/nix-cache-info", "us-east-1", false },
	{ "s3://cache?region=eu-west-1", NULL, "abc.narinfo",
	  "https://cache.s3.eu-west-1.amazonaws.com/abc.narinfo", "eu-west-1", true },
	{ "s3://cache", "ap-south-1", "nar/x.nar.zst",
	  "https://cache.s3.ap-south-1.amazonaws.com/nar/x.nar.zst", "ap-south-1", false },
	{ "s3://cache?region=eu-west-1", "ap-south-1", "x",
	  "https://cache.s3.eu-west-1.amazonaws.com/x", "eu-west-1", true },
	/* A prefix. */
	{ "s3://cache/fleet/prod/?region=eu-west-1", NULL, "x.narinfo",
	  "https://cache.s3.eu-west-1.amazonaws.com/fleet/prod/x.narinfo", "eu-west-1", true },
	/* Dotted bucket: path style on AWS. */
	{ "s3://cache.example.org", NULL, "x.narinfo",
	  "https://s3.us-east-1.amazonaws.com/cache.example.org/x.narinfo", "us-east-1", false },
	{ "s3://Legacy_Bucket", NULL, "x", "https://s3.us-east-1.amazonaws.com/Legacy_Bucket/x",
	  "us-east-1", false },
	{ "s3://cache?addressing-style=path&region=us-west-2", NULL, "x",
	  "https://s3.us-west-2.amazonaws.com/cache/x", "us-west-2", true },
	/* Custom endpoint: path style by default, the endpoint's scheme. */
	{ "s3://cache?endpoint=http://127.0.0.1:9000", NULL, "nix-cache-info",
	  "http://127.0.0.1:9000/cache/nix-cache-info", "us-east-1", false },
	{ "s3://cache/p?endpoint=https%3A%2F%2Fminio.lan%2Fs3%2F&region=x-1", NULL, "a",
	  "https://minio.lan/s3/cache/p/a", "x-1", true },
	{ "s3://cache?endpoint=minio.lan:9000", NULL, "a", "https://minio.lan:9000/cache/a",
	  "us-east-1", false },
	{ "s3://cache?endpoint=minio.lan:9000&scheme=http", NULL, "a",
	  "http://minio.lan:9000/cache/a", "us-east-1", false },
	{ "s3://cache?scheme=http&endpoint=https://minio.lan", NULL, "a", "https://minio.lan/cache/a",
	  "us-east-1", false },
	{ "s3://cache?endpoint=http://s3.localhost:8080&addressing-style=virtual", NULL, "x.narinfo",
	  "http://cache.s3.localhost:8080/x.narinfo", "us-east-1", false },
	{ "s3://cache?endpoint=http://[::1]:9000", NULL, "a", "http://[::1]:9000/cache/a",
	  "us-east-1", false },
	/* Key characters are percent-encoded, '/' kept. */
	{ "s3://cache", NULL, "nar/a b+c.nar", "https://cache.s3.us-east-1.amazonaws.com/nar/a%20b%2Bc.nar",
	  "us-east-1", false },
	/* Dual stack: the endpoints with IPv6 addresses, both styles. */
	{ "s3://cache?dualstack=true&region=eu-west-1", NULL, "x.narinfo",
	  "https://cache.s3.dualstack.eu-west-1.amazonaws.com/x.narinfo", "eu-west-1", true },
	{ "s3://cache.example.org?dualstack=true", "ap-south-1", "x",
	  "https://s3.dualstack.ap-south-1.amazonaws.com/cache.example.org/x", "ap-south-1", false },
	{ "s3://cache?dualstack=false", NULL, "x", "https://cache.s3.us-east-1.amazonaws.com/x",
	  "us-east-1", false },
	/* Other Nix store parameters are accepted. */
	{ "s3://cache?profile=ci&priority=10&trusted=1", NULL, "a",
	  "https://cache.s3.us-east-1.amazonaws.com/a", "us-east-1", false },
};

static void mapping(void)
{
	for (size_t i = 0; i < sizeof(map_cases) / sizeof(map_cases[0]); i++) {
		const struct map_case *t = &map_cases[i];
		struct s3_url u;
		struct ip_error err = { 0 };
		char out[1024];
		int r = s3_url_parse(t->url, &u, &err);
		if (r == 0 && t->region_from_imds)
			r = s3_url_set_region(&u, t->region_from_imds, &err);
		if (r == 0)
			r = s3_url_object(&u, t->key, out, sizeof(out), &err);
		if (r != 0 || strcmp(out, t->want) != 0 || strcmp(u.region, t->region) != 0 ||
		    u.region_explicit != t->explicit_region) {
			test_record_failure(__FILE__, __LINE__, "%s: r=%d (%s) got %s region %s/%d, want %s %s/%d",
					    t->url, r, ip_error_str(&err), r ? "-" : out, u.region,
					    u.region_explicit, t->want, t->region, t->explicit_region);
			return;
		}
	}
}

static void fields(void)
{
	struct s3_url u;
	struct ip_error err = { 0 };
	CHECK_INT(s3_url_parse("s3://b/x/y?region=eu-west-1&profile=p&compression=zstd&addressing-style=virtual",
			       &u, &err), ==, 0);
	CHECK_STR(u.bucket, "b");
	CHECK_STR(u.prefix, "x/y");
	CHECK_STR(u.region, "eu-west-1");
	CHECK(u.addressing == S3_ADDRESSING_VIRTUAL);
	CHECK_STR(s3_addressing_name(u.addressing), "virtual");
	CHECK_STR(u.ignored, "profile compression");
	CHECK(s3_url_virtual_hosted(&u));
	char host[300];
	CHECK_INT(s3_url_host(&u, host, sizeof(host), &err), ==, 0);
	CHECK_STR(host, "b.s3.eu-west-1.amazonaws.com");

	CHECK_INT(s3_url_parse("s3://b?endpoint=http://127.0.0.1:4568", &u, &err), ==, 0);
	CHECK(!s3_url_virtual_hosted(&u));
	CHECK_INT(s3_url_host(&u, host, sizeof(host), &err), ==, 0);
	CHECK_STR(host, "127.0.0.1:4568");
	CHECK_STR(u.scheme, "http");
	CHECK_STR(u.endpoint_path, "");
}

struct bad_case {
	const char *url;
	const char *msg;
};

static const struct bad_case bad_cases[] = {
	{ "https://cache", "not an s3:// URL" },
	{ "s3://", "no bucket name" },
	{ "s3://?region=x", "no bucket name" },
	{ "s3://b@d", "bucket name 'b@d' has a character" },
	{ "s3://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "longer than 63" },
	{ "s3://b?region=EU", "region 'EU' is not a region name" },
	{ "s3://b?region=", "is not a region name" },
	{ "s3://b?region=a&region=b", "parameter 'region' given twice" },
	{ "s3://b?addressing-style=dns", "addressing-style must be auto, path or virtual" },
	{ "s3://b.c?addressing-style=virtual", "needs a bucket name of [a-z0-9-] only" },
	{ "s3://b?endpoint=ftp://x", "endpoint must be http:// or https://" },
	{ "s3://b?endpoint=http://user@host", "endpoint host has a character '@'" },
	{ "s3://b?endpoint=http://", "endpoint has no host" },
	{ "s3://b?scheme=ftp", "scheme must be https or http" },
	{ "s3://b/a/../c", "prefix has an empty, '.' or '..' segment" },
	{ "s3://b/a//c", "prefix has an empty" },
	{ "s3://b/a b", "prefix has a character" },
	{ "s3://b#frag", "fragment" },
	{ "s3://b?endpoint=%zz", "parameter 'endpoint' has a bad value" },
	{ "s3://b?endpoint=%0a", "has a bad value" },
	{ "s3://b?region=%", "has a bad value" },
	{ "s3://b?dualstack=yes", "dualstack must be true or false" },
	{ "s3://b?dualstack=true&endpoint=http://127.0.0.1:9000", "dualstack=true and endpoint= together" },
};

static void bad_urls(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct s3_url u;
		struct ip_error err = { 0 };
		int r = s3_url_parse(bad_cases[i].url, &u, &err);
		if (r != -EINVAL || !strstr(ip_error_str(&err), bad_cases[i].msg)) {
			test_record_failure(__FILE__, __LINE__, "%s: r=%d \"%s\", want \"%s\"",
					    bad_cases[i].url, r, ip_error_str(&err), bad_cases[i].msg);
			return;
		}
	}
}

static void keys_and_sizes(void)
{
	struct s3_url u;
	struct ip_error err = { 0 };
	char out[64];
	CHECK_INT(s3_url_parse("s3://cache", &u, &err), ==, 0);
	CHECK_INT(s3_url_object(&u, "", out, sizeof(out), &err), ==, -EINVAL);
	CHECK_INT(s3_url_object(&u, "/abs", out, sizeof(out), &err), ==, -EINVAL);
	ip_error_clear(&err);
	CHECK_INT(s3_url_object(&u, "a-key-that-makes-the-url-too-long-for-the-buffer", out,
				sizeof(out), &err), ==, -ENAMETOOLONG);
	CHECK_CONTAINS(ip_error_str(&err), "too long");
	/* The region from IMDS is checked too. */
	ip_error_clear(&err);
	CHECK_INT(s3_url_set_region(&u, "Bad Region", &err), ==, -EINVAL);
	CHECK_STR(u.region, "us-east-1");
}

/* Only IPv6 up: an AWS URL moves to the dual-stack host; a custom endpoint
 * or an explicit dualstack=false stays as it is. */
static void prefer_dualstack(void)
{
	static const struct {
		const char *url;
		bool changed;
		const char *host;
	} t[] = {
		{ "s3://cache?region=eu-west-1", true, "cache.s3.dualstack.eu-west-1.amazonaws.com" },
		{ "s3://cache.example.org", true, "s3.dualstack.us-east-1.amazonaws.com" },
		{ "s3://cache?dualstack=true", false, "cache.s3.dualstack.us-east-1.amazonaws.com" },
		{ "s3://cache?dualstack=false", false, "cache.s3.us-east-1.amazonaws.com" },
		{ "s3://cache?endpoint=http://[::1]:9000", false, "[::1]:9000" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct s3_url u;
		struct ip_error err = { 0 };
		char host[S3_HOST_MAX + S3_BUCKET_MAX + 2];
		CHECK_INT(s3_url_parse(t[i].url, &u, &err), ==, 0);
		bool changed = s3_url_prefer_dualstack(&u);
		CHECK_INT(s3_url_host(&u, host, sizeof(host), &err), ==, 0);
		if (changed != t[i].changed || strcmp(host, t[i].host) != 0) {
			test_record_failure(__FILE__, __LINE__, "%s: changed %d host %s", t[i].url, changed, host);
			return;
		}
	}
}

TEST_MAIN("s3-url",
	TEST_CASE(prefer_dualstack),
	TEST_CASE(mapping),
	TEST_CASE(fields),
	TEST_CASE(bad_urls),
	TEST_CASE(keys_and_sizes))
