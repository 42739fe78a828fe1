/* Signing S3 requests with AWS SigV4 through libcurl's CURLOPT_AWS_SIGV4
 * ("aws:amz:<region>:s3"; user:password = access key id:secret).  curl
 * signs every header in CURLOPT_HTTPHEADER, so the session token
 * (x-amz-security-token) and x-amz-content-sha256 are added there: S3 wants
 * the latter and curl 7.88 does not add it by itself.  For requests without
 * a body (GET, HEAD: all a binary cache reader sends). */
#ifndef IP_AWS_SIGV4_H
#define IP_AWS_SIGV4_H

#include <curl/curl.h>

#include "aws/credentials.h"
#include "util/error.h"

/* SHA-256 of the empty string: the payload hash of a request without a
 * body.  curl computes the same value for its canonical request, so the
 * header and the signature agree whether or not curl reads the header. */
#define AWS_EMPTY_PAYLOAD_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Sets up `easy` to sign its request.  Appends the two headers to *headers
 * (which may start NULL and may hold the caller's own headers) and sets
 * CURLOPT_HTTPHEADER to it; the caller frees *headers after the transfer
 * with curl_slist_free_all.  creds NULL or without an access key id: the
 * request stays unsigned (nothing is set, 0 is returned).  -EINVAL for a
 * bad region, -ENOMEM, or -ENOTSUP when libcurl has no SigV4 support. */
int aws_sign_request(CURL *easy, const struct aws_credentials *creds, const char *region,
		     struct curl_slist **headers, struct ip_error *err);

#endif
