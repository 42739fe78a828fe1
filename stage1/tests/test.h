/* A small unit-test harness.  Every test program (and every integration
 * script) prints one line per test case:
 *     PASS: <suite>: <case>
 *     FAIL: <suite>: <case>: <why>
 *     SKIP: <suite>: <case>: <why>
 * and tools/run-tests adds them up into "N passed, N failed, N skipped". */
#ifndef IP_TESTS_TEST_H
#define IP_TESTS_TEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

/* Called by the macros below; a test case fails if it records a failure. */
void test_record_failure(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void test_record_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int test_main(const char *suite, const struct test_case *cases, size_t n, int argc, char **argv);
/* Directory with test data (stage1/tests/data), from $IP_TEST_DATA or the
 * path relative to the repository root. */
const char *test_data_dir(void);
/* Reads a whole file under test_data_dir(); returns malloc'd bytes or NULL. */
unsigned char *test_read_data(const char *relpath, size_t *len);

#define CHECK(cond) do { \
	if (!(cond)) { test_record_failure(__FILE__, __LINE__, "%s", #cond); return; } \
} while (0)

#define CHECK_INT(a, op, b) do { \
	long long _a = (long long)(a), _b = (long long)(b); \
	if (!(_a op _b)) { \
		test_record_failure(__FILE__, __LINE__, "%s %s %s (%lld vs %lld)", #a, #op, #b, _a, _b); \
		return; \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *_a = (a), *_b = (b); \
	if (!_a || !_b || strcmp(_a, _b) != 0) { \
		test_record_failure(__FILE__, __LINE__, "%s == %s (\"%s\" vs \"%s\")", #a, #b, \
			_a ? _a : "(null)", _b ? _b : "(null)"); \
		return; \
	} \
} while (0)

/* Checks that haystack contains needle (for error messages). */
#define CHECK_CONTAINS(haystack, needle) do { \
	const char *_h = (haystack), *_n = (needle); \
	if (!_h || !strstr(_h, _n)) { \
		test_record_failure(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"", \
			_h ? _h : "(null)", _n); \
		return; \
	} \
} while (0)

#define CHECK_MEM(a, b, n) do { \
	if (memcmp((a), (b), (n)) != 0) { \
		test_record_failure(__FILE__, __LINE__, "memcmp(%s, %s, %s) != 0", #a, #b, #n); \
		return; \
	} \
} while (0)

#define SKIP(...) do { test_record_skip(__VA_ARGS__); return; } while (0)

#define TEST_CASE(fn) { #fn, fn }
#define TEST_MAIN(suite, ...) \
	int main(int argc, char **argv) { \
		static const struct test_case cases[] = { __VA_ARGS__ }; \
		return test_main(suite, cases, sizeof(cases) / sizeof(cases[0]), argc, argv); \
	}

#endif
