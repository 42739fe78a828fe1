/* Nix's hash texts (sha256 only: it is the only algorithm binary caches use
 * for NarHash and FileHash) and Nix base-32. */
#ifndef IP_NIX_HASH_H
#define IP_NIX_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define NIX_SHA256_BYTES 32
#define NIX_SHA256_BASE32_LEN 52
#define NIX_SHA256_HEX_LEN 64
/* "sha256:" + 52 base-32 characters + NUL */
#define NIX_HASH_TEXT_MAX (7 + NIX_SHA256_BASE32_LEN + 1)

struct nix_hash {
	uint8_t bytes[NIX_SHA256_BYTES];
};

/* Length of the Nix base-32 text for n bytes: (n*8-1)/5 + 1. */
size_t nix_base32_len(size_t nbytes);
/* Writes nix_base32_len(n) characters and a NUL to out. */
void nix_base32_encode(const uint8_t *bytes, size_t n, char *out);
/* Decodes exactly nix_base32_len(n) characters into n bytes.  -EINVAL on a
 * character outside the alphabet or bits set beyond n bytes. */
int nix_base32_decode(const char *text, size_t text_len, uint8_t *out, size_t n);
/* True for the 32 characters of Nix's base-32 alphabet. */
bool nix_base32_valid_char(char c);

/* Standard base64 (RFC 4648 section 4, with or without '=' padding) of
 * exactly n bytes: -EINVAL on bad characters, bad padding or another length.
 * Used for SRI hashes, signatures and public keys. */
int nix_base64_decode(const char *text, size_t text_len, uint8_t *out, size_t n);

/* Parses "sha256:<base32|hex|base64>" (told apart by length: 52, 64, 44),
 * "sha256-<base64>" (SRI), or a bare 64-char hex / 52-char base-32 hash.
 * -EINVAL with err on anything else: another algorithm ("md5:", "sha512-"),
 * a wrong length, a bad character.  The message quotes (part of) the text. */
int nix_hash_parse(const char *text, size_t len, struct nix_hash *out, struct ip_error *err);
/* "sha256:<base32>" into out[NIX_HASH_TEXT_MAX]. */
void nix_hash_format(const struct nix_hash *hash, char *out);
/* 64 lowercase hex characters + NUL into out[NIX_SHA256_HEX_LEN + 1]. */
void nix_hash_format_hex(const struct nix_hash *hash, char *out);
bool nix_hash_equal(const struct nix_hash *a, const struct nix_hash *b);

#endif
