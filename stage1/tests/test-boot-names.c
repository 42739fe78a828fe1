/* boot/boot.h: the report's words for source, outcome and kernel status
 * (README "Boot mode" lists them; stage-2 tooling and the tests read them). */
#include "test.h"

#include "boot/boot.h"

static void source_names(void)
{
	CHECK_STR(boot_source_name(BOOT_SOURCE_NONE), "none");
	CHECK_STR(boot_source_name(BOOT_SOURCE_USER_DATA), "user-data");
	CHECK_STR(boot_source_name(BOOT_SOURCE_TAG), "tag");
	CHECK_STR(boot_source_name(BOOT_SOURCE_CMDLINE), "cmdline");
	CHECK_STR(boot_source_name((enum boot_source)99), "?");
}

static void outcome_names(void)
{
	static const struct { enum boot_outcome outcome; const char *name; } rows[] = {
		{ BOOT_OUTCOME_FAILED, "failed" },       { BOOT_OUTCOME_PROVISIONED, "provisioned" },
		{ BOOT_OUTCOME_BUILTIN, "builtin" },     { BOOT_OUTCOME_UNCHANGED, "unchanged" },
		{ BOOT_OUTCOME_FALLBACK, "fallback" },   { BOOT_OUTCOME_HALT, "halt" },
		{ BOOT_OUTCOME_REBOOT, "reboot" },       { BOOT_OUTCOME_KEXEC, "kexec" },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK_STR(boot_outcome_name(rows[i].outcome), rows[i].name);
	CHECK_STR(boot_outcome_name((enum boot_outcome)99), "?");
}

static void kernel_status_names(void)
{
	CHECK_STR(boot_kernel_status_name(BOOT_KERNEL_UNKNOWN), "unknown");
	CHECK_STR(boot_kernel_status_name(BOOT_KERNEL_MATCH), "match");
	CHECK_STR(boot_kernel_status_name(BOOT_KERNEL_MISMATCH), "mismatch");
	CHECK_STR(boot_kernel_status_name((enum boot_kernel_status)99), "?");
}

TEST_MAIN("boot-names",
	TEST_CASE(source_names),
	TEST_CASE(outcome_names),
	TEST_CASE(kernel_status_names))
