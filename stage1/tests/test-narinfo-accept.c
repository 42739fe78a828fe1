/* narinfo_accept: the one place a narinfo answer is judged, with narinfos
 * and keys made by real Nix (data/nix/cache, tools/make-format-fixtures).
 * The resolver calls it for every narinfo, first and alternate alike. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cache/closure.h"
#include "support/nix_fixtures.h"
#include "test.h"

#define URL "http://cache.example/c7hka4a9iij0n12kpiiqyjsx65hbs8l1.narinfo"
#define DEP "c7hka4a9iij0n12kpiiqyjsx65hbs8l1-fixture-dep"
#define TOP "i1cyw3zcajkgiravwgx7vzp6wvyq2fsi-fixture-top"

static int load_key(const char *rel, struct trusted_key *k)
{
	char *text = test_read_text(rel, NULL);
	if (!text)
		return -1;
	text[strcspn(text, "\n")] = '\0';
	int r = trusted_key_parse(text, k, NULL);
	free(text);
	return r;
}

/* The dep narinfo with its Compression line replaced (not signed). */
static char *with_compression(const char *text, const char *method)
{
	const char *at = strstr(text, "Compression: none\n");
	if (!at)
		return NULL;
	size_t before = (size_t)(at - text), skip = strlen("Compression: none\n");
	size_t len = strlen(text) + strlen(method) + 32;
	char *out = malloc(len);
	if (out)
		snprintf(out, len, "%.*sCompression: %s\n%s", (int)before, text, method, at + skip);
	return out;
}

struct accept_case {
	const char *name;
	const char *body;           /* NULL: the real dep narinfo */
	const char *basename;
	bool trust_test1, trust_other1, check_sigs, will_fetch;
	int want;
	const char *message;        /* a part of err.msg */
};

static void table(void)
{
	struct trusted_key keys[2];
	size_t len;
	char *dep = nix_fixture_narinfo("/nix/store/" DEP, &len);
	char *lzma = dep ? with_compression(dep, "lzma") : NULL;
	if (!dep || !lzma || load_key("nix/cache/test-1.public", &keys[0]) < 0 ||
	    load_key("nix/cache/other-1.public", &keys[1]) < 0) {
		test_record_failure(__FILE__, __LINE__, "the fixtures of data/nix/cache did not load");
		free(dep);
		free(lzma);
		return;
	}
	const struct accept_case cases[] = {
		{ "signed by a trusted key", NULL, DEP, true, false, true, true, 0, NULL },
		{ "signed, among other trusted keys", NULL, DEP, true, true, true, true, 0, NULL },
		{ "no signature by a trusted key", NULL, DEP, false, true, true, true, -EPERM,
		  "(narinfo " URL ")" },
		{ "no key at all", NULL, DEP, false, false, true, true, -EPERM, "(narinfo " URL ")" },
		{ "unchecked signatures (--no-check-sigs)", NULL, DEP, false, false, false, true, 0, NULL },
		{ "the narinfo of another path", NULL, TOP, true, false, true, true, -EBADMSG,
		  "narinfo " URL " is for /nix/store/" DEP ", not /nix/store/" TOP },
		{ "malformed", "StorePath: /nix/store/" DEP "\n", DEP, true, false, true, true, -EBADMSG,
		  "malformed narinfo " URL ": " },
		{ "empty", "", DEP, true, false, true, true, -EBADMSG, "malformed narinfo " URL },
		{ "a compression not read, to fetch", lzma, DEP, true, false, true, true, -ENOTSUP,
		  "the NAR of /nix/store/" DEP " uses compression 'lzma', which is not supported" },
		{ "a compression not read, present path (maybe whole)", lzma, DEP, true, false, true, false,
		  0, NULL },
		{ "the signature is judged before the compression", lzma, DEP, false, true, true, true,
		  -EPERM, "(narinfo " URL ")" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct accept_case *c = &cases[i];
		struct trusted_key trusted[2];
		size_t n_keys = 0;
		if (c->trust_test1)
			trusted[n_keys++] = keys[0];
		if (c->trust_other1)
			trusted[n_keys++] = keys[1];
		const struct narinfo_policy policy = { trusted, n_keys, c->check_sigs };
		const char *body = c->body ? c->body : dep;
		struct narinfo info;
		struct ip_error err = { 0 };
		int r = narinfo_accept(body, strlen(body), c->basename, URL, &policy, c->will_fetch, &info,
				       &err);
		if (r != c->want || (c->message && !strstr(err.msg, c->message)) ||
		    (r < 0 && !err.msg[0])) {
			test_record_failure(__FILE__, __LINE__, "%s: got %d '%s', want %d '%s'", c->name, r,
					    err.msg, c->want, c->message ? c->message : "");
		}
		if (r == 0) {
			CHECK_STR(info.store_path, "/nix/store/" DEP);
			CHECK(strchr(err.msg, '\n') == NULL);
			narinfo_free(&info);
		} else {
			CHECK(strchr(err.msg, '\n') == NULL); /* one line */
		}
	}
	free(dep);
	free(lzma);
}

TEST_MAIN("narinfo-accept",
	TEST_CASE(table))
