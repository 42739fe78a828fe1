/* util/kvconf: nix.conf syntax, line numbers in errors, named limits. */
#include "test.h"
#include "util/kvconf.h"

#include <stdio.h>

/* Collects entries as "line:key=value;" into a string. */
struct collect {
	char out[1024];
	size_t len;
	int stop_at_line; /* callback fails on this line, 0 = never */
};

static int collect_fn(const struct kvconf_entry *e, void *ctx, struct ip_error *err)
{
	struct collect *c = ctx;
	if (c->stop_at_line && (int)e->line == c->stop_at_line)
		return kvconf_fail(err, e->line, -EINVAL, "unknown key '%.*s'", (int)e->key_len, e->key);
	int n = snprintf(c->out + c->len, sizeof(c->out) - c->len, "%u:%.*s=%.*s;", e->line,
			 (int)e->key_len, e->key, (int)e->value_len, e->value);
	if (n > 0)
		c->len += (size_t)n;
	return 0;
}

struct good_case {
	const char *name;
	const char *doc;
	int count;
	const char *expect;
};

static const struct good_case good_cases[] = {
	{ "empty", "", 0, "" },
	{ "blank lines", "\n\n  \t\n", 0, "" },
	{ "one", "a = b\n", 1, "1:a=b;" },
	{ "no final newline", "a = b", 1, "1:a=b;" },
	{ "no spaces", "a=b\n", 1, "1:a=b;" },
	{ "tabs", "\tkey\t=\tvalue\t\n", 1, "1:key=value;" },
	{ "comments", "# top\n\na = b # trailing\n#c = d\n", 1, "3:a=b;" },
	{ "empty value", "substituters =\n", 1, "1:substituters=;" },
	{ "list value", "k = x  y\tz\n", 1, "1:k=x  y\tz;" },
	{ "crlf", "a = b\r\nc = d\r\n", 2, "1:a=b;2:c=d;" },
	{ "key chars", "trusted-public-keys.x_1 = v\n", 1, "1:trusted-public-keys.x_1=v;" },
	{ "equals in value", "a = b=c\n", 1, "1:a=b=c;" },
	{ "line numbers", "\n# x\n\nsystem = /p\n\nx = y\n", 2, "4:system=/p;6:x=y;" },
	{ "utf-8 value", "a = caf\xc3\xa9\n", 1, "1:a=caf\xc3\xa9;" },
};

static void good_documents(void)
{
	for (size_t i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
		const struct good_case *t = &good_cases[i];
		struct collect c = { .len = 0 };
		struct ip_error err = { 0 };
		int r = kvconf_parse(t->doc, strlen(t->doc), NULL, collect_fn, &c, NULL, &err);
		if (r != t->count) {
			test_record_failure(__FILE__, __LINE__, "%s: returned %d (%s), want %d", t->name,
					    r, ip_error_str(&err), t->count);
			return;
		}
		if (strcmp(c.out, t->expect) != 0) {
			test_record_failure(__FILE__, __LINE__, "%s: got \"%s\", want \"%s\"", t->name,
					    c.out, t->expect);
			return;
		}
	}
}

struct bad_case {
	const char *name;
	const char *doc;
	size_t len; /* 0: strlen */
	int code;
	const char *msg;
};

static const struct bad_case bad_cases[] = {
	{ "no equals", "a = b\njust words\n", 0, -EINVAL, "line 2: expected 'key = value'" },
	{ "empty key", "= b\n", 0, -EINVAL, "line 1: expected 'key = value'" },
	{ "space in key", "let x = 1;\n", 0, -EINVAL, "line 1: expected 'key = value'" },
	{ "bad key char", "a/b = c\n", 0, -EINVAL, "line 1: expected 'key = value'" },
	{ "include", "\ninclude /etc/x\n", 0, -EINVAL, "line 2: 'include' directives are not supported" },
	{ "!include", "!include x\n", 0, -EINVAL, "line 1: '!include' directives" },
	{ "nul", "a = b\nc = \0d\n", 12, -EINVAL, "line 2: NUL byte in column 5" },
	{ "nul in comment", "a = b # \0\n", 10, -EINVAL, "line 1: NUL byte" },
	{ "control char", "a = b\x1b[0m\n", 0, -EINVAL, "line 1: control character 0x1b" },
	{ "lone cr", "a = b\rc = d\n", 0, -EINVAL, "line 1: control character 0x0d" },
};

static void bad_documents(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *t = &bad_cases[i];
		struct collect c = { .len = 0 };
		struct ip_error err = { 0 };
		size_t len = t->len ? t->len : strlen(t->doc);
		int r = kvconf_parse(t->doc, len, NULL, collect_fn, &c, NULL, &err);
		if (r != t->code || !strstr(ip_error_str(&err), t->msg)) {
			test_record_failure(__FILE__, __LINE__, "%s: returned %d \"%s\", want %d \"%s\"",
					    t->name, r, ip_error_str(&err), t->code, t->msg);
			return;
		}
	}
}

static void callback_error_stops(void)
{
	struct collect c = { .stop_at_line = 2 };
	struct ip_error err = { 0 };
	const char *doc = "a = 1\nbogus = 2\nc = 3\n";
	unsigned line = 99;
	CHECK_INT(kvconf_parse(doc, strlen(doc), NULL, collect_fn, &c, &line, &err), ==, -EINVAL);
	CHECK_STR(ip_error_str(&err), "line 2: unknown key 'bogus'");
	CHECK_INT(line, ==, 2);
	CHECK_STR(c.out, "1:a=1;");
}

static void limits(void)
{
	struct collect c = { .len = 0 };
	struct ip_error err = { 0 };
	struct kvconf_limits lim = { .line_max = 8, .keys_max = 2, .size_max = 32 };
	unsigned line = 0;

	const char *long_line = "a = 123456\n";
	CHECK_INT(kvconf_parse(long_line, strlen(long_line), &lim, collect_fn, &c, &line, &err), ==,
		  -E2BIG);
	CHECK_STR(ip_error_str(&err), "line 1: line longer than 8 bytes");
	CHECK_INT(line, ==, 1);

	/* A CR before the LF does not count against the line length. */
	ip_error_clear(&err);
	const char *crlf = "a = 1234\r\n";
	CHECK_INT(kvconf_parse(crlf, strlen(crlf), &lim, collect_fn, &c, NULL, &err), ==, 1);

	ip_error_clear(&err);
	const char *three = "a = 1\nb = 2\nc = 3\n";
	CHECK_INT(kvconf_parse(three, strlen(three), &lim, collect_fn, &c, &line, &err), ==, -E2BIG);
	CHECK_STR(ip_error_str(&err), "line 3: more than 2 settings");
	CHECK_INT(line, ==, 3);

	ip_error_clear(&err);
	char big[40];
	memset(big, '\n', sizeof(big));
	line = 99;
	CHECK_INT(kvconf_parse(big, sizeof(big), &lim, collect_fn, &c, &line, &err), ==, -E2BIG);
	CHECK_INT(line, ==, 0);
	CHECK_STR(ip_error_str(&err), "document is 40 bytes, over the limit of 32");

	ip_error_clear(&err);
	char key[KVCONF_KEY_MAX + 8];
	memset(key, 'k', sizeof(key));
	memcpy(key + KVCONF_KEY_MAX + 1, " = v\n", 5);
	CHECK_INT(kvconf_parse(key, KVCONF_KEY_MAX + 6, NULL, collect_fn, &c, NULL, &err), ==, -E2BIG);
	CHECK_CONTAINS(ip_error_str(&err), "key longer than");
}

static void words(void)
{
	const char *v = "  https://a  s3://b?region=x\thttp://c ";
	size_t pos = 0, wl;
	const char *w;
	char seen[128] = "";
	while (kvconf_next_word(v, strlen(v), &pos, &w, &wl)) {
		strncat(seen, w, wl);
		strcat(seen, "|");
	}
	CHECK_STR(seen, "https://a|s3://b?region=x|http://c|");
	pos = 0;
	CHECK(!kvconf_next_word("", 0, &pos, &w, &wl));
	pos = 0;
	CHECK(!kvconf_next_word(" \t ", 3, &pos, &w, &wl));
}

TEST_MAIN("kvconf",
	TEST_CASE(good_documents),
	TEST_CASE(bad_documents),
	TEST_CASE(callback_error_stops),
	TEST_CASE(limits),
	TEST_CASE(words))
