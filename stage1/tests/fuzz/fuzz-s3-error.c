/* S3's XML error answers on arbitrary bytes (the body comes from whatever
 * answered the request).  Input: two bytes of HTTP status, then the body.
 * Every field stays a terminated string within its limit, the message keeps
 * no control character, and the one-line description fits its buffer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/s3_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "broken: %s\n", #c); abort(); } } while (0)

static void terminated(const char *s, size_t cap)
{
	REQUIRE(memchr(s, '\0', cap) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	long status = 100 + (long)(((unsigned)data[0] << 8 | data[1]) % 500);
	const char *body = (const char *)data + 2;
	size_t len = size - 2;
	struct s3_error e;
	memset(&e, 0xa5, sizeof(e));
	s3_error_parse(status, len ? body : NULL, len, &e);
	REQUIRE(e.http_status == status);
	REQUIRE(e.cls >= S3_ERR_NOT_IN_CACHE && e.cls <= S3_ERR_OTHER);
	terminated(e.code, sizeof(e.code));
	terminated(e.message, sizeof(e.message));
	terminated(e.request_time, sizeof(e.request_time));
	terminated(e.server_time, sizeof(e.server_time));
	for (const char *p = e.message; *p; p++)
		REQUIRE((unsigned char)*p >= 0x20 && *p != 0x7f);
	REQUIRE(e.has_skew == 0 || e.has_skew == 1);
	REQUIRE(s3_error_class_name(e.cls) != NULL);

	/* the description fits any buffer, however small */
	char line[512];
	static const size_t sizes[] = { 1, 7, 64, sizeof(line) };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(line, 0x5a, sizeof(line));
		s3_error_describe(&e, line, sizes[i]);
		terminated(line, sizes[i]);
		for (size_t k = sizes[i]; k < sizeof(line); k++)
			REQUIRE(line[k] == 0x5a);
	}
	return 0;
}
