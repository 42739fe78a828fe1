/* Signature checks with keys and signatures made by real Nix
 * (nix key generate-secret, nix store sign, nix copy ?secret-key=). */
#include <stdio.h>
#include <stdlib.h>

#include "nix/narinfo.h"
#include "support/nix_fixtures.h"
#include "test.h"

struct setup {
	struct nix_fixtures fx;
	struct trusted_key test1, other1;
	struct narinfo top, dep; /* top: Sig other-1 and test-1; dep: Sig test-1 */
};

static int load_key(const char *rel, struct trusted_key *k)
{
	char *text = test_read_text(rel, NULL);
	if (!text)
		return -1;
	text[strcspn(text, "\n")] = '\0';
	struct ip_error err = { 0 };
	int r = trusted_key_parse(text, k, &err);
	free(text);
	return r;
}

static int parse_path(const char *path, struct narinfo *ni)
{
	size_t len;
	char *text = nix_fixture_narinfo(path, &len);
	if (!text)
		return -1;
	int r = narinfo_parse(text, len, ni, NULL);
	free(text);
	return r;
}

static bool setup(struct setup *s)
{
	memset(s, 0, sizeof(*s));
	return nix_fixtures_load(&s->fx) == 0 && load_key("nix/cache/test-1.public", &s->test1) == 0 &&
	       load_key("nix/cache/other-1.public", &s->other1) == 0 &&
	       parse_path(s->fx.top.path, &s->top) == 0 && parse_path(s->fx.dep.path, &s->dep) == 0;
}

static void teardown(struct setup *s)
{
	narinfo_free(&s->top);
	narinfo_free(&s->dep);
}

static void valid_signatures_pass(void)
{
	struct setup s;
	CHECK(setup(&s));
	struct ip_error err = { 0 };
	int r1 = narinfo_verify(&s.dep, &s.test1, 1, &err);
	int r2 = narinfo_verify(&s.top, &s.test1, 1, &err);
	int r3 = narinfo_verify(&s.top, &s.other1, 1, &err);
	struct trusted_key both[2] = { s.other1, s.test1 };
	int r4 = narinfo_verify(&s.dep, both, 2, &err);
	teardown(&s);
	CHECK_STR(err.msg, "");
	CHECK_INT(r1, ==, 0);
	CHECK_INT(r2, ==, 0);
	CHECK_INT(r3, ==, 0); /* several Sigs, the trusted one is not the first */
	CHECK_INT(r4, ==, 0);
	CHECK_STR(s.test1.name, "test-1");
}

static void untrusted_key_name_fails(void)
{
	struct setup s;
	CHECK(setup(&s));
	struct ip_error err = { 0 };
	int r = narinfo_verify(&s.dep, &s.other1, 1, &err);
	char want[512];
	snprintf(want, sizeof(want), "%s: no valid signature by a trusted key (test-1 by an untrusted key)",
		 s.fx.dep.path);
	teardown(&s);
	CHECK_INT(r, ==, -EPERM);
	CHECK_STR(err.msg, want);
}

static void corrupted_signature_fails(void)
{
	struct setup s;
	CHECK(setup(&s));
	char *sig = s.dep.sigs[0];
	size_t at = strlen("test-1:") + 5;
	sig[at] = sig[at] == 'A' ? 'B' : 'A';
	struct ip_error err = { 0 };
	int r = narinfo_verify(&s.dep, &s.test1, 1, &err);
	char want[512];
	snprintf(want, sizeof(want), "%s: no valid signature by a trusted key (test-1 does not verify)",
		 s.fx.dep.path);
	/* Base64 that does not even decode to 64 bytes. */
	strcpy(sig, "test-1:AAAA");
	struct ip_error err2 = { 0 };
	int r2 = narinfo_verify(&s.dep, &s.test1, 1, &err2);
	teardown(&s);
	CHECK_INT(r, ==, -EPERM);
	CHECK_STR(err.msg, want);
	CHECK_INT(r2, ==, -EPERM);
	CHECK_CONTAINS(err2.msg, "(test-1 not base64 of 64 bytes)");
}

/* The signature is over the fingerprint: changing what it covers breaks it. */
static void tampered_narinfo_fails(void)
{
	struct setup s;
	CHECK(setup(&s));
	struct ip_error err = { 0 };
	s.top.nar_size++;
	int r1 = narinfo_verify(&s.top, &s.test1, 1, &err);
	s.top.nar_size--;
	s.top.nar_hash.bytes[0] ^= 1;
	int r2 = narinfo_verify(&s.top, &s.test1, 1, NULL);
	s.top.nar_hash.bytes[0] ^= 1;
	char *ref = s.top.references[0];
	s.top.n_references = 0;
	int r3 = narinfo_verify(&s.top, &s.test1, 1, NULL);
	s.top.n_references = 1;
	s.top.references[0] = ref;
	int r4 = narinfo_verify(&s.top, &s.test1, 1, NULL); /* restored: fine again */
	teardown(&s);
	CHECK_INT(r1, ==, -EPERM);
	CHECK_CONTAINS(err.msg, "other-1 by an untrusted key, test-1 does not verify");
	CHECK_INT(r2, ==, -EPERM);
	CHECK_INT(r3, ==, -EPERM);
	CHECK_INT(r4, ==, 0);
}

static void wrong_key_under_the_trusted_name_fails(void)
{
	struct setup s;
	CHECK(setup(&s));
	struct trusted_key impostor = s.other1;
	strcpy(impostor.name, "test-1");
	struct ip_error err = { 0 };
	int r = narinfo_verify(&s.dep, &impostor, 1, &err);
	teardown(&s);
	CHECK_INT(r, ==, -EPERM);
	CHECK_CONTAINS(err.msg, "(test-1 does not verify)");
}

static void no_sig_fails(void)
{
	struct setup s;
	CHECK(setup(&s));
	size_t n = s.dep.n_sigs;
	s.dep.n_sigs = 0;
	struct ip_error err = { 0 };
	int r = narinfo_verify(&s.dep, &s.test1, 1, &err);
	s.dep.n_sigs = n;
	char want[512];
	snprintf(want, sizeof(want), "%s: narinfo has no signature (no Sig line)", s.fx.dep.path);
	struct ip_error err2 = { 0 };
	int r2 = narinfo_verify(&s.dep, NULL, 0, &err2);
	teardown(&s);
	CHECK_INT(r, ==, -EPERM);
	CHECK_STR(err.msg, want);
	CHECK_INT(r2, ==, -EPERM);
	CHECK_CONTAINS(err2.msg, "no trusted public keys configured");
}

static void key_parsing(void)
{
	struct trusted_key k;
	struct ip_error err = { 0 };
	CHECK_INT(trusted_key_parse("cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=", &k, &err), ==, 0);
	CHECK_STR(k.name, "cache.nixos.org-1");
	CHECK_INT(k.key[0], ==, 0xe8);
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "nocolon", "is not <name>:<base64 key>" },
		{ ":6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=", "is not <name>:<base64 key>" },
		{ "k:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShj=", "not base64 of 32 bytes" },
		{ "k:", "not base64 of 32 bytes" },
		/* A secret key (64 bytes) given where the public one belongs. */
		{ "k:q60jBv7v5AF1HFxoRZVgfJFIq1UwIf7UkvVTEe3+ONDjhWEz74fMMp8T0wGUtiDE2bTnQk/te1AgT8AtFn2UDg==", "not base64 of 32 bytes" },
		{ "a b:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=", "bad key name" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ip_error_clear(&err);
		int r = trusted_key_parse(bad[i].text, &k, &err);
		if (r != -EINVAL || !strstr(err.msg, bad[i].msg))
			test_record_failure(__FILE__, __LINE__, "\"%s\": %d \"%s\"", bad[i].text, r, err.msg);
		CHECK_INT(r, ==, -EINVAL);
	}
}

TEST_MAIN("signature",
	TEST_CASE(valid_signatures_pass),
	TEST_CASE(untrusted_key_name_fails),
	TEST_CASE(corrupted_signature_fails),
	TEST_CASE(tampered_narinfo_fails),
	TEST_CASE(wrong_key_under_the_trusted_name_fails),
	TEST_CASE(no_sig_fails),
	TEST_CASE(key_parsing))
