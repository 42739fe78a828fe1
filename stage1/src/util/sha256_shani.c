#include "util/sha256_shani.h"

#include "util/sha256.h"

#if IP_SHA256_SHANI

#include <cpuid.h>
#include <immintrin.h>

bool sha256_shani_available(void)
{
	static int cached = -1;
	int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	if (v < 0) {
		unsigned a, b, c, d;
		bool sse41 = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_1) && (c & bit_SSSE3);
		bool sha = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
		v = sse41 && sha;
		__atomic_store_n(&cached, v, __ATOMIC_RELAXED);
	}
	return v;
}

/* n 64-byte blocks.  The state lives in two registers as the instructions
 * want it: ABEF and CDGH. */
__attribute__((target("sha,sse4.1,ssse3")))
static void blocks(uint32_t state[8], const unsigned char *p, size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
	__m128i tmp = _mm_loadu_si128((const __m128i *)&state[0]);     /* DCBA */
	__m128i s1 = _mm_loadu_si128((const __m128i *)&state[4]);      /* HGFE */
	tmp = _mm_shuffle_epi32(tmp, 0xB1);                            /* CDAB */
	s1 = _mm_shuffle_epi32(s1, 0x1B);                              /* EFGH */
	__m128i s0 = _mm_alignr_epi8(tmp, s1, 8);                      /* ABEF */
	s1 = _mm_blend_epi16(s1, tmp, 0xF0);                           /* CDGH */

	for (; n > 0; n--, p += 64) {
		__m128i abef = s0, cdgh = s1, w[4], m;
		for (int g = 0; g < 16; g++) {
			__m128i *cur = &w[g & 3];
			if (g < 4) {
				*cur = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), bswap);
			} else {
				/* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at a time */
				__m128i t = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
				t = _mm_add_epi32(t, _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
				*cur = _mm_sha256msg2_epu32(t, w[(g + 3) & 3]);
			}
			m = _mm_add_epi32(*cur, _mm_load_si128((const __m128i *)&sha256_k[4 * g]));
			s1 = _mm_sha256rnds2_epu32(s1, s0, m);
			m = _mm_shuffle_epi32(m, 0x0E);
			s0 = _mm_sha256rnds2_epu32(s0, s1, m);
		}
		s0 = _mm_add_epi32(s0, abef);
		s1 = _mm_add_epi32(s1, cdgh);
	}

	tmp = _mm_shuffle_epi32(s0, 0x1B);                             /* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xB1);                              /* DCHG */
	s0 = _mm_blend_epi16(tmp, s1, 0xF0);                           /* DCBA */
	s1 = _mm_alignr_epi8(s1, tmp, 8);                              /* HGFE */
	_mm_storeu_si128((__m128i *)&state[0], s0);
	_mm_storeu_si128((__m128i *)&state[4], s1);
}

void sha256_shani_update(crypto_hash_sha256_state *st, const void *data, size_t len)
{
	sha256_update_blocks(st, data, len, blocks);
}

#endif
