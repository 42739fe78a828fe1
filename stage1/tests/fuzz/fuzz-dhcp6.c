/* Fuzzes everything that reads a DHCPv6 message from the network: the
 * option framing (nested IA_NA / IAADDR / status), the domain list decoder,
 * and the client's classification in SOLICITING and REQUESTING (with and
 * without Rapid Commit), then resolv.conf from what got bound.  The
 * transaction id and the Client Identifier are taken from the input, so the
 * fuzzer gets past the cheap checks; the corpus holds dnsmasq's captured
 * Advertise and Reply (data/dhcp6/). */
#include "net/dhcp6_client.h"
#include "net/resolv.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fake-transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void classify(const uint8_t *msg, size_t len, bool rapid_commit)
{
	if (len < 4)
		return;
	uint32_t xid = (uint32_t)msg[1] << 16 | (uint32_t)msg[2] << 8 | msg[3];
	struct dhcp6_client_config cfg;
	dhcp6_client_config_defaults(&cfg);
	cfg.ifname = "fuzz0";
	cfg.budget_ms = 10000;
	cfg.rapid_commit = rapid_commit;
	/* The MAC whose DUID-LL the captures carry. */
	static const uint8_t mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01 };
	memcpy(cfg.mac, mac, 6);
	struct dhcp6_client_ops ops = { .send = discard_send, .random = fixed_random, .ctx = &xid };
	struct dhcp6_client c;
	if (dhcp6_client_init(&c, &cfg, &ops) < 0 || dhcp6_client_start(&c, 0, NULL) < 0)
		return;
	/* Take the Client Identifier the message carries as ours. */
	struct dhcp6_reply r;
	if (dhcp6_reply_parse(msg, len, c.id.iaid, &r) == 0 && r.client_duid_len &&
	    r.client_duid_len <= sizeof(c.id.duid)) {
		memcpy(c.id.duid, r.client_duid, r.client_duid_len);
		c.id.duid_len = r.client_duid_len;
	}
	dhcp6_client_handle_message(&c, msg, len, 1, NULL);
	dhcp6_client_handle_timeout(&c, 1200, NULL);
	if (c.state == DHCP6_STATE_SOLICITING) {
		/* Pretend an Advertise from this message's server was taken. */
		c.state = DHCP6_STATE_REQUESTING;
		memcpy(c.server_duid, r.server_duid, r.server_duid_len);
		c.server_duid_len = r.server_duid_len;
	}
	dhcp6_client_handle_message(&c, msg, len, 1300, NULL);
	dhcp6_client_handle_timeout(&c, 20000, NULL);
	const struct dhcp6_lease *l = dhcp6_client_lease(&c);
	if (l) {
		struct resolv_ipv6 v6 = { .ifname = "fuzz0" };
		for (size_t i = 0; i < l->n_dns && i < RESOLV_MAX_DNS6; i++)
			v6.dns[v6.n_dns++] = l->dns[i];
		memcpy(v6.search, l->search, sizeof(l->search));
		char conf[RESOLV_CONF_MAX];
		resolv_format_both(NULL, NULL, &v6, conf, sizeof(conf));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > DHCP6_MESSAGE_MAX)
		return 0;
	classify(data, size, false);
	classify(data, size, true);
	char search[DHCP6_SEARCH_MAX] = "";
	unsigned ignored = 0;
	dhcp6_domain_list_decode(data, size, search, sizeof(search), &ignored);
	return 0;
}
