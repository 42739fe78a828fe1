/* imds/creds_json: the instance role credentials document; aws/aws_time. */
#include "test.h"
#include "aws/aws_time.h"
#include "imds/creds_json.h"

#include <stdio.h>
#include <stdlib.h>

#define GOOD_DOC \
	"{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2024-05-01T11:47:06Z\",\n" \
	"  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"ASIAEXAMPLEKEYID0001\",\n" \
	"  \"SecretAccessKey\" : \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\",\n" \
	"  \"Token\" : \"IQoJb3JpZ2luX2VjEXAMPLE+TOKEN/abc==\",\n" \
	"  \"Expiration\" : \"2024-05-01T18:12:34Z\"\n}\n"

static void good_document(void)
{
	struct aws_credentials c;
	struct ip_error err = { 0 };
	CHECK_INT(imds_creds_json_parse(GOOD_DOC, strlen(GOOD_DOC), &c, &err), ==, 0);
	CHECK_STR(c.access_key_id, "ASIAEXAMPLEKEYID0001");
	CHECK_STR(c.secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
	CHECK_STR(c.session_token, "IQoJb3JpZ2luX2VjEXAMPLE+TOKEN/abc==");
	CHECK_INT(c.expiration, ==, 1714587154); /* date -d 2024-05-01T18:12:34Z +%s */
	CHECK_INT(c.generation, ==, 0);
}

static void variants(void)
{
	struct aws_credentials c;
	struct ip_error err = { 0 };
	/* No Code, no Token, escapes, unknown fields of every JSON type. */
	const char *doc = "{\"AccessKeyId\":\"AK\\u0049D\",\"SecretAccessKey\":\"s\\/e\\\\c\","
			  "\"Expiration\":\"2024-05-01T18:12:34.123+02:00\",\"n\":-1.5e3,"
			  "\"b\":[true,false,null,{\"x\":[1,2]}],\"u\":\"\\ud83d\\ude00\"}";
	CHECK_INT(imds_creds_json_parse(doc, strlen(doc), &c, &err), ==, 0);
	CHECK_STR(c.access_key_id, "AKID");
	CHECK_STR(c.secret_access_key, "s/e\\c");
	CHECK_STR(c.session_token, "");
	CHECK_INT(c.expiration, ==, 1714587154 - 7200);
}

struct bad_case {
	const char *name;
	const char *doc;
	int code;
	const char *msg;
};

static const struct bad_case bad_cases[] = {
	{ "not an object", "[1]", -EBADMSG, "expected an object at byte 0" },
	{ "empty", "", -EBADMSG, "expected an object" },
	{ "unterminated", "{\"AccessKeyId\":\"AK", -EBADMSG, "unterminated string" },
	{ "trailing text", "{} x", -EBADMSG, "text after the object at byte 3" },
	{ "missing comma", "{\"a\":1 \"b\":2}", -EBADMSG, "expected ',' or '}'" },
	{ "bad escape", "{\"a\":\"\\q\"}", -EBADMSG, "bad escape" },
	{ "lone surrogate", "{\"a\":\"\\ud800x\"}", -EBADMSG, "lone surrogate" },
	{ "control char", "{\"a\":\"x\ny\"}", -EBADMSG, "control character" },
	{ "code failed", "{\"Code\":\"Failed\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
	  "\"Expiration\":\"2024-05-01T18:12:34Z\"}", -EINVAL, "Code is 'Failed', not 'Success'" },
	{ "no key id", "{\"SecretAccessKey\":\"S\",\"Expiration\":\"2024-05-01T18:12:34Z\"}", -EINVAL,
	  "no AccessKeyId" },
	{ "no secret", "{\"AccessKeyId\":\"A\",\"Expiration\":\"2024-05-01T18:12:34Z\"}", -EINVAL,
	  "no SecretAccessKey" },
	{ "no expiration", "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}", -EINVAL,
	  "no Expiration" },
	{ "bad expiration", "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"soon\"}",
	  -EINVAL, "Expiration 'soon' is not an ISO-8601 time" },
	{ "number key id", "{\"AccessKeyId\":5}", -EINVAL, "AccessKeyId is not a string" },
	{ "twice", "{\"Token\":\"a\",\"Token\":\"b\"}", -EINVAL, "Token given twice" },
	{ "header injection", "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":"
	  "\"x\\r\\nEvil: 1\",\"Expiration\":\"2024-05-01T18:12:34Z\"}", -EINVAL,
	  "Token is empty or not printable" },
	{ "deep", "{\"a\":[[[[[[[[[[1]]]]]]]]]]}", -E2BIG, "nested deeper than 8" },
};

static void bad_documents(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *t = &bad_cases[i];
		struct aws_credentials c;
		struct ip_error err = { 0 };
		int r = imds_creds_json_parse(t->doc, strlen(t->doc), &c, &err);
		if (r != t->code || !strstr(ip_error_str(&err), t->msg)) {
			test_record_failure(__FILE__, __LINE__, "%s: %d \"%s\", want %d \"%s\"", t->name,
					    r, ip_error_str(&err), t->code, t->msg);
			return;
		}
		CHECK_STR(c.access_key_id, ""); /* wiped */
		CHECK_STR(c.secret_access_key, "");
	}
}

static void secrets_never_in_errors(void)
{
	const char *doc = "{\"AccessKeyId\":\"AKIDSECRETTEST\",\"SecretAccessKey\":\"VERYSECRET\","
			  "\"Token\":\"TOPSECRETTOKEN\",\"Expiration\":\"tomorrowSECRET\"}";
	struct aws_credentials c;
	struct ip_error err = { 0 };
	CHECK_INT(imds_creds_json_parse(doc, strlen(doc), &c, &err), ==, -EINVAL);
	CHECK(!strstr(err.msg, "VERYSECRET"));
	CHECK(!strstr(err.msg, "TOPSECRET"));
	/* A secret with a space is refused without echoing it. */
	const char *doc2 = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"VERY SECRET\","
			   "\"Expiration\":\"2024-05-01T18:12:34Z\"}";
	ip_error_clear(&err);
	CHECK_INT(imds_creds_json_parse(doc2, strlen(doc2), &c, &err), ==, -EINVAL);
	CHECK_CONTAINS(err.msg, "SecretAccessKey is empty or not printable");
	CHECK(!strstr(err.msg, "VERY"));
}

static void limits(void)
{
	struct aws_credentials c;
	struct ip_error err = { 0 };
	size_t n = IMDS_CREDS_JSON_MAX + 1;
	char *big = malloc(n);
	CHECK(big);
	memset(big, ' ', n);
	int r = imds_creds_json_parse(big, n, &c, &err);
	CHECK_INT(r, ==, -E2BIG);
	CHECK_CONTAINS(err.msg, "over the limit of 16384");

	/* A key id one byte over its limit. */
	char doc[512];
	char id[AWS_ACCESS_KEY_ID_MAX + 2];
	memset(id, 'A', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	snprintf(doc, sizeof(doc), "{\"AccessKeyId\":\"%s\"}", id);
	ip_error_clear(&err);
	r = imds_creds_json_parse(doc, strlen(doc), &c, &err);
	free(big);
	CHECK_INT(r, ==, -E2BIG);
	CHECK_CONTAINS(err.msg, "AccessKeyId longer than 128 bytes");
}

struct time_case {
	const char *s;
	int iso; /* 1: ISO-8601, 0: x-amz-date form */
	long long want; /* -1: invalid */
};

static const struct time_case time_cases[] = {
	{ "1970-01-01T00:00:00Z", 1, 0 },
	{ "2024-05-01T18:12:34Z", 1, 1714587154 },
	{ "2024-02-29T00:00:00Z", 1, 1709164800 },
	{ "2023-02-29T00:00:00Z", 1, -1 },
	{ "2024-05-01T18:12:34.5Z", 1, 1714587154 },
	{ "2024-05-01T18:12:34-01:30", 1, 1714587154 + 5400 },
	{ "2024-05-01T18:12:34", 1, -1 },
	{ "2024-05-01 18:12:34Z", 1, -1 },
	{ "2024-13-01T18:12:34Z", 1, -1 },
	{ "2024-05-01T24:00:00Z", 1, -1 },
	{ "2024-05-01T18:12:34Zx", 1, -1 },
	{ "20240501T181234Z", 0, 1714587154 },
	{ "20240501T181234", 0, -1 },
	{ "2024-05-01T18:12:34Z", 0, -1 },
	{ "21000101T000000Z", 0, 4102444800LL },
};

static void times(void)
{
	for (size_t i = 0; i < sizeof(time_cases) / sizeof(time_cases[0]); i++) {
		const struct time_case *t = &time_cases[i];
		time_t got = 0;
		int r = t->iso ? aws_time_parse_iso8601(t->s, strlen(t->s), &got)
			       : aws_time_parse_amz(t->s, strlen(t->s), &got);
		if (t->want < 0 ? r != -EINVAL : (r != 0 || (long long)got != t->want)) {
			test_record_failure(__FILE__, __LINE__, "%s: r=%d got %lld want %lld", t->s, r,
					    (long long)got, t->want);
			return;
		}
	}
}

TEST_MAIN("imds-json",
	TEST_CASE(good_document),
	TEST_CASE(variants),
	TEST_CASE(bad_documents),
	TEST_CASE(secrets_never_in_errors),
	TEST_CASE(limits),
	TEST_CASE(times))
