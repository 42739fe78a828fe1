/* Test driver: GET one object from an S3 cache with the project's S3 pieces
 * (s3_url, credentials, sigv4, s3_error) over a curl easy handle.  Built by
 * stage1/tests/s3-proxy.test.sh against build/asan/libip.a; not part of
 * the program.
 *
 *   s3get [--access-key-id K --secret S [--token T]] [--imds URL]
 *         [--resolve HOST:PORT:ADDR] [--out FILE] S3URL KEY
 * Credentials: the explicit ones, else the instance role from --imds (the
 * environment is ignored), else none (unsigned).  The region comes from the
 * URL, else from --imds, else us-east-1.  On ExpiredToken the credentials
 * are refreshed once and the request repeated.
 * Prints the body to --out (or stdout); on stderr "url=...", "source=..."
 * and, when S3 refuses, "class=<class>" and "error: <description>".
 * Exit: 0 got it, 4 not in this cache, 1 other failures, 2 usage. */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/credentials.h"
#include "aws/s3_error.h"
#include "aws/s3_url.h"
#include "aws/sigv4.h"
#include "imds/imds.h"

struct sink {
	FILE *out;       /* the body on 200 */
	char err[65536]; /* the body otherwise */
	size_t err_len;
	long status;
	CURL *easy;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;
	if (s->status == 0)
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status == 200)
		return fwrite(data, 1, n, s->out);
	size_t room = sizeof(s->err) - s->err_len;
	size_t k = n < room ? n : room;
	memcpy(s->err + s->err_len, data, k);
	s->err_len += k;
	return n;
}

/* One signed GET.  Returns 0 and sets *status, or -1 on a transport error. */
static int get(const char *url, const struct aws_credentials *creds, const char *region,
	       struct curl_slist *resolve, struct sink *s)
{
	CURL *e = curl_easy_init();
	if (!e)
		return -1;
	struct curl_slist *headers = NULL;
	struct ip_error err = { 0 };
	s->easy = e;
	s->status = 0;
	s->err_len = 0;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	if (resolve)
		curl_easy_setopt(e, CURLOPT_RESOLVE, resolve);
	int r = aws_sign_request(e, creds, region, &headers, &err);
	if (r < 0) {
		fprintf(stderr, "error: signing: %s\n", ip_error_str(&err));
		curl_easy_cleanup(e);
		return -1;
	}
	CURLcode cr = curl_easy_perform(e);
	if (cr == CURLE_OK && s->status == 0)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &s->status);
	curl_easy_cleanup(e);
	curl_slist_free_all(headers);
	if (cr != CURLE_OK) {
		fprintf(stderr, "error: %s: %s\n", url, curl_easy_strerror(cr));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "access-key-id", required_argument, NULL, 'k' },
		{ "secret", required_argument, NULL, 's' },
		{ "token", required_argument, NULL, 't' },
		{ "imds", required_argument, NULL, 'i' },
		{ "resolve", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct aws_creds_config cc = { .ignore_environment = true };
	const char *imds_url = NULL, *out_path = NULL;
	struct curl_slist *resolve = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'k': cc.access_key_id = optarg; break;
		case 's': cc.secret_access_key = optarg; break;
		case 't': cc.session_token = optarg; break;
		case 'i': imds_url = optarg; break;
		case 'r': resolve = curl_slist_append(resolve, optarg); break;
		case 'o': out_path = optarg; break;
		default: return 2;
		}
	}
	if (optind + 2 != argc)
		return 2;
	const char *s3url = argv[optind], *key = argv[optind + 1];
	curl_global_init(CURL_GLOBAL_DEFAULT);

	int rc = 1;
	struct ip_error err = { 0 };
	struct imds_client *imds = NULL;
	struct aws_creds_provider *prov = NULL;
	struct sink *s = calloc(1, sizeof(*s));
	struct aws_credentials *creds = calloc(1, sizeof(*creds));
	struct s3_url u;
	if (!s || !creds)
		goto out;
	if (s3_url_parse(s3url, &u, &err) < 0) {
		fprintf(stderr, "error: %s\n", ip_error_str(&err));
		goto out;
	}
	if (imds_url) {
		struct imds_config ic = { .endpoint = imds_url, .budget_ms = 5000 };
		if (imds_client_new(&ic, &imds, &err) < 0) {
			fprintf(stderr, "error: %s\n", ip_error_str(&err));
			goto out;
		}
		cc.role_credentials = imds_role_credentials_hook;
		cc.role_ctx = imds;
		if (!u.region_explicit) {
			char region[S3_REGION_MAX + 1];
			if (imds_region(imds, region, sizeof(region), &err) == 0)
				s3_url_set_region(&u, region, &err);
			ip_error_clear(&err);
		}
	}
	if (aws_creds_provider_new(&cc, &prov, &err) < 0) {
		fprintf(stderr, "error: %s\n", ip_error_str(&err));
		goto out;
	}
	struct aws_creds_info info;
	if (aws_creds_get(prov, creds, &info, &err) < 0) {
		fprintf(stderr, "error: %s\n", ip_error_str(&err));
		goto out;
	}
	fprintf(stderr, "source=%s key=%s region=%s%s\n", aws_creds_source_name(info.source),
		creds->access_key_id[0] ? creds->access_key_id : "-", u.region,
		creds->session_token[0] ? " with-session-token" : "");

	char url[4096];
	if (s3_url_object(&u, key, url, sizeof(url), &err) < 0) {
		fprintf(stderr, "error: %s\n", ip_error_str(&err));
		goto out;
	}
	fprintf(stderr, "url=%s\n", url);
	s->out = out_path ? fopen(out_path, "wb") : stdout;
	if (!s->out)
		goto out;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (get(url, info.source == AWS_CREDS_NONE ? NULL : creds, u.region, resolve, s) < 0)
			goto out;
		if (s->status == 200) {
			rc = 0;
			goto out;
		}
		struct s3_error e;
		s3_error_parse(s->status, s->err, s->err_len, &e);
		char msg[1024];
		s3_error_describe(&e, msg, sizeof(msg));
		fprintf(stderr, "class=%s\nerror: %s\n", s3_error_class_name(e.cls), msg);
		if (e.cls == S3_ERR_EXPIRED_TOKEN && attempt == 0) {
			ip_error_clear(&err);
			if (aws_creds_refresh(prov, creds->generation, creds, &err) < 0) {
				fprintf(stderr, "error: %s\n", ip_error_str(&err));
				goto out;
			}
			fprintf(stderr, "refreshed credentials once\n");
			continue;
		}
		rc = e.cls == S3_ERR_NOT_IN_CACHE ? 4 : 1;
		goto out;
	}
out:
	if (s && s->out && s->out != stdout)
		fclose(s->out);
	if (creds)
		aws_credentials_wipe(creds);
	free(creds);
	free(s);
	aws_creds_provider_free(prov);
	imds_client_free(imds);
	curl_slist_free_all(resolve);
	curl_global_cleanup();
	return rc;
}
