/* Test driver for the IMDS client (stage1/tests/imds.test.sh builds it
 * against build/asan/libip.a).  Not part of the program.
 *
 *   imds-get [--endpoint URL] [--budget-ms N] [--timeout-ms N]
 *            [--connect-timeout-ms N] [--ttl S] [--allow-v1] COMMAND [ARG]
 * COMMAND: user-data | region | tag NAME | role-creds | provider | get PATH
 *   provider: the credential chain (environment ignored) asked three times;
 *   prints the source and how many IMDS requests were made in all.
 * Prints the result on stdout, "requests=N" and any error on stderr.
 * Exit: 0 found, 3 not found (-ENOENT), 1 error, 2 usage. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/credentials.h"
#include "imds/imds.h"

static void print_creds(const char *what, const struct aws_credentials *c)
{
	/* Secrets by length only: this output lands in test logs. */
	printf("%s AccessKeyId=%s secret-len=%zu token-len=%zu expires-in=%lld\n", what,
	       c->access_key_id, strlen(c->secret_access_key), strlen(c->session_token),
	       (long long)(c->expiration - time(NULL)));
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "budget-ms", required_argument, NULL, 'b' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "connect-timeout-ms", required_argument, NULL, 'c' },
		{ "ttl", required_argument, NULL, 'l' },
		{ "allow-v1", no_argument, NULL, '1' },
		{ NULL, 0, NULL, 0 },
	};
	struct imds_config cfg = { 0 };
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'e': cfg.endpoint = optarg; break;
		case 'b': cfg.budget_ms = (unsigned)atoi(optarg); break;
		case 't': cfg.request_timeout_ms = (unsigned)atoi(optarg); break;
		case 'c': cfg.connect_timeout_ms = (unsigned)atoi(optarg); break;
		case 'l': cfg.token_ttl_s = (unsigned)atoi(optarg); break;
		case '1': cfg.allow_v1 = true; break;
		default: return 2;
		}
	}
	if (optind >= argc)
		return 2;
	const char *cmd = argv[optind];
	const char *arg = optind + 1 < argc ? argv[optind + 1] : NULL;

	struct ip_error err = { 0 };
	struct imds_client *c;
	if (imds_client_new(&cfg, &c, &err) < 0) {
		fprintf(stderr, "error: %s\n", ip_error_str(&err));
		return 1;
	}
	int r;
	if (strcmp(cmd, "user-data") == 0 || (strcmp(cmd, "get") == 0 && arg)) {
		uint8_t *buf;
		size_t len;
		r = strcmp(cmd, "get") == 0 ? imds_get(c, arg, &buf, &len, &err)
					    : imds_user_data(c, &buf, &len, &err);
		if (r == 0) {
			fwrite(buf, 1, len, stdout);
			free(buf);
		}
	} else if (strcmp(cmd, "region") == 0) {
		char region[64];
		r = imds_region(c, region, sizeof(region), &err);
		if (r == 0)
			printf("%s\n", region);
	} else if (strcmp(cmd, "tag") == 0 && arg) {
		char *value;
		r = imds_tag(c, arg, &value, &err);
		if (r == 0) {
			printf("%s\n", value);
			free(value);
		}
	} else if (strcmp(cmd, "role-creds") == 0) {
		struct aws_credentials creds;
		char role[80];
		r = imds_role_credentials(c, &creds, role, sizeof(role), &err);
		if (r == 0) {
			printf("role=%s\n", role);
			print_creds("creds", &creds);
		}
		aws_credentials_wipe(&creds);
	} else if (strcmp(cmd, "provider") == 0) {
		struct aws_creds_config pc = { .ignore_environment = true,
					      .role_credentials = imds_role_credentials_hook,
					      .role_ctx = c };
		struct aws_creds_provider *p;
		r = aws_creds_provider_new(&pc, &p, &err);
		for (int i = 0; r == 0 && i < 3; i++) {
			struct aws_credentials creds;
			struct aws_creds_info info;
			r = aws_creds_get(p, &creds, &info, &err);
			if (r == 0)
				printf("get %d: source=%s announce=%d\n", i + 1,
				       aws_creds_source_name(info.source), info.announce);
			if (r == 0 && i == 2 && info.source == AWS_CREDS_IMDS)
				print_creds("creds", &creds);
			aws_credentials_wipe(&creds);
		}
		aws_creds_provider_free(p);
	} else {
		imds_client_free(c);
		return 2;
	}
	fprintf(stderr, "requests=%u\n", imds_request_count(c));
	imds_client_free(c);
	if (r == -ENOENT) {
		fprintf(stderr, "not found: %s\n", ip_error_str(&err));
		return 3;
	}
	if (r < 0) {
		fprintf(stderr, "error: %s\n", ip_error_str(&err));
		return 1;
	}
	return 0;
}
