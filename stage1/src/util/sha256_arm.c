#include "util/sha256_arm.h"

#include "util/sha256.h"

#if IP_SHA256_ARM

#include <arm_neon.h>
#include <sys/auxv.h>

#ifndef HWCAP_SHA2
#define HWCAP_SHA2 (1 << 6) /* linux arch/arm64/include/uapi/asm/hwcap.h */
#endif

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
			uint32x4_t wk = vaddq_u32(*cur, vld1q_u32(&sha256_k[4 * g]));
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

#endif
