#include "util/sha256.h"

#include "util/sha256_shani.h"

/* libsodium's portable SHA-256 (see the header for why one wrapper); the
 * blocks go through the CPU's SHA instructions when it has them (7x faster
 * here, see util/sha256_shani.h). */
void sha256_init(struct sha256 *ctx)
{
	crypto_hash_sha256_init(&ctx->state);
}

void sha256_update(struct sha256 *ctx, const void *data, size_t len)
{
	if (sha256_shani_available())
		sha256_shani_update(&ctx->state, data, len);
	else
		crypto_hash_sha256_update(&ctx->state, data, len);
}

void sha256_final(struct sha256 *ctx, uint8_t out[32])
{
	crypto_hash_sha256_final(&ctx->state, out);
}
