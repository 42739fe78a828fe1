/* libFuzzer target for userdata_parse (and the tag parser): any bytes are
 * sorted into OK / NOT_OURS / MALFORMED without crashing, within bounds, and
 * the result is self-consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "userdata/userdata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct userdata_result result;

static void check_result(int rc, const struct userdata_result *r)
{
	if ((rc < 0) != (r->kind == USERDATA_MALFORMED))
		abort();
	if (r->kind == USERDATA_OK) {
		if (strncmp(r->system, "/nix/store/", 11) != 0 || strlen(r->system) < 11 + 34)
			abort();
		if (r->n_substituters > USERDATA_SUBSTITUTERS_MAX || r->n_keys > USERDATA_KEYS_MAX)
			abort();
		for (size_t i = 0; i < r->n_substituters; i++)
			if (strlen(r->substituters[i]) == 0 || strlen(r->substituters[i]) > USERDATA_URL_MAX)
				abort();
		for (size_t i = 0; i < r->n_keys; i++)
			if (!strchr(r->keys[i], ':'))
				abort();
	}
	if (r->kind == USERDATA_NOT_OURS && r->reason[0] == '\0')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ip_error err = { 0 };
	static const struct userdata_policy all = { .allow_substituters = true, .allow_keys = true };
	int rc = userdata_parse(data, size, &all, &result, &err);
	check_result(rc, &result);
	if (rc < 0 && err.msg[0] == '\0')
		abort();

	ip_error_clear(&err);
	rc = userdata_parse(data, size, NULL, &result, &err);
	check_result(rc, &result);
	if (result.kind == USERDATA_OK && (result.n_substituters || result.n_keys))
		abort(); /* the policy is off: nothing from user-data may be honoured */

	ip_error_clear(&err);
	rc = userdata_parse_tag((const char *)data, size, &result, &err);
	check_result(rc, &result);
	return 0;
}
