/* The transport the DHCP fuzzers give their clients: sends go nowhere, the
 * "random" number is whatever ctx points at (the fuzzer makes it the
 * message's own transaction id, to get past the cheap checks). */
#ifndef IP_FUZZ_FAKE_TRANSPORT_H
#define IP_FUZZ_FAKE_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

static inline int discard_send(void *ctx, const uint8_t *msg, size_t len)
{
	(void)ctx;
	(void)msg;
	(void)len;
	return 0;
}

static inline uint32_t fixed_random(void *ctx)
{
	return *(const uint32_t *)ctx;
}

#endif
