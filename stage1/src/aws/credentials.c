#include "aws/credentials.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

struct aws_creds_provider {
	pthread_mutex_t lock;
	aws_role_credentials_fn *role_credentials; /* NULL: no instance role */
	void *role_ctx;
	time_t (*now_fn)(void);
	/* A static source (explicit or environment), decided at creation. */
	enum aws_creds_source static_source;
	struct aws_credentials static_creds;
	/* The instance role's credentials, once fetched. */
	bool have_role_creds;
	struct aws_credentials role_creds;
	time_t role_valid_until;
	/* The hook said: no role, or IMDS switched off: unsigned from then on. */
	bool no_role;
	/* A failed fetch of the role's credentials, remembered until retry_at. */
	int role_error;
	struct ip_error role_err;
	time_t retry_at;
	unsigned generation;
	enum aws_creds_source announced;
	bool announced_any;
};

void aws_credentials_wipe(struct aws_credentials *creds)
{
	explicit_bzero(creds, sizeof(*creds));
}

const char *aws_creds_source_name(enum aws_creds_source source)
{
	switch (source) {
	case AWS_CREDS_NONE: return "none (unsigned requests)";
	case AWS_CREDS_EXPLICIT: return "configuration";
	case AWS_CREDS_ENV: return "environment";
	case AWS_CREDS_IMDS: return "instance role (IMDS)";
	}
	return "?";
}

static time_t real_now(void) { return time(NULL); }

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* Copies one triple after checking it; `where` names the source for errors
 * ("AWS_ACCESS_KEY_ID", "the access key id"), never the values. */
static int take_static(struct aws_credentials *dst, const char *id, const char *secret,
		       const char *token, const char *id_name, const char *secret_name,
		       const char *token_name, struct ip_error *err)
{
	if (!id || !*id)
		return ip_fail(err, -EINVAL, "%s is set but %s is not", secret_name, id_name);
	if (!secret || !*secret)
		return ip_fail(err, -EINVAL, "%s is set but %s is not", id_name, secret_name);
	if (strlen(id) > AWS_ACCESS_KEY_ID_MAX || !printable(id))
		return ip_fail(err, -EINVAL, "%s is longer than %d bytes or not printable", id_name,
			       AWS_ACCESS_KEY_ID_MAX);
	if (strlen(secret) > AWS_SECRET_ACCESS_KEY_MAX || !printable(secret))
		return ip_fail(err, -EINVAL, "%s is longer than %d bytes or not printable",
			       secret_name, AWS_SECRET_ACCESS_KEY_MAX);
	if (token && (strlen(token) > AWS_SESSION_TOKEN_MAX || !printable(token)))
		return ip_fail(err, -EINVAL, "%s is longer than %d bytes or not printable",
			       token_name, AWS_SESSION_TOKEN_MAX);
	snprintf(dst->access_key_id, sizeof(dst->access_key_id), "%s", id);
	snprintf(dst->secret_access_key, sizeof(dst->secret_access_key), "%s", secret);
	snprintf(dst->session_token, sizeof(dst->session_token), "%s", token ? token : "");
	dst->expiration = 0;
	return 0;
}

int aws_creds_provider_new(const struct aws_creds_config *cfg,
			   struct aws_creds_provider **out, struct ip_error *err)
{
	*out = NULL;
	struct aws_creds_provider *p = calloc(1, sizeof(*p));
	if (!p)
		return ip_fail(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&p->lock, NULL);
	p->role_credentials = cfg->role_credentials;
	p->role_ctx = cfg->role_ctx;
	p->now_fn = cfg->now_fn ? cfg->now_fn : real_now;
	int r = 0;

	if ((cfg->access_key_id && *cfg->access_key_id) ||
	    (cfg->secret_access_key && *cfg->secret_access_key)) {
		r = take_static(&p->static_creds, cfg->access_key_id, cfg->secret_access_key,
				cfg->session_token && *cfg->session_token ? cfg->session_token : NULL,
				"the access key id", "the secret access key", "the session token", err);
		p->static_source = AWS_CREDS_EXPLICIT;
	} else if (!cfg->ignore_environment) {
		char *(*get)(const char *) = cfg->getenv_fn ? cfg->getenv_fn : getenv;
		const char *id = get("AWS_ACCESS_KEY_ID");
		const char *secret = get("AWS_SECRET_ACCESS_KEY");
		const char *token = get("AWS_SESSION_TOKEN");
		if ((id && *id) || (secret && *secret)) {
			r = take_static(&p->static_creds, id, secret, token && *token ? token : NULL,
					"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
					"AWS_SESSION_TOKEN", err);
			p->static_source = AWS_CREDS_ENV;
		}
	}
	if (r < 0) {
		aws_creds_provider_free(p);
		return r;
	}
	if (p->static_source != AWS_CREDS_NONE)
		p->static_creds.generation = ++p->generation;
	*out = p;
	return 0;
}

void aws_creds_provider_free(struct aws_creds_provider *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	explicit_bzero(p, sizeof(*p));
	free(p);
}

/* With the lock held.  Fetches the role's credentials through the hook. */
static int fetch_role_credentials(struct aws_creds_provider *p, struct ip_error *err)
{
	struct aws_credentials fresh;
	char role[80] = "";
	struct ip_error e = { 0 };
	int r = p->role_credentials(p->role_ctx, &fresh, role, sizeof(role), &e);
	if (r == -ENOENT || r == -EACCES) {
		/* No role, or IMDS switched off: a public bucket still works. */
		log_debug("credentials: %s; requests go unsigned", ip_error_str(&e));
		p->no_role = true;
		return 0;
	}
	if (r < 0) {
		p->role_error = r;
		p->role_err = e;
		p->retry_at = p->now_fn() + AWS_CREDS_RETRY_AFTER;
		aws_credentials_wipe(&fresh);
		return ip_fail(err, r, "instance role credentials: %s", ip_error_str(&e));
	}
	p->role_error = 0;
	aws_credentials_wipe(&p->role_creds);
	p->role_creds = fresh;
	p->role_creds.generation = ++p->generation;
	p->have_role_creds = true;
	aws_credentials_wipe(&fresh);
	/* Until AWS_CREDS_REFRESH_MARGIN before Expiration, but at least
	 * AWS_CREDS_RETRY_AFTER: credentials that look expired already (a wrong
	 * clock) must not make every request ask IMDS; S3 will answer
	 * ExpiredToken if they really are, and aws_creds_refresh() follows. */
	time_t now = p->now_fn();
	p->role_valid_until = p->role_creds.expiration - AWS_CREDS_REFRESH_MARGIN;
	if (p->role_valid_until < now + AWS_CREDS_RETRY_AFTER)
		p->role_valid_until = now + AWS_CREDS_RETRY_AFTER;
	log_debug("credentials: instance role %s, key %s, expires at %lld", role,
		  p->role_creds.access_key_id, (long long)p->role_creds.expiration);
	return 0;
}

static bool role_creds_fresh(const struct aws_creds_provider *p)
{
	return p->have_role_creds && p->now_fn() < p->role_valid_until;
}

/* After a failed fetch (r < 0): 0 when the credentials we have still hold
 * (the source is unwell, they are not), else r. */
static int keep_unexpired(struct aws_creds_provider *p, int r, struct ip_error *err)
{
	if (r >= 0 || !p->have_role_creds || p->now_fn() >= p->role_creds.expiration)
		return r;
	log_debug("credentials: keeping the current ones until they expire: %s",
		  err ? ip_error_str(err) : "the instance role's source failed");
	ip_error_clear(err);
	return 0;
}

static void set_info(struct aws_creds_provider *p, struct aws_creds_info *info,
		     enum aws_creds_source source)
{
	bool announce = !p->announced_any || p->announced != source;
	p->announced_any = true;
	p->announced = source;
	if (info) {
		info->source = source;
		info->announce = announce;
	}
}

int aws_creds_get(struct aws_creds_provider *p, struct aws_credentials *creds,
		  struct aws_creds_info *info, struct ip_error *err)
{
	int r = 0;
	pthread_mutex_lock(&p->lock);
	memset(creds, 0, sizeof(*creds));
	if (p->static_source != AWS_CREDS_NONE) {
		*creds = p->static_creds;
		set_info(p, info, p->static_source);
		goto out;
	}
	if (!p->role_credentials || p->no_role) {
		set_info(p, info, AWS_CREDS_NONE);
		goto out;
	}
	if (!role_creds_fresh(p)) {
		if (p->role_error && p->now_fn() < p->retry_at)
			r = ip_fail(err, p->role_error, "instance role credentials: %s",
				    ip_error_str(&p->role_err));
		else
			r = fetch_role_credentials(p, err);
		r = keep_unexpired(p, r, err);
		if (r < 0)
			goto out;
		if (p->no_role) {
			set_info(p, info, AWS_CREDS_NONE);
			goto out;
		}
	}
	*creds = p->role_creds;
	set_info(p, info, AWS_CREDS_IMDS);
out:
	pthread_mutex_unlock(&p->lock);
	return r;
}

int aws_creds_refresh(struct aws_creds_provider *p, unsigned rejected,
		      struct aws_credentials *creds, struct ip_error *err)
{
	int r = 0;
	pthread_mutex_lock(&p->lock);
	memset(creds, 0, sizeof(*creds));
	if (p->static_source != AWS_CREDS_NONE) {
		r = ip_fail(err, -EKEYEXPIRED, "the session token from the %s has expired; "
			    "credentials from there cannot be refreshed",
			    aws_creds_source_name(p->static_source));
		goto out;
	}
	if (!p->role_credentials || p->no_role) {
		r = ip_fail(err, -EKEYEXPIRED, "no credentials to refresh");
		goto out;
	}
	if (!(p->have_role_creds && p->role_creds.generation != rejected)) {
		r = keep_unexpired(p, fetch_role_credentials(p, err), err);
		if (r < 0)
			goto out;
		if (p->no_role) {
			r = ip_fail(err, -EKEYEXPIRED, "the instance role is gone");
			goto out;
		}
	}
	*creds = p->role_creds;
out:
	pthread_mutex_unlock(&p->lock);
	return r;
}
