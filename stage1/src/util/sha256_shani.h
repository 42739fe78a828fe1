/* SHA-256 with the x86 SHA extensions (SHA-NI: Intel since Goldmont/Ice
 * Lake, AMD since Zen), chosen at run time by util/sha256.c.
 *
 * Why: hashing every NAR byte is a third of the engine's CPU time; the
 * portable C of libsodium and mbedTLS does ~250-290 MB/s here, these
 * instructions ~1.5-2 GB/s (figures: stage1/tests/tools/bench-sha256.c).
 * It operates on libsodium's crypto_hash_sha256_state with libsodium's
 * conventions (bit count, partial block in buf), so init and final stay
 * libsodium's; test-sha256-shani checks it against libsodium on random
 * splits of random data. */
#ifndef IP_UTIL_SHA256_SHANI_H
#define IP_UTIL_SHA256_SHANI_H

#include <stdbool.h>
#include <stddef.h>

#include <sodium.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define IP_SHA256_SHANI 1

/* True when this CPU has the instructions (checked once). */
bool sha256_shani_available(void);

/* crypto_hash_sha256_update, with the SHA extensions.  Only call when
 * sha256_shani_available(). */
void sha256_shani_update(crypto_hash_sha256_state *state, const void *data, size_t len);
#else
/* Another architecture: never available, and sha256.c uses libsodium. */
static inline bool sha256_shani_available(void) { return false; }
static inline void sha256_shani_update(crypto_hash_sha256_state *s, const void *d, size_t n)
{
	crypto_hash_sha256_update(s, d, n);
}
#endif

#endif
