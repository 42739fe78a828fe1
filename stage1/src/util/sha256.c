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

/* FIPS 180-4, 4.2.2: the round constants, for the accelerated paths */
const uint32_t sha256_k[64] __attribute__((aligned(16))) = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

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
