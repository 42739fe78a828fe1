#include "aws/s3_error.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "aws/aws_time.h"

static const char *find_mem(const char *h, size_t hl, const char *n)
{
	size_t nl = strlen(n);
	if (nl > hl)
		return NULL;
	return memmem(h, hl, n, nl);
}

/* Copies the text of the first <name>...</name> into dst, decoding the five
 * XML entities and dropping control characters.  "" when absent. */
static void element(const char *body, size_t len, const char *name, char *dst, size_t cap)
{
	char open[48], close[48];
	snprintf(open, sizeof(open), "<%s>", name);
	snprintf(close, sizeof(close), "</%s>", name);
	dst[0] = '\0';
	const char *s = find_mem(body, len, open);
	if (!s)
		return;
	s += strlen(open);
	const char *e = find_mem(s, len - (size_t)(s - body), close);
	if (!e)
		return;
	static const struct { const char *ent; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' },
	};
	size_t o = 0;
	while (s < e && o + 1 < cap) {
		char c = *s;
		size_t adv = 1;
		if (c == '&') {
			for (size_t k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
				size_t el = strlen(ents[k].ent);
				if ((size_t)(e - s) >= el && memcmp(s, ents[k].ent, el) == 0) {
					c = ents[k].c;
					adv = el;
					break;
				}
			}
		}
		s += adv;
		if ((unsigned char)c < 0x20 || c == 0x7f)
			c = ' ';
		dst[o++] = c;
	}
	dst[o] = '\0';
}

static bool code_is(const struct s3_error *e, const char *code)
{
	return strcmp(e->code, code) == 0;
}

static enum s3_error_class classify(const struct s3_error *e)
{
	if (code_is(e, "SignatureDoesNotMatch") || code_is(e, "InvalidAccessKeyId") ||
	    code_is(e, "InvalidToken"))
		return S3_ERR_CREDENTIALS;
	if (code_is(e, "ExpiredToken") || code_is(e, "TokenRefreshRequired"))
		return S3_ERR_EXPIRED_TOKEN;
	if (code_is(e, "RequestTimeTooSkewed"))
		return S3_ERR_CLOCK;
	if (code_is(e, "AuthorizationHeaderMalformed") || code_is(e, "PermanentRedirect") ||
	    code_is(e, "IllegalLocationConstraintException") || e->http_status == 301)
		return S3_ERR_WRONG_REGION;
	if (code_is(e, "SlowDown") || code_is(e, "RequestTimeout") || code_is(e, "InternalError") ||
	    code_is(e, "ServiceUnavailable") || e->http_status == 429 || e->http_status == 408 ||
	    (e->http_status >= 500 && e->http_status < 600))
		return S3_ERR_RETRY;
	if (e->http_status == 403 || e->http_status == 404)
		return S3_ERR_NOT_IN_CACHE;
	return S3_ERR_OTHER;
}

void s3_error_parse(long http_status, const char *body, size_t len, struct s3_error *out)
{
	memset(out, 0, sizeof(*out));
	out->http_status = http_status;
	if (body && len > S3_ERROR_BODY_MAX)
		len = S3_ERROR_BODY_MAX;
	if (body && len) {
		element(body, len, "Code", out->code, sizeof(out->code));
		element(body, len, "Message", out->message, sizeof(out->message));
		element(body, len, "RequestTime", out->request_time, sizeof(out->request_time));
		element(body, len, "ServerTime", out->server_time, sizeof(out->server_time));
	}
	/* A code is a word; anything else is not S3's. */
	for (const char *c = out->code; *c; c++) {
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		      *c == '.' || *c == '_' || *c == '-')) {
			out->code[0] = '\0';
			break;
		}
	}
	time_t req, srv;
	/* S3 writes RequestTime as x-amz-date (20240501T120000Z) and ServerTime
	 * as ISO-8601 (2024-05-01T12:20:00Z); accept either in both. */
	bool have_req = aws_time_parse_amz(out->request_time, strlen(out->request_time), &req) == 0 ||
			aws_time_parse_iso8601(out->request_time, strlen(out->request_time), &req) == 0;
	bool have_srv = aws_time_parse_iso8601(out->server_time, strlen(out->server_time), &srv) == 0 ||
			aws_time_parse_amz(out->server_time, strlen(out->server_time), &srv) == 0;
	if (have_req && have_srv) {
		out->skew_s = (long long)req - (long long)srv;
		out->has_skew = 1;
	}
	out->cls = classify(out);
}

static void human_duration(long long s, char *buf, size_t size)
{
	if (s < 0)
		s = -s;
	if (s >= 2 * 86400)
		snprintf(buf, size, "%lld s, about %lld days", s, s / 86400);
	else if (s >= 2 * 3600)
		snprintf(buf, size, "%lld s, about %lld h", s, s / 3600);
	else if (s >= 120)
		snprintf(buf, size, "%lld s, about %lld min", s, s / 60);
	else
		snprintf(buf, size, "%lld s", s);
}

void s3_error_describe(const struct s3_error *e, char *buf, size_t size)
{
	char code[S3_ERROR_CODE_MAX + 8];
	if (e->code[0])
		snprintf(code, sizeof(code), " %s", e->code);
	else
		code[0] = '\0';
	const char *sep = e->message[0] ? ": " : "";
	switch (e->cls) {
	case S3_ERR_NOT_IN_CACHE:
		snprintf(buf, size, "not in this cache (HTTP %ld%s)", e->http_status, code);
		return;
	case S3_ERR_CREDENTIALS:
		snprintf(buf, size, "access denied: S3 rejected the credentials (HTTP %ld%s%s%s); %s",
			 e->http_status, code, sep, e->message,
			 strcmp(e->code, "InvalidAccessKeyId") == 0
				 ? "the access key id is not known to S3"
				 : strcmp(e->code, "InvalidToken") == 0
					   ? "the session token is malformed"
					   : "the secret access key does not match the access key id");
		return;
	case S3_ERR_EXPIRED_TOKEN:
		snprintf(buf, size, "access denied: the session token has expired (HTTP %ld%s)",
			 e->http_status, code);
		return;
	case S3_ERR_CLOCK:
		if (e->has_skew) {
			char d[64];
			human_duration(e->skew_s, d, sizeof(d));
			snprintf(buf, size, "the clock is wrong: S3 refused the request as too far from its "
				 "own time (RequestTimeTooSkewed): request time %s, S3's time %s, this "
				 "machine's clock is %s %s; set the clock", e->request_time, e->server_time,
				 d, e->skew_s > 0 ? "ahead" : "behind");
		} else {
			snprintf(buf, size, "the clock is wrong: S3 refused the request as too far from its "
				 "own time (RequestTimeTooSkewed%s%s); set the clock", sep, e->message);
		}
		return;
	case S3_ERR_WRONG_REGION:
		snprintf(buf, size, "wrong region for this bucket (HTTP %ld%s%s%s); set region= in the "
			 "s3:// URL", e->http_status, code, sep, e->message);
		return;
	case S3_ERR_RETRY:
	case S3_ERR_OTHER:
		break;
	}
	snprintf(buf, size, "S3 answered HTTP %ld%s%s%s", e->http_status, code, sep, e->message);
}

const char *s3_error_class_name(enum s3_error_class cls)
{
	switch (cls) {
	case S3_ERR_NOT_IN_CACHE: return "not in cache";
	case S3_ERR_CREDENTIALS: return "credentials";
	case S3_ERR_EXPIRED_TOKEN: return "expired token";
	case S3_ERR_CLOCK: return "clock";
	case S3_ERR_WRONG_REGION: return "wrong region";
	case S3_ERR_RETRY: return "retry";
	case S3_ERR_OTHER: return "other";
	}
	return "?";
}
