/* The HTTP layer's pure parts: what is final, what is retried and when. */
#include <stdio.h>

#include "cache/http.h"
#include "test.h"

static void classification(void)
{
	static const struct {
		CURLcode code;
		long status;
		bool file;
		enum http_outcome want;
	} cases[] = {
		{ CURLE_OK, 200, false, HTTP_OK },
		{ CURLE_OK, 206, false, HTTP_OK },
		{ CURLE_OK, 404, false, HTTP_NOT_FOUND },
		{ CURLE_OK, 403, false, HTTP_NOT_FOUND },
		{ CURLE_OK, 401, false, HTTP_NOT_FOUND },
		{ CURLE_OK, 410, false, HTTP_NOT_FOUND },
		{ CURLE_OK, 408, false, HTTP_TRANSIENT },
		{ CURLE_OK, 429, false, HTTP_TRANSIENT },
		{ CURLE_OK, 500, false, HTTP_TRANSIENT },
		{ CURLE_OK, 503, false, HTTP_TRANSIENT },
		{ CURLE_OK, 599, false, HTTP_TRANSIENT },
		{ CURLE_OK, 400, false, HTTP_FATAL },
		{ CURLE_OK, 405, false, HTTP_FATAL },
		{ CURLE_OK, 301, false, HTTP_FATAL },
		{ CURLE_OK, 0, true, HTTP_OK },
		{ CURLE_OK, 0, false, HTTP_FATAL },
		{ CURLE_COULDNT_CONNECT, 0, false, HTTP_TRANSIENT },
		{ CURLE_COULDNT_RESOLVE_HOST, 0, false, HTTP_TRANSIENT },
		{ CURLE_OPERATION_TIMEDOUT, 0, false, HTTP_TRANSIENT },
		{ CURLE_RECV_ERROR, 200, false, HTTP_TRANSIENT },
		{ CURLE_PARTIAL_FILE, 200, false, HTTP_TRANSIENT },
		{ CURLE_GOT_NOTHING, 0, false, HTTP_TRANSIENT },
		{ CURLE_SSL_CONNECT_ERROR, 0, false, HTTP_TRANSIENT },
		{ CURLE_PEER_FAILED_VERIFICATION, 0, false, HTTP_FATAL },
		{ CURLE_SSL_CACERT_BADFILE, 0, false, HTTP_FATAL },
		{ CURLE_UNSUPPORTED_PROTOCOL, 0, false, HTTP_FATAL },
		{ CURLE_TOO_MANY_REDIRECTS, 0, false, HTTP_FATAL },
		{ CURLE_WRITE_ERROR, 200, false, HTTP_ABORTED },
		{ CURLE_FILE_COULDNT_READ_FILE, 0, true, HTTP_NOT_FOUND },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum http_outcome got = http_classify(cases[i].code, cases[i].status, cases[i].file);
		if (got != cases[i].want) {
			test_record_failure(__FILE__, __LINE__, "case %zu (curl %d, HTTP %ld): %s, want %s",
					    i, cases[i].code, cases[i].status, http_outcome_name(got),
					    http_outcome_name(cases[i].want));
			return;
		}
	}
}

static void backoff_like_nix(void)
{
	struct http_result res = { .outcome = HTTP_TRANSIENT };
	/* 5 attempts: waits after attempts 1-4, none after the 5th */
	CHECK_INT(http_retry_delay_ms(&res, 1, 5, 0.0), ==, 100);
	CHECK_INT(http_retry_delay_ms(&res, 2, 5, 0.0), ==, 200);
	CHECK_INT(http_retry_delay_ms(&res, 3, 5, 0.0), ==, 400);
	CHECK_INT(http_retry_delay_ms(&res, 4, 5, 0.0), ==, 800);
	CHECK_INT(http_retry_delay_ms(&res, 5, 5, 0.0), ==, -1);
	/* jitter stretches by up to sqrt(2) */
	long j = http_retry_delay_ms(&res, 2, 5, 0.99);
	CHECK(j > 200 && j <= 283);
	/* bounded however many attempts are allowed */
	CHECK_INT(http_retry_delay_ms(&res, 19, 20, 0.99), ==, HTTP_BACKOFF_MAX_MS);
	/* Retry-After wins, up to its cap */
	res.retry_after_ms = 2000;
	CHECK_INT(http_retry_delay_ms(&res, 1, 5, 0.5), ==, 2000);
	res.retry_after_ms = 3600 * 1000;
	CHECK_INT(http_retry_delay_ms(&res, 1, 5, 0.5), ==, HTTP_RETRY_AFTER_MAX_MS);
	/* final outcomes are never retried */
	res.outcome = HTTP_NOT_FOUND;
	CHECK_INT(http_retry_delay_ms(&res, 1, 5, 0.0), ==, -1);
	res.outcome = HTTP_FATAL;
	CHECK_INT(http_retry_delay_ms(&res, 1, 5, 0.0), ==, -1);
}

static void retry_after_header(void)
{
	const long now = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */
	static const struct {
		const char *value;
		unsigned want;
	} cases[] = {
		{ " 5\r\n", 5000 },
		{ "120", 120000 },
		{ "0", 1 },
		{ "99999999", 86400000 },
		{ " Tue, 14 Nov 2023 22:13:30 GMT\r\n", 10000 },
		{ "Tue, 14 Nov 2023 22:00:00 GMT", 1 },
		{ "soon", 0 },
		{ "-3", 0 },
		{ "5s", 0 },
		{ "", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned got = http_parse_retry_after(cases[i].value, strlen(cases[i].value), now);
		if (got != cases[i].want) {
			test_record_failure(__FILE__, __LINE__, "'%s': %u, want %u", cases[i].value, got,
					    cases[i].want);
			return;
		}
	}
}

TEST_MAIN("http",
	  TEST_CASE(classification),
	  TEST_CASE(backoff_like_nix),
	  TEST_CASE(retry_after_header))
