/* The SHA-NI path must give libsodium's answers, for any data split any way. */
#include <stdio.h>
#include <stdlib.h>

#include "test.h"
#include "util/sha256.h"
#include "util/sha256_shani.h"

static uint64_t rng = 0x123456789abcdefull;
static uint32_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static void check_one(const unsigned char *data, size_t len, bool *ok)
{
	unsigned char want[32], got[32];
	crypto_hash_sha256(want, data, len);
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	size_t off = 0;
	while (off < len) {
		size_t n = next() % 3 == 0 ? next() % 200 : next() % (len - off + 1);
		if (n > len - off)
			n = len - off;
		sha256_shani_update(&st, data + off, n);
		off += n;
	}
	sha256_shani_update(&st, data, 0);
	crypto_hash_sha256_final(&st, got);
	if (memcmp(want, got, 32) != 0)
		*ok = false;
}

static void same_as_libsodium(void)
{
	if (!sha256_shani_available())
		SKIP("this CPU has no SHA extensions (the portable path is used)");
	size_t cap = 1 << 20;
	unsigned char *data = malloc(cap);
	for (size_t i = 0; i < cap; i++)
		data[i] = (unsigned char)next();
	bool ok = true;
	for (size_t len = 0; len <= 300 && ok; len++)
		for (int rep = 0; rep < 4 && ok; rep++)
			check_one(data, len, &ok);
	for (int rep = 0; rep < 20 && ok; rep++)
		check_one(data, cap - next() % 1000, &ok);
	free(data);
	CHECK(ok);
}

static void wrapper_known_answer(void)
{
	/* FIPS 180-2 example "abc", through util/sha256 (whichever path) */
	struct sha256 s;
	uint8_t out[32];
	sha256_init(&s);
	sha256_update(&s, "a", 1);
	sha256_update(&s, "bc", 2);
	sha256_final(&s, out);
	static const uint8_t want[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	CHECK_MEM(out, want, 32);
}

TEST_MAIN("sha256-shani",
	  TEST_CASE(same_as_libsodium),
	  TEST_CASE(wrapper_known_answer))
