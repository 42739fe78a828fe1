#include "imds/creds_json.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "aws/aws_time.h"
#include "util/hex.h"

struct reader {
	const char *start, *p, *end;
	struct ip_error *err;
};

static void skip_ws(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int bad(struct reader *r, const char *what)
{
	return ip_fail(r->err, -EBADMSG, "credentials JSON: %s at byte %zu", what,
		       (size_t)(r->p - r->start));
}

static bool read_hex4(struct reader *r, unsigned *out)
{
	if (r->end - r->p < 4)
		return false;
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hex_digit_value(r->p[i]);
		if (h < 0)
			return false;
		v = v * 16 + (unsigned)h;
	}
	r->p += 4;
	*out = v;
	return true;
}

/* Appends a code point as UTF-8; false if dst is full. */
static bool put_utf8(char *dst, size_t cap, size_t *n, unsigned cp)
{
	char b[4];
	size_t k;
	if (cp < 0x80) {
		b[0] = (char)cp;
		k = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		k = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		k = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		k = 4;
	}
	if (*n + k > cap)
		return false;
	if (dst)
		memcpy(dst + *n, b, k);
	*n += k;
	return true;
}

/* A JSON string at r->p (the opening quote).  Decoded into dst (NULL: only
 * skipped) of cap bytes plus a NUL.  -E2BIG past cap. */
static int read_string(struct reader *r, char *dst, size_t cap, size_t *out_len)
{
	if (r->p >= r->end || *r->p != '"')
		return bad(r, "expected a string");
	r->p++;
	size_t n = 0;
	for (;;) {
		if (r->p >= r->end)
			return bad(r, "unterminated string");
		unsigned char c = (unsigned char)*r->p++;
		if (c == '"')
			break;
		if (c < 0x20)
			return bad(r, "control character in a string");
		unsigned cp = c;
		if (c == '\\') {
			if (r->p >= r->end)
				return bad(r, "unterminated string");
			char e = *r->p++;
			switch (e) {
			case '"': cp = '"'; break;
			case '\\': cp = '\\'; break;
			case '/': cp = '/'; break;
			case 'b': cp = '\b'; break;
			case 'f': cp = '\f'; break;
			case 'n': cp = '\n'; break;
			case 'r': cp = '\r'; break;
			case 't': cp = '\t'; break;
			case 'u':
				if (!read_hex4(r, &cp))
					return bad(r, "bad \\u escape");
				if (cp >= 0xd800 && cp < 0xdc00) {
					unsigned lo;
					if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u')
						return bad(r, "lone surrogate");
					r->p += 2;
					if (!read_hex4(r, &lo) || lo < 0xdc00 || lo > 0xdfff)
						return bad(r, "bad surrogate pair");
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				} else if (cp >= 0xdc00 && cp < 0xe000) {
					return bad(r, "lone surrogate");
				}
				break;
			default:
				return bad(r, "bad escape");
			}
			if (!put_utf8(dst, cap, &n, cp))
				return -E2BIG;
			continue;
		}
		if (n + 1 > cap)
			return -E2BIG;
		if (dst)
			dst[n] = (char)c;
		n++;
	}
	if (dst)
		dst[n] = '\0';
	if (out_len)
		*out_len = n;
	return 0;
}

static int skip_value(struct reader *r, int depth);

static int skip_container(struct reader *r, int depth, char close)
{
	if (depth >= IMDS_JSON_DEPTH_MAX)
		return ip_fail(r->err, -E2BIG, "credentials JSON: nested deeper than %d",
			       IMDS_JSON_DEPTH_MAX);
	r->p++;
	skip_ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return 0;
	}
	for (;;) {
		int rc;
		if (close == '}') {
			rc = read_string(r, NULL, IMDS_JSON_STRING_MAX, NULL);
			if (rc == -E2BIG)
				return ip_fail(r->err, rc, "credentials JSON: string longer than %d bytes",
					       IMDS_JSON_STRING_MAX);
			if (rc < 0)
				return rc;
			skip_ws(r);
			if (r->p >= r->end || *r->p != ':')
				return bad(r, "expected ':'");
			r->p++;
		}
		rc = skip_value(r, depth + 1);
		if (rc < 0)
			return rc;
		skip_ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			skip_ws(r);
			continue;
		}
		if (r->p < r->end && *r->p == close) {
			r->p++;
			return 0;
		}
		return bad(r, "expected ',' or the end of a container");
	}
}

static int skip_value(struct reader *r, int depth)
{
	skip_ws(r);
	if (r->p >= r->end)
		return bad(r, "expected a value");
	char c = *r->p;
	if (c == '"') {
		int rc = read_string(r, NULL, IMDS_JSON_STRING_MAX, NULL);
		if (rc == -E2BIG)
			return ip_fail(r->err, rc, "credentials JSON: string longer than %d bytes",
				       IMDS_JSON_STRING_MAX);
		return rc;
	}
	if (c == '{')
		return skip_container(r, depth, '}');
	if (c == '[')
		return skip_container(r, depth, ']');
	static const char *const literals[] = { "true", "false", "null" };
	for (size_t i = 0; i < 3; i++) {
		size_t l = strlen(literals[i]);
		if ((size_t)(r->end - r->p) >= l && memcmp(r->p, literals[i], l) == 0) {
			r->p += l;
			return 0;
		}
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		const char *start = r->p;
		while (r->p < r->end && strchr("0123456789+-.eE", *r->p) && *r->p)
			r->p++;
		if (r->p - start > 64)
			return bad(r, "number too long");
		return 0;
	}
	return bad(r, "unexpected character");
}

/* Credentials go into HTTP headers: printable ASCII only, no spaces (a CR or
 * LF would let a bad document inject headers). */
static bool header_safe(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

enum field { F_KEY_ID, F_SECRET, F_TOKEN, F_EXPIRATION, F_CODE, F_COUNT };

static int parse(struct reader *r, struct aws_credentials *creds)
{
	static const char *const names[F_COUNT] = {
		"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "Code",
	};
	char expiration[64] = "", code[64] = "";
	char *dst[F_COUNT] = { creds->access_key_id, creds->secret_access_key,
			       creds->session_token, expiration, code };
	size_t cap[F_COUNT] = { AWS_ACCESS_KEY_ID_MAX, AWS_SECRET_ACCESS_KEY_MAX,
				AWS_SESSION_TOKEN_MAX, sizeof(expiration) - 1, sizeof(code) - 1 };
	bool seen[F_COUNT] = { false };

	skip_ws(r);
	if (r->p >= r->end || *r->p != '{')
		return bad(r, "expected an object");
	r->p++;
	skip_ws(r);
	bool first = true;
	while (!(r->p < r->end && *r->p == '}')) {
		if (!first) {
			if (r->p >= r->end || *r->p != ',')
				return bad(r, "expected ',' or '}'");
			r->p++;
			skip_ws(r);
		}
		first = false;
		char key[64];
		const char *key_at = r->p;
		int rc = read_string(r, key, sizeof(key) - 1, NULL);
		if (rc == -E2BIG) {
			/* Longer than any name we know: skip it as an unknown key. */
			r->p = key_at;
			key[0] = '\0';
			rc = read_string(r, NULL, IMDS_JSON_STRING_MAX, NULL);
		}
		if (rc < 0)
			return rc == -E2BIG ? ip_fail(r->err, rc, "credentials JSON: key too long") : rc;
		skip_ws(r);
		if (r->p >= r->end || *r->p != ':')
			return bad(r, "expected ':'");
		r->p++;
		skip_ws(r);
		int f;
		for (f = 0; f < F_COUNT; f++)
			if (strcmp(key, names[f]) == 0)
				break;
		if (f == F_COUNT) {
			rc = skip_value(r, 1);
		} else {
			if (seen[f])
				return ip_fail(r->err, -EINVAL, "credentials JSON: %s given twice", names[f]);
			seen[f] = true;
			if (r->p >= r->end || *r->p != '"')
				return ip_fail(r->err, -EINVAL, "credentials JSON: %s is not a string",
					       names[f]);
			rc = read_string(r, dst[f], cap[f], NULL);
			if (rc == -E2BIG)
				return ip_fail(r->err, rc, "credentials JSON: %s longer than %zu bytes",
					       names[f], cap[f]);
		}
		if (rc < 0)
			return rc;
		skip_ws(r);
	}
	r->p++;
	skip_ws(r);
	if (r->p != r->end)
		return bad(r, "text after the object");

	if (seen[F_CODE] && strcmp(code, "Success") != 0) {
		/* IMDS's own status words: safe to show, and the clearest hint. */
		bool printable = true;
		for (const char *c = code; *c; c++)
			printable &= (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z');
		return ip_fail(r->err, -EINVAL, "credentials JSON: Code is '%s', not 'Success'",
			       printable ? code : "?");
	}
	for (int f = F_KEY_ID; f <= F_EXPIRATION; f++) {
		if (f == F_TOKEN)
			continue;
		if (!seen[f])
			return ip_fail(r->err, -EINVAL, "credentials JSON: no %s", names[f]);
	}
	if (!header_safe(creds->access_key_id))
		return ip_fail(r->err, -EINVAL, "credentials JSON: AccessKeyId is empty or not printable");
	if (!header_safe(creds->secret_access_key))
		return ip_fail(r->err, -EINVAL,
			       "credentials JSON: SecretAccessKey is empty or not printable");
	if (seen[F_TOKEN] && !header_safe(creds->session_token))
		return ip_fail(r->err, -EINVAL, "credentials JSON: Token is empty or not printable");
	if (aws_time_parse_iso8601(expiration, strlen(expiration), &creds->expiration) < 0)
		return ip_fail(r->err, -EINVAL, "credentials JSON: Expiration '%.40s' is not an "
			       "ISO-8601 time", expiration);
	return 0;
}

int imds_creds_json_parse(const char *buf, size_t len, struct aws_credentials *creds,
			  struct ip_error *err)
{
	memset(creds, 0, sizeof(*creds));
	if (len > IMDS_CREDS_JSON_MAX)
		return ip_fail(err, -E2BIG, "credentials JSON is %zu bytes, over the limit of %d", len,
			       IMDS_CREDS_JSON_MAX);
	struct reader r = { .start = buf, .p = buf, .end = buf + len, .err = err };
	int rc = parse(&r, creds);
	if (rc < 0) {
		aws_credentials_wipe(creds);
		return rc;
	}
	return 0;
}
