/* The JSON document IMDS serves at
 * /latest/meta-data/iam/security-credentials/<role>:
 *   { "Code": "Success", "LastUpdated": "...", "Type": "AWS-HMAC",
 *     "AccessKeyId": "...", "SecretAccessKey": "...", "Token": "...",
 *     "Expiration": "2024-05-01T18:00:00Z" }
 * Pure: a small JSON reader for one flat object (nested values are skipped
 * within IMDS_JSON_DEPTH_MAX).  Errors name fields, never their values. */
#ifndef IP_IMDS_CREDS_JSON_H
#define IP_IMDS_CREDS_JSON_H

#include <stddef.h>

#include "aws/credentials.h"
#include "util/error.h"

#define IMDS_CREDS_JSON_MAX 16384   /* bytes of the whole document */
#define IMDS_JSON_DEPTH_MAX 8
#define IMDS_JSON_STRING_MAX AWS_SESSION_TOKEN_MAX

/* Fills creds (generation left 0).  AccessKeyId, SecretAccessKey and
 * Expiration are required; Token is optional (empty when absent); Code, when
 * present, must be "Success".  -EBADMSG for bad JSON, -EINVAL for a missing
 * or bad field, -E2BIG for a limit.  creds is wiped on failure. */
int imds_creds_json_parse(const char *buf, size_t len, struct aws_credentials *creds,
			  struct ip_error *err);

#endif
