/* Hash texts, Nix base-32, store path names and public keys on arbitrary
 * bytes: whatever is accepted must round-trip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nix/hash.h"
#include "nix/narinfo.h"
#include "nix/store_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "broken: %s\n", #c); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct nix_hash h, h2;
	struct ip_error err = { 0 };
	if (nix_hash_parse(text, size, &h, &err) == 0) {
		char out[NIX_HASH_TEXT_MAX], hex[NIX_SHA256_HEX_LEN + 1];
		nix_hash_format(&h, out);
		REQUIRE(nix_hash_parse(out, strlen(out), &h2, NULL) == 0 && nix_hash_equal(&h, &h2));
		nix_hash_format_hex(&h, hex);
		REQUIRE(nix_hash_parse(hex, strlen(hex), &h2, NULL) == 0 && nix_hash_equal(&h, &h2));
	} else {
		REQUIRE(err.msg[0]);
	}
	/* Decoding is canonical: what decodes encodes back to the same text. */
	static const size_t lens[] = { 16, 20, 32, 64 };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t bytes[64];
		if (nix_base32_decode(text, size, bytes, lens[i]) == 0) {
			char back[128];
			nix_base32_encode(bytes, lens[i], back);
			REQUIRE(strlen(back) == size && memcmp(back, text, size) == 0);
		}
	}
	uint8_t b64[64];
	(void)nix_base64_decode(text, size, b64, 32);
	if (nix_store_basename_check(text, size, NULL) == 0)
		REQUIRE(size > 33 && size <= NIX_STORE_BASENAME_MAX && !memchr(text, '/', size));
	(void)nix_store_path_check(text, size, NULL);
	char *z = malloc(size + 1);
	if (!z)
		return 0;
	memcpy(z, data, size);
	z[size] = '\0';
	struct trusted_key k;
	(void)trusted_key_parse(z, &k, NULL);
	free(z);
	return 0;
}
