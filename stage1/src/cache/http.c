#include "cache/http.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache/origin.h"
#include "util/clock.h"
#include "util/jitter.h"
#include "util/log.h"
#include "util/text.h"

#ifndef IP_VERSION
#define IP_VERSION "unknown"
#endif

/* Finished easy handles kept for reuse (more than the connections, so a
 * retry storm does not free and allocate them again). */
#define HTTP_IDLE_EASY_MAX 64
/* The loop wakes at least this often to look for stalled transfers. */
#define HTTP_TICK_MS 250

struct http_client {
	struct http_client_options o;
	CURLM *multi;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	/* under lock */
	struct http_request *queue_head, *queue_tail;  /* submitted, not started */
	bool stopping;
	bool deadline_passed;
	struct http_stats stats;
	/* HTTP thread only */
	struct http_request *active;                     /* in the multi handle */
	unsigned n_active;
	struct http_conn_limit conn_limit;
	uint64_t next_start_ms;                          /* conn_limit.gap_ms apart */
	uint64_t rng;
	/* Easy handles of finished transfers, reset and kept for the next ones
	 * (curl's advice: the handle's own state is allocated once, not once
	 * per narinfo and NAR; curl still allocates the receive buffer per
	 * transfer, see HTTP_RECV_BUFFER). */
	CURL *idle_easy[HTTP_IDLE_EASY_MAX];
	unsigned n_idle_easy;
};

static const char *const state_names[] = {
	[HTTP_REQ_IDLE] = "idle", [HTTP_REQ_QUEUED] = "queued", [HTTP_REQ_ACTIVE] = "active",
	[HTTP_REQ_PAUSED] = "paused", [HTTP_REQ_DONE] = "done",
};

const char *http_outcome_name(enum http_outcome o)
{
	switch (o) {
	case HTTP_OK: return "ok";
	case HTTP_NOT_FOUND: return "not found";
	case HTTP_TRANSIENT: return "transient error";
	case HTTP_FATAL: return "error";
	case HTTP_ABORTED: return "aborted";
	}
	return "?";
}

/* Every state change goes through here (with the client lock held). */
static void set_state_locked(struct http_request *req, enum http_req_state state)
{
	if (req->state != state)
		log_debug("http: %s: %s -> %s", req->url, state_names[req->state], state_names[state]);
	req->state = state;
}

static void set_state(struct http_client *c, struct http_request *req, enum http_req_state state)
{
	pthread_mutex_lock(&c->lock);
	set_state_locked(req, state);
	pthread_mutex_unlock(&c->lock);
}

/* ---- pure helpers ------------------------------------------------------ */

enum http_outcome http_classify(CURLcode code, long status, bool file_url)
{
	switch (code) {
	case CURLE_OK:
		if (file_url && status == 0)
			return HTTP_OK;
		if (status >= 200 && status < 300)
			return HTTP_OK;
		if (status == 401 || status == 403 || status == 404 || status == 410)
			return HTTP_NOT_FOUND;
		if (status == 408 || status == 429 || (status >= 500 && status < 600))
			return HTTP_TRANSIENT;
		return HTTP_FATAL;
	case CURLE_FILE_COULDNT_READ_FILE:
		return HTTP_NOT_FOUND;
	case CURLE_WRITE_ERROR:
	case CURLE_ABORTED_BY_CALLBACK:
		return HTTP_ABORTED;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_FAILED_INIT:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_REMOTE_ACCESS_DENIED:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_UNKNOWN_OPTION:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_FUNCTION_NOT_FOUND:
	case CURLE_INTERFACE_FAILED:
	case CURLE_LOGIN_DENIED:
	case CURLE_FILESIZE_EXCEEDED:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
		return HTTP_FATAL;
	default:
		/* connection refused/reset, DNS, timeouts, partial bodies, TLS
		 * handshake hiccups, HTTP/2 stream errors: try again (Nix does) */
		return HTTP_TRANSIENT;
	}
}

long http_retry_delay_ms(const struct http_result *res, unsigned attempt, unsigned max_attempts,
			 double jitter)
{
	unsigned budget = res->throttled ? max_attempts * HTTP_THROTTLED_ATTEMPTS_FACTOR : max_attempts;
	if (res->outcome != HTTP_TRANSIENT || attempt >= budget)
		return -1;
	if (jitter < 0 || jitter >= 1)
		jitter = 0;
	/* Full jitter ("Exponential Backoff And Jitter", AWS Architecture
	 * Blog, 2015): uniform in [0, ceiling).  Nix's 100 ms * 2^(attempt-1)
	 * stretched by at most sqrt(2) kept a herd that failed together
	 * within 41% of the same instant on every retry. */
	double ceiling = res->throttled ? HTTP_THROTTLE_BACKOFF_BASE_MS : HTTP_BACKOFF_BASE_MS;
	double top = res->throttled ? HTTP_THROTTLE_BACKOFF_MAX_MS : HTTP_BACKOFF_MAX_MS;
	for (unsigned i = 1; i < attempt && ceiling < top; i++)
		ceiling *= 2;
	if (ceiling > top)
		ceiling = top;
	long ms = (long)(jitter * ceiling);
	if (res->retry_after_ms > 0)
		ms += res->retry_after_ms > HTTP_RETRY_AFTER_MAX_MS ? HTTP_RETRY_AFTER_MAX_MS
								   : (long)res->retry_after_ms;
	return ms;
}

void http_conn_limit_init(struct http_conn_limit *l, unsigned max)
{
	*l = (struct http_conn_limit){ .limit = max ? max : 1, .max = max ? max : 1 };
}

bool http_conn_limit_update(struct http_conn_limit *l, enum http_conn_event ev, uint64_t now_ms)
{
	unsigned limit = l->limit, gap = l->gap_ms;
	if (ev == HTTP_CONN_THROTTLED) {
		if (l->cut_before && now_ms - l->last_cut_ms < HTTP_CONN_CUT_SPACING_MS)
			return false; /* the same burst of refusals */
		if (l->limit > 1)
			l->limit /= 2;
		else
			l->gap_ms = l->gap_ms ? (l->gap_ms * 2 > HTTP_CONN_GAP_MAX_MS ? HTTP_CONN_GAP_MAX_MS
										: l->gap_ms * 2)
					      : HTTP_CONN_GAP_MIN_MS;
		l->cut_before = true;
		l->last_cut_ms = now_ms;
		l->ok_since_change = 0;
	} else if (l->gap_ms) {
		if (++l->ok_since_change >= HTTP_CONN_GAP_OKS) {
			l->gap_ms = l->gap_ms / 2 >= HTTP_CONN_GAP_MIN_MS ? l->gap_ms / 2 : 0;
			l->ok_since_change = 0;
		}
	} else if (l->limit < l->max && ++l->ok_since_change >= l->limit) {
		l->limit++;
		l->ok_since_change = 0;
	}
	return l->limit != limit || l->gap_ms != gap;
}

unsigned http_parse_retry_after(const char *value, size_t len, long now_s)
{
	char buf[64];
	while (len > 0 && (*value == ' ' || *value == '\t'))
		value++, len--;
	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t' ||
			   value[len - 1] == '\r' || value[len - 1] == '\n'))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, value, len);
	buf[len] = '\0';
	long secs = -1;
	if (buf[0] >= '0' && buf[0] <= '9') {
		char *end;
		unsigned long v = strtoul(buf, &end, 10);
		if (*end == '\0')
			secs = v > 86400 ? 86400 : (long)v;
	} else {
		time_t when = curl_getdate(buf, NULL);
		if (when != -1)
			secs = when > now_s ? (long)(when - now_s) : 0;
	}
	if (secs < 0)
		return 0;
	if (secs == 0)
		return 1; /* "retry now": still counts as given */
	return (unsigned)(secs > 86400 ? 86400 : secs) * 1000u;
}

void http_describe(const struct http_result *res, char *out, size_t out_size)
{
	snprintf(out, out_size, "%s", res->message[0] ? res->message : http_outcome_name(res->outcome));
}

/* ---- the HTTP thread ---------------------------------------------------- */

static bool is_buffered(const struct http_request *req)
{
	return req->ops->on_data == NULL;
}

static bool is_file_url(const struct http_request *req)
{
	return strncmp(req->url, "file://", 7) == 0;
}

static void body_append(struct http_request *req, const char *data, size_t len, size_t limit,
			bool *overflow)
{
	struct http_result *res = &req->res;
	if (res->body_len + len > limit) {
		*overflow = true;
		return;
	}
	if (text_append(&res->body, &res->body_len, &req->body_cap, data, len) < 0)
		*overflow = true;
}

/* A piece of a 2xx (or file) body: to the buffer or the consumer. */
static size_t take_body(struct http_request *req, const char *ptr, size_t len)
{
	struct http_client *c = req->client;
	if (is_buffered(req)) {
		bool overflow = false;
		body_append(req, ptr, len, req->max_body, &overflow);
		if (overflow) {
			req->too_large = true;
			return 0;
		}
	} else {
		size_t r = req->ops->on_data(req->ctx, ptr, len);
		if (r == HTTP_PAUSE) {
			set_state(c, req, HTTP_REQ_PAUSED);
			return r;
		}
		if (r != len)
			return 0;
	}
	req->res.bytes += len;
	pthread_mutex_lock(&c->lock);
	c->stats.bytes += len;
	pthread_mutex_unlock(&c->lock);
	return len;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_request *req = userdata;
	size_t len = size * nmemb;
	long status = 0;
	curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
	req->res.status = status;

	if (status < 200 || status >= 300) {
		/* Keep the start of an error body for classify_error; the status
		 * decides, so an endless body is cut (transfer_ended). */
		bool overflow = false;
		req->window_bytes += len;
		req->error_body_bytes += len;
		if (req->error_body_bytes > HTTP_ERROR_BODY_READ_MAX) {
			req->error_body_cut = true;
			return 0;
		}
		if (req->res.body_len < HTTP_ERROR_BODY_MAX)
			body_append(req, ptr,
				    len < HTTP_ERROR_BODY_MAX - req->res.body_len
					    ? len : HTTP_ERROR_BODY_MAX - req->res.body_len,
				    HTTP_ERROR_BODY_MAX, &overflow);
		return len;
	}
	size_t r = take_body(req, ptr, len);
	if (r == len)
		req->window_bytes += len;
	return r;
}

/* The value of a header line without its white space; a value too long
 * for `out` is kept cut (and then names no supported coding). */
static void keep_header_value(char *out, size_t size, const char *v, size_t len)
{
	while (len && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (len >= size)
		len = size - 1;
	memcpy(out, v, len);
	out[len] = '\0';
}

static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_request *req = userdata;
	size_t len = size * nmemb;
	req->window_bytes += len;
	static const char name[] = "retry-after:";
	static const char encoding[] = "content-encoding:";
	if (len >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
		/* a new response (after a redirect) */
		req->res.retry_after_ms = 0;
		req->content_encoding[0] = '\0';
	} else if (len > sizeof(encoding) - 1 && strncasecmp(ptr, encoding, sizeof(encoding) - 1) == 0) {
		keep_header_value(req->content_encoding, sizeof(req->content_encoding),
				  ptr + sizeof(encoding) - 1, len - (sizeof(encoding) - 1));
	} else if (len > sizeof(name) - 1 && strncasecmp(ptr, name, sizeof(name) - 1) == 0)
		req->res.retry_after_ms = http_parse_retry_after(ptr + sizeof(name) - 1,
								 len - (sizeof(name) - 1),
								 (long)time(NULL));
	return len;
}

static void list_remove(struct http_request **head, struct http_request *req)
{
	if (req->prev)
		req->prev->next = req->next;
	else
		*head = req->next;
	if (req->next)
		req->next->prev = req->prev;
	req->next = req->prev = NULL;
}

static void list_push(struct http_request **head, struct http_request *req)
{
	req->prev = NULL;
	req->next = *head;
	if (*head)
		(*head)->prev = req;
	*head = req;
}

/* Appends to the submission queue (lock held): at the end, or, for a
 * request `ahead`, after the last queued one that is ahead too. */
static void queue_append_locked(struct http_client *c, struct http_request *req)
{
	struct http_request *after = c->queue_tail;
	if (req->ahead)
		while (after && !after->ahead)
			after = after->prev;
	req->prev = after;
	req->next = after ? after->next : c->queue_head;
	if (req->next)
		req->next->prev = req;
	else
		c->queue_tail = req;
	if (after)
		after->next = req;
	else
		c->queue_head = req;
}

static void queue_remove_locked(struct http_client *c, struct http_request *req)
{
	if (req->prev)
		req->prev->next = req->next;
	else
		c->queue_head = req->next;
	if (req->next)
		req->next->prev = req->prev;
	else
		c->queue_tail = req->prev;
	req->next = req->prev = NULL;
}

static void file_close(struct http_request *req);

static void release_easy(struct http_client *c, struct http_request *req)
{
	file_close(req);
	if (req->easy) {
		curl_multi_remove_handle(c->multi, req->easy);
		if (c->n_idle_easy < HTTP_IDLE_EASY_MAX) {
			curl_easy_reset(req->easy);
			c->idle_easy[c->n_idle_easy++] = req->easy;
		} else {
			curl_easy_cleanup(req->easy);
		}
		req->easy = NULL;
	}
	curl_slist_free_all(req->headers);
	req->headers = NULL;
}

/* Ends the request and hands it back to its owner.  After on_done the
 * request may be freed or resubmitted: nothing here touches it afterwards. */
static void deliver(struct http_client *c, struct http_request *req)
{
	pthread_mutex_lock(&c->lock);
	set_state_locked(req, HTTP_REQ_DONE);
	req->want_cancel = req->want_resume = false;
	if (req->res.attempts > c->stats.most_attempts)
		c->stats.most_attempts = req->res.attempts;
	pthread_mutex_unlock(&c->lock);
	free(req->hop_url); /* the owner may free the request in on_done */
	req->hop_url = NULL;
	if (req->res.outcome != HTTP_OK && req->res.message[0] == '\0')
		snprintf(req->res.message, sizeof(req->res.message), "%s",
			 http_outcome_name(req->res.outcome));
	log_debug("http: %s: %s (%s)", req->url, http_outcome_name(req->res.outcome),
		  req->res.message[0] ? req->res.message : "-");
	req->ops->on_done(req->ctx, req, &req->res);
}

static void fail_request(struct http_client *c, struct http_request *req,
			 enum http_outcome outcome, const char *message)
{
	req->res.outcome = outcome;
	snprintf(req->res.message, sizeof(req->res.message), "%s", message);
	deliver(c, req);
}

/* Ends a request because the client's deadline passed. */
static void fail_at_deadline(struct http_client *c, struct http_request *req)
{
	pthread_mutex_lock(&c->lock);
	c->deadline_passed = true;
	pthread_mutex_unlock(&c->lock);
	req->res.deadline = true;
	fail_request(c, req, HTTP_FATAL, "deadline reached");
}

static double next_jitter(struct http_client *c)
{
	return jitter_next(&c->rng);
}

/* "file:///a/b" -> "/a/b" */
static const char *file_path(const char *url)
{
	return url + strlen("file://");
}

static void file_close(struct http_request *req)
{
	if (req->file_fd >= 0)
		close(req->file_fd);
	req->file_fd = -1;
	free(req->file_buf);
	req->file_buf = NULL;
	req->file_pending = 0;
}

static void reset_attempt(struct http_request *req)
{
	req->errbuf[0] = '\0';
	req->res.status = 0;
	req->res.bytes = 0;
	req->res.retry_after_ms = 0;
	req->res.stalled = req->res.too_slow = req->res.throttled = false;
	req->error_body_cut = false;
	req->error_body_bytes = 0;
	req->content_encoding[0] = '\0';
	req->res.curl_code = CURLE_OK;
	req->res.message[0] = '\0';
	req->res.body_len = 0;
	if (req->res.body)
		req->res.body[0] = '\0';
	req->res.attempts++;
}

static void make_active(struct http_client *c, struct http_request *req)
{
	list_push(&c->active, req);
	c->n_active++;
	pthread_mutex_lock(&c->lock);
	c->stats.requests++;
	if (req->res.attempts > 1)
		c->stats.retries++;
	set_state_locked(req, HTTP_REQ_ACTIVE);
	pthread_mutex_unlock(&c->lock);
}

static void start_file(struct http_client *c, struct http_request *req)
{
	const char *path = file_path(req->url);
	int fd = path[0] == '/' ? open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY) : -1;
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		bool missing = fd >= 0 || errno == ENOENT || errno == ENOTDIR || errno == EISDIR;
		char msg[300];
		snprintf(msg, sizeof(msg), "%s: %s", path, fd >= 0 ? "not a regular file" : strerror(errno));
		if (fd >= 0)
			close(fd);
		fail_request(c, req, missing ? HTTP_NOT_FOUND : HTTP_FATAL, msg);
		return;
	}
	req->file_buf = malloc(HTTP_RECV_BUFFER);
	if (!req->file_buf) {
		close(fd);
		fail_request(c, req, HTTP_FATAL, "out of memory");
		return;
	}
	req->file_fd = fd;
	req->file_pending = 0;
	make_active(c, req);
}

/* Moves file:// bodies along; true when one of them can go on at once. */
static bool pump_files(struct http_client *c)
{
	bool busy = false;
	for (struct http_request *req = c->active, *next; req; req = next) {
		next = req->next;
		if (req->file_fd < 0 || req->state != HTTP_REQ_ACTIVE)
			continue;
		/* a few chunks per turn, so sockets are not starved */
		for (int i = 0; i < 16; i++) {
			if (req->file_pending == 0) {
				ssize_t k = read(req->file_fd, req->file_buf, HTTP_RECV_BUFFER);
				if (k < 0 && errno == EINTR)
					continue;
				if (k <= 0) {
					list_remove(&c->active, req);
					c->n_active--;
					bool ok = k == 0;
					char msg[300];
					snprintf(msg, sizeof(msg), "reading %s: %s", file_path(req->url),
						 ok ? "" : strerror(errno));
					file_close(req);
					if (req->too_large) {
						req->too_large = false;
						snprintf(msg, sizeof(msg), "answer larger than %zu bytes", req->max_body);
						fail_request(c, req, HTTP_FATAL, msg);
					} else if (ok) {
						req->res.outcome = HTTP_OK;
						deliver(c, req);
					} else {
						fail_request(c, req, HTTP_FATAL, msg);
					}
					break;
				}
				req->file_pending = (size_t)k;
			}
			size_t r = take_body(req, (const char *)req->file_buf, req->file_pending);
			if (r == HTTP_PAUSE)
				break;
			if (r != req->file_pending) {
				list_remove(&c->active, req);
				c->n_active--;
				bool too_large = req->too_large;
				req->too_large = false;
				file_close(req);
				char msg[64];
				snprintf(msg, sizeof(msg), "answer larger than %zu bytes", req->max_body);
				fail_request(c, req, too_large ? HTTP_FATAL : HTTP_ABORTED,
					     too_large ? msg : "refused by the consumer");
				break;
			}
			req->file_pending = 0;
			if (i == 15)
				busy = true;
		}
	}
	return busy;
}

static bool is_signed(const struct http_request *req)
{
	return req->sub && req->use_hooks && req->sub->prepare_request;
}

static bool is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* A signed request was redirected to `location` (malloc'd, taken): queues
 * it again for a hop inside the cache and returns true; otherwise sets the
 * failure in req->res and returns false.  See http.h "Redirects". */
static bool redirect_signed(struct http_client *c, struct http_request *req, char *location)
{
	struct http_result *res = &req->res;
	enum url_place place = url_place_in(req->sub->base, location);
	if (place == URL_INSIDE && req->hops < HTTP_MAX_REDIRECTS) {
		log_debug("http: %s: HTTP %ld to %s, inside the cache: following", req->url, res->status,
			  location);
		free(req->hop_url);
		req->hop_url = location;
		req->hops++;
		res->attempts--; /* a hop is not another attempt */
		pthread_mutex_lock(&c->lock);
		req->not_before_ms = monotonic_ms();
		set_state_locked(req, HTTP_REQ_QUEUED);
		queue_append_locked(c, req);
		pthread_mutex_unlock(&c->lock);
		return true;
	}
	res->outcome = HTTP_FATAL;
	if (place == URL_INSIDE) {
		snprintf(res->message, sizeof(res->message), "more than %d redirects", HTTP_MAX_REDIRECTS);
	} else {
		char origin[160];
		url_origin(location, origin, sizeof(origin));
		snprintf(res->message, sizeof(res->message),
			 "HTTP %ld redirect to %s (%s): not followed, the cache's credentials go only "
			 "to its own origin", res->status, origin, url_place_name(place));
	}
	free(location);
	return false;
}

/* --curl-verbose: curl's trace on stderr, with the values of the headers
 * that carry secrets (SigV4 signature, session token, IMDS token) cut out:
 * no secret may reach the console (README "Reliability"). */
static bool header_is_secret(const char *line, size_t len)
{
	static const char *const names[] = { "authorization:", "x-amz-security-token:",
					     "x-aws-ec2-metadata-token:" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);
		if (len >= n && strncasecmp(line, names[i], n) == 0)
			return true;
	}
	return false;
}

static int http_debug_redacted(CURL *handle, curl_infotype type, char *data, size_t size, void *userp)
{
	(void)handle;
	(void)userp;
	static const char *const prefixes[] = { "* ", "< ", "> " };
	const char *prefix;
	switch (type) {
	case CURLINFO_TEXT: prefix = prefixes[0]; break;
	case CURLINFO_HEADER_IN: prefix = prefixes[1]; break;
	case CURLINFO_HEADER_OUT: prefix = prefixes[2]; break;
	default: return 0; /* bodies and TLS data are not traced */
	}
	/* Header blocks come as several lines in one call. */
	size_t start = 0;
	while (start < size) {
		size_t end = start;
		while (end < size && data[end] != '\n')
			end++;
		size_t len = end - start;
		if (len && data[start + len - 1] == '\r')
			len--;
		if (type != CURLINFO_TEXT && header_is_secret(data + start, len)) {
			const char *colon = memchr(data + start, ':', len);
			fprintf(stderr, "%s%.*s: [redacted]\n", prefix, (int)(colon - (data + start)), data + start);
		} else if (len || end < size) {
			fprintf(stderr, "%s%.*s\n", prefix, (int)len, data + start);
		}
		start = end + 1;
	}
	return 0;
}

static int start_transfer(struct http_client *c, struct http_request *req)
{
	struct ip_error err = { 0 };
	reset_attempt(req);
	if (is_file_url(req)) {
		start_file(c, req);
		return 0;
	}
	CURL *e = c->n_idle_easy ? c->idle_easy[--c->n_idle_easy] : curl_easy_init();
	if (!e) {
		fail_request(c, req, HTTP_FATAL, "curl_easy_init failed");
		return -ENOMEM;
	}
	req->easy = e;

	curl_easy_setopt(e, CURLOPT_URL, req->hop_url ? req->hop_url : req->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, req);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, req);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, req);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, req->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, is_signed(req) ? 0L : 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms);
	/* TLS: the CA bundle is a run-time setting; never a path baked into
	 * curl at build time (CAPATH explicitly off).  TLS 1.2 at least. */
	curl_easy_setopt(e, CURLOPT_CAINFO, c->o.ca_bundle);
	curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "initrd-provision/" IP_VERSION);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)HTTP_RECV_BUFFER);
	if (req->range_start)
		/* curl checks the answer: a 200 instead of a 206 from that byte
		 * fails with CURLE_RANGE_ERROR at the headers */
		curl_easy_setopt(e, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)req->range_start);
	if (c->o.verbose) {
		curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, http_debug_redacted);
		curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
	}

	if (req->sub && req->use_hooks && req->sub->prepare_request) {
		int r = req->sub->prepare_request(req->sub->hook_ctx, e, &req->headers, &err);
		if (r < 0) {
			release_easy(c, req);
			fail_request(c, req, HTTP_FATAL, ip_error_str(&err));
			return r;
		}
	}
	/* Content-Encoding is ours to decode (content_encoding.h), after the
	 * size cap, never curl's; only documents read whole ask for it. */
	curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	if (is_buffered(req)) {
		struct curl_slist *h = curl_slist_append(req->headers,
							 "Accept-Encoding: " CONTENT_ENCODING_ACCEPT);
		if (!h) {
			release_easy(c, req);
			fail_request(c, req, HTTP_FATAL, "out of memory");
			return -ENOMEM;
		}
		req->headers = h;
	}
	if (req->headers)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers);

	req->window_start_ms = monotonic_ms();
	req->window_bytes = 0;
	if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
		release_easy(c, req);
		fail_request(c, req, HTTP_FATAL, "curl_multi_add_handle failed");
		return -EIO;
	}
	make_active(c, req);
	return 0;
}

/* Replaces a buffered 2xx body by its decoded Content-Encoding; an answer
 * that cannot be decoded, or is larger than max_body once decoded, is an
 * error naming the coding. */
static void decode_body(struct http_request *req)
{
	struct http_result *res = &req->res;
	struct ip_error err = { 0 };
	enum nix_compression method;
	char *decoded = NULL;
	size_t decoded_len = 0;
	int r = content_encoding_method(req->content_encoding, &method, &err);
	if (r == 0 && method == NIX_COMPRESSION_NONE)
		return;
	if (r == 0)
		r = content_encoding_decode(method, res->body ? res->body : "", res->body_len,
					    req->max_body, &decoded, &decoded_len, &err);
	if (r < 0) {
		res->outcome = HTTP_FATAL;
		snprintf(res->message, sizeof(res->message), "answer with Content-Encoding %s: %s",
			 req->content_encoding, ip_error_str(&err));
		return;
	}
	log_debug("http: %s: Content-Encoding %s: %zu bytes decoded to %zu", req->url,
		  req->content_encoding, res->body_len, decoded_len);
	free(res->body);
	res->body = decoded;
	res->body_len = decoded_len;
	req->body_cap = decoded_len + 1;
}

/* The connection limit follows the cache's answers (struct http_conn_limit). */
static void note_cache_answer(struct http_client *c, bool throttled)
{
	struct http_conn_limit before = c->conn_limit;
	if (!http_conn_limit_update(&c->conn_limit, throttled ? HTTP_CONN_THROTTLED : HTTP_CONN_OK,
				    monotonic_ms()) && !throttled)
		return;
	pthread_mutex_lock(&c->lock);
	if (throttled)
		c->stats.throttled++;
	if (c->conn_limit.limit < c->stats.connections_low)
		c->stats.connections_low = c->conn_limit.limit;
	if (c->conn_limit.gap_ms > c->stats.gap_high_ms)
		c->stats.gap_high_ms = c->conn_limit.gap_ms;
	pthread_mutex_unlock(&c->lock);
	if (c->conn_limit.limit != before.limit || c->conn_limit.gap_ms != before.gap_ms)
		log_debug("http: the cache %s: %u -> %u connections, %u -> %u ms between starts",
			  throttled ? "throttles" : "keeps up", before.limit, c->conn_limit.limit,
			  before.gap_ms, c->conn_limit.gap_ms);
}

/* A transfer left the multi handle (finished, cancelled or stalled). */
static void transfer_ended(struct http_client *c, struct http_request *req, CURLcode code)
{
	list_remove(&c->active, req);
	c->n_active--;
	long status = 0;
	curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
	bool too_large = req->too_large;
	bool body_cut = req->error_body_cut;
	req->too_large = req->error_body_cut = false;
	char *location = NULL;
	if ((code == CURLE_OK || body_cut) && !req->res.stalled && is_redirect(status) && is_signed(req)) {
		char *loc = NULL;
		if (curl_easy_getinfo(req->easy, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
			location = strdup(loc);
	}
	release_easy(c, req);

	struct http_result *res = &req->res;
	res->curl_code = code;
	res->status = status;
	if (location) {
		if (redirect_signed(c, req, location))
			return;
		/* S3 says why it redirects (a 301: the wrong region), which names
		 * the fix: both go into the message */
		struct ip_error why = { 0 };
		if (req->sub->classify_error &&
		    req->sub->classify_error(req->sub->hook_ctx, status, res->body, res->body_len, &why) ==
			    SUBST_FAIL) {
			size_t used = strlen(res->message);
			res->hook_error = why;
			snprintf(res->message + used, sizeof(res->message) - used, "; %s", ip_error_str(&why));
		}
		deliver(c, req);
		return;
	}
	/* The rest of a cut error body does not matter: the status is the answer. */
	if (body_cut)
		code = CURLE_OK;
	if (res->stalled && res->too_slow) {
		res->outcome = HTTP_TRANSIENT;
		snprintf(res->message, sizeof(res->message),
			 "too slow: less than %u bytes/s on average over %u s", c->o.min_rate,
			 c->o.stall_timeout_ms / 1000);
	} else if (res->stalled) {
		res->outcome = HTTP_TRANSIENT;
		snprintf(res->message, sizeof(res->message),
			 "stalled: less than %d bytes received in %u s", HTTP_STALL_MIN_BYTES,
			 c->o.stall_timeout_ms / 1000);
	} else if (too_large) {
		res->outcome = HTTP_FATAL;
		snprintf(res->message, sizeof(res->message), "answer larger than %zu bytes",
			 req->max_body);
	} else {
		res->outcome = http_classify(code, status, is_file_url(req));
		if (code == CURLE_RANGE_ERROR)
			res->outcome = HTTP_FATAL; /* the same request would get the same answer */
		/* A server that sent more than its Content-Length leaves the excess
		 * on the kept-alive connection; the next answer read from it is
		 * "HTTP/0.9" garbage.  curl closes that connection, so a retry (on
		 * a fresh one) works: not the fatal "unsupported protocol". */
		if (code == CURLE_UNSUPPORTED_PROTOCOL && strstr(req->errbuf, "HTTP/0.9"))
			res->outcome = HTTP_TRANSIENT;
		if (code != CURLE_OK)
			snprintf(res->message, sizeof(res->message), "%s",
				 req->errbuf[0] ? req->errbuf : curl_easy_strerror(code));
		else if (res->outcome != HTTP_OK)
			snprintf(res->message, sizeof(res->message), "HTTP %ld%s", status,
				 body_cut ? " (error body cut at 64 KiB)" : "");
	}
	if (code == CURLE_OK && !res->stalled && !too_large && (status < 200 || status >= 300) &&
	    req->sub && req->use_hooks && req->sub->classify_error) {
		ip_error_clear(&res->hook_error);
		switch (req->sub->classify_error(req->sub->hook_ctx, status, res->body, res->body_len,
						 &res->hook_error)) {
		case SUBST_KEEP:
			break;
		case SUBST_NOT_HERE:
			res->outcome = HTTP_NOT_FOUND;
			break;
		case SUBST_FAIL:
			res->outcome = HTTP_FATAL;
			snprintf(res->message, sizeof(res->message), "%s", ip_error_str(&res->hook_error));
			break;
		case SUBST_RETRY:
			res->outcome = HTTP_TRANSIENT;
			break;
		}
	}

	res->throttled = code == CURLE_OK && (status == 503 || status == 429);
	if (res->throttled || res->outcome == HTTP_OK)
		note_cache_answer(c, res->throttled);

	if (is_buffered(req) && res->outcome == HTTP_OK && req->content_encoding[0])
		decode_body(req);

	if (is_buffered(req) && res->outcome == HTTP_TRANSIENT) {
		long delay = http_retry_delay_ms(res, res->attempts, req->max_attempts, next_jitter(c));
		if (delay >= 0) {
			log_debug("http: %s: %s; attempt %u of %u in %ld ms", req->url, res->message,
				  res->attempts + 1, req->max_attempts, delay);
			pthread_mutex_lock(&c->lock);
			req->not_before_ms = monotonic_ms() + (uint64_t)delay;
			set_state_locked(req, HTTP_REQ_QUEUED);
			queue_append_locked(c, req);
			pthread_mutex_unlock(&c->lock);
			return;
		}
	}
	deliver(c, req);
}

static void check_stalls(struct http_client *c, uint64_t now)
{
	uint64_t window = c->o.stall_timeout_ms;
	/* the rate floor over one window, and never less than the stall bound */
	uint64_t need = (uint64_t)c->o.min_rate * window / 1000;
	if (need < HTTP_STALL_MIN_BYTES)
		need = HTTP_STALL_MIN_BYTES;
	struct http_request *req = c->active, *next;
	for (; req; req = next) {
		next = req->next;
		if (req->state != HTTP_REQ_ACTIVE || req->file_fd >= 0)
			continue;
		if (now - req->window_start_ms < window)
			continue;
		if (req->window_bytes >= need) {
			req->window_start_ms = now;
			req->window_bytes = 0;
			continue;
		}
		log_debug("http: %s: stalled (%llu bytes in %llu ms)", req->url,
			  (unsigned long long)req->window_bytes, (unsigned long long)(now - req->window_start_ms));
		pthread_mutex_lock(&c->lock);
		c->stats.stalls++;
		pthread_mutex_unlock(&c->lock);
		req->res.stalled = true;
		req->res.too_slow = req->window_bytes >= HTTP_STALL_MIN_BYTES;
		transfer_ended(c, req, CURLE_OPERATION_TIMEDOUT);
	}
}

static void *http_thread(void *arg)
{
	struct http_client *c = arg;
	for (;;) {
		uint64_t now = monotonic_ms();
		struct http_request *to_start = NULL, *to_abort = NULL;
		struct http_request *to_cancel[64], *to_resume[64];
		size_t n_cancel = 0, n_resume = 0;
		uint64_t next_due = UINT64_MAX;
		bool stopping;

		bool deadline = c->o.deadline_ms && now >= c->o.deadline_ms;
		pthread_mutex_lock(&c->lock);
		stopping = c->stopping;
		unsigned limit = c->conn_limit.limit;
		unsigned slots = c->n_active < limit ? limit - c->n_active : 0;
		unsigned gap = c->conn_limit.gap_ms;
		if (gap && slots > 0) {
			/* below one connection: one start per gap */
			if (now < c->next_start_ms) {
				next_due = c->next_start_ms;
				slots = 0;
			} else {
				slots = 1;
			}
		}
		for (struct http_request *req = c->queue_head, *next; req; req = next) {
			next = req->next;
			if (stopping || req->want_cancel || deadline) {
				queue_remove_locked(c, req);
				list_push(&to_abort, req);
			} else if (req->not_before_ms <= now && slots > 0) {
				queue_remove_locked(c, req);
				list_push(&to_start, req);
				slots--;
				if (gap)
					c->next_start_ms = now + gap;
			} else if (req->not_before_ms > now && req->not_before_ms < next_due) {
				/* due requests without a slot wait for a transfer to end */
				next_due = req->not_before_ms;
			}
		}
		bool more_flags = false;
		for (struct http_request *req = c->active; req; req = req->next) {
			if (stopping || req->want_cancel) {
				if (n_cancel < 64) {
					to_cancel[n_cancel++] = req;
					req->want_cancel = req->want_resume = false;
				} else {
					more_flags = true;
				}
			} else if (req->want_resume) {
				if (n_resume < 64) {
					to_resume[n_resume++] = req;
					req->want_resume = false;
				} else {
					more_flags = true;
				}
			}
		}
		pthread_mutex_unlock(&c->lock);

		/* list_push reversed the order: restore submission order */
		struct http_request *rev = NULL;
		while (to_start) {
			struct http_request *r = to_start;
			to_start = r->next;
			list_push(&rev, r);
		}
		to_start = rev;

		while (to_abort) {
			struct http_request *req = to_abort;
			to_abort = req->next;
			req->next = req->prev = NULL;
			if (deadline && !stopping)
				fail_at_deadline(c, req);
			else
				fail_request(c, req, HTTP_ABORTED, "cancelled");
		}
		for (size_t i = 0; i < n_cancel; i++) {
			struct http_request *req = to_cancel[i];
			list_remove(&c->active, req);
			c->n_active--;
			release_easy(c, req);
			fail_request(c, req, HTTP_ABORTED, "cancelled");
		}
		if (stopping && !c->active && !c->queue_head)
			break;
		for (size_t i = 0; i < n_resume; i++) {
			struct http_request *req = to_resume[i];
			if (req->state == HTTP_REQ_PAUSED || req->state == HTTP_REQ_ACTIVE) {
				set_state(c, req, HTTP_REQ_ACTIVE);
				req->window_start_ms = monotonic_ms();
				req->window_bytes = 0;
				/* may call write_cb at once, which may pause again */
				if (req->easy)
					curl_easy_pause(req->easy, CURLPAUSE_CONT);
			}
		}
		/* After the flags above (they point into this list): everything
		 * still running ends at the deadline. */
		while (deadline && !stopping && c->active) {
			struct http_request *req = c->active;
			list_remove(&c->active, req);
			c->n_active--;
			release_easy(c, req);
			fail_at_deadline(c, req);
		}
		while (to_start) {
			struct http_request *req = to_start;
			to_start = req->next;
			req->next = req->prev = NULL;
			start_transfer(c, req);
		}

		int running = 0;
		curl_multi_perform(c->multi, &running);
		CURLMsg *msg;
		int left;
		unsigned active_before = c->n_active;
		while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct http_request *req = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&req);
			transfer_ended(c, req, msg->data.result);
		}
		bool files_busy = pump_files(c);
		now = monotonic_ms();
		check_stalls(c, now);

		long timeout = HTTP_TICK_MS;
		if (c->o.deadline_ms && !deadline && c->o.deadline_ms - now < (uint64_t)timeout)
			timeout = c->o.deadline_ms > now ? (long)(c->o.deadline_ms - now) : 0;
		if (next_due != UINT64_MAX)
			timeout = next_due <= now ? 0 : (long)(next_due - now) < timeout ? (long)(next_due - now) : timeout;
		/* A slot was freed (queued requests may start), or flags are left. */
		if (c->n_active < active_before || more_flags || files_busy)
			timeout = 0;
		for (struct http_request *req = c->active; req && timeout; req = req->next)
			if (req->file_fd >= 0 && req->state == HTTP_REQ_ACTIVE)
				timeout = 0;
		curl_multi_poll(c->multi, NULL, 0, (int)timeout, NULL);
	}
	return NULL;
}

/* ---- public ------------------------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_code;
static void curl_init(void)
{
	curl_init_code = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int http_client_start(const struct http_client_options *opts, struct http_client **out,
		      struct ip_error *err)
{
	pthread_once(&curl_once, curl_init);
	if (curl_init_code != CURLE_OK)
		return ip_fail(err, -EIO, "initialising libcurl: %s", curl_easy_strerror(curl_init_code));
	struct http_client *c = calloc(1, sizeof(*c));
	if (!c)
		return ip_fail(err, -ENOMEM, "out of memory");
	c->o = *opts;
	if (!c->o.max_connections)
		c->o.max_connections = HTTP_DEFAULT_CONNECTIONS;
	if (!c->o.max_attempts)
		c->o.max_attempts = HTTP_DEFAULT_ATTEMPTS;
	if (!c->o.connect_timeout_ms)
		c->o.connect_timeout_ms = HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
	if (!c->o.stall_timeout_ms)
		c->o.stall_timeout_ms = HTTP_DEFAULT_STALL_TIMEOUT_MS;
	if (!c->o.min_rate)
		c->o.min_rate = HTTP_DEFAULT_MIN_RATE;
	if (!c->o.ca_bundle)
		c->o.ca_bundle = HTTP_DEFAULT_CA_BUNDLE;
	c->rng = jitter_seed();
	http_conn_limit_init(&c->conn_limit, c->o.max_connections);
	c->stats.connections_low = c->o.max_connections;
	pthread_mutex_init(&c->lock, NULL);
	c->multi = curl_multi_init();
	if (!c->multi) {
		free(c);
		return ip_fail(err, -ENOMEM, "curl_multi_init failed");
	}
	curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)c->o.max_connections);
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->o.max_connections);
	int r = pthread_create(&c->thread, NULL, http_thread, c);
	if (r != 0) {
		curl_multi_cleanup(c->multi);
		free(c);
		return ip_fail(err, -r, "starting the HTTP thread: %s", strerror(r));
	}
	c->thread_started = true;
	*out = c;
	return 0;
}

void http_client_stop(struct http_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_mutex_unlock(&c->lock);
	curl_multi_wakeup(c->multi);
	if (c->thread_started)
		pthread_join(c->thread, NULL);
	while (c->n_idle_easy)
		curl_easy_cleanup(c->idle_easy[--c->n_idle_easy]);
	curl_multi_cleanup(c->multi);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void http_client_stats(struct http_client *c, struct http_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	pthread_mutex_unlock(&c->lock);
}

unsigned http_client_max_attempts(const struct http_client *c)
{
	return c->o.max_attempts;
}

bool http_client_deadline_passed(struct http_client *c)
{
	pthread_mutex_lock(&c->lock);
	bool passed = c->deadline_passed;
	pthread_mutex_unlock(&c->lock);
	return passed;
}

void http_submit(struct http_client *c, struct http_request *req, unsigned delay_ms)
{
	req->client = c;
	if (!req->max_attempts)
		req->max_attempts = c->o.max_attempts;
	if (req->res.body)
		free(req->res.body);
	memset(&req->res, 0, sizeof(req->res));
	req->body_cap = 0;
	req->want_cancel = req->want_resume = false;
	req->easy = NULL;
	req->headers = NULL;
	req->hops = 0;
	req->file_fd = -1;
	req->file_buf = NULL;
	req->file_pending = 0;
	pthread_mutex_lock(&c->lock);
	req->not_before_ms = monotonic_ms() + delay_ms;
	set_state_locked(req, HTTP_REQ_QUEUED);
	queue_append_locked(c, req);
	pthread_mutex_unlock(&c->lock);
	curl_multi_wakeup(c->multi);
}

static void flag(struct http_client *c, struct http_request *req, bool cancel)
{
	bool wake = false;
	pthread_mutex_lock(&c->lock);
	if (req->state == HTTP_REQ_QUEUED || req->state == HTTP_REQ_ACTIVE ||
	    req->state == HTTP_REQ_PAUSED) {
		if (cancel)
			req->want_cancel = true;
		else
			req->want_resume = true;
		wake = true;
	}
	pthread_mutex_unlock(&c->lock);
	if (wake)
		curl_multi_wakeup(c->multi);
}

void http_resume(struct http_client *c, struct http_request *req) { flag(c, req, false); }
void http_cancel(struct http_client *c, struct http_request *req) { flag(c, req, true); }

void http_request_reset(struct http_request *req)
{
	free(req->res.body);
	req->res.body = NULL;
	req->res.body_len = 0;
	req->body_cap = 0;
	req->state = HTTP_REQ_IDLE;
}
