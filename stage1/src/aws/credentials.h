/* AWS credentials for signing S3 requests, and the chain that finds them
 * (README "S3 caches"):
 *   1. explicit values (command line / config file; for tests and host use),
 *   2. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 *      optionally AWS_SESSION_TOKEN (read once, when the provider is made),
 *   3. the EC2 instance role from IMDS, fetched on first use and reused
 *      until AWS_CREDS_REFRESH_MARGIN before its Expiration (IMDS throttles
 *      callers that ask per request),
 *   4. none: requests go unsigned (a public bucket).
 *
 * Secrets never appear in logs or error messages; only the access key id
 * may be named.
 */
#ifndef IP_AWS_CREDENTIALS_H
#define IP_AWS_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/error.h"

#define AWS_ACCESS_KEY_ID_MAX 128     /* AWS uses 16..128 */
#define AWS_SECRET_ACCESS_KEY_MAX 128
#define AWS_SESSION_TOKEN_MAX 4096    /* IMDS role tokens are ~1.3 KB; STS allows more */
#define AWS_CREDS_REFRESH_MARGIN 300  /* seconds before Expiration */
/* After IMDS failed to give credentials, ask again only after this long. */
#define AWS_CREDS_RETRY_AFTER 60

struct aws_credentials {
	char access_key_id[AWS_ACCESS_KEY_ID_MAX + 1];
	char secret_access_key[AWS_SECRET_ACCESS_KEY_MAX + 1];
	char session_token[AWS_SESSION_TOKEN_MAX + 1]; /* "" when none */
	time_t expiration;                             /* 0: does not expire */
	unsigned generation; /* bumps on every fetch; see aws_creds_refresh() */
};

/* Overwrites the secret fields with zeros. */
void aws_credentials_wipe(struct aws_credentials *creds);

enum aws_creds_source {
	AWS_CREDS_NONE,     /* unsigned requests */
	AWS_CREDS_EXPLICIT,
	AWS_CREDS_ENV,
	AWS_CREDS_IMDS,
};

const char *aws_creds_source_name(enum aws_creds_source source);

/* Fetches the instance role's credentials (the IMDS client does:
 * imds_role_credentials_hook, ctx the client).  -ENOENT: no role; -EACCES:
 * IMDS is switched off; both mean "unsigned".  The role's name goes to role.
 * A hook, as getenv and the clock are, so that this chain does not depend
 * on the IMDS client (which depends on these types). */
typedef int aws_role_credentials_fn(void *ctx, struct aws_credentials *creds, char *role,
				    size_t role_size, struct ip_error *err);

struct aws_creds_config {
	/* 1. explicit (both or neither of id and secret; token optional) */
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;
	/* 2. the environment, unless this is set */
	bool ignore_environment;
	/* 3. the instance role; NULL: none.  Called under the provider's lock
	 * with role_ctx, which the caller keeps alive and does not use
	 * concurrently. */
	aws_role_credentials_fn *role_credentials;
	void *role_ctx;
	/* For tests: getenv and the wall clock (NULL: the real ones). */
	char *(*getenv_fn)(const char *name);
	time_t (*now_fn)(void);
};

struct aws_creds_provider;

/* Checks explicit and environment values (an id without a secret is an
 * error, -EINVAL) and copies them.  Does not contact IMDS yet. */
int aws_creds_provider_new(const struct aws_creds_config *cfg,
			   struct aws_creds_provider **out, struct ip_error *err);
void aws_creds_provider_free(struct aws_creds_provider *p);

struct aws_creds_info {
	enum aws_creds_source source;
	/* True for the first call that got this source (and after a change), so
	 * the caller can say once in the log "S3 requests are unsigned" or
	 * "using the instance role's credentials". */
	bool announce;
};

/* The current credentials, from the first source in the chain that has
 * them.  Thread-safe (the engine calls it from its curl thread); may block
 * while IMDS answers (bounded by the IMDS client's budget).  Returns 0 and
 * info->source AWS_CREDS_NONE when there are none (creds is then zeroed);
 * a negative errno when IMDS failed (err says why; the failure is
 * remembered for AWS_CREDS_RETRY_AFTER seconds so callers do not wait on
 * IMDS once per request).  info may be NULL. */
int aws_creds_get(struct aws_creds_provider *p, struct aws_credentials *creds,
		  struct aws_creds_info *info, struct ip_error *err);

/* After S3 said ExpiredToken for credentials of generation `rejected`:
 * fetches new ones (IMDS source only; other sources cannot be refreshed:
 * -EKEYEXPIRED).  If another thread already refreshed (the current
 * generation differs), returns the current ones without asking IMDS again.
 * The engine calls this once per request: refresh once, then fail. */
int aws_creds_refresh(struct aws_creds_provider *p, unsigned rejected,
		      struct aws_credentials *creds, struct ip_error *err);

#endif
