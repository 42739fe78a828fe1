/* A substituter: one binary cache, as named on the command line.
 *
 * http:// and https:// caches are fetched as they are; file:// caches go
 * through the same HTTP layer (curl reads local files).  s3:// caches are
 * mapped to HTTPS by cache/s3_substituter.c, which fills in the hooks below
 * (request signing, and reading S3's error bodies). */
#ifndef IP_CACHE_SUBSTITUTER_H
#define IP_CACHE_SUBSTITUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "cache/origin.h"
#include "util/error.h"

enum substituter_scheme { SUBST_HTTP, SUBST_HTTPS, SUBST_FILE, SUBST_S3 };

/* Verdict of a substituter's error-body classifier on a non-2xx answer. */
enum substituter_verdict {
	SUBST_KEEP = 0,       /* no opinion: the generic rules (404 = not here, 5xx = retry...) */
	SUBST_NOT_HERE,       /* the path is not in this cache: try the next one */
	SUBST_FAIL,           /* a real problem (credentials, clock, region): stop, err says why */
	SUBST_RETRY,          /* transient, or an expired token just refreshed: try again */
};

struct substituter {
	char *url;            /* as given (for messages and the report) */
	char *base;           /* URL every file name is appended to, no trailing '/' */
	enum substituter_scheme scheme;
	int index;            /* position on the command line */

	/* Hooks (NULL when unused).  Both run on the HTTP thread.
	 * prepare_request: called for every request to this cache just before it
	 * starts (each attempt), to sign it: may set curl options and append to
	 * *headers (freed by the HTTP layer after the transfer).
	 * classify_error: called with the status and (up to 4 KiB of) the body
	 * of every HTTP answer that is not 2xx (S3 says what a 403 means in its
	 * XML body, and answers 301 for a wrong region). */
	int (*prepare_request)(void *hook_ctx, CURL *easy, struct curl_slist **headers,
			       struct ip_error *err);
	enum substituter_verdict (*classify_error)(void *hook_ctx, long status, const char *body,
						   size_t len, struct ip_error *err);
	void (*free_hooks)(void *hook_ctx);
	void *hook_ctx;
};

struct aws_creds_provider;

/* What s3:// substituters need from the caller (all optional). */
struct substituter_env {
	struct aws_creds_provider *aws_credentials; /* NULL: unsigned requests */
	const char *aws_region;       /* for URLs without region= (else us-east-1) */
	bool s3_dualstack;            /* only IPv6 is up: AWS URLs use the dual-stack host */
	/* One-line notes for the log, e.g. "requests are unsigned" (HTTP thread). */
	void (*note)(void *ctx, const char *line);
	void *note_ctx;
};

/* Parses a substituter URL (checked by substituter_url_check, cache/origin.h).  Store parameters after '?' on http(s) and file
 * URLs (priority=, want-mass-query=, ...) are Nix settings and are ignored.
 * s3:// URLs are mapped to HTTPS with env's credentials and region (env may
 * be NULL); other schemes -EINVAL. */
int substituter_init(struct substituter *sub, const char *url, int index, const struct substituter_env *env,
		     struct ip_error *err);
void substituter_free(struct substituter *sub);

/* The URL of `file` in the cache: base + "/" + file.  `file` is a narinfo
 * URL field or a fixed name ("nix-cache-info", "<hash>.narinfo"): it must be
 * relative and made of [A-Za-z0-9._+/-] without "..", or an absolute
 * http(s) URL, which (like Nix) is used as it is; whether it may be signed
 * is cache/origin.h's url_place_in.  -EINVAL otherwise. */
int substituter_join(const struct substituter *sub, const char *file, char **out,
		     struct ip_error *err);

#endif
