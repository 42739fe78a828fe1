/* Fuzzes everything that reads bytes from the network: the IPv4/UDP header
 * check, the DHCP header, the option area (overload, concatenation), the
 * lease decoding (classless routes, limits), and the state machine's
 * classification in SELECTING and REQUESTING.  The input is an IPv4 packet
 * as read from the packet socket (the corpus holds captured ones); it is
 * also tried as a bare DHCP message. */
#include "net/dhcp_client.h"
#include "net/dhcp_option.h"
#include "net/dhcp_packet.h"
#include "net/link.h"
#include "net/resolv.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fake-transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs one message through a client in SELECTING and, after a synthetic
 * accept, through REQUESTING: the xid and chaddr are taken from the message
 * so the fuzzer gets past the cheap checks. */
static void classify(const uint8_t *msg, size_t len)
{
	struct dhcp_header h;
	if (dhcp_header_parse(msg, len, &h) < 0)
		return;
	uint32_t xid = h.xid;
	struct dhcp_client_config cfg;
	dhcp_client_config_defaults(&cfg);
	cfg.ifname = "fuzz0";
	memcpy(cfg.mac, h.chaddr, 6);
	cfg.budget_ms = 10000;
	struct dhcp_client_ops ops = { .send = discard_send, .random = fixed_random, .ctx = &xid };
	struct dhcp_client c;
	if (dhcp_client_init(&c, &cfg, &ops) < 0 || dhcp_client_start(&c, 0, NULL) < 0)
		return;
	dhcp_client_handle_message(&c, msg, len, 1, NULL);
	if (c.state != DHCP_STATE_REQUESTING) {
		/* Pretend an offer from this message's server was accepted. */
		c.state = DHCP_STATE_REQUESTING;
		struct dhcp_options o;
		struct dhcp_lease l;
		if (dhcp_options_parse(msg, len, &o) == 0 &&
		    dhcp_lease_from_options(&o, h.yiaddr, &l) == 0)
			c.server_id = l.server_id;
	}
	dhcp_client_handle_message(&c, msg, len, 2, NULL);
	dhcp_client_handle_timeout(&c, 20000, NULL);
	const struct dhcp_lease *lease = dhcp_client_lease(&c);
	if (lease) {
		struct link_route plan[LINK_MAX_ROUTES];
		size_t n;
		link_route_plan(lease, plan, LINK_MAX_ROUTES, &n);
		char conf[RESOLV_CONF_MAX];
		resolv_format(lease, "fuzz0", conf, sizeof(conf));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2 * DHCP_PACKET_MAX)
		return 0;
	struct udp_datagram d;
	if (udp_packet_parse(data, size, true, &d) == 0)
		classify(d.payload, d.len);
	if (udp_packet_parse(data, size, false, &d) == 0)
		classify(d.payload, d.len);
	classify(data, size);
	struct dhcp_route routes[DHCP_MAX_ROUTES];
	size_t n;
	unsigned dropped;
	dhcp_classless_routes_decode(data, size, routes, DHCP_MAX_ROUTES, &n, &dropped);
	return 0;
}
