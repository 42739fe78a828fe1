/* What becomes of a NAR transfer that has ended: the pipeline's one
 * decision, as a pure function of what happened (cache/download.c gathers
 * the outcome and carries the verdict out; test-download-decide.c walks
 * the table).
 *
 *   the run failed elsewhere                          -> FAIL (cancelled)
 *   whole, sizes and NarHash right                    -> COMMIT
 *   the decoder needs more than its share of memory   -> RETRY_AFTER 0, as a big stream
 *   a content error (corrupt data, bad NAR, a size or hash that does not
 *   match the signed narinfo), the first              -> REFETCH_OTHER (the same cache
 *                                                        when no other has the path)
 *   ... the second, or a compression we cannot read   -> FAIL
 *   any other stage error (disk full, ...)            -> FAIL
 *   a Range the cache would not serve                 -> RETRY_AFTER 0, from byte 0
 *   a transient HTTP error, attempts left             -> RETRY_AFTER the backoff, resumed
 *                                                        with Range where the stage stands
 *   ... none left                                     -> FAIL
 *   the NAR is missing (401/403/404/410)              -> REFETCH_OTHER (FAIL when no
 *                                                        other cache has the path)
 *   anything else (TLS, 400, a redirect refused)      -> FAIL */
#ifndef IP_CACHE_DOWNLOAD_DECIDE_H
#define IP_CACHE_DOWNLOAD_DECIDE_H

#include <stdbool.h>

#include "cache/http.h"

struct job_outcome {
	bool cancelled;              /* the run has failed: every job ends */
	int stage_error;             /* 0, or the stage's error: -E2BIG (decoder memory),
				      * -EBADMSG (content), -ENOTSUP (compression), other */
	unsigned content_failures;   /* content errors of this NAR before this one */
	enum http_outcome http;      /* how the transfer ended */
	bool range_refused;          /* a resumed transfer answered 416 or the whole file */
	bool can_resume;             /* the stage stands where the cut left it, the cache
				      * serves ranges, and the URL is not file:// */
	long retry_delay_ms;         /* http_retry_delay_ms for the next attempt; < 0: none */
};

enum download_verdict {
	DOWNLOAD_COMMIT,
	DOWNLOAD_RETRY_AFTER,
	DOWNLOAD_REFETCH_OTHER,
	DOWNLOAD_FAIL,
};

/* Why: the words of the log line and the message. */
enum download_reason {
	DOWNLOAD_VERIFIED,
	DOWNLOAD_CANCELLED,
	DOWNLOAD_DECODER_MEMORY,     /* fetched again, decoded as a big stream */
	DOWNLOAD_CONTENT,            /* the first content error */
	DOWNLOAD_CONTENT_FINAL,      /* the second, or an unreadable compression */
	DOWNLOAD_LOCAL,              /* the stage failed for a local reason (disk, ...) */
	DOWNLOAD_RANGE_REFUSED,
	DOWNLOAD_TRANSIENT,
	DOWNLOAD_GAVE_UP,            /* transient, no attempt left */
	DOWNLOAD_MISSING,            /* the cache says the NAR is not there */
	DOWNLOAD_HTTP_FATAL,
};

struct download_decision {
	enum download_verdict verdict;
	enum download_reason reason;
	unsigned delay_ms;           /* RETRY_AFTER */
	bool resume;                 /* RETRY_AFTER: Range from where the stage stands;
				      * false: the partial tree goes, from byte 0 */
};

struct download_decision download_decide(const struct job_outcome *o);

const char *download_verdict_name(enum download_verdict v);
const char *download_reason_name(enum download_reason r);

#endif
