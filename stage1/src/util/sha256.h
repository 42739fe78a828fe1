/* Streaming SHA-256.  One wrapper so the implementation (see README,
 * "Why this SHA-256") can be chosen in one place. */
#ifndef IP_UTIL_SHA256_H
#define IP_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

struct sha256 {
	crypto_hash_sha256_state state;
};

void sha256_init(struct sha256 *ctx);
void sha256_update(struct sha256 *ctx, const void *data, size_t len);
void sha256_final(struct sha256 *ctx, uint8_t out[32]);

#endif
