/* S3 substituter URLs, mapped to HTTP(S) object URLs the way Nix maps them
 * (reference: nix-binary-cache.md "S3 caches"; Nix src/libstore/s3-url.cc).
 * Pure: no I/O.
 *
 *   s3://BUCKET[/PREFIX][?region=R][&endpoint=URL][&addressing-style=auto|path|virtual]
 *                       [&scheme=https|http][&dualstack=true|false]
 *
 *   no endpoint, virtual-hosted  https://BUCKET.s3.REGION.amazonaws.com/PREFIX/KEY
 *   no endpoint, path style      https://s3.REGION.amazonaws.com/BUCKET/PREFIX/KEY
 *   dualstack=true               s3.dualstack.REGION.amazonaws.com in both styles:
 *                                the endpoints with IPv6 addresses (the plain
 *                                ones are IPv4 only); not with endpoint=
 *   endpoint, path style         ENDPOINT/BUCKET/PREFIX/KEY
 *   endpoint, virtual-hosted     SCHEME://BUCKET.ENDPOINT-HOST[:PORT]/ENDPOINT-PATH/PREFIX/KEY
 *
 * addressing-style=auto (the default) is virtual-hosted for AWS's own
 * endpoints and path style with a custom endpoint, and path style for a
 * bucket name that is not a DNS label (dots: a wildcard TLS certificate
 * does not cover them; upper case or '_': legacy names).  virtual with such
 * a name is an error.  The region defaults to us-east-1; region_explicit
 * says whether the URL named it, so the caller may take IMDS's instead.
 * Other Nix store parameters (profile, priority, trusted, ...) are accepted
 * and listed in `ignored` for the caller to mention.
 */
#ifndef IP_AWS_S3_URL_H
#define IP_AWS_S3_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define S3_BUCKET_MAX 63
#define S3_PREFIX_MAX 512
#define S3_REGION_MAX 32
#define S3_HOST_MAX 255
#define S3_ENDPOINT_PATH_MAX 256
#define S3_SUBSTITUTER_URL_MAX 2048
#define S3_DEFAULT_REGION "us-east-1"

enum s3_addressing {
	S3_ADDRESSING_AUTO,
	S3_ADDRESSING_PATH,
	S3_ADDRESSING_VIRTUAL,
};

struct s3_url {
	char bucket[S3_BUCKET_MAX + 1];
	char prefix[S3_PREFIX_MAX + 1];      /* "" or "a/b": no leading or trailing '/' */
	char region[S3_REGION_MAX + 1];      /* never empty */
	bool region_explicit;
	char scheme[8];                      /* "https" or "http" */
	char endpoint_host[S3_HOST_MAX + 1]; /* "" for AWS; "host", "host:port", "[v6]:port" */
	char endpoint_path[S3_ENDPOINT_PATH_MAX + 1]; /* "" or "/p" (no trailing '/') */
	enum s3_addressing addressing;       /* as asked */
	bool dualstack;                      /* s3.dualstack.REGION.amazonaws.com */
	char ignored[128];                   /* "profile priority" or "" */
	bool dualstack_explicit;             /* the URL said dualstack= */
};

/* -EINVAL with err for anything not of the form above. */
int s3_url_parse(const char *url, struct s3_url *out, struct ip_error *err);

/* Sets the region when the URL did not name one (from IMDS).  Returns 0
 * without change when the URL's own region is set; -EINVAL for a bad name. */
int s3_url_set_region(struct s3_url *u, const char *region, struct ip_error *err);

/* Switches an AWS URL (no endpoint=) to the dual-stack host, for a machine
 * that has only IPv6.  Returns true when that changed the host (the caller
 * says so once), false for a custom endpoint or a URL already dual-stack or
 * with an explicit dualstack=false. */
bool s3_url_prefer_dualstack(struct s3_url *u);

/* True when objects are addressed virtual-hosted style (bucket in the host). */
bool s3_url_virtual_hosted(const struct s3_url *u);

/* The host (with port) requests go to, e.g. "cache.s3.eu-west-1.amazonaws.com". */
int s3_url_host(const struct s3_url *u, char *out, size_t size, struct ip_error *err);

/* The URL of object KEY (relative to the cache root, e.g. "nix-cache-info",
 * "<hash>.narinfo", "nar/<x>.nar.xz").  Characters of the prefix and key
 * other than unreserved ones and '/' are percent-encoded.  -ENAMETOOLONG if
 * it does not fit; -EINVAL for an empty key or one starting with '/'. */
int s3_url_object(const struct s3_url *u, const char *key, char *out, size_t size,
		  struct ip_error *err);

const char *s3_addressing_name(enum s3_addressing a);

#endif
