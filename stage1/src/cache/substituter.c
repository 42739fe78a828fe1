#include "cache/substituter.h"

#include "cache/s3_substituter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int substituter_init(struct substituter *sub, const char *url, int index, const struct substituter_env *env,
		     struct ip_error *err)
{
	memset(sub, 0, sizeof(*sub));
	sub->index = index;
	int r = substituter_url_check(url, strlen(url), err);
	if (r < 0)
		return r;
	if (has_prefix(url, "http://"))
		sub->scheme = SUBST_HTTP;
	else if (has_prefix(url, "https://"))
		sub->scheme = SUBST_HTTPS;
	else if (has_prefix(url, "file://"))
		sub->scheme = SUBST_FILE;
	else if (has_prefix(url, "s3://")) {
		sub->scheme = SUBST_S3;
		sub->url = strdup(url);
		r = sub->url ? s3_substituter_setup(sub, url, env, err) : ip_fail(err, -ENOMEM, "out of memory");
		if (r < 0)
			substituter_free(sub);
		return r;
	} else {
		return ip_fail(err, -EINVAL, "substituter: unsupported URL scheme"); /* checked above */
	}

	const char *rest = strchr(url, ':') + 3;
	size_t base_len = strcspn(url, "?#");
	while (base_len > (size_t)(rest - url) && url[base_len - 1] == '/')
		base_len--;
	sub->url = strdup(url);
	sub->base = strndup(url, base_len);
	if (!sub->url || !sub->base) {
		substituter_free(sub);
		return ip_fail(err, -ENOMEM, "out of memory");
	}
	return 0;
}

void substituter_free(struct substituter *sub)
{
	if (sub->free_hooks)
		sub->free_hooks(sub->hook_ctx);
	free(sub->url);
	free(sub->base);
	memset(sub, 0, sizeof(*sub));
}

static bool relative_file_ok(const char *file)
{
	if (!*file || *file == '/')
		return false;
	for (const char *p = file; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '_' || c == '+' || c == '-' || c == '/';
		if (!ok)
			return false;
	}
	/* no empty, "." or ".." component */
	const char *comp = file;
	for (;;) {
		size_t n = strcspn(comp, "/");
		if (n == 0 || (n == 1 && comp[0] == '.') || (n == 2 && comp[0] == '.' && comp[1] == '.'))
			return false;
		if (!comp[n])
			return true;
		comp += n + 1;
	}
}

int substituter_join(const struct substituter *sub, const char *file, char **out,
		     struct ip_error *err)
{
	char *url = NULL;
	if (has_prefix(file, "http://") || has_prefix(file, "https://")) {
		for (const char *p = file; *p; p++)
			if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
				return ip_fail(err, -EINVAL, "bad URL '%s' in narinfo", file);
		url = strdup(file);
	} else {
		if (!relative_file_ok(file))
			return ip_fail(err, -EINVAL,
				       "bad file name '%.200s' (not a plain relative path) from %s", file,
				       sub->url);
		if (asprintf(&url, "%s/%s", sub->base, file) < 0)
			url = NULL;
	}
	if (!url)
		return ip_fail(err, -ENOMEM, "out of memory");
	*out = url;
	return 0;
}
