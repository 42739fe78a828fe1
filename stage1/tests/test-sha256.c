/* The accelerated SHA-256 paths (x86 SHA-NI, ARMv8 SHA2) must give
 * libsodium's answers, for any data split any way; the environment switch
 * must select the software path.  aarch64.test.sh runs this under
 * qemu-aarch64-static with two CPU models, and with the switch set.
 *   IP_SHA256_LONG_MIB   size of the long-stream comparison (default 16) */
#include <stdio.h>
#include <stdlib.h>

#include "test.h"
#include "util/sha256.h"
#include "util/sha256_arm.h"
#include "util/sha256_shani.h"

struct path {
	const char *name;
	bool (*available)(void);
	void (*update)(crypto_hash_sha256_state *st, const void *data, size_t len);
};

static const struct path paths[] = {
	{ "x86 SHA-NI", sha256_shani_available, sha256_shani_update },
	{ "ARMv8 SHA2", sha256_arm_available, sha256_arm_update },
};

static uint64_t rng = 0x123456789abcdefull;
static uint32_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static void fill_random(unsigned char *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)next();
}

static void check_one(const struct path *p, const unsigned char *data, size_t len, bool *ok)
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
		p->update(&st, data + off, n);
		off += n;
	}
	p->update(&st, data, 0);
	crypto_hash_sha256_final(&st, got);
	if (memcmp(want, got, 32) != 0)
		*ok = false;
}

static void same_as_libsodium(const struct path *p)
{
	if (!p->available())
		SKIP("this CPU has no %s (the portable path is used)", p->name);
	size_t cap = 1 << 20;
	unsigned char *data = malloc(cap);
	fill_random(data, cap);
	bool ok = true;
	for (size_t len = 0; len <= 300 && ok; len++)
		for (int rep = 0; rep < 4 && ok; rep++)
			check_one(p, data, len, &ok);
	for (int rep = 0; rep < 20 && ok; rep++)
		check_one(p, data, cap - next() % 1000, &ok);
	free(data);
	CHECK(ok);
}

static void shani_same_as_libsodium(void)
{
	same_as_libsodium(&paths[0]);
}

static void arm_same_as_libsodium(void)
{
	same_as_libsodium(&paths[1]);
}

/* A long stream of random data in NAR-sized pieces (64 KiB, and odd sizes
 * between), through every path this CPU has and libsodium at once: the
 * digests must agree.  Prints the size and the paths compared. */
static void long_stream_agrees(void)
{
	const char *env = getenv("IP_SHA256_LONG_MIB");
	size_t mib = env ? strtoul(env, NULL, 10) : 16, total = mib << 20;
	enum { N_PATHS = sizeof(paths) / sizeof(paths[0]) };
	crypto_hash_sha256_state soft, fast[N_PATHS];
	bool have[N_PATHS], any = false;
	crypto_hash_sha256_init(&soft);
	for (size_t i = 0; i < N_PATHS; i++) {
		have[i] = paths[i].available();
		any |= have[i];
		crypto_hash_sha256_init(&fast[i]);
	}
	if (!any)
		SKIP("this CPU has no SHA instructions (nothing to compare with libsodium)");
	size_t cap = 64 * 1024 + 300;
	unsigned char *piece = malloc(cap);
	for (size_t done = 0; done < total;) {
		size_t n = next() % 4 == 0 ? 1 + next() % cap : 64 * 1024;
		if (n > total - done)
			n = total - done;
		fill_random(piece, n);
		crypto_hash_sha256_update(&soft, piece, n);
		for (size_t i = 0; i < N_PATHS; i++)
			if (have[i])
				paths[i].update(&fast[i], piece, n);
		done += n;
	}
	free(piece);
	unsigned char want[32], got[32];
	crypto_hash_sha256_final(&soft, want);
	for (size_t i = 0; i < N_PATHS; i++) {
		if (!have[i])
			continue;
		crypto_hash_sha256_final(&fast[i], got);
		printf("# %zu MiB: %s == libsodium: %s\n", mib, paths[i].name,
		       memcmp(want, got, 32) == 0 ? "yes" : "NO");
		CHECK_MEM(got, want, 32);
	}
}

/* INITRD_PROVISION_SHA256=software selects libsodium; otherwise the
 * CPU's instructions when present. */
static void implementation_follows_environment(void)
{
	const char *force = getenv(SHA256_FORCE_ENV);
	const char *want = "software";
	if (!force || strcmp(force, "software") != 0) {
		if (sha256_shani_available())
			want = "x86 SHA-NI";
		else if (sha256_arm_available())
			want = "ARMv8 SHA2";
	}
	printf("# %s=%s: %s\n", SHA256_FORCE_ENV, force ? force : "(unset)", sha256_implementation());
	CHECK_STR(sha256_implementation(), want);
}

static void wrapper_known_answer(void)
{
	/* FIPS 180-2's examples through util/sha256 (whichever path) */
	static const struct {
		const char *msg;
		uint8_t want[32];
	} cases[] = {
		{ "abc",
		  { 0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad } },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  { 0x24, 0x8d, 0x6a, 0x61, 0xd2, 0x06, 0x38, 0xb8, 0xe5, 0xc0, 0x26, 0x93, 0x0c, 0x3e, 0x60, 0x39,
		    0xa3, 0x3c, 0xe4, 0x59, 0x64, 0xff, 0x21, 0x67, 0xf6, 0xec, 0xed, 0xd4, 0x19, 0xdb, 0x06, 0xc1 } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sha256 s;
		uint8_t out[32];
		size_t len = strlen(cases[i].msg);
		sha256_init(&s);
		sha256_update(&s, cases[i].msg, 1);
		sha256_update(&s, cases[i].msg + 1, len - 1);
		sha256_final(&s, out);
		CHECK_MEM(out, cases[i].want, 32);
	}
	/* FIPS 180-2's one million "a": whole blocks, so the accelerated
	 * path hashes them (the short messages above are all padding work
	 * for libsodium's final). */
	static const uint8_t million_a[32] = {
		0xcd, 0xc7, 0x6e, 0x5c, 0x99, 0x14, 0xfb, 0x92, 0x81, 0xa1, 0xc7, 0xe2, 0x84, 0xd7, 0x3e, 0x67,
		0xf1, 0x80, 0x9a, 0x48, 0xa4, 0x97, 0x20, 0x0e, 0x04, 0x6d, 0x39, 0xcc, 0xc7, 0x11, 0x2c, 0xd0,
	};
	unsigned char as[1000];
	memset(as, 'a', sizeof(as));
	struct sha256 s;
	uint8_t out[32];
	sha256_init(&s);
	for (int i = 0; i < 1000; i++)
		sha256_update(&s, as, sizeof(as));
	sha256_final(&s, out);
	CHECK_MEM(out, million_a, 32);
}

TEST_MAIN("sha256",
	  TEST_CASE(shani_same_as_libsodium),
	  TEST_CASE(arm_same_as_libsodium),
	  TEST_CASE(long_stream_agrees),
	  TEST_CASE(implementation_follows_environment),
	  TEST_CASE(wrapper_known_answer))
