/* DHCPv6 messages (RFC 8415): building the client's Solicit and Request,
 * and decoding a server's Advertise or Reply into what the client needs
 * (server DUID, preference, status codes, the IA_NA's address and
 * lifetimes, DNS servers (23) and search list (24), RFC 3646).  Pure
 * functions over (buf, len); every untrusted size meets a named limit.
 *
 * Wire format (RFC 8415 §8, §21.1): msg-type (1 byte), transaction-id
 * (3 bytes), then options, each option-code (2), option-len (2), data.
 * IA_NA (§21.4) and IAADDR (§21.6) carry options of their own. */
#ifndef IP_NET_DHCP6_MESSAGE_H
#define IP_NET_DHCP6_MESSAGE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DHCP6_CLIENT_PORT 546
#define DHCP6_SERVER_PORT 547

enum dhcp6_message_type {
	DHCP6_SOLICIT = 1,
	DHCP6_ADVERTISE = 2,
	DHCP6_REQUEST = 3,
	DHCP6_RENEW = 5,
	DHCP6_REPLY = 7,
	DHCP6_RELEASE = 8,
};
const char *dhcp6_message_type_name(int type);

enum dhcp6_option_code {
	DHCP6_OPT_CLIENTID = 1,
	DHCP6_OPT_SERVERID = 2,
	DHCP6_OPT_IA_NA = 3,
	DHCP6_OPT_IAADDR = 5,
	DHCP6_OPT_ORO = 6,
	DHCP6_OPT_PREFERENCE = 7,
	DHCP6_OPT_ELAPSED_TIME = 8,
	DHCP6_OPT_STATUS_CODE = 13,
	DHCP6_OPT_RAPID_COMMIT = 14,
	DHCP6_OPT_DNS_SERVERS = 23,
	DHCP6_OPT_DOMAIN_LIST = 24,
};

enum dhcp6_status {
	DHCP6_STATUS_SUCCESS = 0,
	DHCP6_STATUS_UNSPEC_FAIL = 1,
	DHCP6_STATUS_NO_ADDRS_AVAIL = 2,
	DHCP6_STATUS_NO_BINDING = 3,
	DHCP6_STATUS_NOT_ON_LINK = 4,
	DHCP6_STATUS_USE_MULTICAST = 5,
};
const char *dhcp6_status_name(unsigned status);

/* Limits on untrusted input. */
#define DHCP6_DUID_MAX 130            /* RFC 8415 §11.1: 2-byte type + at most 128 */
#define DHCP6_MAX_DNS 8
#define DHCP6_SEARCH_MAX 256          /* search list text, space separated */
#define DHCP6_STATUS_TEXT_MAX 128
#define DHCP6_MESSAGE_MAX 1500        /* what we read from the socket */
#define DHCP6_LIFETIME_INFINITE 0xffffffffu

/* Our identity in every message: DUID-LL (RFC 8415 §11.4: type 3, hardware
 * type 1, the MAC), stable for the NIC, and one IA_NA whose IAID is the last
 * four bytes of the MAC. */
struct dhcp6_identity {
	uint8_t duid[10];
	size_t duid_len;
	uint32_t iaid;
};
void dhcp6_identity_from_mac(const uint8_t mac[6], struct dhcp6_identity *id);

/* What the client sends. */
struct dhcp6_request {
	uint8_t type;                 /* DHCP6_SOLICIT or DHCP6_REQUEST */
	uint32_t xid;                 /* low 24 bits */
	uint16_t elapsed_cs;          /* centiseconds since the exchange began */
	bool rapid_commit;            /* Solicit only */
	const struct dhcp6_identity *id;
	const uint8_t *server_duid;   /* Request only */
	size_t server_duid_len;
};
/* Builds the message; returns its length or -ENOBUFS / -EINVAL. */
int dhcp6_message_build(const struct dhcp6_request *req, uint8_t *buf, size_t cap);

/* A decoded Advertise or Reply. */
struct dhcp6_reply {
	uint8_t type;
	uint32_t xid;
	uint8_t server_duid[DHCP6_DUID_MAX];
	size_t server_duid_len;       /* 0: no (usable) Server Identifier */
	uint8_t client_duid[DHCP6_DUID_MAX];
	size_t client_duid_len;
	uint8_t preference;           /* 0 when absent (§18.2.1) */
	bool rapid_commit;
	bool has_status;              /* top-level Status Code */
	uint16_t status;
	char status_text[DHCP6_STATUS_TEXT_MAX];
	bool has_ia;                  /* an IA_NA with our IAID */
	uint32_t t1, t2;
	bool ia_has_status;
	uint16_t ia_status;
	char ia_status_text[DHCP6_STATUS_TEXT_MAX];
	bool has_address;             /* an IAADDR with a valid lifetime > 0 */
	struct in6_addr address;
	uint32_t preferred_lft, valid_lft;
	struct in6_addr dns[DHCP6_MAX_DNS];
	size_t n_dns;
	char search[DHCP6_SEARCH_MAX]; /* "a.example b.example", "" when none */
	unsigned ignored;             /* malformed options or entries skipped */
};

/* Decodes a server message for the IA_NA `iaid`.  -EBADMSG for a header that
 * is too short or an option running past its container; options that are
 * well framed but malformed inside are skipped and counted (ignored), like
 * the DHCPv4 lease decoder does. */
int dhcp6_reply_parse(const uint8_t *msg, size_t len, uint32_t iaid, struct dhcp6_reply *out);

/* Decodes RFC 1035 wire-format names (option 24, RA DNSSL) into a space
 * separated list of host-name-character names without the final dot,
 * appended to `out` (keeping what it holds; duplicates left out).  Names
 * with other characters are skipped (counted in *ignored).  -EBADMSG for a
 * label running past the buffer or a compression pointer. */
int dhcp6_domain_list_decode(const uint8_t *p, size_t len, char *out, size_t cap, unsigned *ignored);

/* Whether `a` can be our global address: not unspecified, loopback,
 * multicast, link-local or IPv4-mapped. */
bool dhcp6_address_is_usable(const struct in6_addr *a);

#endif
