/* s3:// substituters: the bridge between the engine's substituter hooks
 * (cache/substituter.h) and the aws/ module (URL mapping, SigV4, S3's error
 * answers, credentials).  README "S3 caches". */
#ifndef IP_CACHE_S3_SUBSTITUTER_H
#define IP_CACHE_S3_SUBSTITUTER_H

#include "cache/substituter.h"

/* Maps an s3:// URL to its HTTPS base and installs the hooks on `sub`
 * (sub->url is set by the caller).  Region: the URL's, else env->aws_region,
 * else us-east-1.  -EINVAL with err for a bad URL. */
int s3_substituter_setup(struct substituter *sub, const char *url, const struct substituter_env *env,
			 struct ip_error *err);

#endif
