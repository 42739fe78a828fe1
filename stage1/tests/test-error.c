/* The error convention: first failure wins, context prefixes. */
#include "test.h"
#include "util/error.h"

static void first_message_is_kept(void)
{
	struct ip_error err = { 0 };
	CHECK_INT(ip_fail(&err, -EINVAL, "inner %d", 1), ==, -EINVAL);
	CHECK_INT(ip_fail(&err, -EIO, "outer"), ==, -EIO);
	CHECK_STR(ip_error_str(&err), "inner 1");
	CHECK_INT(err.code, ==, -EINVAL);
}

static void context_is_prefixed(void)
{
	struct ip_error err = { 0 };
	ip_fail(&err, -EBADMSG, "bad padding at byte 24");
	ip_fail_ctx(&err, -EBADMSG, "NAR of /nix/store/x");
	CHECK_STR(ip_error_str(&err), "NAR of /nix/store/x: bad padding at byte 24");
}

static void errno_text_without_message(void)
{
	struct ip_error err = { 0 };
	ip_fail_ctx(&err, -ENOENT, "opening root");
	CHECK_CONTAINS(ip_error_str(&err), "opening root: No such file");
}

static void null_error_is_allowed(void)
{
	CHECK_INT(ip_fail(NULL, -ENOMEM, "x"), ==, -ENOMEM);
	CHECK_INT(ip_fail_ctx(NULL, -ENOMEM, "x"), ==, -ENOMEM);
}

TEST_MAIN("error",
	TEST_CASE(first_message_is_kept),
	TEST_CASE(context_is_prefixed),
	TEST_CASE(errno_text_without_message),
	TEST_CASE(null_error_is_allowed))
