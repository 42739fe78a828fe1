/* Nix hash texts: the three spellings of a SHA-256 that binary caches use. */
#include "nix/hash.h"

#include <sodium.h>
#include <string.h>

#include "util/hex.h"
#include "util/text.h"

#define SRI_BASE64_LEN 44 /* base64 of 32 bytes, padded */

int nix_base64_decode(const char *text, size_t text_len, uint8_t *out, size_t n)
{
	size_t got = 0;
	const char *end = NULL;
	/* libsodium wants the padding exactly right for the padded variant and
	 * absent for the other; Nix writes padding, some tools strip it. */
	int variant = text_len > 0 && text[text_len - 1] == '=' ? sodium_base64_VARIANT_ORIGINAL
								 : sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
	if (sodium_base642bin(out, n, text, text_len, NULL, &got, &end, variant) != 0)
		return -EINVAL;
	if (end != text + text_len || got != n)
		return -EINVAL;
	return 0;
}

static int hex_decode(const char *text, uint8_t *out)
{
	for (size_t i = 0; i < NIX_SHA256_BYTES; i++) {
		int hi = hex_digit_value(text[2 * i]), lo = hex_digit_value(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Hashes in messages: cut to a readable length. */
#define QUOTED_HASH_CHARS 80
#define QUOTED_ALGORITHM_CHARS 24

/* Decodes the digits of a sha256 in whichever encoding its length names. */
static int decode_digits(const char *d, size_t n, bool allow_base64, struct nix_hash *out)
{
	if (n == NIX_SHA256_BASE32_LEN)
		return nix_base32_decode(d, n, out->bytes, NIX_SHA256_BYTES);
	if (n == NIX_SHA256_HEX_LEN)
		return hex_decode(d, out->bytes);
	if (allow_base64 && n == SRI_BASE64_LEN)
		return nix_base64_decode(d, n, out->bytes, NIX_SHA256_BYTES);
	return -ERANGE;
}

int nix_hash_parse(const char *text, size_t len, struct nix_hash *out, struct ip_error *err)
{
	char q[QUOTED_HASH_CHARS + TEXT_QUOTE_RESERVE];
	text_quote(text, len, q, sizeof(q));
	const char *digits = text;
	size_t n = len;
	bool sri = false, prefixed = false;

	/* The algorithm name ends at the first ':' (Nix's own form) or '-'
	 * (SRI).  A bare hash has neither: hex and base-32 contain no '-'. */
	size_t sep = 0;
	while (sep < len && text[sep] != ':' && text[sep] != '-')
		sep++;
	if (sep < len) {
		if (sep != 6 || memcmp(text, "sha256", 6) != 0) {
			char algo[QUOTED_ALGORITHM_CHARS + TEXT_QUOTE_RESERVE];
			text_quote(text, sep < QUOTED_ALGORITHM_CHARS ? sep : QUOTED_ALGORITHM_CHARS, algo,
				   sizeof(algo));
			return ip_fail(err, -EINVAL, "hash \"%s\": unsupported algorithm \"%s\" (only sha256)",
				       q, algo);
		}
		sri = text[sep] == '-';
		prefixed = true;
		digits = text + 7;
		n = len - 7;
	}
	int r = sri ? (n == SRI_BASE64_LEN ? nix_base64_decode(digits, n, out->bytes, NIX_SHA256_BYTES)
					    : -ERANGE)
		    : decode_digits(digits, n, prefixed, out);
	if (r == -ERANGE) {
		if (sri)
			return ip_fail(err, -EINVAL,
				       "hash \"%s\": SRI sha256 has %zu base64 characters, expected %d", q,
				       n, SRI_BASE64_LEN);
		return ip_fail(err, -EINVAL,
			       "hash \"%s\": %zu characters, expected %d (base-32) or %d (hex)%s", q, n,
			       NIX_SHA256_BASE32_LEN, NIX_SHA256_HEX_LEN,
			       prefixed ? " or 44 (base64)" : "");
	}
	if (r < 0) {
		const char *enc = sri || n == SRI_BASE64_LEN ? "base64"
				  : n == NIX_SHA256_HEX_LEN ? "hex" : "base-32";
		return ip_fail(err, -EINVAL, "hash \"%s\": invalid %s", q, enc);
	}
	return 0;
}

void nix_hash_format(const struct nix_hash *hash, char *out)
{
	memcpy(out, "sha256:", 7);
	nix_base32_encode(hash->bytes, NIX_SHA256_BYTES, out + 7);
}

void nix_hash_format_hex(const struct nix_hash *hash, char *out)
{
	hex_encode_lower(hash->bytes, NIX_SHA256_BYTES, out);
}

bool nix_hash_equal(const struct nix_hash *a, const struct nix_hash *b)
{
	return memcmp(a->bytes, b->bytes, NIX_SHA256_BYTES) == 0;
}
