/* The HTTP layer's pure parts: what is final, what is retried and when. */
#include <stdio.h>

#include "cache/http.h"
#include "test.h"
#include "util/jitter.h"

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

static void backoff_full_jitter(void)
{
	static const struct {
		const char *name;
		enum http_outcome outcome;
		bool throttled;
		unsigned retry_after_ms, attempt, max_attempts;
		double jitter;
		long want;
	} cases[] = {
		/* the wait is uniform below a ceiling: 100, 200, 400, 800 ms ... */
		{ "first retry, no jitter", HTTP_TRANSIENT, false, 0, 1, 5, 0.0, 0 },
		{ "first retry, half", HTTP_TRANSIENT, false, 0, 1, 5, 0.5, 50 },
		{ "first retry, top", HTTP_TRANSIENT, false, 0, 1, 5, 0.999, 99 },
		{ "third retry, half", HTTP_TRANSIENT, false, 0, 3, 5, 0.5, 200 },
		{ "fourth retry, top", HTTP_TRANSIENT, false, 0, 4, 5, 0.999, 799 },
		/* ... from 1 s when the cache throttled (503 SlowDown, 429) */
		{ "throttled, first, half", HTTP_TRANSIENT, true, 0, 1, 5, 0.5, 500 },
		{ "throttled, third, half", HTTP_TRANSIENT, true, 0, 3, 5, 0.5, 2000 },
		{ "throttled, fourth, top", HTTP_TRANSIENT, true, 0, 4, 5, 0.999, HTTP_THROTTLE_BACKOFF_MAX_MS * 999 / 1000 },
		/* the ceiling stops at HTTP_BACKOFF_MAX_MS however many attempts */
		{ "ceiling", HTTP_TRANSIENT, false, 0, 19, 20, 0.99, HTTP_BACKOFF_MAX_MS * 99 / 100 },
		{ "throttled ceiling", HTTP_TRANSIENT, true, 0, 30, 40, 0.5, HTTP_THROTTLE_BACKOFF_MAX_MS / 2 },
		/* Retry-After is waited in full, the jitter on top */
		{ "retry-after", HTTP_TRANSIENT, false, 2000, 1, 5, 0.0, 2000 },
		{ "retry-after + jitter", HTTP_TRANSIENT, true, 2000, 1, 5, 0.5, 2500 },
		{ "retry-after capped", HTTP_TRANSIENT, false, 3600 * 1000, 1, 5, 0.0, HTTP_RETRY_AFTER_MAX_MS },
		/* the budget: no wait after the last attempt */
		{ "budget spent", HTTP_TRANSIENT, false, 0, 5, 5, 0.5, -1 },
		{ "a throttled answer gets twice the budget", HTTP_TRANSIENT, true, 0, 5, 5, 0.5, 2000 },
		{ "twice the budget spent", HTTP_TRANSIENT, true, 1000, 10, 5, 0.5, -1 },
		{ "twice the budget of one attempt", HTTP_TRANSIENT, true, 0, 1, 1, 0.5, 500 },
		{ "no more", HTTP_TRANSIENT, true, 0, 2, 1, 0.5, -1 },
		{ "jitter out of range", HTTP_TRANSIENT, false, 0, 2, 5, 1.5, 0 },
		/* final outcomes are never retried */
		{ "not found", HTTP_NOT_FOUND, false, 0, 1, 5, 0.5, -1 },
		{ "fatal", HTTP_FATAL, false, 0, 1, 5, 0.5, -1 },
		{ "aborted", HTTP_ABORTED, true, 0, 1, 5, 0.5, -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_result res = { .outcome = cases[i].outcome, .throttled = cases[i].throttled,
					   .retry_after_ms = cases[i].retry_after_ms };
		long got = http_retry_delay_ms(&res, cases[i].attempt, cases[i].max_attempts, cases[i].jitter);
		if (got != cases[i].want)
			test_record_failure(__FILE__, __LINE__, "%s: %ld ms, want %ld", cases[i].name, got,
					    cases[i].want);
	}
}

/* Clients that failed together spread out: 20 clients, each with its own
 * seed, pick 20 different waits for the same failure. */
static void herd_spreads_out(void)
{
	struct http_result res = { .outcome = HTTP_TRANSIENT, .throttled = true };
	long waits[20];
	for (size_t i = 0; i < 20; i++) {
		uint64_t rng = jitter_seed();
		waits[i] = http_retry_delay_ms(&res, 2, 5, jitter_next(&rng));
		CHECK(waits[i] >= 0 && waits[i] < 2000);
	}
	size_t distinct = 0;
	for (size_t i = 0; i < 20; i++) {
		bool seen = false;
		for (size_t k = 0; k < i; k++)
			seen |= waits[k] == waits[i];
		distinct += !seen;
	}
	CHECK(distinct >= 15); /* ms resolution over 2 s: a few collisions at most */
}

/* AIMD: halve on throttling (once per burst), then widen a gap between
 * starts; good answers narrow the gap, then add connections. */
static void connection_limit(void)
{
	static const struct {
		const char *name;
		char event;       /* 'T' throttled, 'O' ok */
		uint64_t at_ms;
		unsigned want_limit, want_gap;
	} steps[] = {
		{ "starts at the maximum", 'O', 0, 16, 0 },
		{ "a 503 halves", 'T', 100, 8, 0 },
		{ "the same burst does not cut again", 'T', 150, 8, 0 },
		{ "nor later within the spacing", 'T', 99 + HTTP_CONN_CUT_SPACING_MS, 8, 0 },
		{ "a spacing later it does", 'T', 100 + HTTP_CONN_CUT_SPACING_MS, 4, 0 },
		{ "and again", 'T', 2100, 2, 0 },
		{ "and again", 'T', 3100, 1, 0 },
		{ "below one: a gap between starts", 'T', 4100, 1, HTTP_CONN_GAP_MIN_MS },
		{ "the gap doubles", 'T', 5100, 1, 2 * HTTP_CONN_GAP_MIN_MS },
		{ "and doubles", 'T', 6100, 1, 4 * HTTP_CONN_GAP_MIN_MS },
		{ "a good answer halves the gap", 'O', 6200, 1, 2 * HTTP_CONN_GAP_MIN_MS },
		{ "and the next", 'O', 6300, 1, HTTP_CONN_GAP_MIN_MS },
		{ "no gap below the minimum", 'O', 6400, 1, 0 },
		{ "one good answer at 1 grows to 2", 'O', 6800, 2, 0 },
		{ "1 of 2", 'O', 6900, 2, 0 },
		{ "2 of 2: 3", 'O', 7000, 3, 0 },
		{ "1 of 3", 'O', 7100, 3, 0 },
		{ "2 of 3", 'O', 7200, 3, 0 },
		{ "3 of 3: 4", 'O', 7300, 4, 0 },
		{ "throttled again: halved", 'T', 7400, 2, 0 },
		{ "not twice within the spacing", 'T', 7400 + HTTP_CONN_CUT_SPACING_MS - 1, 2, 0 },
	};
	struct http_conn_limit l;
	http_conn_limit_init(&l, 16);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		http_conn_limit_update(&l, steps[i].event == 'T' ? HTTP_CONN_THROTTLED : HTTP_CONN_OK,
				       steps[i].at_ms);
		if (l.limit != steps[i].want_limit || l.gap_ms != steps[i].want_gap) {
			test_record_failure(__FILE__, __LINE__, "step %zu (%s): limit %u gap %u ms, want %u, %u ms",
					    i, steps[i].name, l.limit, l.gap_ms, steps[i].want_limit,
					    steps[i].want_gap);
			return;
		}
	}
	/* the gap stops at its maximum */
	http_conn_limit_init(&l, 1);
	for (unsigned i = 0; i < 20; i++)
		http_conn_limit_update(&l, HTTP_CONN_THROTTLED, 1000 * (uint64_t)i);
	CHECK_INT(l.gap_ms, ==, HTTP_CONN_GAP_MAX_MS);
	/* grows back to the maximum, never past it */
	http_conn_limit_init(&l, 16);
	http_conn_limit_update(&l, HTTP_CONN_THROTTLED, 0);
	for (unsigned i = 0; i < 1000; i++)
		http_conn_limit_update(&l, HTTP_CONN_OK, 10000 + i);
	CHECK_INT(l.limit, ==, 16);
	CHECK_INT(l.gap_ms, ==, 0);
	http_conn_limit_init(&l, 0);
	CHECK_INT(l.limit, ==, 1);
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
	  TEST_CASE(backoff_full_jitter),
	  TEST_CASE(herd_spreads_out),
	  TEST_CASE(connection_limit),
	  TEST_CASE(retry_after_header))
