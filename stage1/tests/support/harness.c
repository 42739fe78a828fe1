#include "test.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static bool case_failed;
static bool case_skipped;
static char case_reason[1024];

void test_record_failure(const char *file, int line, const char *fmt, ...)
{
	char what[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (!case_failed)
		snprintf(case_reason, sizeof(case_reason), "%s:%d: %s", file, line, what);
	case_failed = true;
}

void test_record_skip(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(case_reason, sizeof(case_reason), fmt, ap);
	va_end(ap);
	case_skipped = true;
}

const char *test_data_dir(void)
{
	const char *dir = getenv("IP_TEST_DATA");
	return dir && *dir ? dir : "stage1/tests/data";
}

unsigned char *test_read_data(const char *relpath, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", test_data_dir(), relpath);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	unsigned char *buf = malloc(cap);
	size_t got;
	while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			unsigned char *bigger = realloc(buf, cap *= 2);
			if (!bigger) {
				free(buf);
				buf = NULL;
			}
			buf = bigger;
		}
	}
	fclose(f);
	if (len)
		*len = n;
	return buf;
}

int test_main(const char *suite, const struct test_case *cases, size_t n, int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL; /* run one case by name */
	int failures = 0;
	for (size_t i = 0; i < n; i++) {
		if (only && strcmp(only, cases[i].name) != 0)
			continue;
		case_failed = case_skipped = false;
		case_reason[0] = '\0';
		cases[i].fn();
		if (case_failed) {
			printf("FAIL: %s: %s: %s\n", suite, cases[i].name, case_reason);
			failures++;
		} else if (case_skipped) {
			printf("SKIP: %s: %s: %s\n", suite, cases[i].name, case_reason);
		} else {
			printf("PASS: %s: %s\n", suite, cases[i].name);
		}
		fflush(stdout);
	}
	return failures ? 1 : 0;
}
