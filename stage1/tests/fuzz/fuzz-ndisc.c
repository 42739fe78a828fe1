/* Fuzzes the Router Advertisement decoder (RFC 4861 framing, prefix, MTU,
 * RDNSS, DNSSL options and their limits).  The input is the ICMPv6 message
 * as the raw socket returns it; the corpus holds dnsmasq's captured RA
 * (data/dhcp6/ra.bin) and broken ones. */
#include "net/ndisc.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1500)
		return 0;
	struct ndisc_ra ra;
	if (ndisc_ra_parse(data, size, &ra) == 0) {
		/* What net.c relies on: limits held, strings terminated. */
		if (ra.n_dns > NDISC_MAX_DNS || ra.n_prefixes > NDISC_MAX_PREFIXES ||
		    strnlen(ra.search, sizeof(ra.search)) == sizeof(ra.search))
			__builtin_trap();
	}
	return 0;
}
