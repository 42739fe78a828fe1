/* Later boots (boot/applied.h): the record on the disk and the decision. */
#include "test.h"
#include "boot/applied.h"

#include <stdio.h>

#define SYS "/nix/store/0ahcn2x4l5kxxpmhxgyg4gyc8dcfxdc2-nixos-system-web"
#define SHA_A "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_B "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void record_round_trips(void)
{
	struct applied_state in = { .instance_id = "i-0123456789abcdef0", .document_sha256 = SHA_A, .system = SYS };
	struct applied_state out;
	char text[APPLIED_STATE_SIZE_MAX];
	struct ip_error err = { 0 };
	CHECK_INT(applied_state_format(&in, text, sizeof(text)), ==, 0);
	CHECK_INT(applied_state_parse(text, strlen(text), &out, &err), ==, 0);
	CHECK_STR(out.instance_id, in.instance_id);
	CHECK_STR(out.document_sha256, SHA_A);
	CHECK_STR(out.system, SYS);
	CHECK_INT(applied_state_format(&in, text, 40), ==, -ENOSPC);
}

static void bad_records_are_refused(void)
{
	static const struct {
		const char *text, *error;
	} cases[] = {
		{ "", "missing instance-id" },
		{ "instance-id = i-1\nsystem = " SYS "\n", "missing document-sha256" },
		{ "instance-id = i-1\ndocument-sha256 = " SHA_A "\n", "missing system" },
		{ "instance-id = i-1\ninstance-id = i-2\n", "line 2: 'instance-id' is set twice" },
		{ "document-sha256 = abc\n", "line 1: document-sha256: not 64 lowercase hex digits" },
		{ "document-sha256 = " "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD" "\n",
		  "not 64 lowercase hex digits" },
		{ "system = /etc/passwd\n", "line 1: system: " },
		{ "instance-id =\n", "line 1: instance-id: empty" },
		{ "colour = blue\n", "line 1: unknown key 'colour'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct applied_state out;
		struct ip_error err = { 0 };
		int r = applied_state_parse(cases[i].text, strlen(cases[i].text), &out, &err);
		if (r != -EINVAL || !strstr(err.msg, cases[i].error)) {
			test_record_failure(__FILE__, __LINE__, "case %zu: %d \"%s\", wanted \"%s\"", i, r, err.msg,
					    cases[i].error);
			return;
		}
	}
}

static void document_hash_is_sha256_hex(void)
{
	char hex[APPLIED_SHA256_HEX_LEN + 1];
	applied_document_sha256("abc", 3, hex);
	CHECK_STR(hex, SHA_A);
	applied_document_sha256("", 0, hex);
	CHECK_STR(hex, SHA_B);
}

static void decision_table(void)
{
	static const struct applied_state rec = { .instance_id = "i-1", .document_sha256 = SHA_A, .system = SYS };
	static const struct {
		const char *name;
		enum apply_policy policy;
		const struct applied_state *previous;
		const char *instance_id, *sha;
		enum apply_verdict verdict;
		enum apply_reason reason;
	} cases[] = {
		{ "every-boot ignores the record", APPLY_EVERY_BOOT, &rec, "i-1", SHA_A, APPLY_VERDICT_APPLY,
		  APPLY_REASON_EVERY_BOOT },
		{ "first boot", APPLY_WHEN_CHANGED, NULL, "i-1", SHA_A, APPLY_VERDICT_APPLY, APPLY_REASON_NO_RECORD },
		{ "no instance-id", APPLY_WHEN_CHANGED, &rec, "", SHA_A, APPLY_VERDICT_APPLY,
		  APPLY_REASON_NO_INSTANCE_ID },
		{ "new instance from a snapshot", APPLY_WHEN_CHANGED, &rec, "i-2", SHA_A, APPLY_VERDICT_APPLY,
		  APPLY_REASON_NEW_INSTANCE },
		{ "user-data changed", APPLY_WHEN_CHANGED, &rec, "i-1", SHA_B, APPLY_VERDICT_APPLY,
		  APPLY_REASON_DOCUMENT_CHANGED },
		{ "unchanged", APPLY_WHEN_CHANGED, &rec, "i-1", SHA_A, APPLY_VERDICT_UNCHANGED,
		  APPLY_REASON_UNCHANGED },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum apply_reason reason;
		enum apply_verdict v =
			apply_decide(cases[i].policy, cases[i].previous, cases[i].instance_id, cases[i].sha, &reason);
		if (v != cases[i].verdict || reason != cases[i].reason) {
			test_record_failure(__FILE__, __LINE__, "%s: verdict %d reason %s", cases[i].name, (int)v,
					    apply_reason_name(reason));
			return;
		}
	}
	CHECK_STR(apply_policy_name(APPLY_WHEN_CHANGED), "when-changed");
	CHECK_STR(apply_policy_name(APPLY_EVERY_BOOT), "every-boot");
}

TEST_MAIN("applied",
	TEST_CASE(record_round_trips),
	TEST_CASE(bad_records_are_refused),
	TEST_CASE(document_hash_is_sha256_hex),
	TEST_CASE(decision_table))
