/* libFuzzer target for the IMDS credentials JSON reader (and the two AWS
 * time formats): any bytes parse or fail cleanly, within the named limits,
 * and a failure leaves no secret behind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_time.h"
#include "imds/creds_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aws_credentials c;
	struct ip_error err = { 0 };
	int r = imds_creds_json_parse((const char *)data, size, &c, &err);
	if (r == 0) {
		if (!c.access_key_id[0] || !c.secret_access_key[0])
			abort();
		if (strlen(c.session_token) > AWS_SESSION_TOKEN_MAX)
			abort();
		/* Header-safe: nothing that could split an HTTP header. */
		if (strpbrk(c.access_key_id, "\r\n ") || strpbrk(c.secret_access_key, "\r\n ") ||
		    strpbrk(c.session_token, "\r\n "))
			abort();
	} else {
		if (c.access_key_id[0] || c.secret_access_key[0] || c.session_token[0])
			abort();
		if (!err.msg[0])
			abort();
	}
	time_t t;
	aws_time_parse_iso8601((const char *)data, size, &t);
	aws_time_parse_amz((const char *)data, size, &t);
	return 0;
}
