#include "net/ndisc.h"

#include "net/dhcp6_message.h"

#include <errno.h>
#include <string.h>

enum {
	NDISC_OPT_SOURCE_LLADDR = 1,
	NDISC_OPT_PREFIX_INFO = 3,
	NDISC_OPT_MTU = 5,
	NDISC_OPT_RDNSS = 25,
	NDISC_OPT_DNSSL = 31,
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int ndisc_rs_build(const uint8_t *mac, uint8_t *buf, size_t cap)
{
	size_t len = mac ? 16 : 8;
	if (cap < len)
		return -ENOBUFS;
	memset(buf, 0, len);
	buf[0] = NDISC_ROUTER_SOLICIT;
	if (mac) {
		buf[8] = NDISC_OPT_SOURCE_LLADDR;
		buf[9] = 1; /* in units of 8 bytes */
		memcpy(buf + 10, mac, 6);
	}
	return (int)len;
}

static void parse_prefix(const uint8_t *o, size_t olen, struct ndisc_ra *ra)
{
	if (olen != 32 || o[2] > 128 || ra->n_prefixes == NDISC_MAX_PREFIXES) {
		ra->ignored++;
		return;
	}
	struct ndisc_prefix *p = &ra->prefixes[ra->n_prefixes++];
	p->prefixlen = o[2];
	p->on_link = o[3] & 0x80;
	p->autonomous = o[3] & 0x40;
	p->valid_lft = get32(o + 4);
	p->preferred_lft = get32(o + 8);
	memcpy(&p->prefix, o + 16, 16);
}

/* RDNSS (RFC 8106 §5.1): reserved, lifetime, then addresses; length 3 + 2n. */
static void parse_rdnss(const uint8_t *o, size_t olen, struct ndisc_ra *ra)
{
	if (olen < 24 || (olen - 8) % 16) {
		ra->ignored++;
		return;
	}
	uint32_t lifetime = get32(o + 4);
	if (lifetime == 0)
		return; /* §5.1: lifetime 0 means "stop using these" */
	if (ra->n_dns == 0 || lifetime < ra->dns_lifetime)
		ra->dns_lifetime = lifetime;
	for (size_t off = 8; off < olen; off += 16) {
		struct in6_addr a;
		memcpy(&a, o + off, 16);
		bool dup = false;
		for (size_t i = 0; i < ra->n_dns; i++)
			dup |= memcmp(&ra->dns[i], &a, 16) == 0;
		if (dup)
			continue;
		if (ra->n_dns == NDISC_MAX_DNS || !dhcp6_address_is_usable(&a)) {
			ra->ignored++;
			continue;
		}
		ra->dns[ra->n_dns++] = a;
	}
}

/* DNSSL (RFC 8106 §5.2): names in wire format, zero padded to 8 bytes. */
static void parse_dnssl(const uint8_t *o, size_t olen, struct ndisc_ra *ra)
{
	if (olen < 16 || get32(o + 4) == 0) {
		if (olen < 16)
			ra->ignored++;
		return;
	}
	/* The zero padding reads as empty names, which the decoder skips. */
	unsigned ignored = 0;
	char tmp[NDISC_SEARCH_MAX];
	memcpy(tmp, ra->search, sizeof(tmp));
	if (dhcp6_domain_list_decode(o + 8, olen - 8, tmp, sizeof(tmp), &ignored) < 0) {
		ra->ignored++;
		return;
	}
	memcpy(ra->search, tmp, sizeof(tmp));
}

int ndisc_ra_parse(const uint8_t *msg, size_t len, struct ndisc_ra *out)
{
	memset(out, 0, sizeof(*out));
	if (len < 16 || msg[0] != NDISC_ROUTER_ADVERT || msg[1] != 0)
		return -EBADMSG;
	out->hop_limit = msg[4];
	out->managed = msg[5] & 0x80;
	out->other = msg[5] & 0x40;
	out->router_lifetime = get16(msg + 6);
	out->reachable_ms = get32(msg + 8);
	out->retrans_ms = get32(msg + 12);
	size_t off = 16;
	/* First pass: framing (§6.1.2: every option length > 0, none past the
	 * end), so a bad RA changes nothing. */
	while (off < len) {
		if (len - off < 2 || msg[off + 1] == 0 || len - off < (size_t)msg[off + 1] * 8)
			return -EBADMSG;
		off += (size_t)msg[off + 1] * 8;
	}
	for (off = 16; off < len; off += (size_t)msg[off + 1] * 8) {
		const uint8_t *o = msg + off;
		size_t olen = (size_t)o[1] * 8;
		switch (o[0]) {
		case NDISC_OPT_SOURCE_LLADDR:
			if (olen == 8) {
				out->has_mac = true;
				memcpy(out->mac, o + 2, 6);
			} else {
				out->ignored++;
			}
			break;
		case NDISC_OPT_MTU:
			if (olen == 8 && get32(o + 4) >= 1280)
				out->mtu = get32(o + 4);
			else
				out->ignored++;
			break;
		case NDISC_OPT_PREFIX_INFO:
			parse_prefix(o, olen, out);
			break;
		case NDISC_OPT_RDNSS:
			parse_rdnss(o, olen, out);
			break;
		case NDISC_OPT_DNSSL:
			parse_dnssl(o, olen, out);
			break;
		default:
			break;
		}
	}
	return 0;
}
