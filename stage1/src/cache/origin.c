#include "cache/origin.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "aws/s3_url.h"

const char *url_place_name(enum url_place p)
{
	switch (p) {
	case URL_INSIDE: return "inside the cache";
	case URL_OTHER_SCHEME: return "another scheme";
	case URL_OTHER_HOST: return "another host";
	case URL_OTHER_PORT: return "another port";
	case URL_USERINFO: return "a user name or password in the URL";
	case URL_OUTSIDE_PATH: return "a path outside the cache";
	case URL_MALFORMED: return "a URL curl cannot parse";
	}
	return "?";
}

/* The parts of a parsed URL the rule compares (curl's strings). */
struct url_parts {
	CURLU *u;
	char *scheme, *host, *port, *path;
	bool userinfo;
};

static void parts_free(struct url_parts *p)
{
	curl_free(p->scheme);
	curl_free(p->host);
	curl_free(p->port);
	curl_free(p->path);
	curl_url_cleanup(p->u);
	memset(p, 0, sizeof(*p));
}

static bool has_part(CURLU *u, CURLUPart part)
{
	char *v = NULL;
	bool present = curl_url_get(u, part, &v, 0) == CURLUE_OK;
	curl_free(v);
	return present;
}

/* false when curl cannot parse it.  file:// URLs have no host or port. */
static bool parts_get(const char *url, struct url_parts *p)
{
	memset(p, 0, sizeof(*p));
	p->u = curl_url();
	if (!p->u || curl_url_set(p->u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(p->u, CURLUPART_SCHEME, &p->scheme, 0) != CURLUE_OK ||
	    curl_url_get(p->u, CURLUPART_PATH, &p->path, 0) != CURLUE_OK) {
		parts_free(p);
		return false;
	}
	if (curl_url_get(p->u, CURLUPART_HOST, &p->host, 0) != CURLUE_OK)
		p->host = NULL;
	if (curl_url_get(p->u, CURLUPART_PORT, &p->port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		p->port = NULL;
	p->userinfo = has_part(p->u, CURLUPART_USER) || has_part(p->u, CURLUPART_PASSWORD) ||
		      has_part(p->u, CURLUPART_OPTIONS);
	return true;
}

static bool same_or_both_null(const char *a, const char *b, bool ignore_case)
{
	if (!a || !b)
		return a == b;
	return ignore_case ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

/* A %-escape that a server may decode into a path separator or a dot
 * segment: never inside a cache's own file names. */
static bool has_escaped_separator(const char *path)
{
	for (const char *p = strchr(path, '%'); p; p = strchr(p + 1, '%'))
		if (strncasecmp(p, "%2e", 3) == 0 || strncasecmp(p, "%2f", 3) == 0 ||
		    strncasecmp(p, "%5c", 3) == 0)
			return true;
	return strchr(path, '\\') != NULL;
}

static bool path_under(const char *base_path, const char *path)
{
	size_t n = strlen(base_path);
	while (n > 0 && base_path[n - 1] == '/')
		n--;
	return strncmp(path, base_path, n) == 0 && path[n] == '/' && path[n + 1] != '\0' &&
	       !has_escaped_separator(path + n);
}

enum url_place url_place_in(const char *base, const char *url)
{
	struct url_parts b, c;
	if (!parts_get(base, &b))
		return URL_MALFORMED;
	if (!parts_get(url, &c)) {
		parts_free(&b);
		return URL_MALFORMED;
	}
	enum url_place place;
	if (b.userinfo || c.userinfo)
		place = URL_USERINFO;
	else if (!same_or_both_null(b.scheme, c.scheme, true))
		place = URL_OTHER_SCHEME;
	else if (!same_or_both_null(b.host, c.host, true))
		place = URL_OTHER_HOST;
	else if (!same_or_both_null(b.port, c.port, false))
		place = URL_OTHER_PORT;
	else if (!path_under(b.path, c.path))
		place = URL_OUTSIDE_PATH;
	else
		place = URL_INSIDE;
	parts_free(&b);
	parts_free(&c);
	return place;
}

void url_origin(const char *url, char *out, size_t size)
{
	struct url_parts p;
	if (!parts_get(url, &p)) {
		snprintf(out, size, "(unparseable URL)");
		return;
	}
	if (p.host)
		snprintf(out, size, "%s://%s%s%s", p.scheme, p.host, p.port ? ":" : "", p.port ? p.port : "");
	else
		snprintf(out, size, "%s://", p.scheme);
	parts_free(&p);
}

/* Length of an at-sign ("@" or "%40") at p, else 0. */
static size_t at_sign(const char *p)
{
	return *p == '@' ? 1 : strncmp(p, "%40", 3) == 0 ? 3 : 0;
}

/* Length of a userinfo start ("://", "%3A%2F%2F", '?', '&', '=') ending at
 * p (exclusive), else 0. */
static size_t userinfo_start(const char *url, const char *p)
{
	size_t have = (size_t)(p - url);
	if (have >= 3 && memcmp(p - 3, "://", 3) == 0)
		return 3;
	if (have >= 9 && strncasecmp(p - 9, "%3A%2F%2F", 9) == 0)
		return 9;
	return have >= 1 && (p[-1] == '?' || p[-1] == '&' || p[-1] == '=') ? 1 : 0;
}

void url_redact(const char *url, char *out, size_t size)
{
	if (size == 0)
		return;
	size_t o = 0;
	const char *copied = url; /* url[0..copied) is in out or redacted */
	for (const char *p = url; *p; p++) {
		size_t at = at_sign(p);
		if (!at)
			continue;
		/* back to the nearest place userinfo can start */
		const char *from = p;
		while (from > copied && !userinfo_start(url, from))
			from--;
		int n = snprintf(out + o, size - o, "%.*s[redacted]", (int)(from - copied), copied);
		if (n < 0 || (size_t)n >= size - o)
			return;
		o += (size_t)n;
		copied = p;
		p += at - 1;
	}
	snprintf(out + o, size - o, "%s", copied);
}

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && memcmp(s, prefix, n) == 0;
}

/* '@' in the authority (up to the first '/', '?' or '#'): userinfo for
 * the schemes curl does not parse here. */
static bool authority_has_at(const char *url)
{
	const char *auth = strstr(url, "://");
	auth = auth ? auth + 3 : url;
	return memchr(auth, '@', strcspn(auth, "/?#")) != NULL;
}

int substituter_url_check(const char *url, size_t len, struct ip_error *err)
{
	if (len == 0 || len >= SUBSTITUTER_URL_MAX)
		return ip_fail(err, -EINVAL, "substituter URL is empty or longer than %d bytes",
			       SUBSTITUTER_URL_MAX - 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c <= ' ' || c >= 0x7f)
			return ip_fail(err, -EINVAL, "substituter URL has a space, a control character "
				       "or a non-ASCII byte at byte %zu", i + 1);
	}
	/* url[0..len) is printable ASCII from here on: a copy is a C string */
	char copy[SUBSTITUTER_URL_MAX], shown[200];
	memcpy(copy, url, len);
	copy[len] = '\0';
	url_redact(copy, shown, sizeof(shown));
	bool s3 = has_prefix(copy, len, "s3://"), file = has_prefix(copy, len, "file://");
	if (!s3 && !file && !has_prefix(copy, len, "http://") && !has_prefix(copy, len, "https://"))
		return ip_fail(err, -EINVAL, "substituter '%s': unsupported URL scheme (use http://, "
			       "https://, s3:// or file://)", shown);
	struct url_parts p = { 0 };
	bool parsed = !s3 && !file && parts_get(copy, &p);
	bool userinfo = parsed ? p.userinfo : authority_has_at(copy);
	bool host = parsed && p.host && p.host[0];
	parts_free(&p);
	if (userinfo)
		return ip_fail(err, -EINVAL,
			       "substituter '%s' carries a user name or password: refused (logs and "
			       "reports would show it); s3:// caches use the instance role", shown);
	if (s3) {
		struct s3_url s3url;
		return s3_url_parse(copy, &s3url, err) < 0
			       ? ip_fail_ctx(err, -EINVAL, "substituter '%s'", shown) : 0;
	}
	if (file)
		return 0;
	size_t after_scheme = strcspn(copy, ":") + 3;
	if (after_scheme >= len || strchr("/?#", copy[after_scheme]) || (parsed && !host))
		return ip_fail(err, -EINVAL, "substituter '%s' has no host", shown);
	if (!parsed)
		return ip_fail(err, -EINVAL, "substituter '%s' is not a URL curl can parse", shown);
	return 0;
}
