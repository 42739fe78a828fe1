/* download_decide: what becomes of a NAR transfer that has ended, one row
 * per line of the table in cache/download_decide.h.  The actions around it
 * (retries, Range resumes, other caches) are tested end to end against
 * hostile servers in fetch-errors.test.sh, resume.test.sh and faults.test.sh. */
#include <errno.h>

#include "cache/download_decide.h"
#include "test.h"

#define COMMIT DOWNLOAD_COMMIT
#define RETRY DOWNLOAD_RETRY_AFTER
#define OTHER DOWNLOAD_REFETCH_OTHER
#define FAIL DOWNLOAD_FAIL

struct decide_case {
	const char *name;
	struct job_outcome in;
	enum download_verdict verdict;
	enum download_reason reason;
	unsigned delay_ms;
	bool resume;
};

static const struct decide_case decide_cases[] = {
	{ "whole and verified", { .http = HTTP_OK, .retry_delay_ms = -1 },
	  COMMIT, DOWNLOAD_VERIFIED, 0, false },
	{ "the run failed elsewhere, even if whole", { .cancelled = true, .http = HTTP_OK },
	  FAIL, DOWNLOAD_CANCELLED, 0, false },
	{ "the run failed while this one was cut", { .cancelled = true, .http = HTTP_TRANSIENT,
	  .retry_delay_ms = 100 }, FAIL, DOWNLOAD_CANCELLED, 0, false },
	{ "decoder needs more than its share", { .stage_error = -E2BIG, .http = HTTP_ABORTED },
	  RETRY, DOWNLOAD_DECODER_MEMORY, 0, false },
	{ "first content error", { .stage_error = -EBADMSG, .http = HTTP_OK },
	  OTHER, DOWNLOAD_CONTENT, 0, false },
	{ "first content error, transfer stopped by it", { .stage_error = -EBADMSG,
	  .http = HTTP_ABORTED }, OTHER, DOWNLOAD_CONTENT, 0, false },
	{ "second content error", { .stage_error = -EBADMSG, .content_failures = 1, .http = HTTP_OK },
	  FAIL, DOWNLOAD_CONTENT_FINAL, 0, false },
	{ "a compression that cannot be read", { .stage_error = -ENOTSUP, .http = HTTP_ABORTED },
	  FAIL, DOWNLOAD_CONTENT_FINAL, 0, false },
	{ "disk full", { .stage_error = -ENOSPC, .http = HTTP_ABORTED },
	  FAIL, DOWNLOAD_LOCAL, 0, false },
	{ "read-only store", { .stage_error = -EROFS, .http = HTTP_OK },
	  FAIL, DOWNLOAD_LOCAL, 0, false },
	{ "a stage error beats a transient cut", { .stage_error = -ENOSPC, .http = HTTP_TRANSIENT,
	  .retry_delay_ms = 50 }, FAIL, DOWNLOAD_LOCAL, 0, false },
	{ "Range refused: from byte 0 at once", { .http = HTTP_FATAL, .range_refused = true },
	  RETRY, DOWNLOAD_RANGE_REFUSED, 0, false },
	{ "cut, resumable", { .http = HTTP_TRANSIENT, .can_resume = true, .retry_delay_ms = 250 },
	  RETRY, DOWNLOAD_TRANSIENT, 250, true },
	{ "cut before a byte, or file://", { .http = HTTP_TRANSIENT, .retry_delay_ms = 1000 },
	  RETRY, DOWNLOAD_TRANSIENT, 1000, false },
	{ "cut, no attempt left", { .http = HTTP_TRANSIENT, .can_resume = true, .retry_delay_ms = -1 },
	  FAIL, DOWNLOAD_GAVE_UP, 0, false },
	{ "NAR missing (404)", { .http = HTTP_NOT_FOUND, .retry_delay_ms = -1 },
	  OTHER, DOWNLOAD_MISSING, 0, false },
	{ "TLS error, 400, a redirect refused", { .http = HTTP_FATAL, .retry_delay_ms = -1 },
	  FAIL, DOWNLOAD_HTTP_FATAL, 0, false },
	{ "aborted without a stage error", { .http = HTTP_ABORTED, .retry_delay_ms = -1 },
	  FAIL, DOWNLOAD_HTTP_FATAL, 0, false },
};

static void table(void)
{
	for (size_t i = 0; i < sizeof(decide_cases) / sizeof(decide_cases[0]); i++) {
		const struct decide_case *c = &decide_cases[i];
		struct download_decision d = download_decide(&c->in);
		if (d.verdict != c->verdict || d.reason != c->reason || d.delay_ms != c->delay_ms ||
		    d.resume != c->resume)
			test_record_failure(__FILE__, __LINE__, "%s: got %s/%s/%u/%d, want %s/%s/%u/%d",
					    c->name, download_verdict_name(d.verdict),
					    download_reason_name(d.reason), d.delay_ms, d.resume,
					    download_verdict_name(c->verdict),
					    download_reason_name(c->reason), c->delay_ms, c->resume);
	}
}

/* Only RETRY_AFTER waits or resumes; every verdict and reason has a name. */
static void decisions_are_consistent(void)
{
	for (size_t i = 0; i < sizeof(decide_cases) / sizeof(decide_cases[0]); i++) {
		struct download_decision d = download_decide(&decide_cases[i].in);
		CHECK(d.verdict == DOWNLOAD_RETRY_AFTER || (d.delay_ms == 0 && !d.resume));
		CHECK(strcmp(download_verdict_name(d.verdict), "?") != 0);
		CHECK(strcmp(download_reason_name(d.reason), "?") != 0);
	}
	CHECK_STR(download_verdict_name(DOWNLOAD_REFETCH_OTHER), "refetch-other");
	CHECK_STR(download_reason_name(DOWNLOAD_RANGE_REFUSED), "range-refused");
}

TEST_MAIN("download-decide",
	TEST_CASE(table),
	TEST_CASE(decisions_are_consistent))
