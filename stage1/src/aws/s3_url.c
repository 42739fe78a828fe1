#include "aws/s3_url.h"

#include <stdio.h>
#include <string.h>

#include "util/hex.h"

static bool is_lower_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

static bool is_unreserved(char c)
{
	return (c >= 'A' && c <= 'Z') || is_lower_digit(c) || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

static bool region_valid(const char *r, size_t n)
{
	if (n == 0 || n > S3_REGION_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_digit(r[i]) && r[i] != '-')
			return false;
	return true;
}

/* A bucket name usable as a DNS label in a virtual host: [a-z0-9-], not
 * starting or ending with '-', no dots. */
static bool bucket_dns_label(const char *b)
{
	size_t n = strlen(b);
	if (n == 0 || b[0] == '-' || b[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_digit(b[i]) && b[i] != '-')
			return false;
	return true;
}

/* Percent-decodes src[0..n) into dst (size cap incl. NUL).  Refuses NUL
 * and control characters. */
static bool pct_decode(const char *src, size_t n, char *dst, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		if (c == '%') {
			if (i + 2 >= n)
				return false;
			int h = hex_digit_value(src[i + 1]), l = hex_digit_value(src[i + 2]);
			if (h < 0 || l < 0)
				return false;
			c = (unsigned char)(h * 16 + l);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f || o + 1 >= cap)
			return false;
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
	return true;
}

/* "http://host[:port][/path]" or "host[:port]" (then the scheme parameter
 * decides). */
static int parse_endpoint(const char *v, struct s3_url *out, bool *scheme_given,
			  struct ip_error *err)
{
	const char *p = v;
	*scheme_given = false;
	if (strncmp(p, "https://", 8) == 0) {
		snprintf(out->scheme, sizeof(out->scheme), "https");
		p += 8;
		*scheme_given = true;
	} else if (strncmp(p, "http://", 7) == 0) {
		snprintf(out->scheme, sizeof(out->scheme), "http");
		p += 7;
		*scheme_given = true;
	} else if (strstr(p, "://")) {
		return ip_fail(err, -EINVAL, "S3 URL: endpoint must be http:// or https://");
	}
	size_t hl = strcspn(p, "/");
	if (hl == 0 || hl > S3_HOST_MAX)
		return ip_fail(err, -EINVAL, "S3 URL: endpoint has no host or a host over %d bytes",
			       S3_HOST_MAX);
	for (size_t i = 0; i < hl; i++) {
		char c = p[i];
		if (!(is_unreserved(c) || c == ':' || c == '[' || c == ']'))
			return ip_fail(err, -EINVAL, "S3 URL: endpoint host has a character '%c' that "
				       "is not allowed", c > 0x20 && c < 0x7f ? c : '?');
	}
	memcpy(out->endpoint_host, p, hl);
	out->endpoint_host[hl] = '\0';
	const char *path = p + hl;
	size_t pl = strlen(path);
	while (pl > 0 && path[pl - 1] == '/')
		pl--;
	if (pl > S3_ENDPOINT_PATH_MAX)
		return ip_fail(err, -EINVAL, "S3 URL: endpoint path over %d bytes", S3_ENDPOINT_PATH_MAX);
	for (size_t i = 0; i < pl; i++)
		if (!(is_unreserved(path[i]) || path[i] == '/'))
			return ip_fail(err, -EINVAL, "S3 URL: endpoint path has a character that is not "
				       "allowed");
	memcpy(out->endpoint_path, path, pl);
	out->endpoint_path[pl] = '\0';
	return 0;
}

static void note_ignored(struct s3_url *out, const char *k, size_t kl)
{
	size_t used = strlen(out->ignored);
	if (used + kl + 2 > sizeof(out->ignored))
		return;
	snprintf(out->ignored + used, sizeof(out->ignored) - used, "%s%.*s", used ? " " : "",
		 (int)kl, k);
}

int s3_url_parse(const char *url, struct s3_url *out, struct ip_error *err)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->region, sizeof(out->region), "%s", S3_DEFAULT_REGION);
	snprintf(out->scheme, sizeof(out->scheme), "https");
	out->addressing = S3_ADDRESSING_AUTO;

	if (strlen(url) > S3_SUBSTITUTER_URL_MAX)
		return ip_fail(err, -EINVAL, "S3 URL longer than %d bytes", S3_SUBSTITUTER_URL_MAX);
	if (strncmp(url, "s3://", 5) != 0)
		return ip_fail(err, -EINVAL, "not an s3:// URL");
	const char *p = url + 5;
	if (strchr(p, '#'))
		return ip_fail(err, -EINVAL, "S3 URL: a '#' fragment is not allowed");

	size_t bl = strcspn(p, "/?");
	if (bl == 0)
		return ip_fail(err, -EINVAL, "S3 URL: no bucket name");
	if (bl > S3_BUCKET_MAX)
		return ip_fail(err, -EINVAL, "S3 URL: bucket name longer than %d characters",
			       S3_BUCKET_MAX);
	for (size_t i = 0; i < bl; i++) {
		char c = p[i];
		if (!(is_lower_digit(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '-' || c == '_'))
			return ip_fail(err, -EINVAL, "S3 URL: bucket name '%.*s' has a character that "
				       "is not allowed", (int)bl, p);
	}
	memcpy(out->bucket, p, bl);
	p += bl;

	if (*p == '/') {
		while (*p == '/')
			p++;
		size_t pl = strcspn(p, "?");
		while (pl > 0 && p[pl - 1] == '/')
			pl--;
		if (pl > S3_PREFIX_MAX)
			return ip_fail(err, -EINVAL, "S3 URL: prefix longer than %d bytes", S3_PREFIX_MAX);
		for (size_t i = 0; i < pl; i++) {
			char c = p[i];
			if (!(is_unreserved(c) || strchr("/+=,@:!$'()*", c)) || c == '\0')
				return ip_fail(err, -EINVAL, "S3 URL: prefix has a character that is not "
					       "allowed");
		}
		memcpy(out->prefix, p, pl);
		/* Empty, "." and ".." segments would be normalised away by someone. */
		const char *s = out->prefix;
		while (*s) {
			size_t sl = strcspn(s, "/");
			if (sl == 0 || (sl == 1 && s[0] == '.') || (sl == 2 && s[0] == '.' && s[1] == '.'))
				return ip_fail(err, -EINVAL, "S3 URL: prefix has an empty, '.' or '..' "
					       "segment");
			s += sl;
			if (*s == '/')
				s++;
		}
		p += strcspn(p, "?");
	}

	bool have_region = false, have_endpoint = false, have_style = false, have_scheme = false;
	bool have_dualstack = false;
	bool endpoint_scheme = false;
	char scheme_param[8] = "";
	if (*p == '?') {
		p++;
		while (*p) {
			size_t il = strcspn(p, "&");
			const char *eq = memchr(p, '=', il);
			size_t kl = eq ? (size_t)(eq - p) : il;
			const char *v = eq ? eq + 1 : p + il;
			size_t vl = eq ? il - kl - 1 : 0;
			char val[S3_HOST_MAX + S3_ENDPOINT_PATH_MAX + 16];
			if (!pct_decode(v, vl, val, sizeof(val)))
				return ip_fail(err, -EINVAL, "S3 URL: parameter '%.*s' has a bad value",
					       (int)(kl > 40 ? 40 : kl), p);
#define KEY_IS(name) (kl == strlen(name) && memcmp(p, name, kl) == 0)
			bool *seen = NULL;
			if (KEY_IS("region"))
				seen = &have_region;
			else if (KEY_IS("endpoint"))
				seen = &have_endpoint;
			else if (KEY_IS("addressing-style"))
				seen = &have_style;
			else if (KEY_IS("scheme"))
				seen = &have_scheme;
			else if (KEY_IS("dualstack"))
				seen = &have_dualstack;
			if (seen && *seen)
				return ip_fail(err, -EINVAL, "S3 URL: parameter '%.*s' given twice",
					       (int)kl, p);
			if (seen)
				*seen = true;
			if (KEY_IS("region")) {
				if (!region_valid(val, strlen(val)))
					return ip_fail(err, -EINVAL, "S3 URL: region '%.40s' is not a region "
						       "name", val);
				memcpy(out->region, val, strlen(val) + 1); /* length checked */
				out->region_explicit = true;
			} else if (KEY_IS("endpoint")) {
				int r = parse_endpoint(val, out, &endpoint_scheme, err);
				if (r < 0)
					return r;
			} else if (KEY_IS("addressing-style")) {
				if (strcmp(val, "auto") == 0)
					out->addressing = S3_ADDRESSING_AUTO;
				else if (strcmp(val, "path") == 0)
					out->addressing = S3_ADDRESSING_PATH;
				else if (strcmp(val, "virtual") == 0)
					out->addressing = S3_ADDRESSING_VIRTUAL;
				else
					return ip_fail(err, -EINVAL, "S3 URL: addressing-style must be auto, "
						       "path or virtual");
			} else if (KEY_IS("scheme")) {
				if (strcmp(val, "https") != 0 && strcmp(val, "http") != 0)
					return ip_fail(err, -EINVAL, "S3 URL: scheme must be https or http");
				memcpy(scheme_param, val, strlen(val) + 1); /* "http" or "https" */
			} else if (KEY_IS("dualstack")) {
				if (strcmp(val, "true") != 0 && strcmp(val, "false") != 0)
					return ip_fail(err, -EINVAL, "S3 URL: dualstack must be true or false");
				out->dualstack = strcmp(val, "true") == 0;
				out->dualstack_explicit = true;
			} else if (kl > 0) {
				note_ignored(out, p, kl);
			}
#undef KEY_IS
			p += il;
			if (*p == '&')
				p++;
		}
	}
	/* A scheme inside the endpoint wins over the scheme parameter (Nix). */
	if (scheme_param[0] && !endpoint_scheme)
		snprintf(out->scheme, sizeof(out->scheme), "%s", scheme_param);
	/* The endpoint names the host: a dual-stack one is the endpoint's
	 * business (AWS SDKs ignore the flag there; say it instead). */
	if (out->dualstack && out->endpoint_host[0])
		return ip_fail(err, -EINVAL, "S3 URL: dualstack=true and endpoint= together; "
			       "the endpoint names the host (use https://s3.dualstack.REGION.amazonaws.com as it)");
	if (out->addressing == S3_ADDRESSING_VIRTUAL && !bucket_dns_label(out->bucket))
		return ip_fail(err, -EINVAL, "S3 URL: addressing-style=virtual needs a bucket name of "
			       "[a-z0-9-] only, '%s' is not", out->bucket);
	return 0;
}

int s3_url_set_region(struct s3_url *u, const char *region, struct ip_error *err)
{
	if (u->region_explicit)
		return 0;
	if (!region_valid(region, strlen(region)))
		return ip_fail(err, -EINVAL, "region '%.40s' is not a region name", region);
	snprintf(u->region, sizeof(u->region), "%s", region);
	return 0;
}

bool s3_url_prefer_dualstack(struct s3_url *u)
{
	if (u->endpoint_host[0] || u->dualstack || u->dualstack_explicit)
		return false;
	u->dualstack = true;
	return true;
}

bool s3_url_virtual_hosted(const struct s3_url *u)
{
	switch (u->addressing) {
	case S3_ADDRESSING_PATH: return false;
	case S3_ADDRESSING_VIRTUAL: return true;
	case S3_ADDRESSING_AUTO: break;
	}
	return u->endpoint_host[0] == '\0' && bucket_dns_label(u->bucket);
}

int s3_url_host(const struct s3_url *u, char *out, size_t size, struct ip_error *err)
{
	bool virt = s3_url_virtual_hosted(u);
	int n;
	if (u->endpoint_host[0])
		n = snprintf(out, size, "%s%s%s", virt ? u->bucket : "", virt ? "." : "",
			     u->endpoint_host);
	else
		n = snprintf(out, size, "%s%ss3.%s%s.amazonaws.com", virt ? u->bucket : "",
			     virt ? "." : "", u->dualstack ? "dualstack." : "", u->region);
	if (n < 0 || (size_t)n >= size)
		return ip_fail(err, -ENAMETOOLONG, "S3 host name too long");
	return 0;
}

/* Appends src percent-encoded (keeping unreserved characters and '/'). */
static bool append_encoded(char *out, size_t size, size_t *o, const char *src)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *src; src++) {
		unsigned char c = (unsigned char)*src;
		if (is_unreserved((char)c) || c == '/') {
			if (*o + 1 >= size)
				return false;
			out[(*o)++] = (char)c;
		} else {
			if (*o + 3 >= size)
				return false;
			out[(*o)++] = '%';
			out[(*o)++] = hex[c >> 4];
			out[(*o)++] = hex[c & 15];
		}
	}
	out[*o] = '\0';
	return true;
}

int s3_url_object(const struct s3_url *u, const char *key, char *out, size_t size,
		  struct ip_error *err)
{
	if (!key[0] || key[0] == '/')
		return ip_fail(err, -EINVAL, "S3 object key must be relative and not empty");
	char host[S3_HOST_MAX + S3_BUCKET_MAX + 2];
	int r = s3_url_host(u, host, sizeof(host), err);
	if (r < 0)
		return r;
	bool virt = s3_url_virtual_hosted(u);
	int n = snprintf(out, size, "%s://%s%s/", u->scheme, host, u->endpoint_path);
	if (n < 0 || (size_t)n >= size)
		goto too_long;
	size_t o = (size_t)n;
	if (!virt && !(append_encoded(out, size, &o, u->bucket) && append_encoded(out, size, &o, "/")))
		goto too_long;
	if (u->prefix[0] &&
	    !(append_encoded(out, size, &o, u->prefix) && append_encoded(out, size, &o, "/")))
		goto too_long;
	if (!append_encoded(out, size, &o, key))
		goto too_long;
	return 0;
too_long:
	return ip_fail(err, -ENAMETOOLONG, "URL of S3 object '%.60s' is too long", key);
}

const char *s3_addressing_name(enum s3_addressing a)
{
	switch (a) {
	case S3_ADDRESSING_AUTO: return "auto";
	case S3_ADDRESSING_PATH: return "path";
	case S3_ADDRESSING_VIRTUAL: return "virtual";
	}
	return "?";
}
