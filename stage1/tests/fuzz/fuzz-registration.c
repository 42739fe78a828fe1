/* The registration file (nix-store --load-db format) and the ledger that
 * embeds it (store/ledger.h) on arbitrary bytes: both are read back from the
 * root, which a crash, another tool or stage 2 may have left in any state.
 * What parses is made of valid store paths and survives a round trip:
 * format(parse(x)) parses again and formats to the same text. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nix/store_path.h"
#include "store/ledger.h"
#include "store/registration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "broken: %s\n", #c); abort(); } } while (0)

struct collected {
	char *text;
	size_t len;
	size_t n;
};

static int collect(void *ctx, const struct registration_entry *e, struct ip_error *err)
{
	(void)err;
	struct collected *c = ctx;
	REQUIRE(nix_store_basename_check(e->basename, strlen(e->basename), NULL) == 0);
	if (e->deriver)
		REQUIRE(nix_store_basename_check(e->deriver, strlen(e->deriver), NULL) == 0);
	for (size_t i = 0; i < e->n_references; i++)
		REQUIRE(nix_store_basename_check(e->references[i], strlen(e->references[i]), NULL) == 0);
	char *one = NULL;
	size_t one_len = 0;
	REQUIRE(registration_format(e, 1, &one, &one_len) == 0);
	char *grown = realloc(c->text, c->len + one_len + 1);
	REQUIRE(grown);
	memcpy(grown + c->len, one, one_len + 1);
	c->text = grown;
	c->len += one_len;
	c->n++;
	free(one);
	return 0;
}

static int identity(void *ctx, const char *basename, const struct tree_identity *id,
		    struct ip_error *err)
{
	(void)ctx;
	(void)err;
	REQUIRE(nix_store_basename_check(basename, strlen(basename), NULL) == 0);
	REQUIRE(id->ctime_nsec < 1000000000u);
	char line[LEDGER_LINE_MAX];
	REQUIRE(ledger_format_identity(basename, id, line) > 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct collected first = { 0 }, second = { 0 };
	struct ip_error err = { 0 };
	int r = registration_parse((const char *)data, size, collect, &first, &err);
	if (r < 0) {
		REQUIRE(r == -EBADMSG && err.msg[0]);
	} else {
		struct ip_error again = { 0 };
		REQUIRE(registration_parse(first.text ? first.text : "", first.len, collect, &second,
					   &again) == 0);
		REQUIRE(second.n == first.n && second.len == first.len);
		REQUIRE(first.len == 0 || memcmp(first.text, second.text, first.len) == 0);
	}
	free(first.text);
	free(second.text);

	struct collected ledger = { 0 };
	struct ip_error lerr = { 0 };
	r = ledger_parse((const char *)data, size, identity, collect, &ledger, &lerr);
	REQUIRE(r == 0 || (r == -EBADMSG && lerr.msg[0]));
	free(ledger.text);
	return 0;
}
