/* DHCP options (RFC 2132): the TLV area of a message, option overload (52),
 * the concatenation of split options (RFC 3396), classless static routes
 * (121, RFC 3442) and the lease they describe.  Pure functions over
 * (buf, len); all untrusted sizes meet the named limits below. */
#ifndef IP_NET_DHCP_OPTION_H
#define IP_NET_DHCP_OPTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dhcp_option_code {
	DHCP_OPT_PAD = 0,
	DHCP_OPT_SUBNET_MASK = 1,
	DHCP_OPT_ROUTER = 3,
	DHCP_OPT_DNS = 6,
	DHCP_OPT_DOMAIN = 15,
	DHCP_OPT_MTU = 26,
	DHCP_OPT_BROADCAST = 28,
	DHCP_OPT_REQUESTED_IP = 50,
	DHCP_OPT_LEASE_TIME = 51,
	DHCP_OPT_OVERLOAD = 52,
	DHCP_OPT_MESSAGE_TYPE = 53,
	DHCP_OPT_SERVER_ID = 54,
	DHCP_OPT_PARAM_REQUEST = 55,
	DHCP_OPT_MESSAGE = 56,
	DHCP_OPT_MAX_MESSAGE_SIZE = 57,
	DHCP_OPT_CLIENT_ID = 61,
	DHCP_OPT_CLASSLESS_ROUTES = 121,
	DHCP_OPT_END = 255,
};

enum dhcp_message_type {
	DHCP_DISCOVER = 1,
	DHCP_OFFER = 2,
	DHCP_REQUEST = 3,
	DHCP_DECLINE = 4,
	DHCP_ACK = 5,
	DHCP_NAK = 6,
	DHCP_RELEASE = 7,
	DHCP_INFORM = 8,
};
const char *dhcp_message_type_name(int type);

/* Option 52 values (RFC 2132 §9.3): which header fields carry options. */
enum { DHCP_OVERLOAD_FILE = 1, DHCP_OVERLOAD_SNAME = 2 };

/* --- building ------------------------------------------------------------ */

struct dhcp_option_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
};

/* Appends one option (code, len, data).  -ENOBUFS when it does not fit,
 * -EINVAL for len > 255 or the codes pad/end. */
int dhcp_option_append(struct dhcp_option_writer *w, uint8_t code, size_t len, const void *data);
/* Appends the end option. */
int dhcp_option_append_end(struct dhcp_option_writer *w);

/* --- parsing ------------------------------------------------------------- */

/* Limit on untrusted input: bytes of option values kept from one message
 * (the value bytes can never exceed the message, which is bounded by
 * DHCP_PACKET_MAX). */
#define DHCP_OPTIONS_DATA_MAX 4096

/* Every option of a message, each code's instances concatenated in the order
 * options, file, sname (RFC 3396 §5, RFC 2131 §4.1). */
struct dhcp_options {
	struct {
		uint16_t off, len;
		bool present;
	} opt[256];
	uint8_t overload;             /* option 52 value, 0 when absent */
	size_t data_len;
	uint8_t data[DHCP_OPTIONS_DATA_MAX];
};

/* Parses the options of a whole DHCP message (msg starts at the op byte; its
 * header was checked by dhcp_header_parse).  Pad options are skipped; end
 * closes an area; a missing end is tolerated (the area ends with the
 * buffer).  An option whose length byte or value runs past its area makes the
 * message malformed: -EBADMSG. */
int dhcp_options_parse(const uint8_t *msg, size_t len, struct dhcp_options *out);

/* The value of option `code` (NULL when absent; *len may be 0). */
const uint8_t *dhcp_options_get(const struct dhcp_options *o, uint8_t code, size_t *len);

/* --- the lease ----------------------------------------------------------- */

/* Limits on untrusted input: entries beyond these are ignored (counted in
 * dhcp_lease.ignored). */
#define DHCP_MAX_ROUTERS 4
#define DHCP_MAX_DNS 8
#define DHCP_MAX_ROUTES 32
#define DHCP_DOMAIN_MAX 253          /* RFC 1035 §2.3.4 name length */
#define DHCP_MIN_MTU 68              /* RFC 2132 §5.1 */
#define DHCP_LEASE_INFINITE 0xffffffffu

struct dhcp_route {
	uint32_t dst;                /* network order, host bits cleared */
	uint8_t prefixlen;
	uint32_t gateway;            /* network order; 0 = on-link (RFC 3442) */
};

struct dhcp_lease {
	uint8_t message_type;
	uint32_t address;            /* yiaddr, network order */
	uint32_t netmask;
	uint8_t prefixlen;
	bool netmask_from_class;     /* option 1 absent or invalid */
	uint32_t broadcast;          /* 0 for /31 and /32 */
	uint32_t server_id;          /* option 54, 0 when absent */
	uint32_t routers[DHCP_MAX_ROUTERS];
	size_t n_routers;
	uint32_t dns[DHCP_MAX_DNS];
	size_t n_dns;
	char domain[DHCP_DOMAIN_MAX + 1]; /* "" when absent or unusable */
	uint16_t mtu;                /* 0 when absent or below DHCP_MIN_MTU */
	uint32_t lease_time;         /* seconds; 0 when absent */
	bool has_classless_routes;   /* option 121 present and well-formed */
	struct dhcp_route routes[DHCP_MAX_ROUTES];
	size_t n_routes;
	unsigned ignored;            /* options or entries ignored as invalid or over a limit */
};

/* Decodes option 121 (RFC 3442 §3): width, significant destination octets,
 * router.  Host bits beyond the width are cleared.  -EBADMSG for a width over
 * 32 or a truncated entry; entries beyond `max` are counted in *dropped. */
int dhcp_classless_routes_decode(const uint8_t *p, size_t len, struct dhcp_route *out,
				 size_t max, size_t *n, unsigned *dropped);

/* Prefix length of a contiguous netmask, or -EINVAL. */
int dhcp_netmask_prefixlen(uint32_t netmask_be);

/* Whether an address can be a host's own unicast address: not 0.0.0.0/8,
 * loopback, multicast, class E or broadcast. */
bool dhcp_address_is_unicast(uint32_t addr_be);

/* Fills `lease` from the parsed options of a reply whose yiaddr is `yiaddr`.
 * Options that are present but malformed are ignored one by one (counted);
 * only a missing or malformed message type fails (-EBADMSG).  Option 121,
 * when usable, replaces option 3 (RFC 3442 §1: "the client MUST ignore the
 * Router option"): routers[] still lists option 3 for the report, but
 * routes[] is the one to apply; without 121, routes[] holds a default route
 * via the first router. */
int dhcp_lease_from_options(const struct dhcp_options *o, uint32_t yiaddr, struct dhcp_lease *lease);

#endif
