#include "cache/s3_session.h"

#include <stdio.h>
#include <string.h>

#include "util/kvconf.h"

bool aws_any_s3_without_region(const char *const *urls, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(urls[i], "s3://", 5) == 0 && !strstr(urls[i], "region="))
			return true;
	return false;
}

int aws_session_open(const struct aws_session_config *cfg, struct aws_session *s, struct ip_error *err)
{
	memset(s, 0, sizeof(*s));
	struct imds_client *imds = cfg->imds;
	int r;
	if (!imds && cfg->imds_endpoint && cfg->imds_endpoint[0]) {
		struct imds_config ic = { .endpoint = cfg->imds_endpoint, .budget_ms = cfg->imds_budget_ms };
		r = imds_client_new(&ic, &s->own_imds, err);
		if (r < 0)
			return r;
		imds = s->own_imds;
	}
	const struct aws_credentials *ex = cfg->explicit_credentials;
	struct aws_creds_config cc = {
		.access_key_id = ex ? ex->access_key_id : NULL,
		.secret_access_key = ex ? ex->secret_access_key : NULL,
		.session_token = ex && ex->session_token[0] ? ex->session_token : NULL,
		.role_credentials = imds ? imds_role_credentials_hook : NULL,
		.role_ctx = imds,
	};
	r = aws_creds_provider_new(&cc, &s->credentials, err);
	if (r < 0)
		goto fail;
	if (cfg->region && cfg->region[0]) {
		snprintf(s->region, sizeof(s->region), "%s", cfg->region);
	} else if (cfg->need_region && imds) {
		struct ip_error region_err = { 0 };
		if (imds_region(imds, s->region, sizeof(s->region), &region_err) == 0)
			s->region_from_imds = true;
		else
			s->region[0] = '\0'; /* us-east-1, as the URLs default */
	}
	return 0;
fail:
	aws_session_close(s);
	return r;
}

void aws_session_close(struct aws_session *s)
{
	if (s->credentials)
		aws_creds_provider_free(s->credentials);
	if (s->own_imds)
		imds_client_free(s->own_imds);
	memset(s, 0, sizeof(*s));
}

struct creds_file_state {
	struct aws_credentials *out;
};

static int creds_entry(const struct kvconf_entry *e, void *ctx, struct ip_error *err)
{
	struct creds_file_state *st = ctx;
	char *dst;
	size_t size;
	if (kvconf_key_is(e, "access-key-id")) {
		dst = st->out->access_key_id;
		size = sizeof(st->out->access_key_id);
	} else if (kvconf_key_is(e, "secret-access-key")) {
		dst = st->out->secret_access_key;
		size = sizeof(st->out->secret_access_key);
	} else if (kvconf_key_is(e, "session-token")) {
		dst = st->out->session_token;
		size = sizeof(st->out->session_token);
	} else {
		return kvconf_fail(err, e->line, -EINVAL, "unknown key '%.*s' (access-key-id, secret-access-key, session-token)",
				   (int)e->key_len, e->key);
	}
	if (e->value_len == 0 || e->value_len >= size)
		return kvconf_fail(err, e->line, -EINVAL, "value of '%.*s' is empty or too long", (int)e->key_len, e->key);
	memcpy(dst, e->value, e->value_len);
	dst[e->value_len] = '\0';
	return 0;
}

int aws_credentials_file_parse(const char *buf, size_t len, struct aws_credentials *out, struct ip_error *err)
{
	memset(out, 0, sizeof(*out));
	struct creds_file_state st = { .out = out };
	int r = kvconf_parse(buf, len, NULL, creds_entry, &st, NULL, err);
	if (r >= 0 && (!out->access_key_id[0] || !out->secret_access_key[0]))
		r = ip_fail(err, -EINVAL, "needs both access-key-id and secret-access-key");
	if (r < 0)
		aws_credentials_wipe(out);
	return r < 0 ? r : 0;
}
