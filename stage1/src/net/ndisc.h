/* Neighbor Discovery, the part a host needs to find its default router
 * (RFC 4861): building a Router Solicitation and decoding a Router
 * Advertisement with the options EC2 and dnsmasq send: source link-layer
 * address, MTU, prefix information (logged), RDNSS and DNSSL (RFC 8106).
 * Pure functions over (buf, len); the ICMPv6 socket is ndisc_network.c.
 *
 * Why our own ICMPv6 socket rather than the kernel's accept_ra: the kernel
 * does not act on the M flag (DHCPv6 must wait for it), keeps RDNSS/DNSSL
 * to itself unless someone listens for RTM_NEWNDUSEROPT, and would add a
 * second default route of its own; systemd-networkd turns accept_ra off
 * and parses RAs itself (sd-ndisc) for the same reasons.  net.c sets
 * accept_ra to 0 on the links it manages while it does the work. */
#ifndef IP_NET_NDISC_H
#define IP_NET_NDISC_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NDISC_ROUTER_SOLICIT 133
#define NDISC_ROUTER_ADVERT 134
/* RFC 4861 §10: a host sends RSs at most every 4 s. */
#define NDISC_RTR_SOLICITATION_INTERVAL_MS 4000

/* Limits on untrusted input. */
#define NDISC_MAX_DNS 8
#define NDISC_SEARCH_MAX 256
#define NDISC_MAX_PREFIXES 4

struct ndisc_prefix {
	struct in6_addr prefix;
	uint8_t prefixlen;
	bool on_link, autonomous;      /* L and A flags */
	uint32_t valid_lft, preferred_lft;
};

struct ndisc_ra {
	uint8_t hop_limit;
	bool managed, other;           /* M and O flags */
	uint16_t router_lifetime;      /* seconds; 0: not a default router */
	uint32_t reachable_ms, retrans_ms;
	bool has_mac;
	uint8_t mac[6];                /* source link-layer address */
	uint32_t mtu;                  /* 0 when absent */
	struct ndisc_prefix prefixes[NDISC_MAX_PREFIXES];
	size_t n_prefixes;
	struct in6_addr dns[NDISC_MAX_DNS];
	size_t n_dns;
	uint32_t dns_lifetime;         /* the shortest RDNSS lifetime seen */
	char search[NDISC_SEARCH_MAX];
	unsigned ignored;              /* malformed or over-limit options/entries */
};

/* Builds a Router Solicitation (ICMPv6 header with checksum 0: the kernel
 * fills it in on a raw ICMPv6 socket), with the source link-layer address
 * option when mac is not NULL.  Returns the length or -ENOBUFS. */
int ndisc_rs_build(const uint8_t *mac, uint8_t *buf, size_t cap);

/* Decodes a Router Advertisement (the ICMPv6 message, from its type byte).
 * The checks of RFC 4861 §6.1.2 that need only the message: type 134, code
 * 0, at least 16 bytes, every option of non-zero length and inside the
 * message: -EBADMSG otherwise (the caller checks hop limit 255 and a
 * link-local source).  Options with a wrong size are skipped and counted. */
int ndisc_ra_parse(const uint8_t *msg, size_t len, struct ndisc_ra *out);

#endif
