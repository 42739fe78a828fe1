#include "util/sha256_arm.h"

#include "util/sha256.h"

#if defined(__aarch64__) && defined(__GNUC__)

#include <arm_neon.h>
#include <sys/auxv.h>

#ifndef HWCAP_SHA2
#define HWCAP_SHA2 (1 << 6) /* linux arch/arm64/include/uapi/asm/hwcap.h */
#endif

/* FIPS 180-4, 4.2.2 */
static const uint32_t K[64] __attribute__((aligned(16))) = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

bool sha256_arm_available(void)
{
	static int cached = -1;
	int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	if (v < 0) {
		v = (getauxval(AT_HWCAP) & HWCAP_SHA2) != 0;
		__atomic_store_n(&cached, v, __ATOMIC_RELAXED);
	}
	return v;
}

/* n 64-byte blocks.  The state is two registers, ABCD and EFGH, as the
 * instructions want it; each step does four rounds. */
__attribute__((target("+crypto"))) /* GCC 12 arm_neon.h: SHA-256 is under +crypto */
static void blocks(uint32_t state[8], const unsigned char *p, size_t n)
{
	uint32x4_t abcd = vld1q_u32(&state[0]);
	uint32x4_t efgh = vld1q_u32(&state[4]);

	for (; n > 0; n--, p += 64) {
		uint32x4_t abcd0 = abcd, efgh0 = efgh, w[4];
		for (int g = 0; g < 16; g++) {
			uint32x4_t *cur = &w[g & 3];
			if (g < 4) {
				/* the message words are big-endian */
				*cur = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p + 16 * g)));
			} else {
				/* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at a time */
				uint32x4_t t = vsha256su0q_u32(w[g & 3], w[(g + 1) & 3]);
				*cur = vsha256su1q_u32(t, w[(g + 2) & 3], w[(g + 3) & 3]);
			}
			uint32x4_t wk = vaddq_u32(*cur, vld1q_u32(&K[4 * g]));
			uint32x4_t prev = abcd;
			abcd = vsha256hq_u32(abcd, efgh, wk);
			efgh = vsha256h2q_u32(efgh, prev, wk);
		}
		abcd = vaddq_u32(abcd, abcd0);
		efgh = vaddq_u32(efgh, efgh0);
	}

	vst1q_u32(&state[0], abcd);
	vst1q_u32(&state[4], efgh);
}

void sha256_arm_update(crypto_hash_sha256_state *st, const void *data, size_t len)
{
	sha256_update_blocks(st, data, len, blocks);
}

#else

bool sha256_arm_available(void)
{
	return false;
}

void sha256_arm_update(crypto_hash_sha256_state *st, const void *data, size_t len)
{
	crypto_hash_sha256_update(st, data, len);
}

#endif
