/* Store path syntax (src/libstore/path.cc). */
#include "nix/store_path.h"
#include "test.h"

#define H "c7hka4a9iij0n12kpiiqyjsx65hbs8l1"

static void good(void)
{
	static const char *const names[] = {
		H "-fixture-dep", H "-a", H "-a+b=c?d_e.f-1", H "-..a", H "-.a", H "-a..",
		H "-ABC-123", H "--", H "-...",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct ip_error err = { 0 };
		int r = nix_store_basename_check(names[i], strlen(names[i]), &err);
		if (r != 0)
			test_record_failure(__FILE__, __LINE__, "%s: %s", names[i], err.msg);
		CHECK_INT(r, ==, 0);
	}
	char longest[NIX_STORE_BASENAME_MAX + 1];
	memcpy(longest, H "-", 33);
	memset(longest + 33, 'x', NIX_STORE_NAME_MAX);
	longest[NIX_STORE_BASENAME_MAX] = '\0';
	CHECK_INT(nix_store_basename_check(longest, strlen(longest), NULL), ==, 0);
	const char *p = "/nix/store/" H "-fixture-top";
	CHECK_INT(nix_store_path_check(p, strlen(p), NULL), ==, 0);
	CHECK_STR(nix_store_path_basename(p), H "-fixture-top");
}

static void bad(void)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ H "-", "is not <32 base-32 characters>-<name>" },
		{ H, "is not <32 base-32 characters>-<name>" },
		{ H "x", "is not <32 base-32 characters>-<name>" },
		{ "c7hka4a9iij0n12kpiiqyjsx65hbs8l-ab", "is not <32 base-32 characters>-<name>" },
		{ "e7hka4a9iij0n12kpiiqyjsx65hbs8l1-a", "character 1 of the hash is not base-32" },
		{ "c7hka4a9iij0n12kpiiqyjsx65hbs8lU-a", "character 32 of the hash" },
		{ H "-a/b", "character 2 of the name is not one of" },
		{ H "-a b", "character 2 of the name" },
		{ H "-\xc3\xbc", "character 1 of the name" },
		{ H "-.", "is \".\" or \"..\"" },
		{ H "-..", "is \".\" or \"..\"" },
		{ H "-.-x", "starts with \".-\"" },
		{ H "-..-x", "starts with \".-\" or \"..-\"" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ip_error err = { 0 };
		int r = nix_store_basename_check(cases[i].text, strlen(cases[i].text), &err);
		if (r != -EINVAL || !strstr(err.msg, cases[i].msg)) {
			test_record_failure(__FILE__, __LINE__, "\"%s\": %d \"%s\"", cases[i].text, r, err.msg);
			return;
		}
	}
	char toolong[NIX_STORE_BASENAME_MAX + 2];
	memcpy(toolong, H "-", 33);
	memset(toolong + 33, 'x', NIX_STORE_NAME_MAX + 1);
	toolong[NIX_STORE_BASENAME_MAX + 1] = '\0';
	struct ip_error err = { 0 };
	CHECK_INT(nix_store_basename_check(toolong, strlen(toolong), &err), ==, -EINVAL);
	CHECK_CONTAINS(err.msg, "name longer than 211 characters");
	/* An embedded NUL within the given length is a bad character. */
	ip_error_clear(&err);
	CHECK_INT(nix_store_basename_check(H "-a\0b", 36, &err), ==, -EINVAL);
	CHECK_CONTAINS(err.msg, "\\x00");
}

static void bad_paths(void)
{
	static const char *const paths[] = {
		"/nix/store/", "/nix/store", "nix/store/" H "-a", "/nix/store//" H "-a",
		"/nix/store/" H "-a/bin", "/gnu/store/" H "-a", "/nix/store/" H "-a/",
		"/nix/storex/" H "-a",
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct ip_error err = { 0 };
		int r = nix_store_path_check(paths[i], strlen(paths[i]), &err);
		if (r != -EINVAL || !err.msg[0])
			test_record_failure(__FILE__, __LINE__, "\"%s\" accepted", paths[i]);
		CHECK_INT(r, ==, -EINVAL);
	}
}

TEST_MAIN("store-path",
	TEST_CASE(good),
	TEST_CASE(bad),
	TEST_CASE(bad_paths))
