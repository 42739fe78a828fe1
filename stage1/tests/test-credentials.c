/* aws/credentials: the chain (explicit, environment, IMDS role, none), the
 * cache until 5 minutes before Expiration, refresh-once, remembered failures.
 * The instance role comes from a fake role_credentials hook. */
#include "test.h"
#include "aws/credentials.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- the fake IMDS and clock ------------------------------------------------ */

static time_t fake_now = 1714560000;
static time_t now_fn(void) { return fake_now; }

static int imds_calls;
static int imds_result;         /* 0, -ENOENT, -EACCES, -ETIMEDOUT */
static time_t imds_expiration;  /* of the credentials handed out */

static void *hook_ctx; /* what the last call got as ctx */

static int fake_role_credentials(void *ctx, struct aws_credentials *creds, char *role,
				 size_t role_size, struct ip_error *err)
{
	hook_ctx = ctx;
	imds_calls++;
	memset(creds, 0, sizeof(*creds));
	if (imds_result < 0)
		return ip_fail(err, imds_result, "fake IMDS: %s", imds_result == -ENOENT ? "no role"
								    : "failure");
	snprintf(creds->access_key_id, sizeof(creds->access_key_id), "ASIAFAKE%04d", imds_calls);
	snprintf(creds->secret_access_key, sizeof(creds->secret_access_key), "secret%d", imds_calls);
	snprintf(creds->session_token, sizeof(creds->session_token), "token%d", imds_calls);
	creds->expiration = imds_expiration;
	if (role)
		snprintf(role, role_size, "fake-role");
	return 0;
}

static void reset(int result, time_t expires_in)
{
	imds_calls = 0;
	imds_result = result;
	fake_now = 1714560000;
	imds_expiration = fake_now + expires_in;
}

/* ---- fake environment ---------------------------------------------------------- */

static const char *env_id, *env_secret, *env_token;
static char *fake_getenv(const char *name)
{
	if (strcmp(name, "AWS_ACCESS_KEY_ID") == 0)
		return (char *)env_id;
	if (strcmp(name, "AWS_SECRET_ACCESS_KEY") == 0)
		return (char *)env_secret;
	if (strcmp(name, "AWS_SESSION_TOKEN") == 0)
		return (char *)env_token;
	return NULL;
}

static struct aws_credentials creds;

static void explicit_first(void)
{
	env_id = "ENVKEY";
	env_secret = "envsecret";
	env_token = NULL;
	reset(0, 3600);
	struct aws_creds_config cfg = {
		.access_key_id = "CFGKEY", .secret_access_key = "cfgsecret", .session_token = "cfgtok",
		.role_credentials = fake_role_credentials, .getenv_fn = fake_getenv, .now_fn = now_fn,
	};
	struct aws_creds_provider *p;
	struct ip_error err = { 0 };
	CHECK_INT(aws_creds_provider_new(&cfg, &p, &err), ==, 0);
	struct aws_creds_info info;
	CHECK_INT(aws_creds_get(p, &creds, &info, &err), ==, 0);
	CHECK(info.source == AWS_CREDS_EXPLICIT && info.announce);
	CHECK_STR(creds.access_key_id, "CFGKEY");
	CHECK_STR(creds.session_token, "cfgtok");
	CHECK_INT(creds.expiration, ==, 0);
	CHECK_INT(aws_creds_get(p, &creds, &info, &err), ==, 0);
	CHECK(!info.announce);
	CHECK_INT(imds_calls, ==, 0);
	/* Static credentials cannot be refreshed. */
	CHECK_INT(aws_creds_refresh(p, creds.generation, &creds, &err), ==, -EKEYEXPIRED);
	CHECK_CONTAINS(ip_error_str(&err), "cannot be refreshed");
	aws_creds_provider_free(p);
}

static void environment_second(void)
{
	env_id = "ENVKEY";
	env_secret = "envsecret";
	env_token = "envtoken";
	reset(0, 3600);
	struct aws_creds_config cfg = { .role_credentials = fake_role_credentials,
					.getenv_fn = fake_getenv, .now_fn = now_fn };
	struct aws_creds_provider *p;
	struct ip_error err = { 0 };
	CHECK_INT(aws_creds_provider_new(&cfg, &p, &err), ==, 0);
	struct aws_creds_info info;
	CHECK_INT(aws_creds_get(p, &creds, &info, &err), ==, 0);
	CHECK(info.source == AWS_CREDS_ENV);
	CHECK_STR(creds.access_key_id, "ENVKEY");
	CHECK_STR(creds.session_token, "envtoken");
	CHECK_INT(imds_calls, ==, 0);
	aws_creds_provider_free(p);

	/* ignore_environment skips it: IMDS next. */
	cfg.ignore_environment = true;
	CHECK_INT(aws_creds_provider_new(&cfg, &p, &err), ==, 0);
	CHECK_INT(aws_creds_get(p, &creds, &info, &err), ==, 0);
	CHECK(info.source == AWS_CREDS_IMDS);
	aws_creds_provider_free(p);
}

static void half_set_is_an_error(void)
{
	struct ip_error err = { 0 };
	struct aws_creds_provider *p = NULL;
	env_id = "ENVKEY";
	env_secret = NULL;
	struct aws_creds_config cfg = { .getenv_fn = fake_getenv };
	CHECK_INT(aws_creds_provider_new(&cfg, &p, &err), ==, -EINVAL);
	CHECK_STR(ip_error_str(&err), "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
	CHECK(p == NULL);

	ip_error_clear(&err);
	struct aws_creds_config cfg2 = { .secret_access_key = "s3cr3t", .getenv_fn = fake_getenv };
	CHECK_INT(aws_creds_provider_new(&cfg2, &p, &err), ==, -EINVAL);
	CHECK_STR(ip_error_str(&err), "the secret access key is set but the access key id is not");

	ip_error_clear(&err);
	struct aws_creds_config cfg3 = { .access_key_id = "K", .secret_access_key = "bad secret" };
	CHECK_INT(aws_creds_provider_new(&cfg3, &p, &err), ==, -EINVAL);
	CHECK(!strstr(ip_error_str(&err), "bad secret"));
}

static void imds_cached_until_margin(void)
{
	env_id = env_secret = env_token = NULL;
	reset(0, 3600);
	struct aws_creds_config cfg = { .role_credentials = fake_role_credentials,
					.getenv_fn = fake_getenv, .now_fn = now_fn };
	struct aws_creds_provider *p;
	struct ip_error err = { 0 };
	CHECK_INT(aws_creds_provider_new(&cfg, &p, &err), ==, 0);
	CHECK_INT(imds_calls, ==, 0); /* lazily */
	struct aws_creds_info info;
	for (int i = 0; i < 100; i++)
		CHECK_INT(aws_creds_get(p, &creds, &info, &err), ==, 0);
	CHECK_INT(imds_calls, ==, 1);
	CHECK_STR(creds.access_key_id, "ASIAFAKE0001");
	CHECK_STR(creds.session_token, "token1");
	unsigned gen1 = creds.generation;

	fake_now = imds_expiration - AWS_CREDS_REFRESH_MARGIN - 1;
	CHECK_INT(aws_creds_get(p, &creds, &info, &err), ==, 0);
	CHECK_INT(imds_calls, ==, 1);
	fake_now++;
	imds_expiration = fake_now + 3600;
	CHECK_INT(aws_creds_get(p, &creds, &info, &err), ==, 0);
	CHECK_INT(imds_calls, ==, 2);
	CHECK_STR(creds.access_key_id, "ASIAFAKE0002");
	CHECK(creds.generation != gen1);
	CHECK(!info.announce); /* same source */
	aws_creds_provider_free(p);
}

static void expired_on_arrival_not_per_request(void)
{
	/* A wrong clock makes fresh credentials look expired: still at most one
	 * IMDS call per AWS_CREDS_RETRY_AFTER. */
	env_id = env_secret = env_token = NULL;
	reset(0, -600);
	struct aws_creds_config cfg = { .role_credentials = fake_role_credentials,
					.getenv_fn = fake_getenv, .now_fn = now_fn };
	struct aws_creds_provider *p;
	struct ip_error err = { 0 };
	CHECK_INT(aws_creds_provider_new(&cfg, &p, &err), ==, 0);
	for (int i = 0; i < 50; i++)
		CHECK_INT(aws_creds_get(p, &creds, NULL, &err), ==, 0);
	CHECK_INT(imds_calls, ==, 1);
	fake_now += AWS_CREDS_RETRY_AFTER;
	CHECK_INT(aws_creds_get(p, &creds, NULL, &err), ==, 0);
	CHECK_INT(imds_calls, ==, 2);
	aws_creds_provider_free(p);
}

static void refresh_once(void)
{
	env_id = env_secret = env_token = NULL;
	reset(0, 3600);
	struct aws_creds_config cfg = { .role_credentials = fake_role_credentials,
					.getenv_fn = fake_getenv, .now_fn = now_fn };
	struct aws_creds_provider *p;
	struct ip_error err = { 0 };
	CHECK_INT(aws_creds_provider_new(&cfg, &p, &err), ==, 0);
	CHECK_INT(aws_creds_get(p, &creds, NULL, &err), ==, 0);
	unsigned rejected = creds.generation;
	/* Two requests saw ExpiredToken with the same credentials: one fetch. */
	struct aws_credentials a, b;
	CHECK_INT(aws_creds_refresh(p, rejected, &a, &err), ==, 0);
	CHECK_INT(aws_creds_refresh(p, rejected, &b, &err), ==, 0);
	CHECK_INT(imds_calls, ==, 2);
	CHECK_STR(a.access_key_id, "ASIAFAKE0002");
	CHECK_STR(b.access_key_id, "ASIAFAKE0002");
	CHECK(a.generation != rejected);
	/* The new ones rejected too: another fetch (the engine stops after one). */
	CHECK_INT(aws_creds_refresh(p, a.generation, &a, &err), ==, 0);
	CHECK_INT(imds_calls, ==, 3);
	aws_creds_provider_free(p);
}

static void no_role_is_unsigned(void)
{
	env_id = env_secret = env_token = NULL;
	for (int k = 0; k < 2; k++) {
		reset(k == 0 ? -ENOENT : -EACCES, 0);
		struct aws_creds_config cfg = { .role_credentials = fake_role_credentials,
						.getenv_fn = fake_getenv, .now_fn = now_fn };
		struct aws_creds_provider *p;
		struct ip_error err = { 0 };
		CHECK_INT(aws_creds_provider_new(&cfg, &p, &err), ==, 0);
		struct aws_creds_info info;
		CHECK_INT(aws_creds_get(p, &creds, &info, &err), ==, 0);
		CHECK(info.source == AWS_CREDS_NONE && info.announce);
		CHECK_STR(creds.access_key_id, "");
		CHECK_INT(aws_creds_get(p, &creds, &info, &err), ==, 0);
		CHECK(info.source == AWS_CREDS_NONE && !info.announce);
		CHECK_INT(imds_calls, ==, 1);
		CHECK_STR(aws_creds_source_name(info.source), "none (unsigned requests)");
		aws_creds_provider_free(p);
	}
	/* No IMDS configured at all. */
	struct aws_creds_config cfg = { .getenv_fn = fake_getenv };
	struct aws_creds_provider *p;
	struct ip_error err = { 0 };
	CHECK_INT(aws_creds_provider_new(&cfg, &p, &err), ==, 0);
	struct aws_creds_info info;
	CHECK_INT(aws_creds_get(p, &creds, &info, &err), ==, 0);
	CHECK(info.source == AWS_CREDS_NONE);
	aws_creds_provider_free(p);
}

static void failure_remembered(void)
{
	env_id = env_secret = env_token = NULL;
	reset(-ETIMEDOUT, 3600);
	struct aws_creds_config cfg = { .role_credentials = fake_role_credentials,
					.getenv_fn = fake_getenv, .now_fn = now_fn };
	struct aws_creds_provider *p;
	struct ip_error err = { 0 };
	CHECK_INT(aws_creds_provider_new(&cfg, &p, &err), ==, 0);
	CHECK_INT(aws_creds_get(p, &creds, NULL, &err), ==, -ETIMEDOUT);
	CHECK_STR(ip_error_str(&err), "instance role credentials: fake IMDS: failure");
	for (int i = 0; i < 20; i++) {
		ip_error_clear(&err);
		CHECK_INT(aws_creds_get(p, &creds, NULL, &err), ==, -ETIMEDOUT);
	}
	CHECK_CONTAINS(ip_error_str(&err), "fake IMDS: failure");
	CHECK_INT(imds_calls, ==, 1);
	fake_now += AWS_CREDS_RETRY_AFTER;
	imds_result = 0;
	CHECK_INT(aws_creds_get(p, &creds, NULL, &err), ==, 0);
	CHECK_INT(imds_calls, ==, 2);
	aws_creds_provider_free(p);
}

static void imds_failure_keeps_valid_creds(void)
{
	env_id = env_secret = env_token = NULL;
	reset(0, 3600);
	struct aws_creds_config cfg = { .role_credentials = fake_role_credentials,
					.getenv_fn = fake_getenv, .now_fn = now_fn };
	struct aws_creds_provider *p;
	struct ip_error err = { 0 };
	CHECK_INT(aws_creds_provider_new(&cfg, &p, &err), ==, 0);
	CHECK_INT(aws_creds_get(p, &creds, NULL, &err), ==, 0);
	/* Inside the refresh margin, IMDS fails: the old ones still hold. */
	fake_now = imds_expiration - 100;
	imds_result = -ETIMEDOUT;
	CHECK_INT(aws_creds_get(p, &creds, NULL, &err), ==, 0);
	CHECK_STR(creds.access_key_id, "ASIAFAKE0001");
	CHECK_INT(imds_calls, ==, 2);
	CHECK_INT(aws_creds_get(p, &creds, NULL, &err), ==, 0); /* failure remembered */
	CHECK_INT(imds_calls, ==, 2);
	/* Past Expiration (and the retry delay): the failure shows. */
	fake_now = imds_expiration + AWS_CREDS_RETRY_AFTER;
	CHECK_INT(aws_creds_get(p, &creds, NULL, &err), ==, -ETIMEDOUT);
	CHECK_INT(imds_calls, ==, 3);
	aws_creds_provider_free(p);
}

/* The hook gets the context it was configured with, on every call. */
static void role_ctx_reaches_the_hook(void)
{
	env_id = env_secret = env_token = NULL;
	reset(0, 3600);
	int client;
	hook_ctx = NULL;
	struct aws_creds_config cfg = { .role_credentials = fake_role_credentials, .role_ctx = &client,
					.getenv_fn = fake_getenv, .now_fn = now_fn };
	struct aws_creds_provider *p;
	struct ip_error err = { 0 };
	CHECK_INT(aws_creds_provider_new(&cfg, &p, &err), ==, 0);
	CHECK(hook_ctx == NULL); /* lazily */
	CHECK_INT(aws_creds_get(p, &creds, NULL, &err), ==, 0);
	CHECK(hook_ctx == &client);
	hook_ctx = NULL;
	CHECK_INT(aws_creds_refresh(p, creds.generation, &creds, &err), ==, 0);
	CHECK(hook_ctx == &client);
	aws_creds_provider_free(p);
}

TEST_MAIN("credentials",
	TEST_CASE(explicit_first),
	TEST_CASE(environment_second),
	TEST_CASE(half_set_is_an_error),
	TEST_CASE(imds_cached_until_margin),
	TEST_CASE(expired_on_arrival_not_per_request),
	TEST_CASE(refresh_once),
	TEST_CASE(no_role_is_unsigned),
	TEST_CASE(failure_remembered),
	TEST_CASE(imds_failure_keeps_valid_creds),
	TEST_CASE(role_ctx_reaches_the_hook))
