#include "util/jitter.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* splitmix64's finaliser: nearby inputs give unrelated outputs. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 27;
	x *= 0x94D049BB133111EBull;
	x ^= x >> 31;
	return x;
}

uint64_t jitter_seed(void)
{
	static uint64_t calls;
	uint64_t r = 0;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = 0;
	struct timespec mono, real;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	uint64_t x = r;
	x = mix(x ^ ((uint64_t)mono.tv_sec * 1000000000ull + (uint64_t)mono.tv_nsec));
	x = mix(x ^ ((uint64_t)real.tv_sec * 1000000000ull + (uint64_t)real.tv_nsec));
	x = mix(x ^ (uint64_t)getpid() ^ (__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) << 32));
	return x ? x : 0x9E3779B97F4A7C15ull;
}

double jitter_next(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return (double)(x >> 11) / (double)(1ull << 53);
}
