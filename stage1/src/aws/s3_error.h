/* S3's error answers: the XML body
 *   <Error><Code>NoSuchKey</Code><Message>...</Message>...</Error>
 * and what an answer means for a binary cache client.  Pure.
 *
 * Classes (issue 4): 403 and 404 mean "not in this cache" (S3 answers 403
 * for a missing key in a bucket the caller may not list, and Nix reads both
 * as absent; AccessDenied is such a 403), except when the Code says
 * otherwise:
 *   SignatureDoesNotMatch, InvalidAccessKeyId, InvalidToken -> CREDENTIALS
 *   ExpiredToken, TokenRefreshRequired                       -> EXPIRED_TOKEN
 *     (refresh the credentials once, then CREDENTIALS)
 *   RequestTimeTooSkewed                                     -> CLOCK
 *   AuthorizationHeaderMalformed, PermanentRedirect (301),
 *     IllegalLocationConstraintException                     -> WRONG_REGION
 *   5xx, 429, SlowDown, RequestTimeout, InternalError        -> RETRY
 *   anything else                                            -> OTHER (fatal
 *     for this cache)
 */
#ifndef IP_AWS_S3_ERROR_H
#define IP_AWS_S3_ERROR_H

#include <stddef.h>
#include <time.h>

#define S3_ERROR_BODY_MAX 65536  /* bytes of the body looked at */
#define S3_ERROR_CODE_MAX 64
#define S3_ERROR_MESSAGE_MAX 256
#define S3_ERROR_TIME_MAX 40

enum s3_error_class {
	S3_ERR_NOT_IN_CACHE,
	S3_ERR_CREDENTIALS,
	S3_ERR_EXPIRED_TOKEN,
	S3_ERR_CLOCK,
	S3_ERR_WRONG_REGION,
	S3_ERR_RETRY,
	S3_ERR_OTHER,
};

struct s3_error {
	long http_status;
	enum s3_error_class cls;
	char code[S3_ERROR_CODE_MAX];          /* "" when the body had none */
	char message[S3_ERROR_MESSAGE_MAX];    /* entities decoded, control chars dropped */
	char request_time[S3_ERROR_TIME_MAX];  /* RequestTimeTooSkewed only */
	char server_time[S3_ERROR_TIME_MAX];
	/* Seconds this machine's clock is ahead of S3's (negative: behind), when
	 * both times were present and parsed; has_skew says whether it was. */
	long long skew_s;
	int has_skew;
};

/* Reads status and body (may be NULL / empty, e.g. for HEAD) into out and
 * classifies.  Never fails: unknown bodies leave code empty. */
void s3_error_parse(long http_status, const char *body, size_t len, struct s3_error *out);

/* One line for the log / the console, naming the class in words:
 * "access denied: S3 rejected the signature (SignatureDoesNotMatch): ...",
 * "the clock is wrong: ... 1200 s behind S3's ...", "not in this cache
 * (HTTP 404 NoSuchKey)", ...  Never contains credentials (S3 does not put
 * the secret in its messages; the StringToSign elements are not copied). */
void s3_error_describe(const struct s3_error *e, char *buf, size_t size);

const char *s3_error_class_name(enum s3_error_class cls);

#endif
