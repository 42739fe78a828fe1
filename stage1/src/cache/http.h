/* The HTTP layer: ONE thread running the curl multi interface for every
 * transfer of a run (narinfos, nix-cache-info, NARs).
 *
 * Other threads hand it requests (http_submit), ask it to resume a paused
 * transfer (http_resume) or to cancel one (http_cancel); it wakes up through
 * curl_multi_wakeup.  All curl calls happen on that thread, so
 * curl_easy_pause is only ever called where curl allows it.
 *
 * Two kinds of requests:
 *   - buffered (ops->on_data == NULL): the body is collected, up to
 *     max_body bytes, and retried here on transient failures (connection
 *     errors, timeouts, stalls, 408, 429, 5xx) with bounded exponential
 *     backoff; on_done gets the body, decoded when the answer has a
 *     Content-Encoding (cache/content_encoding.h), and max_body bounds the
 *     decoded body too.
 *   - streaming: on_data gets the body as it arrives and may return
 *     HTTP_PAUSE for back-pressure; such a request is not retried here
 *     (the consumer has state to reset), it gets the outcome in on_done and
 *     decides with http_retry_delay_ms.
 *
 * file:// URLs are read by this thread itself (curl's file protocol cannot
 * pause), chunk by chunk between the network work, with the same callbacks.
 *
 * Redirects: curl follows them for unsigned requests.  A request the
 * substituter signs (prepare_request) is never followed by curl: on a
 * redirect to another host curl 7.88 drops Authorization but sends every
 * CURLOPT_HTTPHEADER line again, x-amz-security-token included (seen with
 * Debian's 7.88.1).  Each hop is checked here instead (cache/origin.h): a
 * Location inside the cache is requested again, signed anew; any other
 * ends the request, HTTP_FATAL, without a byte sent there.
 *
 * Request states, changed only on the HTTP thread through one function that
 * logs at debug:  QUEUED -> ACTIVE <-> PAUSED -> DONE  (QUEUED -> DONE on a
 * cancel before start).
 *
 * Every wait ends here, whatever the server does (README "Reliability"):
 *   - a transfer receiving less than min_rate bytes/s on average over a
 *     stall_timeout window while not paused (headers included; at least
 *     HTTP_STALL_MIN_BYTES) is aborted as a transient error: a stall, or a
 *     drip that would otherwise never end;
 *   - a non-2xx body is read up to HTTP_ERROR_BODY_READ_MAX bytes, then the
 *     transfer ends and the answer counts by its status (an endless error
 *     body streamed 83 GB in 45 s before);
 *   - once the client's deadline passes, every queued and running request
 *     ends with HTTP_FATAL and res->deadline set, and so does every later one.
 */
#ifndef IP_CACHE_HTTP_H
#define IP_CACHE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "cache/content_encoding.h"
#include "cache/substituter.h"
#include "util/error.h"

#define HTTP_DEFAULT_CONNECTIONS 25
/* The most bytes one on_data call delivers: curl's receive buffer.  curl's
 * default; a bigger one saved no CPU here and, allocated by curl for every
 * transfer, cost an mmap and a munmap per request under musl. */
#define HTTP_RECV_BUFFER (16 * 1024)
#define HTTP_DEFAULT_ATTEMPTS 5            /* like Nix's download-attempts ... */
#define HTTP_THROTTLED_ATTEMPTS_FACTOR 2   /* ... twice that while the cache throttles */
#define HTTP_BACKOFF_BASE_MS 100           /* like Nix: 100 ms, doubling ... */
#define HTTP_THROTTLE_BACKOFF_BASE_MS 1000 /* ... from 1 s after a 503 or a 429 (AWS SDKs) */
#define HTTP_BACKOFF_MAX_MS 10000          /* the ceiling never exceeds this ... */
#define HTTP_THROTTLE_BACKOFF_MAX_MS 4000  /* ... this while throttled (the gap paces) */
#define HTTP_RETRY_AFTER_MAX_MS 30000      /* ... a Retry-After is honoured up to this */
/* Connection limit while the cache throttles: see struct http_conn_limit. */
#define HTTP_CONN_CUT_SPACING_MS 250
#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define HTTP_DEFAULT_STALL_TIMEOUT_MS 30000
#define HTTP_STALL_MIN_BYTES 1024          /* less than this per stall window = stalled */
#define HTTP_ERROR_BODY_MAX 4096           /* kept from 4xx answers for classify_error */
#define HTTP_MAX_REDIRECTS 10              /* hops of one request */
/* Read of a non-2xx body at most; more ends the transfer.  Above the kept
 * part, so an ordinary error page leaves the connection reusable. */
#define HTTP_ERROR_BODY_READ_MAX (64 * 1024)
/* The rate floor: a NAR of hundreds of MiB at this rate would still take
 * hours, but a drip (1 KiB every 1.5 s passed the stall check forever) ends
 * within one window; the whole-fetch deadline bounds the rest. */
#define HTTP_DEFAULT_MIN_RATE 4096         /* bytes/s, averaged over a stall window */
#define HTTP_DEFAULT_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

/* Returned by on_data to pause the transfer (curl keeps the bytes and
 * delivers them again after http_resume). */
#define HTTP_PAUSE CURL_WRITEFUNC_PAUSE

enum http_outcome {
	HTTP_OK,          /* 2xx (or a file:// read) */
	HTTP_NOT_FOUND,   /* 401, 403, 404, 410: final, "not in this cache" */
	HTTP_TRANSIENT,   /* worth another attempt */
	HTTP_FATAL,       /* anything else: a certificate error, 400, ... */
	HTTP_ABORTED,     /* cancelled, or on_data refused the bytes */
};

const char *http_outcome_name(enum http_outcome o);

struct http_result {
	enum http_outcome outcome;
	CURLcode curl_code;
	long status;                  /* 0 when no HTTP answer */
	bool stalled;                 /* aborted by the stall detector (or the rate floor) */
	bool too_slow;                /* ... because of the rate floor (bytes arrived, too few) */
	bool deadline;                /* ended because the client's deadline passed */
	bool throttled;               /* 503 or 429: the cache asks for fewer requests */
	unsigned retry_after_ms;      /* from Retry-After (0 = none) */
	unsigned attempts;            /* attempts made (buffered requests) */
	uint64_t bytes;               /* body bytes received in the last attempt */
	char *body;                   /* buffered requests: the body, NUL-terminated */
	size_t body_len;
	char message[320];            /* one line, for errors: curl's or "HTTP 404" */
	struct ip_error hook_error;   /* set when classify_error said SUBST_FAIL */
};

struct http_request;

struct http_request_ops {
	/* HTTP thread.  Return len to accept, HTTP_PAUSE, or 0 to abort. */
	size_t (*on_data)(void *ctx, const void *data, size_t len);
	/* HTTP thread, exactly once per submit.  `res` lives for the call. */
	void (*on_done)(void *ctx, struct http_request *req, const struct http_result *res);
};

enum http_req_state { HTTP_REQ_IDLE, HTTP_REQ_QUEUED, HTTP_REQ_ACTIVE, HTTP_REQ_PAUSED,
		      HTTP_REQ_DONE };

/* Owned by the caller (zero it before the first submit), who must keep it alive (and not touch the fields
 * below the line) from http_submit until on_done has returned. */
struct http_request {
	const char *url;
	const struct substituter *sub;    /* hooks; NULL for none */
	bool use_hooks;                   /* false for URLs outside the cache */
	const struct http_request_ops *ops;
	void *ctx;
	size_t max_body;                  /* buffered requests */
	/* Streaming http(s) requests: the body from this byte on (Range:
	 * bytes=N-).  A server that ignores Range (200) or refuses it (416)
	 * ends the request as HTTP_FATAL with curl_code CURLE_RANGE_ERROR or
	 * status 416, before any body byte is delivered. */
	uint64_t range_start;
	unsigned max_attempts;            /* buffered requests; 0 = client default */
	/* Starts before the queued requests without it (in submission order
	 * among those that have it): the NAR transfers, of which there are
	 * few at a time, are not kept waiting behind hundreds of narinfos. */
	bool ahead;
	/* ---- private to http.c ---- */
	enum http_req_state state;
	bool want_resume, want_cancel, too_large, error_body_cut;
	char content_encoding[CONTENT_ENCODING_NAME_MAX + 1]; /* of the answer; buffered requests */
	CURL *easy;
	int file_fd;                      /* file:// transfers (read here, not by curl) */
	unsigned char *file_buf;
	size_t file_pending;
	struct curl_slist *headers;
	char *hop_url;                    /* signed: where a redirect inside the cache led (until on_done) */
	unsigned hops;
	uint64_t not_before_ms;
	uint64_t window_start_ms, window_bytes;
	uint64_t error_body_bytes;        /* of a non-2xx answer, read so far */
	struct http_result res;
	size_t body_cap;
	char errbuf[CURL_ERROR_SIZE];
	struct http_request *next, *prev;
	struct http_client *client;
};

struct http_client_options {
	unsigned max_connections;         /* 0 = HTTP_DEFAULT_CONNECTIONS */
	unsigned max_attempts;            /* 0 = HTTP_DEFAULT_ATTEMPTS */
	unsigned connect_timeout_ms;      /* 0 = default */
	unsigned stall_timeout_ms;        /* 0 = default */
	unsigned min_rate;                /* bytes/s per stall window; 0 = HTTP_DEFAULT_MIN_RATE */
	uint64_t deadline_ms;             /* CLOCK_MONOTONIC ms after which every request
					   * fails (res->deadline); 0 = none */
	const char *ca_bundle;            /* NULL = HTTP_DEFAULT_CA_BUNDLE */
	bool verbose;                     /* curl's own debug output */
};

struct http_stats {
	unsigned requests;                /* attempts started */
	unsigned retries;                 /* attempts after the first (buffered) */
	unsigned stalls;
	unsigned throttled;               /* answers 503 or 429 */
	unsigned most_attempts;           /* the most one buffered request took */
	unsigned connections_low;         /* the lowest the connection limit went */
	unsigned gap_high_ms;             /* the widest gap between starts (below 1) */
	uint64_t bytes;                   /* body bytes received */
};

/* How many transfers may run at once while a cache throttles (S3 answers
 * 503 SlowDown when a prefix gets more requests than it sustains, about
 * 5,500 GET/s): additive increase, multiplicative decrease, like TCP's
 * congestion window.  A throttling answer halves the limit, but at most
 * once per HTTP_CONN_CUT_SPACING_MS, because every transfer in flight when
 * the cache starts refusing answers 503 at about the same time.  Below one
 * connection the cut goes on as a gap between the starts of requests
 * (HTTP_CONN_GAP_MIN_MS, doubling up to HTTP_CONN_GAP_MAX_MS): one
 * connection of each of a thousand instances is still a storm.  Good
 * answers undo it: each halves the gap (HTTP_CONN_GAP_OKS), then
 * `limit` of them since the last change add one connection, back up to
 * `max`.  Pure: the HTTP thread owns one. */
#define HTTP_CONN_GAP_MIN_MS 50
#define HTTP_CONN_GAP_MAX_MS 1000
#define HTTP_CONN_GAP_OKS 1               /* good answers that halve the gap */
struct http_conn_limit {
	unsigned limit, max;
	unsigned gap_ms;                  /* between request starts; 0 when limit > 1 */
	unsigned ok_since_change;
	uint64_t last_cut_ms;
	bool cut_before;
};
enum http_conn_event { HTTP_CONN_OK, HTTP_CONN_THROTTLED };
void http_conn_limit_init(struct http_conn_limit *l, unsigned max);
/* Returns true when the limit or the gap changed. */
bool http_conn_limit_update(struct http_conn_limit *l, enum http_conn_event ev, uint64_t now_ms);

struct http_client;

int http_client_start(const struct http_client_options *opts, struct http_client **out,
		      struct ip_error *err);
/* Cancels whatever is still queued or running (each gets on_done with
 * HTTP_ABORTED), stops the thread and frees the client. */
void http_client_stop(struct http_client *client);
void http_client_stats(struct http_client *client, struct http_stats *out);
unsigned http_client_max_attempts(const struct http_client *client);
/* True once a request was failed because the deadline had passed. */
bool http_client_deadline_passed(struct http_client *client);

/* Any thread.  Starts the request after `delay_ms`. */
void http_submit(struct http_client *client, struct http_request *req, unsigned delay_ms);
/* Any thread.  Resumes a transfer that on_data paused (no-op otherwise). */
void http_resume(struct http_client *client, struct http_request *req);
/* Any thread.  The request ends with HTTP_ABORTED unless it already ended. */
void http_cancel(struct http_client *client, struct http_request *req);
/* Frees the body of a buffered request's result (call after on_done, or
 * steal res->body and set it NULL). */
void http_request_reset(struct http_request *req);

/* Pure, for tests and for consumers of streaming requests. */
enum http_outcome http_classify(CURLcode code, long status, bool file_url);
/* Milliseconds to wait before attempt number `attempt + 1` (attempt >= 1
 * failed), or -1 when no attempt is left or the outcome is not transient.
 * The budget is max_attempts, HTTP_THROTTLED_ATTEMPTS_FACTOR times that
 * when the last answer was a 503 or a 429: a throttling cache is asking for
 * time, not failing (a herd of instances booting at once finds S3
 * throttling for seconds); the caller's deadline bounds both.
 * Full jitter: `jitter` in [0, 1) picks the wait uniformly below a ceiling
 * that doubles per attempt from HTTP_BACKOFF_BASE_MS (from
 * HTTP_THROTTLE_BACKOFF_BASE_MS when the cache throttled), up to
 * HTTP_BACKOFF_MAX_MS (HTTP_THROTTLE_BACKOFF_MAX_MS: while throttled the
 * connection limit paces the client, and a long wait on one narinfo holds
 * up the whole closure), so that clients that failed together do not retry
 * together.  A Retry-After (up to HTTP_RETRY_AFTER_MAX_MS) is waited in
 * full, with the jittered wait on top for the same reason. */
long http_retry_delay_ms(const struct http_result *res, unsigned attempt, unsigned max_attempts,
			 double jitter);
/* Retry-After: delta-seconds or an HTTP date.  0 when absent/unparseable. */
unsigned http_parse_retry_after(const char *value, size_t len, long now_s);
/* One line describing a failed result: "HTTP 503", "Connection refused", ... */
void http_describe(const struct http_result *res, char *out, size_t out_size);

#endif
