/* Chunk sizes derived from the input itself, so that a crash reproduces
 * from the input alone: mostly 1..64 bytes, sometimes up to 5000. */
#ifndef IP_TESTS_FUZZ_CHUNKS_H
#define IP_TESTS_FUZZ_CHUNKS_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t fuzz_chunks_seed(const uint8_t *data, size_t size)
{
	uint64_t x = 0x9e3779b97f4a7c15ull ^ size;
	for (size_t i = 0; i < size && i < 64; i++)
		x = (x ^ data[i]) * 0x100000001b3ull;
	return x;
}

/* The next chunk: at most `left` bytes (xorshift over *x). */
static inline size_t fuzz_chunks_next(uint64_t *x, size_t left)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	size_t want = (*x & 0x300) == 0x300 ? (size_t)(*x >> 40) % 5000 + 1 : (size_t)(*x % 64) + 1;
	return want < left ? want : left;
}

#endif
