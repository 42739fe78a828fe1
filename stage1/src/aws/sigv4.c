#include "aws/sigv4.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGION_MAX 32

static int append(struct curl_slist **headers, const char *line, struct ip_error *err)
{
	struct curl_slist *h = curl_slist_append(*headers, line);
	if (!h)
		return ip_fail(err, -ENOMEM, "out of memory");
	*headers = h;
	return 0;
}

int aws_sign_request(CURL *easy, const struct aws_credentials *creds, const char *region,
		     struct curl_slist **headers, struct ip_error *err)
{
	if (!creds || !creds->access_key_id[0])
		return 0;
	size_t rl = strlen(region);
	bool ok = rl > 0 && rl <= REGION_MAX;
	for (size_t i = 0; ok && i < rl; i++)
		ok = (region[i] >= 'a' && region[i] <= 'z') || (region[i] >= '0' && region[i] <= '9') ||
		     region[i] == '-';
	if (!ok)
		return ip_fail(err, -EINVAL, "bad region for SigV4: '%.40s'", region);

	char provider[64];
	snprintf(provider, sizeof(provider), "aws:amz:%s:s3", region);
	if (curl_easy_setopt(easy, CURLOPT_AWS_SIGV4, provider) != CURLE_OK)
		return ip_fail(err, -ENOTSUP, "libcurl cannot sign requests (CURLOPT_AWS_SIGV4)");
	if (curl_easy_setopt(easy, CURLOPT_USERNAME, creds->access_key_id) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_PASSWORD, creds->secret_access_key) != CURLE_OK)
		return ip_fail(err, -ENOMEM, "out of memory");

	int r = append(headers, "x-amz-content-sha256: " AWS_EMPTY_PAYLOAD_SHA256, err);
	if (r < 0)
		return r;
	if (creds->session_token[0]) {
		size_t n = strlen(creds->session_token) + sizeof("x-amz-security-token: ");
		char *line = malloc(n);
		if (!line)
			return ip_fail(err, -ENOMEM, "out of memory");
		snprintf(line, n, "x-amz-security-token: %s", creds->session_token);
		r = append(headers, line, err);
		explicit_bzero(line, n);
		free(line);
		if (r < 0)
			return r;
	}
	if (curl_easy_setopt(easy, CURLOPT_HTTPHEADER, *headers) != CURLE_OK)
		return ip_fail(err, -ENOMEM, "out of memory");
	return 0;
}
