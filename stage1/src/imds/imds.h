/* EC2 Instance Metadata Service, IMDSv2, over libcurl easy handles
 * (blocking, bounded).  README "IMDS".
 *
 * Protocol: PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds
 * gives a token; every GET carries X-aws-ec2-metadata-token.  What each
 * answer leads to:
 *   200                      done
 *   404 on a GET             -ENOENT, "not there" (no user-data, no such tag,
 *                            no role): a result, not a failure
 *   401 on a GET             the token was rejected (seen right after boot):
 *                            drop it, get a new one, retry (no wait the first
 *                            time, backoff after that)
 *   403 on the PUT           IMDS is disabled for this instance: -EACCES at
 *                            once, no retry
 *   connection refused, unreachable, timeouts, 429, 5xx
 *                            retry with exponential backoff (IMDS_BACKOFF_*)
 *                            until the total budget is spent: -ETIMEDOUT
 *                            naming the last failure
 *   anything else            -EPROTO
 * No IMDSv1 fallback (GETs without a token) unless allow_v1 is set; then
 * only when the PUT itself is answered 404/405 (an old IMDS or a proxy that
 * does not know v2).
 * This table is imds_classify(), pure and tested row by row; in imds.c,
 * exchange() is the one function that talks to IMDS.
 *
 * Endpoint auto: IMDS_ENDPOINT_IPV4 first, then IMDS_ENDPOINT_IPV6 (Nitro
 * instances with HttpProtocolIpv6 enabled; the IPv6 endpoint is the only one
 * an instance whose IPv4 did not come up can reach).  A transport failure
 * (refused, unreachable, connect timeout) moves to the other endpoint at
 * once; when both failed in a row, the usual backoff comes first.  The first
 * endpoint that answers HTTP at all is kept for the client's life, and from
 * then on the table above applies unchanged (a 403 from either is final).
 * The decision is imds_auto_*, pure and table-tested.
 *
 * Neither the token nor any body is ever logged or put into an error.
 * A client is not thread-safe: one thread at a time (aws/credentials.c
 * holds its own lock around it).
 */
#ifndef IP_IMDS_IMDS_H
#define IP_IMDS_IMDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/credentials.h"
#include "util/error.h"

#define IMDS_ENDPOINT_IPV4 "http://169.254.169.254"
#define IMDS_ENDPOINT_IPV6 "http://[fd00:ec2::254]"
/* Both, IPv4 first (see "Endpoint auto" below). */
#define IMDS_ENDPOINT_AUTO "auto"

/* Defaults for struct imds_config (0 fields take them). */
#define IMDS_DEFAULT_BUDGET_MS 30000       /* total per call, retries included */
#define IMDS_DEFAULT_REQUEST_TIMEOUT_MS 2000 /* one HTTP exchange */
#define IMDS_DEFAULT_CONNECT_TIMEOUT_MS 1000
#define IMDS_DEFAULT_TOKEN_TTL_S 21600     /* the maximum IMDS allows */
#define IMDS_BACKOFF_FIRST_MS 100
#define IMDS_BACKOFF_MAX_MS 2000
#define IMDS_BODY_MAX 65536                /* user-data is 16 KiB at most */
#define IMDS_TOKEN_MAX 512
#define IMDS_ENDPOINT_MAX 256

struct imds_config {
	const char *endpoint;          /* NULL: IMDS_ENDPOINT_IPV4; "auto"; no trailing slash */
	unsigned budget_ms;            /* per imds_get(), all attempts together */
	unsigned request_timeout_ms;
	unsigned connect_timeout_ms;
	unsigned token_ttl_s;          /* 1..21600 */
	bool allow_v1;                 /* see above */
};

/* Endpoint auto's state: which endpoint the next attempt uses. */
struct imds_auto {
	unsigned n;                    /* endpoints (1 or 2) */
	unsigned current;
	bool pinned;                   /* an endpoint answered: stay on it */
	unsigned failed_in_round;      /* transport failures since the last backoff */
};
void imds_auto_init(struct imds_auto *a, unsigned n);
/* An HTTP answer came from the current endpoint: keep it. */
void imds_auto_answered(struct imds_auto *a);
/* The current endpoint failed at the transport level.  Returns true when
 * the next attempt should go at once (to the other endpoint, untried in
 * this round), false when the caller should back off first. */
bool imds_auto_transport_failed(struct imds_auto *a);
/* The caller backed off: a new round. */
void imds_auto_backed_off(struct imds_auto *a);

/* ---- the decision after one exchange (pure; the table at the top) ------ */

enum imds_request {
	IMDS_REQUEST_TOKEN, /* PUT /latest/api/token */
	IMDS_REQUEST_GET,
};

/* How the exchange ended below HTTP. */
enum imds_transport {
	IMDS_ANSWERED,      /* an HTTP status */
	IMDS_NO_ANSWER,     /* refused, unreachable, timed out, reset: retryable */
	IMDS_ANSWER_TOO_BIG, /* the body passed IMDS_BODY_MAX */
	IMDS_LOCAL_FAILURE, /* out of memory here */
};

struct imds_exchange {
	enum imds_request request;
	enum imds_transport transport;
	long status;            /* with IMDS_ANSWERED */
	bool token_usable;      /* a token request's body: 1..IMDS_TOKEN_MAX printable bytes */
	bool allow_v1;
	bool v1_mode;           /* GETs go without a token */
	unsigned rejections;    /* GETs answered 401 earlier in this imds_get() */
};

enum imds_step {
	IMDS_STEP_DONE,    /* the call ends: the answer, or verdict.error */
	IMDS_STEP_AGAIN,   /* go on at once (the GET after a token; a fresh token) */
	IMDS_STEP_BACKOFF, /* again after the backoff delay, while the budget lasts */
};

enum imds_reason {
	IMDS_GOT_TOKEN,      /* token request 200 with a usable token: AGAIN */
	IMDS_BAD_TOKEN,      /* token request 200, token empty/long/unprintable: -EPROTO */
	IMDS_DISABLED,       /* token request 403: -EACCES, no retry */
	IMDS_USE_V1,         /* token request 404/405, allow_v1: AGAIN without token */
	IMDS_NO_V2,          /* token request 404/405: -EPROTO */
	IMDS_ANSWER,         /* GET 200: done, 0 */
	IMDS_NOT_FOUND,      /* GET 404: -ENOENT */
	IMDS_TOKEN_REJECTED, /* GET 401 with a token: AGAIN the first time, then BACKOFF */
	IMDS_BUSY,           /* 429, 5xx: BACKOFF */
	IMDS_UNREACHABLE,    /* no HTTP answer: BACKOFF (endpoint auto may switch first) */
	IMDS_TOO_BIG,        /* -EPROTO for a token, -EMSGSIZE for a GET */
	IMDS_OUT_OF_MEMORY,  /* -ENOMEM */
	IMDS_UNEXPECTED,     /* any other status: -EPROTO */
};

struct imds_verdict {
	enum imds_step step;
	enum imds_reason reason;
	int error;           /* with IMDS_STEP_DONE: 0 or a negative errno */
};

struct imds_verdict imds_classify(const struct imds_exchange *x);
const char *imds_step_name(enum imds_step step);
const char *imds_reason_name(enum imds_reason reason);

struct imds_client;

int imds_client_new(const struct imds_config *cfg, struct imds_client **out,
		    struct ip_error *err);
void imds_client_free(struct imds_client *c);

/* GET <endpoint><path> (path starts with '/').  On 0, *buf is a malloc'd,
 * NUL-terminated copy of the body (the NUL not counted in *len).  -ENOENT
 * on 404 (err says "not found" and *buf is NULL); other negative errnos as
 * in the table above. */
int imds_get(struct imds_client *c, const char *path, uint8_t **buf, size_t *len,
	     struct ip_error *err);

/* /latest/user-data: the raw bytes (maybe gzip).  -ENOENT: no user-data. */
int imds_user_data(struct imds_client *c, uint8_t **buf, size_t *len, struct ip_error *err);

/* /latest/meta-data/placement/region into out (checked: [a-z0-9-], at most
 * out_size - 1 bytes). */
int imds_region(struct imds_client *c, char *out, size_t out_size, struct ip_error *err);

/* /latest/meta-data/tags/instance/<name> (name percent-encoded).  *value is
 * malloc'd and NUL-terminated.  -ENOENT when the tag is not set or tags are
 * not exposed in the metadata. */
int imds_tag(struct imds_client *c, const char *name, char **value, struct ip_error *err);

/* Lists /latest/meta-data/iam/security-credentials/, takes the (first) role
 * and parses its credentials document.  -ENOENT when the instance has no
 * role.  The name of the role goes to role (may be NULL). */
int imds_role_credentials(struct imds_client *c, struct aws_credentials *creds, char *role,
			  size_t role_size, struct ip_error *err);

/* imds_role_credentials as the credential chain's hook
 * (aws_creds_config.role_credentials, role_ctx the client). */
aws_role_credentials_fn imds_role_credentials_hook;

/* How many HTTP requests this client has made (tests assert on it). */
unsigned imds_request_count(const struct imds_client *c);

#endif
