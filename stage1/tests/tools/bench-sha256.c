/* SHA-256 throughput of the implementations we may link, on this machine.
 *   cc -O2 -Istage1/src -o /tmp/bench-sha256 stage1/tests/tools/bench-sha256.c \
 *      stage1/src/util/sha256.c stage1/src/util/sha256_shani.c -lsodium -lmbedcrypto
 *   /tmp/bench-sha256 [MiB]
 * Hashes MiB (default 512) of data in 64 KiB pieces, like the NAR stream,
 * and prints MB/s (10^6 bytes per second) per implementation; all must agree. */
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/sha256_shani.h"

#define PIECE (64 * 1024)

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 512;
	size_t pieces = mib * 1024 * 1024 / PIECE;
	unsigned char *buf = malloc(PIECE), out1[32], out2[32];
	for (size_t i = 0; i < PIECE; i++)
		buf[i] = (unsigned char)(i * 2654435761u >> 13);
	if (sodium_init() < 0)
		return 1;

	double t0 = now();
	crypto_hash_sha256_state s;
	crypto_hash_sha256_init(&s);
	for (size_t i = 0; i < pieces; i++)
		crypto_hash_sha256_update(&s, buf, PIECE);
	crypto_hash_sha256_final(&s, out1);
	double t1 = now();

	mbedtls_sha256_context m;
	mbedtls_sha256_init(&m);
	mbedtls_sha256_starts_ret(&m, 0);
	for (size_t i = 0; i < pieces; i++)
		mbedtls_sha256_update_ret(&m, buf, PIECE);
	mbedtls_sha256_finish_ret(&m, out2);
	double t2 = now();

	unsigned char out3[32];
	double t3 = t2;
	if (sha256_shani_available()) {
		crypto_hash_sha256_init(&s);
		for (size_t i = 0; i < pieces; i++)
			sha256_shani_update(&s, buf, PIECE);
		crypto_hash_sha256_final(&s, out3);
		t3 = now();
	} else {
		memcpy(out3, out1, 32);
	}

	double bytes = (double)pieces * PIECE;
	printf("libsodium %s: %.0f MB/s\n", sodium_version_string(), bytes / (t1 - t0) / 1e6);
	printf("mbedTLS   %s: %.0f MB/s\n", MBEDTLS_VERSION_STRING_FULL, bytes / (t2 - t1) / 1e6);
	if (t3 > t2)
		printf("SHA-NI (util/sha256_shani.c): %.0f MB/s\n", bytes / (t3 - t2) / 1e6);
	else
		printf("SHA-NI: not available on this CPU\n");
	if (memcmp(out1, out2, 32) != 0 || memcmp(out1, out3, 32) != 0) {
		printf("MISMATCH\n");
		return 1;
	}
	return 0;
}
