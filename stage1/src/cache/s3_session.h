/* Everything s3:// substituters need, set up once per run: the credential
 * chain (explicit, environment, instance role via IMDS) and the region for
 * URLs that do not name one (explicit, else IMDS's placement/region, else
 * us-east-1).  Used by `fetch` and by the boot mode.
 *
 * It lives here, above both aws/ and imds/, because it is where the two
 * meet: imds/ fills aws/'s credential type, and the chain in aws/ gets the
 * instance role through a hook this file binds to the IMDS client. */
#ifndef IP_CACHE_S3_SESSION_H
#define IP_CACHE_S3_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "aws/credentials.h"
#include "imds/imds.h"
#include "util/error.h"

struct aws_session_config {
	/* IMDS for the instance role and the region: an existing client
	 * (borrowed), or an endpoint to open one (NULL/"" and no client: none). */
	struct imds_client *imds;
	const char *imds_endpoint;
	unsigned imds_budget_ms;
	/* Explicit credentials (first in the chain), e.g. from --aws-credentials. */
	const struct aws_credentials *explicit_credentials;
	const char *region;          /* "" or NULL: ask IMDS when need_region */
	bool need_region;            /* some s3:// URL lacks region= */
};

struct aws_session {
	struct imds_client *own_imds;
	struct aws_creds_provider *credentials;
	char region[64];             /* "" = the URLs' own / us-east-1 */
	bool region_from_imds;
};

int aws_session_open(const struct aws_session_config *cfg, struct aws_session *s, struct ip_error *err);
void aws_session_close(struct aws_session *s);

/* Parses a credentials file (nix.conf syntax: access-key-id, secret-access-key,
 * session-token).  Pure.  Errors never quote a value. */
int aws_credentials_file_parse(const char *buf, size_t len, struct aws_credentials *out, struct ip_error *err);

/* True when some URL is s3:// without region=. */
bool aws_any_s3_without_region(const char *const *urls, size_t n);

#endif
