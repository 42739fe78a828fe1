/* Substituter URLs: which schemes, what the base is, how files are joined. */
#include <stdlib.h>

#include "cache/substituter.h"
#include "test.h"

static void parse_table(void)
{
	static const struct {
		const char *url;
		int code;
		const char *base_or_error;
	} cases[] = {
		{ "http://127.0.0.1:8080", 0, "http://127.0.0.1:8080" },
		{ "http://cache.example/", 0, "http://cache.example" },
		{ "https://cache.example/sub/dir//", 0, "https://cache.example/sub/dir" },
		{ "https://cache.example?priority=10&want-mass-query=1", 0, "https://cache.example" },
		{ "file:///srv/cache", 0, "file:///srv/cache" },
		{ "file:///srv/cache/?compression=zstd", 0, "file:///srv/cache" },
		{ "s3://", -EINVAL, "substituter 's3://'" },
		{ "s3://my-cache?region=eu-west-1", 0, "https://my-cache.s3.eu-west-1.amazonaws.com" },
		{ "s3://my-cache/fleet/a", 0, "https://my-cache.s3.us-east-1.amazonaws.com/fleet/a" },
		{ "s3://my.dotted.cache?region=eu-west-1", 0, "https://s3.eu-west-1.amazonaws.com/my.dotted.cache" },
		{ "s3://b/p?endpoint=http://127.0.0.1:9000&region=x-1", 0, "http://127.0.0.1:9000/b/p" },
		{ "s3://b?endpoint=http://localhost:9000&addressing-style=virtual", 0, "http://b.localhost:9000" },
		{ "ftp://host/x", -EINVAL, "unsupported URL scheme" },
		{ "cache.example", -EINVAL, "unsupported URL scheme" },
		{ "http://", -EINVAL, "has no host" },
		{ "http://a b", -EINVAL, "space, a control character" },
		{ "", -EINVAL, "empty or longer than" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct substituter s;
		struct ip_error err = { 0 };
		int r = substituter_init(&s, cases[i].url, 0, NULL, &err);
		const char *got = r == 0 ? s.base : err.msg;
		if (r != cases[i].code || !strstr(got, cases[i].base_or_error)) {
			test_record_failure(__FILE__, __LINE__, "'%s': r=%d '%s', want %d '%s'",
					    cases[i].url, r, got, cases[i].code, cases[i].base_or_error);
			if (r == 0)
				substituter_free(&s);
			return;
		}
		if (r == 0)
			substituter_free(&s);
	}
}

static void join_table(void)
{
	struct substituter s;
	CHECK_INT(substituter_init(&s, "http://h:1/cache/", 0, NULL, NULL), ==, 0);
	static const struct {
		const char *file, *want; /* want NULL: refused */
	} cases[] = {
		{ "nix-cache-info", "http://h:1/cache/nix-cache-info" },
		{ "abc.narinfo", "http://h:1/cache/abc.narinfo" },
		{ "nar/1g38f04j.nar.zst", "http://h:1/cache/nar/1g38f04j.nar.zst" },
		{ "nar/x+y_z-1.nar", "http://h:1/cache/nar/x+y_z-1.nar" },
		{ "https://mirror.example/nar/x.nar.xz", "https://mirror.example/nar/x.nar.xz" },
		{ "../secret", NULL },
		{ "nar/../../x", NULL },
		{ "nar/./x", NULL },
		{ "/etc/passwd", NULL },
		{ "nar//x", NULL },
		{ "nar/x?sig=1", NULL },
		{ "nar/x#y", NULL },
		{ "nar/x y", NULL },
		{ "", NULL },
		{ "file:///etc/passwd", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *url = NULL;
		int r = substituter_join(&s, cases[i].file, &url, NULL);
		bool ok = cases[i].want ? r == 0 && strcmp(url, cases[i].want) == 0 : r == -EINVAL;
		if (!ok) {
			test_record_failure(__FILE__, __LINE__, "'%s': r=%d '%s'", cases[i].file, r,
					    url ? url : "");
			free(url);
			substituter_free(&s);
			return;
		}
		free(url);
	}
	substituter_free(&s);
}

TEST_MAIN("substituter",
	  TEST_CASE(parse_table),
	  TEST_CASE(join_table))
