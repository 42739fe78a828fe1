#include "net/dhcp_packet.h"

#include "net/dhcp_option.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = (v >> 16) & 0xff; p[2] = (v >> 8) & 0xff; p[3] = v & 0xff;
}

int dhcp_header_parse(const uint8_t *msg, size_t len, struct dhcp_header *out)
{
	if (len < DHCP_OPTIONS_OFFSET || get32(msg + DHCP_HEADER_LEN) != DHCP_MAGIC_COOKIE)
		return -EBADMSG;
	out->op = msg[0];
	out->htype = msg[1];
	out->hlen = msg[2];
	out->hops = msg[3];
	out->xid = get32(msg + 4);
	out->secs = get16(msg + 8);
	out->flags = get16(msg + 10);
	memcpy(&out->ciaddr, msg + 12, 4);
	memcpy(&out->yiaddr, msg + 16, 4);
	memcpy(&out->siaddr, msg + 20, 4);
	memcpy(&out->giaddr, msg + 24, 4);
	memcpy(out->chaddr, msg + 28, DHCP_CHADDR_LEN);
	return 0;
}

int dhcp_header_write(const struct dhcp_header *h, uint8_t *buf, size_t cap)
{
	if (cap < DHCP_OPTIONS_OFFSET)
		return -ENOBUFS;
	memset(buf, 0, DHCP_OPTIONS_OFFSET);
	buf[0] = h->op;
	buf[1] = h->htype;
	buf[2] = h->hlen;
	buf[3] = h->hops;
	put32(buf + 4, h->xid);
	put16(buf + 8, h->secs);
	put16(buf + 10, h->flags);
	memcpy(buf + 12, &h->ciaddr, 4);
	memcpy(buf + 16, &h->yiaddr, 4);
	memcpy(buf + 20, &h->siaddr, 4);
	memcpy(buf + 24, &h->giaddr, 4);
	memcpy(buf + 28, h->chaddr, DHCP_CHADDR_LEN);
	put32(buf + DHCP_HEADER_LEN, DHCP_MAGIC_COOKIE);
	return DHCP_OPTIONS_OFFSET;
}

/* The parameters we ask for (option 55): what the lease needs and what
 * dhcp_lease_from_options reads.  RFC 3442 §3: a client that wants option
 * 121 lists it here. */
static const uint8_t parameter_request_list[] = {
	DHCP_OPT_SUBNET_MASK, DHCP_OPT_ROUTER, DHCP_OPT_DNS, DHCP_OPT_DOMAIN,
	DHCP_OPT_MTU, DHCP_OPT_BROADCAST, DHCP_OPT_CLASSLESS_ROUTES,
};

int dhcp_message_build(const struct dhcp_request *req, uint8_t *buf, size_t cap)
{
	struct dhcp_header h = {
		.op = BOOTREQUEST,
		.htype = ARPHRD_ETHER_HTYPE,
		.hlen = ETHER_ADDR_LEN_DHCP,
		.xid = req->xid,
		.secs = req->secs,
	};
	memcpy(h.chaddr, req->mac, ETHER_ADDR_LEN_DHCP);
	int r = dhcp_header_write(&h, buf, cap);
	if (r < 0)
		return r;
	struct dhcp_option_writer w = { .buf = buf, .cap = cap, .len = (size_t)r };

	uint8_t type = req->type;
	uint8_t client_id[1 + ETHER_ADDR_LEN_DHCP] = { ARPHRD_ETHER_HTYPE };
	memcpy(client_id + 1, req->mac, ETHER_ADDR_LEN_DHCP);
	uint8_t max_size[2] = { DHCP_MAX_MESSAGE_SIZE >> 8, DHCP_MAX_MESSAGE_SIZE & 0xff };
	if ((r = dhcp_option_append(&w, DHCP_OPT_MESSAGE_TYPE, 1, &type)) < 0 ||
	    (r = dhcp_option_append(&w, DHCP_OPT_CLIENT_ID, sizeof(client_id), client_id)) < 0 ||
	    (r = dhcp_option_append(&w, DHCP_OPT_MAX_MESSAGE_SIZE, 2, max_size)) < 0)
		return r;
	if (req->requested_ip &&
	    (r = dhcp_option_append(&w, DHCP_OPT_REQUESTED_IP, 4, &req->requested_ip)) < 0)
		return r;
	if (req->server_id &&
	    (r = dhcp_option_append(&w, DHCP_OPT_SERVER_ID, 4, &req->server_id)) < 0)
		return r;
	if ((r = dhcp_option_append(&w, DHCP_OPT_PARAM_REQUEST, sizeof(parameter_request_list),
				    parameter_request_list)) < 0 ||
	    (r = dhcp_option_append_end(&w)) < 0)
		return r;
	if (w.len < DHCP_MIN_BOOTP_LEN) {
		if (cap < DHCP_MIN_BOOTP_LEN)
			return -ENOBUFS;
		memset(buf + w.len, DHCP_OPT_PAD, DHCP_MIN_BOOTP_LEN - w.len);
		w.len = DHCP_MIN_BOOTP_LEN;
	}
	return (int)w.len;
}

/* --- IPv4 and UDP -------------------------------------------------------- */

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t ip_checksum(const void *data, size_t len)
{
	return fold(sum16(data, len, 0));
}

/* The UDP checksum covers a pseudo header of addresses, protocol and length
 * (RFC 768). */
static uint16_t udp_checksum(uint32_t src, uint32_t dst, const uint8_t *udp, size_t len)
{
	uint8_t pseudo[12];
	memcpy(pseudo, &src, 4);
	memcpy(pseudo + 4, &dst, 4);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_UDP;
	put16(pseudo + 10, (uint16_t)len);
	uint16_t c = fold(sum16(udp, len, sum16(pseudo, sizeof(pseudo), 0)));
	return c == 0 ? 0xffff : c; /* 0 would mean "no checksum" */
}

int udp_packet_build(const struct udp_datagram *d, uint8_t *out, size_t cap)
{
	size_t total = IPV4_HEADER_LEN + UDP_HEADER_LEN + d->len;
	if (total > 0xffff)
		return -EMSGSIZE;
	if (cap < total)
		return -ENOBUFS;
	uint8_t *ip = out, *udp = out + IPV4_HEADER_LEN;
	memset(ip, 0, IPV4_HEADER_LEN + UDP_HEADER_LEN);
	ip[0] = 0x45;         /* version 4, 5 words of header */
	put16(ip + 2, (uint16_t)total);
	ip[8] = 64;           /* TTL */
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &d->src, 4);
	memcpy(ip + 16, &d->dst, 4);
	put16(ip + 10, ip_checksum(ip, IPV4_HEADER_LEN));
	put16(udp, d->sport);
	put16(udp + 2, d->dport);
	put16(udp + 4, (uint16_t)(UDP_HEADER_LEN + d->len));
	memcpy(udp + UDP_HEADER_LEN, d->payload, d->len);
	put16(udp + 6, udp_checksum(d->src, d->dst, udp, UDP_HEADER_LEN + d->len));
	return (int)total;
}

int udp_packet_parse(const uint8_t *pkt, size_t len, bool verify_udp_checksum,
		     struct udp_datagram *out)
{
	if (len < IPV4_HEADER_LEN || (pkt[0] >> 4) != 4)
		return -EBADMSG;
	size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
	size_t total = get16(pkt + 2);
	if (ihl < IPV4_HEADER_LEN || total < ihl || total > len)
		return -EBADMSG;
	if (ip_checksum(pkt, ihl) != 0)
		return -EBADMSG;
	if (get16(pkt + 6) & 0x3fff) /* more-fragments flag or an offset */
		return -EBADMSG;
	if (pkt[9] != IPPROTO_UDP)
		return -EPROTO;
	/* Bytes after the IP total length are link-layer padding. */
	const uint8_t *udp = pkt + ihl;
	size_t udp_avail = total - ihl;
	if (udp_avail < UDP_HEADER_LEN)
		return -EBADMSG;
	size_t udp_len = get16(udp + 4);
	if (udp_len < UDP_HEADER_LEN || udp_len > udp_avail)
		return -EBADMSG;
	memcpy(&out->src, pkt + 12, 4);
	memcpy(&out->dst, pkt + 16, 4);
	if (verify_udp_checksum && get16(udp + 6) != 0) {
		uint8_t pseudo[12];
		memcpy(pseudo, &out->src, 4);
		memcpy(pseudo + 4, &out->dst, 4);
		pseudo[8] = 0;
		pseudo[9] = IPPROTO_UDP;
		put16(pseudo + 10, (uint16_t)udp_len);
		if (fold(sum16(udp, udp_len, sum16(pseudo, sizeof(pseudo), 0))) != 0)
			return -EBADMSG;
	}
	out->sport = get16(udp);
	out->dport = get16(udp + 2);
	out->payload = udp + UDP_HEADER_LEN;
	out->len = udp_len - UDP_HEADER_LEN;
	return 0;
}
