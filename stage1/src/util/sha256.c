#include "util/sha256.h"

#include <stdlib.h>
#include <string.h>

#include "util/sha256_arm.h"
#include "util/sha256_shani.h"

/* libsodium's portable SHA-256 (see the header for why one wrapper); the
 * blocks go through the CPU's SHA instructions when it has them (7x faster
 * on x86 here, see util/sha256_shani.h and util/sha256_arm.h). */
enum sha256_path { SHA256_UNCHOSEN, SHA256_SOFTWARE, SHA256_SHANI, SHA256_ARMV8 };

static enum sha256_path chosen_path(void)
{
	static int cached = SHA256_UNCHOSEN;
	int path = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	if (path == SHA256_UNCHOSEN) {
		const char *force = getenv(SHA256_FORCE_ENV);
		if (force && strcmp(force, "software") == 0)
			path = SHA256_SOFTWARE;
		else if (sha256_shani_available())
			path = SHA256_SHANI;
		else if (sha256_arm_available())
			path = SHA256_ARMV8;
		else
			path = SHA256_SOFTWARE;
		__atomic_store_n(&cached, path, __ATOMIC_RELAXED);
	}
	return path;
}

const char *sha256_implementation(void)
{
	switch (chosen_path()) {
	case SHA256_SHANI:
		return "x86 SHA-NI";
	case SHA256_ARMV8:
		return "ARMv8 SHA2";
	default:
		return "software";
	}
}

void sha256_init(struct sha256 *ctx)
{
	crypto_hash_sha256_init(&ctx->state);
}

void sha256_update(struct sha256 *ctx, const void *data, size_t len)
{
	switch (chosen_path()) {
	case SHA256_SHANI:
		sha256_shani_update(&ctx->state, data, len);
		break;
	case SHA256_ARMV8:
		sha256_arm_update(&ctx->state, data, len);
		break;
	default:
		crypto_hash_sha256_update(&ctx->state, data, len);
	}
}

void sha256_final(struct sha256 *ctx, uint8_t out[32])
{
	crypto_hash_sha256_final(&ctx->state, out);
}

void sha256_update_blocks(crypto_hash_sha256_state *st, const void *data, size_t len,
			  sha256_blocks_fn *blocks)
{
	const unsigned char *in = data;
	size_t used = (size_t)((st->count >> 3) & 63);
	st->count += (uint64_t)len << 3;
	if (used) {
		size_t take = 64 - used;
		if (len < take) {
			memcpy(st->buf + used, in, len);
			return;
		}
		memcpy(st->buf + used, in, take);
		blocks(st->state, st->buf, 1);
		in += take;
		len -= take;
	}
	if (len >= 64) {
		blocks(st->state, in, len / 64);
		in += len & ~(size_t)63;
		len &= 63;
	}
	memcpy(st->buf, in, len);
}
