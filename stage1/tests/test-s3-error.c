/* aws/s3_error: S3's XML errors, their classes, and the messages users see. */
#include "test.h"
#include "aws/s3_error.h"

#include <stdio.h>

#define XML(code, extra) \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" code "</Code>" extra \
	"<RequestId>4442587FB7D0A2F9</RequestId><HostId>xyz</HostId></Error>"

struct class_case {
	const char *name;
	long status;
	const char *body;
	enum s3_error_class cls;
	const char *code;
	const char *describe; /* substring */
};

static const struct class_case class_cases[] = {
	{ "404 NoSuchKey", 404, XML("NoSuchKey", "<Message>The specified key does not exist.</Message>"),
	  S3_ERR_NOT_IN_CACHE, "NoSuchKey", "not in this cache (HTTP 404 NoSuchKey)" },
	{ "403 AccessDenied", 403, XML("AccessDenied", "<Message>Access Denied</Message>"),
	  S3_ERR_NOT_IN_CACHE, "AccessDenied", "not in this cache (HTTP 403 AccessDenied)" },
	{ "404 no body (HEAD)", 404, NULL, S3_ERR_NOT_IN_CACHE, "", "not in this cache (HTTP 404)" },
	{ "403 no body", 403, "", S3_ERR_NOT_IN_CACHE, "", "not in this cache (HTTP 403)" },
	{ "bad signature", 403, XML("SignatureDoesNotMatch", "<Message>The request signature we "
	  "calculated does not match the signature you provided.</Message><AWSAccessKeyId>AKID"
	  "</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256...</StringToSign>"),
	  S3_ERR_CREDENTIALS, "SignatureDoesNotMatch",
	  "access denied: S3 rejected the credentials (HTTP 403 SignatureDoesNotMatch: The request "
	  "signature we calculated does not match the signature you provided.); the secret access key "
	  "does not match the access key id" },
	{ "unknown key id", 403, XML("InvalidAccessKeyId", "<Message>The AWS Access Key Id you provided "
	  "does not exist in our records.</Message>"), S3_ERR_CREDENTIALS, "InvalidAccessKeyId",
	  "the access key id is not known to S3" },
	{ "bad token", 400, XML("InvalidToken", "<Message>The provided token is malformed</Message>"),
	  S3_ERR_CREDENTIALS, "InvalidToken", "the session token is malformed" },
	{ "expired token", 400, XML("ExpiredToken", "<Message>The provided token has expired.</Message>"),
	  S3_ERR_EXPIRED_TOKEN, "ExpiredToken",
	  "access denied: the session token has expired (HTTP 400 ExpiredToken)" },
	{ "skew behind", 403, XML("RequestTimeTooSkewed", "<Message>The difference between the request "
	  "time and the current time is too large.</Message><RequestTime>20240501T120000Z</RequestTime>"
	  "<ServerTime>2024-05-01T12:20:00Z</ServerTime><MaxAllowedSkewMilliseconds>900000"
	  "</MaxAllowedSkewMilliseconds>"), S3_ERR_CLOCK, "RequestTimeTooSkewed",
	  "the clock is wrong: S3 refused the request as too far from its own time "
	  "(RequestTimeTooSkewed): request time 20240501T120000Z, S3's time 2024-05-01T12:20:00Z, this "
	  "machine's clock is 1200 s, about 20 min behind; set the clock" },
	{ "skew ahead days", 403, XML("RequestTimeTooSkewed", "<RequestTime>20240510T000000Z"
	  "</RequestTime><ServerTime>2024-05-01T00:00:00Z</ServerTime>"), S3_ERR_CLOCK,
	  "RequestTimeTooSkewed", "clock is 777600 s, about 9 days ahead" },
	{ "skew without times", 403, XML("RequestTimeTooSkewed", "<Message>too large</Message>"),
	  S3_ERR_CLOCK, "RequestTimeTooSkewed", "(RequestTimeTooSkewed: too large); set the clock" },
	{ "wrong region", 400, XML("AuthorizationHeaderMalformed", "<Message>the region 'us-east-1' is "
	  "wrong; expecting 'eu-west-1'</Message>"), S3_ERR_WRONG_REGION, "AuthorizationHeaderMalformed",
	  "wrong region for this bucket (HTTP 400 AuthorizationHeaderMalformed: the region 'us-east-1' "
	  "is wrong; expecting 'eu-west-1'); set region= in the s3:// URL" },
	{ "redirect", 301, XML("PermanentRedirect", ""), S3_ERR_WRONG_REGION, "PermanentRedirect",
	  "wrong region" },
	{ "slow down", 503, XML("SlowDown", "<Message>Please reduce your request rate.</Message>"),
	  S3_ERR_RETRY, "SlowDown", "S3 answered HTTP 503 SlowDown: Please reduce your request rate." },
	{ "internal error", 500, XML("InternalError", "<Message>We encountered an internal error. Please "
	  "try again.</Message>"), S3_ERR_RETRY, "InternalError", "S3 answered HTTP 500 InternalError" },
	/* S3 answers 400 for this one: retried all the same (issue 19) */
	{ "request timeout", 400, XML("RequestTimeout", "<Message>Your socket connection to the server was "
	  "not read from or written to within the timeout period.</Message>"), S3_ERR_RETRY,
	  "RequestTimeout", "S3 answered HTTP 400 RequestTimeout" },
	{ "service unavailable", 503, XML("ServiceUnavailable", "<Message>Reduce your request rate."
	  "</Message>"), S3_ERR_RETRY, "ServiceUnavailable", "HTTP 503 ServiceUnavailable" },
	{ "500 html", 500, "<html>oops</html>", S3_ERR_RETRY, "", "S3 answered HTTP 500" },
	{ "429", 429, NULL, S3_ERR_RETRY, "", "HTTP 429" },
	{ "400 other", 400, XML("InvalidRequest", "<Message>Missing required header for this request: "
	  "x-amz-content-sha256</Message>"), S3_ERR_OTHER, "InvalidRequest",
	  "S3 answered HTTP 400 InvalidRequest: Missing required header" },
	{ "entities", 400, XML("Weird", "<Message>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; &bogus;"
	  "</Message>"), S3_ERR_OTHER, "Weird", "a <b> & \"c\" 'd' &bogus;" },
	{ "control chars", 400, XML("X", "<Message>line1\nline2\r\x1b[31m</Message>"), S3_ERR_OTHER, "X",
	  "line1 line2  [31m" },
	{ "code not a word", 403, XML("<script>", ""), S3_ERR_NOT_IN_CACHE, "", "HTTP 403)" },
	{ "unterminated", 403, "<Error><Code>SignatureDoesNotMatch", S3_ERR_NOT_IN_CACHE, "",
	  "not in this cache" },
};

static void classes(void)
{
	for (size_t i = 0; i < sizeof(class_cases) / sizeof(class_cases[0]); i++) {
		const struct class_case *t = &class_cases[i];
		struct s3_error e;
		s3_error_parse(t->status, t->body, t->body ? strlen(t->body) : 0, &e);
		char msg[1024];
		s3_error_describe(&e, msg, sizeof(msg));
		if (e.cls != t->cls || strcmp(e.code, t->code) != 0 || !strstr(msg, t->describe)) {
			test_record_failure(__FILE__, __LINE__, "%s: class %s code '%s' msg \"%s\"; want %s "
					    "'%s' \"%s\"", t->name, s3_error_class_name(e.cls), e.code, msg,
					    s3_error_class_name(t->cls), t->code, t->describe);
			return;
		}
	}
}

static void skew_fields(void)
{
	const char *body = XML("RequestTimeTooSkewed", "<RequestTime>20240501T120000Z</RequestTime>"
			       "<ServerTime>2024-05-01T12:20:00Z</ServerTime>");
	struct s3_error e;
	s3_error_parse(403, body, strlen(body), &e);
	CHECK(e.has_skew);
	CHECK_INT(e.skew_s, ==, -1200);
	CHECK_STR(e.request_time, "20240501T120000Z");
	CHECK_STR(e.server_time, "2024-05-01T12:20:00Z");
}

static void bounds(void)
{
	/* A Code past the bytes looked at is not seen. */
	static char big[S3_ERROR_BODY_MAX + 64];
	memset(big, ' ', sizeof(big));
	memcpy(big + S3_ERROR_BODY_MAX + 8, "<Code>X</Code>", 14);
	struct s3_error e;
	s3_error_parse(403, big, sizeof(big), &e);
	CHECK_STR(e.code, "");
	/* Long values are cut, not overflowed. */
	char body[4096];
	char msg[1200];
	memset(msg, 'm', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	snprintf(body, sizeof(body), "<Error><Code>%s</Code><Message>%s</Message></Error>", msg, msg);
	s3_error_parse(400, body, strlen(body), &e);
	CHECK_INT(strlen(e.code), ==, S3_ERROR_CODE_MAX - 1);
	CHECK_INT(strlen(e.message), ==, S3_ERROR_MESSAGE_MAX - 1);
	char out[64];
	s3_error_describe(&e, out, sizeof(out));
	CHECK_INT(strlen(out), ==, sizeof(out) - 1);
}

TEST_MAIN("s3-error",
	TEST_CASE(classes),
	TEST_CASE(skew_fields),
	TEST_CASE(bounds))
