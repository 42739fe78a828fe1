#include "imds/imds.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imds/creds_json.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/text.h"

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
	struct text_buf text;  /* NUL-terminated: the documents are parsed as text */
	bool too_big;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t n = size * nmemb;
	if (b->text.len + n > IMDS_BODY_MAX) {
		b->too_big = true;
		return 0; /* aborts the transfer */
	}
	return text_buf_put(&b->text, data, n) < 0 ? 0 : n;
}

static size_t no_body(char *buf, size_t size, size_t nitems, void *ud)
{
	return 0;
}

static void body_reset(struct body *b)
{
	if (b->text.buf)
		explicit_bzero(b->text.buf, b->text.cap);
	free(b->text.buf);
	memset(b, 0, sizeof(*b));
}

/* The only function that talks to IMDS: one request with at most
 * timeout_ms.  IMDS_ANSWERED: *status is set.  Otherwise why[] says what
 * went wrong. */
static enum imds_transport exchange(struct imds_client *c, bool put, const char *path,
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
			return IMDS_LOCAL_FAILURE;
		}
		headers = h;
	}
	h = curl_slist_append(headers, "Expect:");
	if (!h) {
		curl_slist_free_all(headers);
		snprintf(why, why_size, "out of memory");
		return IMDS_LOCAL_FAILURE;
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
		return IMDS_ANSWER_TOO_BIG;
	}
	if (cr != CURLE_OK) {
		/* With two endpoints, say which one failed. */
		if (c->ep.n > 1)
			snprintf(why, why_size, "%s: %s", current_endpoint(c),
				 errbuf[0] ? errbuf : curl_easy_strerror(cr));
		else
			snprintf(why, why_size, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cr));
		log_debug("imds: %s %s: %s", put ? "PUT" : "GET", path, why);
		return cr == CURLE_OUT_OF_MEMORY ? IMDS_LOCAL_FAILURE : IMDS_NO_ANSWER;
	}
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
	log_debug("imds: %s %s%s -> %ld", put ? "PUT" : "GET", c->ep.n > 1 ? current_endpoint(c) : "",
		  path, *status);
	if (!c->ep.pinned && c->ep.n > 1)
		log_debug("imds: endpoint auto: using %s", current_endpoint(c));
	imds_auto_answered(&c->ep);
	return IMDS_ANSWERED;
}

/* ---- the decision --------------------------------------------------------------- */

static bool retryable_status(long status) { return status == 429 || (status >= 500 && status < 600); }

static struct imds_verdict verdict(enum imds_step step, enum imds_reason reason, int error)
{
	return (struct imds_verdict){ .step = step, .reason = reason, .error = error };
}

struct imds_verdict imds_classify(const struct imds_exchange *x)
{
	bool token = x->request == IMDS_REQUEST_TOKEN;
	switch (x->transport) {
	case IMDS_LOCAL_FAILURE:
		return verdict(IMDS_STEP_DONE, IMDS_OUT_OF_MEMORY, -ENOMEM);
	case IMDS_ANSWER_TOO_BIG:
		return verdict(IMDS_STEP_DONE, IMDS_TOO_BIG, token ? -EPROTO : -EMSGSIZE);
	case IMDS_NO_ANSWER:
		return verdict(IMDS_STEP_BACKOFF, IMDS_UNREACHABLE, 0);
	case IMDS_ANSWERED:
		break;
	}
	long status = x->status;
	if (token) {
		if (status == 200)
			return x->token_usable ? verdict(IMDS_STEP_AGAIN, IMDS_GOT_TOKEN, 0)
					       : verdict(IMDS_STEP_DONE, IMDS_BAD_TOKEN, -EPROTO);
		if (status == 403)
			return verdict(IMDS_STEP_DONE, IMDS_DISABLED, -EACCES);
		if (status == 404 || status == 405)
			return x->allow_v1 ? verdict(IMDS_STEP_AGAIN, IMDS_USE_V1, 0)
					   : verdict(IMDS_STEP_DONE, IMDS_NO_V2, -EPROTO);
	} else {
		if (status == 200)
			return verdict(IMDS_STEP_DONE, IMDS_ANSWER, 0);
		if (status == 404)
			return verdict(IMDS_STEP_DONE, IMDS_NOT_FOUND, -ENOENT);
		/* A fresh token at once the first time (seen right after boot). */
		if (status == 401 && !x->v1_mode)
			return verdict(x->rejections == 0 ? IMDS_STEP_AGAIN : IMDS_STEP_BACKOFF,
				       IMDS_TOKEN_REJECTED, 0);
	}
	if (retryable_status(status))
		return verdict(IMDS_STEP_BACKOFF, IMDS_BUSY, 0);
	return verdict(IMDS_STEP_DONE, IMDS_UNEXPECTED, -EPROTO);
}

const char *imds_step_name(enum imds_step step)
{
	switch (step) {
	case IMDS_STEP_DONE: return "done";
	case IMDS_STEP_AGAIN: return "again";
	case IMDS_STEP_BACKOFF: return "backoff";
	}
	return "?";
}

const char *imds_reason_name(enum imds_reason reason)
{
	switch (reason) {
	case IMDS_GOT_TOKEN: return "got-token";
	case IMDS_BAD_TOKEN: return "bad-token";
	case IMDS_DISABLED: return "disabled";
	case IMDS_USE_V1: return "use-v1";
	case IMDS_NO_V2: return "no-v2";
	case IMDS_ANSWER: return "answer";
	case IMDS_NOT_FOUND: return "not-found";
	case IMDS_TOKEN_REJECTED: return "token-rejected";
	case IMDS_BUSY: return "busy";
	case IMDS_UNREACHABLE: return "unreachable";
	case IMDS_TOO_BIG: return "too-big";
	case IMDS_OUT_OF_MEMORY: return "out-of-memory";
	case IMDS_UNEXPECTED: return "unexpected";
	}
	return "?";
}

/* ---- one call: attempts until a verdict is final ---------------------------------- */

/* Token text goes into a header: printable ASCII only. */
static bool token_ok(const struct body *b)
{
	if (b->text.len == 0 || b->text.len > IMDS_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < b->text.len; i++)
		if ((unsigned char)b->text.buf[i] <= 0x20 || (unsigned char)b->text.buf[i] >= 0x7f)
			return false;
	return true;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* What the attempts of one imds_get() share. */
struct imds_call {
	const char *path;
	uint64_t deadline;     /* monotonic ms */
	unsigned rejections;   /* GETs answered 401 so far */
	struct body body;      /* of the last request */
	char last[IMDS_ENDPOINT_MAX + CURL_ERROR_SIZE + 32]; /* the last retryable failure */
	int result;            /* once IMDS_STEP_DONE: 0 or the error */
	struct ip_error *err;
};

/* Carries out a verdict: keeps or drops the token, switches to v1, and
 * writes the final error or the note on a retryable failure. */
static void apply(struct imds_client *c, struct imds_call *call, const struct imds_exchange *x,
		  const struct imds_verdict *v, const char *why)
{
	bool token = x->request == IMDS_REQUEST_TOKEN;
	const char *what = token ? "token request" : "GET"; /* in call->last */
	char request[440];                                  /* in final errors */
	if (token)
		snprintf(request, sizeof(request), "token request");
	else
		snprintf(request, sizeof(request), "GET %s", call->path);
	struct ip_error *err = call->err;
	switch (v->reason) {
	case IMDS_GOT_TOKEN: {
		memcpy(c->token, call->body.text.buf, call->body.text.len);
		c->token[call->body.text.len] = '\0';
		/* Renew a little before IMDS would refuse it. */
		uint64_t ttl_ms = (uint64_t)c->token_ttl_s * 1000;
		c->token_valid_until_ms = monotonic_ms() + ttl_ms - min_u64(ttl_ms / 2, 60000);
		return;
	}
	case IMDS_USE_V1:
		log_debug("imds: no IMDSv2 token service (HTTP %ld); using IMDSv1", x->status);
		c->v1_mode = true;
		return;
	case IMDS_ANSWER:
		call->result = 0;
		return;
	case IMDS_TOKEN_REJECTED:
		c->token_valid_until_ms = 0;
		call->rejections++;
		snprintf(call->last, sizeof(call->last), "GET: token rejected (HTTP 401)");
		return;
	case IMDS_BUSY:
		snprintf(call->last, sizeof(call->last), "%s: HTTP %ld", what, x->status);
		return;
	case IMDS_UNREACHABLE:
		snprintf(call->last, sizeof(call->last), "%s: %s", what, why);
		return;
	case IMDS_BAD_TOKEN:
		call->result = ip_fail(err, v->error, "IMDS: token request: the token is empty, too "
				       "long or not printable");
		return;
	case IMDS_DISABLED:
		call->result = ip_fail(err, v->error, "IMDS is disabled for this instance (HTTP 403 to "
				       "the token request); not retrying");
		return;
	case IMDS_NO_V2:
		call->result = ip_fail(err, v->error, "IMDS: no IMDSv2 token service (HTTP %ld to PUT "
				       "%s) and IMDSv1 is not allowed", x->status, TOKEN_PATH);
		return;
	case IMDS_NOT_FOUND:
		call->result = ip_fail(err, v->error, "IMDS: %s: not found", call->path);
		return;
	case IMDS_TOO_BIG:
	case IMDS_OUT_OF_MEMORY:
		call->result = ip_fail(err, v->error, "IMDS: %s: %s", request, why);
		return;
	case IMDS_UNEXPECTED:
		call->result = ip_fail(err, v->error, "IMDS: %s: HTTP %ld", request, x->status);
		return;
	}
}

/* One request and its verdict, carried out.  A transport failure with
 * endpoint auto may go on to the other endpoint at once (AGAIN). */
static enum imds_step request(struct imds_client *c, struct imds_call *call,
			      enum imds_request req)
{
	bool token = req == IMDS_REQUEST_TOKEN;
	long status = 0;
	char why[IMDS_ENDPOINT_MAX + CURL_ERROR_SIZE + 8] = ""; /* endpoint: curl's error */
	body_reset(&call->body);
	uint64_t now = monotonic_ms();
	struct imds_exchange x = {
		.request = req,
		.allow_v1 = c->allow_v1,
		.v1_mode = c->v1_mode,
		.rejections = call->rejections,
	};
	x.transport = exchange(c, token, token ? TOKEN_PATH : call->path,
			       min_u64(call->deadline - now, c->request_timeout_ms), &status,
			       &call->body, why, sizeof(why));
	x.status = status;
	x.token_usable = token && x.transport == IMDS_ANSWERED && token_ok(&call->body);
	struct imds_verdict v = imds_classify(&x);
	apply(c, call, &x, &v, why);
	if (v.reason == IMDS_UNREACHABLE && imds_auto_transport_failed(&c->ep))
		return IMDS_STEP_AGAIN;
	return v.step;
}

/* One attempt: a token first unless one is valid (or v1 is in use), then
 * the GET. */
static enum imds_step attempt(struct imds_client *c, struct imds_call *call)
{
	uint64_t now = monotonic_ms();
	if (!c->v1_mode && !(c->token_valid_until_ms && now < c->token_valid_until_ms)) {
		c->token_valid_until_ms = 0;
		enum imds_step st = request(c, call, IMDS_REQUEST_TOKEN);
		/* Only a token (or v1) goes on to the GET; anything else is
		 * final, a backoff, or the other endpoint's turn. */
		if (st != IMDS_STEP_AGAIN || (!c->v1_mode && !c->token_valid_until_ms))
			return st;
	}
	if (monotonic_ms() >= call->deadline)
		return IMDS_STEP_BACKOFF; /* the loop reports the spent budget */
	return request(c, call, IMDS_REQUEST_GET);
}

int imds_get(struct imds_client *c, const char *path, uint8_t **buf, size_t *len,
	     struct ip_error *err)
{
	*buf = NULL;
	*len = 0;
	if (path[0] != '/' || strlen(path) > 400 || strpbrk(path, " \r\n\t"))
		return ip_fail(err, -EINVAL, "bad IMDS path");

	const uint64_t start = monotonic_ms();
	struct imds_call call = { .path = path, .deadline = start + c->budget_ms, .err = err };
	uint64_t backoff = IMDS_BACKOFF_FIRST_MS;
	unsigned attempts = 0;
	for (;;) {
		uint64_t now = monotonic_ms();
		if (now >= call.deadline) {
			call.result = ip_fail(err, -ETIMEDOUT, "IMDS: GET %s: gave up after %llu ms "
					      "and %u attempts; last: %s", path,
					      (unsigned long long)(now - start), attempts,
					      call.last[0] ? call.last : "none");
			break;
		}
		attempts++;
		enum imds_step st = attempt(c, &call);
		if (st == IMDS_STEP_DONE)
			break;
		if (st == IMDS_STEP_BACKOFF) {
			now = monotonic_ms();
			if (now < call.deadline)
				sleep_ms(min_u64(backoff, call.deadline - now));
			backoff = min_u64(backoff * 2, IMDS_BACKOFF_MAX_MS);
			imds_auto_backed_off(&c->ep);
		}
	}
	if (call.result == 0) {
		if (!call.body.text.buf) /* an empty body */
			call.body.text.buf = calloc(1, 1);
		if (!call.body.text.buf)
			return ip_fail(err, -ENOMEM, "out of memory");
		*buf = (uint8_t *)call.body.text.buf;
		*len = call.body.text.len;
		return 0;
	}
	body_reset(&call.body);
	return call.result;
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

int imds_role_credentials_hook(void *client, struct aws_credentials *creds, char *role,
			       size_t role_size, struct ip_error *err)
{
	return imds_role_credentials(client, creds, role, role_size, err);
}
