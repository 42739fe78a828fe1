/* SHA-256 with the ARMv8 cryptography extensions (the SHA2 feature: every
 * Graviton, Cortex-A53 and later with crypto), chosen at run time by
 * util/sha256.c; the arm64 counterpart of util/sha256_shani.h.
 *
 * Why: hashing every NAR byte is a large part of the engine's CPU time and
 * libsodium's portable C does not use these instructions.  Like the SHA-NI
 * path it operates on libsodium's crypto_hash_sha256_state with libsodium's
 * conventions (bit count, partial block in buf), so init and final stay
 * libsodium's; test-sha256-arm checks it against libsodium on random splits
 * of random data (run under qemu-aarch64-static by aarch64.test.sh). */
#ifndef IP_UTIL_SHA256_ARM_H
#define IP_UTIL_SHA256_ARM_H

#include <stdbool.h>
#include <stddef.h>

#include <sodium.h>

#if defined(__aarch64__) && defined(__GNUC__)
#define IP_SHA256_ARM 1

/* True on an aarch64 CPU whose kernel reports HWCAP_SHA2 (checked once). */
bool sha256_arm_available(void);

/* crypto_hash_sha256_update, with the SHA2 instructions.  Only call when
 * sha256_arm_available(). */
void sha256_arm_update(crypto_hash_sha256_state *state, const void *data, size_t len);
#else
/* Another architecture: never available, and sha256.c uses libsodium. */
static inline bool sha256_arm_available(void) { return false; }
static inline void sha256_arm_update(crypto_hash_sha256_state *s, const void *d, size_t n)
{
	crypto_hash_sha256_update(s, d, n);
}
#endif

#endif
