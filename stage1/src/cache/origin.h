/* Where a URL points, compared with a cache's base URL: the rule that keeps
 * a cache's credentials with the cache (README "Reliability").
 *
 * A request is signed only when its URL is INSIDE the cache: parsed by
 * curl's own URL API (the parser curl then connects with), never compared
 * as strings, it has
 *   - the base's scheme,
 *   - the base's host (as curl normalises it: case, %-escapes, IPv4 forms),
 *   - the base's port (default ports made explicit),
 *   - no userinfo (user, password or login options) at all,
 *   - a path under the base's path followed by '/', with no %-escaped '.',
 *     '/' or '\' that a server might decode into another path.
 * String prefixes let "https://b.s3.r.amazonaws.com:443@evil/..." and
 * "https://b.s3.r.amazonaws.com.evil.example/..." through (issue 14).
 *
 * Also the one check of a substituter URL as configured (image
 * configuration, user-data, the command line), and the redaction of
 * userinfo for messages about a URL that is refused for carrying it.
 * Pure: no I/O.
 */
#ifndef IP_CACHE_ORIGIN_H
#define IP_CACHE_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

enum url_place {
	URL_INSIDE = 0,       /* same origin, path under the base's */
	URL_OTHER_SCHEME,
	URL_OTHER_HOST,
	URL_OTHER_PORT,
	URL_USERINFO,         /* user:password@ (or ;options) in the URL */
	URL_OUTSIDE_PATH,     /* same origin, path not under the base's */
	URL_MALFORMED,        /* curl cannot parse it (or the base) */
};

/* "another host", ... for messages. */
const char *url_place_name(enum url_place p);

/* Where `url` is relative to the cache whose files are under `base`
 * (a substituter's base: no trailing '/'). */
enum url_place url_place_in(const char *base, const char *url);

/* "scheme://host:port" of `url` (for messages: no userinfo, no path);
 * "(unparseable URL)" when curl cannot parse it. */
void url_origin(const char *url, char *out, size_t size);

/* `url` with anything between "://" and the last '@' before the query
 * replaced by "[redacted]": more than curl would take as userinfo, never
 * less.  Always NUL-terminates; cuts to `size`. */
void url_redact(const char *url, char *out, size_t size);

#define SUBSTITUTER_URL_MAX 2048

/* The one check of a substituter URL, wherever it comes from: at most
 * SUBSTITUTER_URL_MAX - 1 printable ASCII bytes; http:// or https:// with
 * a host curl accepts, file://, or s3:// as aws/s3_url.h describes; and no
 * userinfo (refused, with the URL redacted in the message: the places a
 * substituter is configured are readable on the instance, and the URL is
 * echoed in logs and reports).  -EINVAL with one line in err. */
int substituter_url_check(const char *url, size_t len, struct ip_error *err);

#endif
