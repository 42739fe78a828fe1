#include "imds/imds.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imds/creds_json.h"
#include "util/log.h"

#ifndef IP_VERSION
#define IP_VERSION "unknown"
#endif

#define TOKEN_PATH "/latest/api/token"
#define ROLE_NAME_MAX 64 /* IAM's limit */
#define TAG_NAME_MAX 128 /* EC2's limit for a tag key */

struct imds_client {
	CURL *easy;
	char endpoints[2][IMDS_ENDPOINT_MAX];
	struct imds_auto ep;
	unsigned budget_ms, request_timeout_ms, connect_timeout_ms, token_ttl_s;
	bool allow_v1;
	bool v1_mode;        /* the PUT was answered 404/405 and allow_v1 is set */
	char token[IMDS_TOKEN_MAX + 1];
	uint64_t token_valid_until_ms; /* monotonic; 0: no token */
	unsigned requests;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void imds_auto_init(struct imds_auto *a, unsigned n)
{
	memset(a, 0, sizeof(*a));
	a->n = n;
}

void imds_auto_answered(struct imds_auto *a)
{
	a->pinned = true;
}

bool imds_auto_transport_failed(struct imds_auto *a)
{
	if (a->pinned || a->n < 2)
		return false;
	a->current = (a->current + 1) % a->n;
	return ++a->failed_in_round < a->n;
}

void imds_auto_backed_off(struct imds_auto *a)
{
	a->failed_in_round = 0;
}

static const char *current_endpoint(const struct imds_client *c)
{
	return c->endpoints[c->ep.current];
}

int imds_client_new(const struct imds_config *cfg, struct imds_client **out,
		    struct ip_error *err)
{
	*out = NULL;
	const char *endpoint = cfg && cfg->endpoint ? cfg->endpoint : IMDS_ENDPOINT_IPV4;
	bool automatic = strcmp(endpoint, IMDS_ENDPOINT_AUTO) == 0;
	if (automatic)
		endpoint = IMDS_ENDPOINT_IPV4;
	size_t el = strlen(endpoint);
	if (el == 0 || el >= IMDS_ENDPOINT_MAX || strncmp(endpoint, "http://", 7) != 0)
		return ip_fail(err, -EINVAL, "IMDS endpoint must be 'auto' or an http:// URL of at most %d bytes",
			       IMDS_ENDPOINT_MAX - 1);
	if (cfg && cfg->token_ttl_s > 21600)
		return ip_fail(err, -EINVAL, "IMDS token TTL %u is over 21600 seconds", cfg->token_ttl_s);

	struct imds_client *c = calloc(1, sizeof(*c));
	if (!c)
		return ip_fail(err, -ENOMEM, "out of memory");
	memcpy(c->endpoints[0], endpoint, el + 1);
	while (el > 0 && c->endpoints[0][el - 1] == '/')
		c->endpoints[0][--el] = '\0';
	imds_auto_init(&c->ep, automatic ? 2 : 1);
	if (automatic)
		snprintf(c->endpoints[1], sizeof(c->endpoints[1]), "%s", IMDS_ENDPOINT_IPV6);
	c->budget_ms = cfg && cfg->budget_ms ? cfg->budget_ms : IMDS_DEFAULT_BUDGET_MS;
	c->request_timeout_ms = cfg && cfg->request_timeout_ms ? cfg->request_timeout_ms
							       : IMDS_DEFAULT_REQUEST_TIMEOUT_MS;
	c->connect_timeout_ms = cfg && cfg->connect_timeout_ms ? cfg->connect_timeout_ms
							       : IMDS_DEFAULT_CONNECT_TIMEOUT_MS;
	c->token_ttl_s = cfg && cfg->token_ttl_s ? cfg->token_ttl_s : IMDS_DEFAULT_TOKEN_TTL_S;
	c->allow_v1 = cfg && cfg->allow_v1;
	c->easy = curl_easy_init();
	if (!c->easy) {
		free(c);
		return ip_fail(err, -ENOMEM, "cannot create a curl handle for IMDS");
	}
	*out = c;
	return 0;
}

void imds_client_free(struct imds_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->easy);
	explicit_bzero(c->token, sizeof(c->token));
	free(c);
}

unsigned imds_request_count(const struct imds_client *c) { return c->requests; }

/* ---- one HTTP exchange ----------------------------------------------------- */

struct body {
	uint8_t *buf;
	size_t len, cap;
	bool too_big;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t n = size * nmemb;
	if (b->len + n > IMDS_BODY_MAX) {
		b->too_big = true;
		return 0; /* aborts the transfer */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		uint8_t *bigger = realloc(b->buf, cap);
		if (!bigger)
			return 0;
		b->buf = bigger;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return n;
}

static size_t no_body(char *buf, size_t size, size_t nitems, void *ud)
{
	return 0;
}

static void body_reset(struct body *b)
{
	if (b->buf)
		explicit_bzero(b->buf, b->cap);
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

enum outcome { OUT_HTTP, OUT_TRANSPORT, OUT_TOO_BIG, OUT_FATAL };

/* Makes one request with at most timeout_ms.  OUT_HTTP: *status is set.
 * OUT_TRANSPORT: retryable, why[] says what.  OUT_FATAL: a local problem. */
static enum outcome exchange(struct imds_client *c, bool put, const char *path,
			     uint64_t timeout_ms, long *status, struct body *b, char *why,
			     size_t why_size)
{
	CURL *e = c->easy;
	char url[IMDS_ENDPOINT_MAX + 512];
	snprintf(url, sizeof(url), "%s%s", current_endpoint(c), path);
	char hdr[64 + IMDS_TOKEN_MAX];
	struct curl_slist *headers = NULL, *h;
	if (put) {
		snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token-ttl-seconds: %u", c->token_ttl_s);
	} else if (!c->v1_mode) {
		snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", c->token);
	} else {
		hdr[0] = '\0';
	}
	if (hdr[0]) {
		h = curl_slist_append(headers, hdr);
		explicit_bzero(hdr, sizeof(hdr));
		if (!h) {
			snprintf(why, why_size, "out of memory");
			return OUT_FATAL;
		}
		headers = h;
	}
	h = curl_slist_append(headers, "Expect:");
	if (!h) {
		curl_slist_free_all(headers);
		snprintf(why, why_size, "out of memory");
		return OUT_FATAL;
	}
	headers = h;

	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	/* IMDS is link-local: an http_proxy from the environment must not see it. */
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
#endif
	curl_easy_setopt(e, CURLOPT_USERAGENT, "initrd-provision/" IP_VERSION);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(timeout_ms < c->connect_timeout_ms ? timeout_ms : c->connect_timeout_ms));
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
	if (put) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)0);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, no_body);
	}
	c->requests++;
	CURLcode cr = curl_easy_perform(e);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers); /* curl_slist_free_all does not wipe: the token
					 copy is freed memory; acceptable in the initrd */
	if (b->too_big) {
		snprintf(why, why_size, "answer longer than %d bytes", IMDS_BODY_MAX);
		return OUT_TOO_BIG;
	}
	if (cr != CURLE_OK) {
		/* With two endpoints, say which one failed. */
		if (c->ep.n > 1)
			snprintf(why, why_size, "%s: %s", current_endpoint(c),
				 errbuf[0] ? errbuf : curl_easy_strerror(cr));
		else
			snprintf(why, why_size, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cr));
		log_debug("imds: %s %s: %s", put ? "PUT" : "GET", path, why);
		return cr == CURLE_OUT_OF_MEMORY ? OUT_FATAL : OUT_TRANSPORT;
	}
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
	log_debug("imds: %s %s%s -> %ld", put ? "PUT" : "GET", c->ep.n > 1 ? current_endpoint(c) : "",
		  path, *status);
	if (!c->ep.pinned && c->ep.n > 1)
		log_debug("imds: endpoint auto: using %s", current_endpoint(c));
	imds_auto_answered(&c->ep);
	return OUT_HTTP;
}

static bool retryable_status(long status) { return status == 429 || (status >= 500 && status < 600); }

/* Token text goes into a header: printable ASCII only. */
static bool token_ok(const struct body *b)
{
	if (b->len == 0 || b->len > IMDS_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < b->len; i++)
		if (b->buf[i] <= 0x20 || b->buf[i] >= 0x7f)
			return false;
	return true;
}

/* What one attempt leads to. */
enum step {
	STEP_DONE,    /* *result is final: 0 (body in b) or a negative errno */
	STEP_AGAIN,   /* try again at once (a fresh token after a 401) */
	STEP_BACKOFF, /* try again after the backoff delay; last[] says why */
	STEP_SWITCH,  /* endpoint auto: try the other endpoint at once */
};

/* A transport failure: with endpoint auto, maybe the other endpoint now. */
static enum step transport_failed(struct imds_client *c)
{
	return imds_auto_transport_failed(&c->ep) ? STEP_SWITCH : STEP_BACKOFF;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* Gets a token (unless one is valid or v1 is in use).  STEP_AGAIN here
 * means "got one, go on with the GET". */
static enum step get_token(struct imds_client *c, uint64_t deadline, struct body *b, char *last,
			   size_t last_size, int *result, struct ip_error *err)
{
	uint64_t now = now_ms();
	if (c->v1_mode || (c->token_valid_until_ms && now < c->token_valid_until_ms))
		return STEP_AGAIN;
	c->token_valid_until_ms = 0;
	long status = 0;
	char why[200];
	body_reset(b);
	enum outcome o = exchange(c, true, TOKEN_PATH, min_u64(deadline - now, c->request_timeout_ms),
				  &status, b, why, sizeof(why));
	if (o == OUT_FATAL || o == OUT_TOO_BIG) {
		*result = ip_fail(err, o == OUT_FATAL ? -ENOMEM : -EPROTO, "IMDS: token request: %s", why);
		return STEP_DONE;
	}
	if (o == OUT_TRANSPORT) {
		snprintf(last, last_size, "token request: %s", why);
		return transport_failed(c);
	}
	if (status == 200) {
		if (!token_ok(b)) {
			*result = ip_fail(err, -EPROTO, "IMDS: token request: the token is empty, too "
					  "long or not printable");
			return STEP_DONE;
		}
		memcpy(c->token, b->buf, b->len);
		c->token[b->len] = '\0';
		/* Renew a little before IMDS would refuse it. */
		uint64_t ttl_ms = (uint64_t)c->token_ttl_s * 1000;
		c->token_valid_until_ms = now_ms() + ttl_ms - min_u64(ttl_ms / 2, 60000);
		return STEP_AGAIN;
	}
	if (status == 403) {
		*result = ip_fail(err, -EACCES, "IMDS is disabled for this instance (HTTP 403 to the "
				  "token request); not retrying");
		return STEP_DONE;
	}
	if ((status == 404 || status == 405) && c->allow_v1) {
		log_debug("imds: no IMDSv2 token service (HTTP %ld); using IMDSv1", status);
		c->v1_mode = true;
		return STEP_AGAIN;
	}
	if (status == 404 || status == 405) {
		*result = ip_fail(err, -EPROTO, "IMDS: no IMDSv2 token service (HTTP %ld to PUT %s) and "
				  "IMDSv1 is not allowed", status, TOKEN_PATH);
		return STEP_DONE;
	}
	if (retryable_status(status)) {
		snprintf(last, last_size, "token request: HTTP %ld", status);
		return STEP_BACKOFF;
	}
	*result = ip_fail(err, -EPROTO, "IMDS: token request: HTTP %ld", status);
	return STEP_DONE;
}

static enum step attempt(struct imds_client *c, const char *path, uint64_t deadline,
			 unsigned *rejections, struct body *b, char *last, size_t last_size,
			 int *result, struct ip_error *err)
{
	enum step st = get_token(c, deadline, b, last, last_size, result, err);
	if (st != STEP_AGAIN)
		return st;
	uint64_t now = now_ms();
	if (now >= deadline)
		return STEP_BACKOFF; /* the loop reports the spent budget */
	long status = 0;
	char why[200];
	body_reset(b);
	enum outcome o = exchange(c, false, path, min_u64(deadline - now, c->request_timeout_ms),
				  &status, b, why, sizeof(why));
	if (o == OUT_FATAL || o == OUT_TOO_BIG) {
		*result = ip_fail(err, o == OUT_FATAL ? -ENOMEM : -EMSGSIZE, "IMDS: GET %s: %s", path,
				  why);
		return STEP_DONE;
	}
	if (o == OUT_TRANSPORT) {
		snprintf(last, last_size, "GET: %s", why);
		return transport_failed(c);
	}
	if (status == 200) {
		*result = 0;
		return STEP_DONE;
	}
	if (status == 404) {
		*result = ip_fail(err, -ENOENT, "IMDS: %s: not found", path);
		return STEP_DONE;
	}
	if (status == 401 && !c->v1_mode) {
		c->token_valid_until_ms = 0;
		snprintf(last, last_size, "GET: token rejected (HTTP 401)");
		/* A fresh token at once the first time (seen right after boot). */
		return ++*rejections == 1 ? STEP_AGAIN : STEP_BACKOFF;
	}
	if (retryable_status(status)) {
		snprintf(last, last_size, "GET: HTTP %ld", status);
		return STEP_BACKOFF;
	}
	*result = ip_fail(err, -EPROTO, "IMDS: GET %s: HTTP %ld", path, status);
	return STEP_DONE;
}

int imds_get(struct imds_client *c, const char *path, uint8_t **buf, size_t *len,
	     struct ip_error *err)
{
	*buf = NULL;
	*len = 0;
	if (path[0] != '/' || strlen(path) > 400 || strpbrk(path, " \r\n\t"))
		return ip_fail(err, -EINVAL, "bad IMDS path");

	const uint64_t start = now_ms(), deadline = start + c->budget_ms;
	uint64_t backoff = IMDS_BACKOFF_FIRST_MS;
	unsigned rejections = 0, attempts = 0;
	char last[256] = "";
	struct body b = { 0 };
	int r = 0;
	for (;;) {
		uint64_t now = now_ms();
		if (now >= deadline) {
			r = ip_fail(err, -ETIMEDOUT, "IMDS: GET %s: gave up after %llu ms and %u "
				    "attempts; last: %s", path, (unsigned long long)(now - start),
				    attempts, last[0] ? last : "none");
			break;
		}
		attempts++;
		enum step st = attempt(c, path, deadline, &rejections, &b, last, sizeof(last), &r, err);
		if (st == STEP_DONE)
			break;
		if (st == STEP_BACKOFF) {
			now = now_ms();
			if (now < deadline)
				sleep_ms(min_u64(backoff, deadline - now));
			backoff = min_u64(backoff * 2, IMDS_BACKOFF_MAX_MS);
			imds_auto_backed_off(&c->ep);
		}
	}
	if (r == 0) {
		if (!b.buf) /* an empty body */
			b.buf = calloc(1, 1);
		if (!b.buf)
			return ip_fail(err, -ENOMEM, "out of memory");
		*buf = b.buf;
		*len = b.len;
		return 0;
	}
	body_reset(&b);
	return r;
}

/* ---- the documents ----------------------------------------------------------- */

int imds_user_data(struct imds_client *c, uint8_t **buf, size_t *len, struct ip_error *err)
{
	return imds_get(c, "/latest/user-data", buf, len, err);
}

int imds_region(struct imds_client *c, char *out, size_t out_size, struct ip_error *err)
{
	uint8_t *buf;
	size_t len;
	int r = imds_get(c, "/latest/meta-data/placement/region", &buf, &len, err);
	if (r < 0)
		return r;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		len--;
	bool ok = len > 0 && len < out_size;
	for (size_t i = 0; ok && i < len; i++)
		ok = (buf[i] >= 'a' && buf[i] <= 'z') || (buf[i] >= '0' && buf[i] <= '9') || buf[i] == '-';
	if (ok) {
		memcpy(out, buf, len);
		out[len] = '\0';
	}
	free(buf);
	if (!ok)
		return ip_fail(err, -EPROTO, "IMDS: the region is empty, too long or not [a-z0-9-]");
	return 0;
}

int imds_tag(struct imds_client *c, const char *name, char **value, struct ip_error *err)
{
	*value = NULL;
	size_t nl = strlen(name);
	if (nl == 0 || nl > TAG_NAME_MAX)
		return ip_fail(err, -EINVAL, "tag name must have 1 to %d characters", TAG_NAME_MAX);
	char *escaped = curl_easy_escape(c->easy, name, (int)nl);
	if (!escaped)
		return ip_fail(err, -ENOMEM, "out of memory");
	char path[64 + 3 * TAG_NAME_MAX];
	snprintf(path, sizeof(path), "/latest/meta-data/tags/instance/%s", escaped);
	curl_free(escaped);
	uint8_t *buf;
	size_t len;
	int r = imds_get(c, path, &buf, &len, err);
	if (r < 0)
		return r;
	*value = (char *)buf;
	return 0;
}

static bool role_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       strchr("+=,.@_-", ch) != NULL;
}

int imds_role_credentials(struct imds_client *c, struct aws_credentials *creds, char *role,
			  size_t role_size, struct ip_error *err)
{
	static const char dir[] = "/latest/meta-data/iam/security-credentials/";
	uint8_t *buf;
	size_t len;
	memset(creds, 0, sizeof(*creds));
	int r = imds_get(c, dir, &buf, &len, err);
	if (r < 0)
		return r;
	/* One role per instance profile; the listing is its name on a line. */
	size_t n = 0;
	while (n < len && buf[n] != '\n' && buf[n] != '\r')
		n++;
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	char name[ROLE_NAME_MAX + 1];
	bool ok = n > 0 && n <= ROLE_NAME_MAX;
	for (size_t i = 0; ok && i < n; i++)
		ok = role_char((char)buf[i]);
	if (ok) {
		memcpy(name, buf, n);
		name[n] = '\0';
	}
	free(buf);
	if (!ok) {
		if (n == 0)
			return ip_fail(err, -ENOENT, "IMDS: no instance role");
		return ip_fail(err, -EPROTO, "IMDS: the role name is not a valid IAM role name");
	}
	if (role)
		snprintf(role, role_size, "%s", name);

	char path[sizeof(dir) + ROLE_NAME_MAX];
	snprintf(path, sizeof(path), "%s%s", dir, name);
	r = imds_get(c, path, &buf, &len, err);
	if (r < 0)
		return r == -ENOENT ? ip_fail_ctx(err, -EPROTO, "IMDS: role %s listed but missing", name)
				    : r;
	r = imds_creds_json_parse((const char *)buf, len, creds, err);
	explicit_bzero(buf, len);
	free(buf);
	if (r < 0)
		return ip_fail_ctx(err, r, "IMDS: role %s", name);
	return 0;
}
