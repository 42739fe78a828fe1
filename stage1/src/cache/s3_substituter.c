#include "cache/s3_substituter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/credentials.h"
#include "aws/s3_error.h"
#include "aws/s3_url.h"
#include "aws/sigv4.h"

struct s3_hooks {
	struct s3_url url;
	struct aws_creds_provider *creds;  /* NULL: unsigned requests */
	unsigned used_generation;          /* of the credentials last signed with */
	bool refreshed;                    /* ExpiredToken: one refresh per run */
	bool announced;
	void (*note)(void *ctx, const char *line);
	void *note_ctx;
};

static void note_unsigned(struct s3_hooks *h)
{
	if (!h->note)
		return;
	char line[512];
	snprintf(line, sizeof(line), "s3://%s: no AWS credentials found; sending unsigned requests (public bucket)",
		 h->url.bucket);
	h->note(h->note_ctx, line);
}

/* HTTP thread: signs every attempt with the current credentials. */
static int s3_prepare_request(void *ctx, CURL *easy, struct curl_slist **headers, struct ip_error *err)
{
	struct s3_hooks *h = ctx;
	struct aws_credentials creds;
	struct aws_creds_info info = { 0 };
	memset(&creds, 0, sizeof(creds));
	if (h->creds) {
		int r = aws_creds_get(h->creds, &creds, &info, err);
		if (r < 0)
			return ip_fail_ctx(err, r, "S3 credentials for s3://%s", h->url.bucket);
	}
	if (info.source == AWS_CREDS_NONE && !h->announced) {
		h->announced = true; /* said once: every request would say it again */
		note_unsigned(h);
	}
	h->used_generation = creds.generation;
	int r = aws_sign_request(easy, info.source == AWS_CREDS_NONE ? NULL : &creds, h->url.region, headers, err);
	aws_credentials_wipe(&creds);
	return r;
}

/* HTTP thread: what an S3 error answer means for this cache. */
static enum substituter_verdict s3_classify_error(void *ctx, long status, const char *body, size_t len,
						  struct ip_error *err)
{
	struct s3_hooks *h = ctx;
	struct s3_error e;
	char what[512];
	s3_error_parse(status, body, len, &e);
	s3_error_describe(&e, what, sizeof(what));
	switch (e.cls) {
	case S3_ERR_NOT_IN_CACHE:
		return SUBST_NOT_HERE;
	case S3_ERR_RETRY:
		return SUBST_RETRY;
	case S3_ERR_EXPIRED_TOKEN:
		if (h->creds && !h->refreshed) {
			struct aws_credentials creds;
			h->refreshed = true;
			int r = aws_creds_refresh(h->creds, h->used_generation, &creds, err);
			aws_credentials_wipe(&creds);
			if (r == 0)
				return SUBST_RETRY;
		}
		ip_fail(err, -EKEYEXPIRED, "s3://%s: %s; the credentials could not be renewed", h->url.bucket, what);
		return SUBST_FAIL;
	case S3_ERR_CREDENTIALS:
		ip_fail(err, -EACCES, "s3://%s: %s; check the instance role or the AWS credentials", h->url.bucket,
			what);
		return SUBST_FAIL;
	case S3_ERR_CLOCK:
		ip_fail(err, -ETIME, "s3://%s: %s", h->url.bucket, what);
		return SUBST_FAIL;
	case S3_ERR_WRONG_REGION:
		ip_fail(err, -EINVAL, "s3://%s: %s; put the bucket's region in the URL (?region=...)", h->url.bucket,
			what);
		return SUBST_FAIL;
	case S3_ERR_OTHER:
		break;
	}
	return SUBST_KEEP;
}

static void s3_free_hooks(void *ctx)
{
	free(ctx);
}

int s3_substituter_setup(struct substituter *sub, const char *url, const struct substituter_env *env,
			 struct ip_error *err)
{
	struct s3_hooks *h = calloc(1, sizeof(*h));
	if (!h)
		return ip_fail(err, -ENOMEM, "out of memory");
	int r = s3_url_parse(url, &h->url, err);
	if (r == 0 && env && env->aws_region && env->aws_region[0])
		r = s3_url_set_region(&h->url, env->aws_region, err);
	if (r == 0 && env && env->s3_dualstack)
		s3_url_prefer_dualstack(&h->url); /* the boot says so once */
	/* The base every key is appended to: the object URL of a one-character
	 * key, minus that key (s3_url_object knows prefixes and addressing). */
	char object[SUBSTITUTER_URL_MAX];
	if (r == 0)
		r = s3_url_object(&h->url, "x", object, sizeof(object), err);
	if (r < 0) {
		free(h);
		return ip_fail_ctx(err, r, "substituter '%s'", url);
	}
	object[strlen(object) - 2] = '\0'; /* drop "/x" */
	sub->base = strdup(object);
	if (!sub->base) {
		free(h);
		return ip_fail(err, -ENOMEM, "out of memory");
	}
	if (env) {
		h->creds = env->aws_credentials;
		h->note = env->note;
		h->note_ctx = env->note_ctx;
	}
	sub->prepare_request = s3_prepare_request;
	sub->classify_error = s3_classify_error;
	sub->free_hooks = s3_free_hooks;
	sub->hook_ctx = h;
	return 0;
}
