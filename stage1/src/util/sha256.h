/* Streaming SHA-256.  One wrapper so the implementation (see README,
 * "Why this SHA-256") can be chosen in one place: the CPU's SHA instructions
 * (x86 SHA-NI, ARMv8 SHA2) when it has them, libsodium otherwise or when
 * SHA256_FORCE_ENV is "software" in the environment (QEMU cannot hide SHA2
 * from a guest, so tests and operators need a switch to exercise and
 * compare the software path). */
#ifndef IP_UTIL_SHA256_H
#define IP_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define SHA256_FORCE_ENV "INITRD_PROVISION_SHA256"

struct sha256 {
	crypto_hash_sha256_state state;
};

void sha256_init(struct sha256 *ctx);
void sha256_update(struct sha256 *ctx, const void *data, size_t len);
void sha256_final(struct sha256 *ctx, uint8_t out[32]);

/* The path sha256_update takes here ("x86 SHA-NI", "ARMv8 SHA2",
 * "software"); chosen once per process. */
const char *sha256_implementation(void);

/* For the accelerated paths: libsodium's update (bit count, partial block
 * in state->buf) around a function that hashes n whole 64-byte blocks. */
extern const uint32_t sha256_k[64]; /* the round constants, 16-byte aligned */
typedef void sha256_blocks_fn(uint32_t state[8], const unsigned char *p, size_t n);
void sha256_update_blocks(crypto_hash_sha256_state *state, const void *data, size_t len,
			  sha256_blocks_fn *blocks);

#endif
