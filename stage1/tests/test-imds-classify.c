/* imds_classify: the decision after one IMDS exchange, the table at the top
 * of imds/imds.h, one row per line of it.  The I/O around it (tokens kept,
 * backoff slept, messages) is tested against the mock IMDS in imds.test.sh. */
#include "test.h"

#include <errno.h>

#include "imds/imds.h"

#define TOKEN IMDS_REQUEST_TOKEN
#define GET IMDS_REQUEST_GET
#define HTTP(code) .transport = IMDS_ANSWERED, .status = (code)

struct classify_case {
	const char *name;
	struct imds_exchange in;
	enum imds_step step;
	enum imds_reason reason;
	int error;
};

static const struct classify_case classify_cases[] = {
	/* The token request (PUT). */
	{ "PUT 200, usable token", { TOKEN, HTTP(200), .token_usable = true },
	  IMDS_STEP_AGAIN, IMDS_GOT_TOKEN, 0 },
	{ "PUT 200, unusable token", { TOKEN, HTTP(200) }, IMDS_STEP_DONE, IMDS_BAD_TOKEN, -EPROTO },
	{ "PUT 403: IMDS disabled, no retry", { TOKEN, HTTP(403) },
	  IMDS_STEP_DONE, IMDS_DISABLED, -EACCES },
	{ "PUT 404, v1 not allowed", { TOKEN, HTTP(404) }, IMDS_STEP_DONE, IMDS_NO_V2, -EPROTO },
	{ "PUT 405, v1 not allowed", { TOKEN, HTTP(405) }, IMDS_STEP_DONE, IMDS_NO_V2, -EPROTO },
	{ "PUT 404, v1 allowed", { TOKEN, HTTP(404), .allow_v1 = true },
	  IMDS_STEP_AGAIN, IMDS_USE_V1, 0 },
	{ "PUT 405, v1 allowed", { TOKEN, HTTP(405), .allow_v1 = true },
	  IMDS_STEP_AGAIN, IMDS_USE_V1, 0 },
	{ "PUT 401 is not a rejection of a token", { TOKEN, HTTP(401) },
	  IMDS_STEP_DONE, IMDS_UNEXPECTED, -EPROTO },
	{ "PUT 429", { TOKEN, HTTP(429) }, IMDS_STEP_BACKOFF, IMDS_BUSY, 0 },
	{ "PUT 503", { TOKEN, HTTP(503) }, IMDS_STEP_BACKOFF, IMDS_BUSY, 0 },
	{ "PUT 400", { TOKEN, HTTP(400) }, IMDS_STEP_DONE, IMDS_UNEXPECTED, -EPROTO },
	{ "PUT 302", { TOKEN, HTTP(302) }, IMDS_STEP_DONE, IMDS_UNEXPECTED, -EPROTO },
	{ "PUT no answer", { TOKEN, .transport = IMDS_NO_ANSWER },
	  IMDS_STEP_BACKOFF, IMDS_UNREACHABLE, 0 },
	{ "PUT answer too big", { TOKEN, .transport = IMDS_ANSWER_TOO_BIG },
	  IMDS_STEP_DONE, IMDS_TOO_BIG, -EPROTO },
	{ "PUT out of memory", { TOKEN, .transport = IMDS_LOCAL_FAILURE },
	  IMDS_STEP_DONE, IMDS_OUT_OF_MEMORY, -ENOMEM },
	/* The GET. */
	{ "GET 200", { GET, HTTP(200) }, IMDS_STEP_DONE, IMDS_ANSWER, 0 },
	{ "GET 200 in v1 mode", { GET, HTTP(200), .v1_mode = true }, IMDS_STEP_DONE, IMDS_ANSWER, 0 },
	{ "GET 404: not there, a result", { GET, HTTP(404) }, IMDS_STEP_DONE, IMDS_NOT_FOUND, -ENOENT },
	{ "GET 401, first: a fresh token at once", { GET, HTTP(401) },
	  IMDS_STEP_AGAIN, IMDS_TOKEN_REJECTED, 0 },
	{ "GET 401, second: back off", { GET, HTTP(401), .rejections = 1 },
	  IMDS_STEP_BACKOFF, IMDS_TOKEN_REJECTED, 0 },
	{ "GET 401, fifth: back off", { GET, HTTP(401), .rejections = 4 },
	  IMDS_STEP_BACKOFF, IMDS_TOKEN_REJECTED, 0 },
	{ "GET 401 in v1 mode: no token to renew", { GET, HTTP(401), .v1_mode = true },
	  IMDS_STEP_DONE, IMDS_UNEXPECTED, -EPROTO },
	{ "GET 403 is final", { GET, HTTP(403) }, IMDS_STEP_DONE, IMDS_UNEXPECTED, -EPROTO },
	{ "GET 405 is final even with v1", { GET, HTTP(405), .allow_v1 = true },
	  IMDS_STEP_DONE, IMDS_UNEXPECTED, -EPROTO },
	{ "GET 429", { GET, HTTP(429) }, IMDS_STEP_BACKOFF, IMDS_BUSY, 0 },
	{ "GET 500", { GET, HTTP(500) }, IMDS_STEP_BACKOFF, IMDS_BUSY, 0 },
	{ "GET 599", { GET, HTTP(599) }, IMDS_STEP_BACKOFF, IMDS_BUSY, 0 },
	{ "GET 600", { GET, HTTP(600) }, IMDS_STEP_DONE, IMDS_UNEXPECTED, -EPROTO },
	{ "GET 204", { GET, HTTP(204) }, IMDS_STEP_DONE, IMDS_UNEXPECTED, -EPROTO },
	{ "GET no answer", { GET, .transport = IMDS_NO_ANSWER }, IMDS_STEP_BACKOFF, IMDS_UNREACHABLE, 0 },
	{ "GET answer too big", { GET, .transport = IMDS_ANSWER_TOO_BIG },
	  IMDS_STEP_DONE, IMDS_TOO_BIG, -EMSGSIZE },
	{ "GET out of memory", { GET, .transport = IMDS_LOCAL_FAILURE },
	  IMDS_STEP_DONE, IMDS_OUT_OF_MEMORY, -ENOMEM },
};

static void table(void)
{
	for (size_t i = 0; i < sizeof(classify_cases) / sizeof(classify_cases[0]); i++) {
		const struct classify_case *c = &classify_cases[i];
		struct imds_verdict v = imds_classify(&c->in);
		if (v.step != c->step || v.reason != c->reason || v.error != c->error) {
			test_record_failure(__FILE__, __LINE__, "%s: got %s/%s/%d, want %s/%s/%d", c->name,
					    imds_step_name(v.step), imds_reason_name(v.reason), v.error,
					    imds_step_name(c->step), imds_reason_name(c->reason),
					    c->error);
			return;
		}
	}
}

/* Only DONE carries an error; every reason has a name. */
static void verdicts_are_consistent(void)
{
	for (size_t i = 0; i < sizeof(classify_cases) / sizeof(classify_cases[0]); i++) {
		struct imds_verdict v = imds_classify(&classify_cases[i].in);
		CHECK(v.step == IMDS_STEP_DONE || v.error == 0);
		CHECK(strcmp(imds_reason_name(v.reason), "?") != 0);
		CHECK(strcmp(imds_step_name(v.step), "?") != 0);
	}
	CHECK_STR(imds_reason_name(IMDS_UNEXPECTED), "unexpected");
	CHECK_STR(imds_step_name(IMDS_STEP_BACKOFF), "backoff");
}

TEST_MAIN("imds-classify",
	TEST_CASE(table),
	TEST_CASE(verdicts_are_consistent))
