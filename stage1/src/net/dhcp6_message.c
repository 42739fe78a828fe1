#include "net/dhcp6_message.h"

#include <errno.h>
#include <string.h>

const char *dhcp6_message_type_name(int type)
{
	switch (type) {
	case DHCP6_SOLICIT: return "Solicit";
	case DHCP6_ADVERTISE: return "Advertise";
	case DHCP6_REQUEST: return "Request";
	case DHCP6_RENEW: return "Renew";
	case DHCP6_REPLY: return "Reply";
	case DHCP6_RELEASE: return "Release";
	default: return "unknown";
	}
}

const char *dhcp6_status_name(unsigned status)
{
	switch (status) {
	case DHCP6_STATUS_SUCCESS: return "Success";
	case DHCP6_STATUS_UNSPEC_FAIL: return "UnspecFail";
	case DHCP6_STATUS_NO_ADDRS_AVAIL: return "NoAddrsAvail";
	case DHCP6_STATUS_NO_BINDING: return "NoBinding";
	case DHCP6_STATUS_NOT_ON_LINK: return "NotOnLink";
	case DHCP6_STATUS_USE_MULTICAST: return "UseMulticast";
	default: return "unknown status";
	}
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

void dhcp6_identity_from_mac(const uint8_t mac[6], struct dhcp6_identity *id)
{
	memset(id, 0, sizeof(*id));
	put16(id->duid, 3);     /* DUID-LL */
	put16(id->duid + 2, 1); /* hardware type: Ethernet */
	memcpy(id->duid + 4, mac, 6);
	id->duid_len = 10;
	id->iaid = get32(mac + 2);
}

struct writer {
	uint8_t *buf;
	size_t cap, len;
};

static int put_option(struct writer *w, uint16_t code, const void *data, size_t len)
{
	if (len > 0xffff || w->cap - w->len < 4 + len)
		return -ENOBUFS;
	put16(w->buf + w->len, code);
	put16(w->buf + w->len + 2, (uint16_t)len);
	if (len)
		memcpy(w->buf + w->len + 4, data, len);
	w->len += 4 + len;
	return 0;
}

int dhcp6_message_build(const struct dhcp6_request *req, uint8_t *buf, size_t cap)
{
	if (!req->id || (req->type != DHCP6_SOLICIT && req->type != DHCP6_REQUEST) ||
	    (req->type == DHCP6_REQUEST && (!req->server_duid || !req->server_duid_len)))
		return -EINVAL;
	if (cap < 4)
		return -ENOBUFS;
	struct writer w = { buf, cap, 4 };
	buf[0] = req->type;
	buf[1] = (uint8_t)(req->xid >> 16);
	buf[2] = (uint8_t)(req->xid >> 8);
	buf[3] = (uint8_t)req->xid;
	uint8_t elapsed[2], ia[12], oro[4];
	put16(elapsed, req->elapsed_cs);
	/* IA_NA with T1 = T2 = 0: the server chooses (RFC 8415 §21.4); no
	 * IAADDR hint, we have no address to ask for. */
	put32(ia, req->id->iaid);
	put32(ia + 4, 0);
	put32(ia + 8, 0);
	put16(oro, DHCP6_OPT_DNS_SERVERS);
	put16(oro + 2, DHCP6_OPT_DOMAIN_LIST);
	int r = put_option(&w, DHCP6_OPT_CLIENTID, req->id->duid, req->id->duid_len);
	if (!r && req->type == DHCP6_REQUEST)
		r = put_option(&w, DHCP6_OPT_SERVERID, req->server_duid, req->server_duid_len);
	if (!r)
		r = put_option(&w, DHCP6_OPT_ELAPSED_TIME, elapsed, sizeof(elapsed));
	if (!r)
		r = put_option(&w, DHCP6_OPT_ORO, oro, sizeof(oro));
	if (!r && req->type == DHCP6_SOLICIT && req->rapid_commit)
		r = put_option(&w, DHCP6_OPT_RAPID_COMMIT, NULL, 0);
	if (!r)
		r = put_option(&w, DHCP6_OPT_IA_NA, ia, sizeof(ia));
	return r < 0 ? r : (int)w.len;
}

/* Iterates the options in [p, p+len): returns 1 with code/value set, 0 at
 * the end, -EBADMSG when an option runs past the container. */
struct option_iter {
	const uint8_t *p;
	size_t len, off;
};

static int next_option(struct option_iter *it, uint16_t *code, const uint8_t **val, size_t *vlen)
{
	if (it->off == it->len)
		return 0;
	if (it->len - it->off < 4)
		return -EBADMSG;
	*code = get16(it->p + it->off);
	*vlen = get16(it->p + it->off + 2);
	if (it->len - it->off - 4 < *vlen)
		return -EBADMSG;
	*val = it->p + it->off + 4;
	it->off += 4 + *vlen;
	return 1;
}

/* Status Code (§21.13): 2-byte code, then UTF-8 text kept printable. */
static bool parse_status(const uint8_t *v, size_t len, uint16_t *code, char *text, size_t cap)
{
	if (len < 2)
		return false;
	*code = get16(v);
	size_t n = 0;
	for (size_t i = 2; i < len && n + 1 < cap; i++)
		text[n++] = (v[i] >= 0x20 && v[i] < 0x7f) ? (char)v[i] : '?';
	text[n] = '\0';
	return true;
}

bool dhcp6_address_is_usable(const struct in6_addr *a)
{
	const uint8_t *b = a->s6_addr;
	static const uint8_t zero[16];
	if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1))
		return false; /* :: and ::1 */
	if (b[0] == 0xff)
		return false; /* multicast */
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return false; /* link-local */
	if (memcmp(b, zero, 10) == 0 && b[10] == 0xff && b[11] == 0xff)
		return false; /* IPv4-mapped */
	return true;
}

/* IA_NA (§21.4): IAID, T1, T2, then IAADDR and Status Code options.  The
 * first IAADDR with a usable address and valid lifetime > 0 is taken; one
 * whose preferred lifetime exceeds the valid one is discarded (§21.6). */
static int parse_ia_na(const uint8_t *v, size_t len, struct dhcp6_reply *out)
{
	out->has_ia = true;
	out->t1 = get32(v + 4);
	out->t2 = get32(v + 8);
	struct option_iter it = { v + 12, len - 12, 0 };
	uint16_t code;
	const uint8_t *val;
	size_t vlen;
	int r;
	while ((r = next_option(&it, &code, &val, &vlen)) > 0) {
		if (code == DHCP6_OPT_STATUS_CODE) {
			if (parse_status(val, vlen, &out->ia_status, out->ia_status_text,
					 sizeof(out->ia_status_text)))
				out->ia_has_status = true;
			else
				out->ignored++;
		} else if (code == DHCP6_OPT_IAADDR) {
			if (vlen < 24) {
				out->ignored++;
				continue;
			}
			struct in6_addr a;
			memcpy(&a, val, 16);
			uint32_t pref = get32(val + 16), valid = get32(val + 20);
			if (out->has_address || valid == 0 || pref > valid || !dhcp6_address_is_usable(&a)) {
				if (!out->has_address)
					out->ignored++;
				continue;
			}
			out->has_address = true;
			out->address = a;
			out->preferred_lft = pref;
			out->valid_lft = valid;
		}
	}
	return r;
}

static bool is_host_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

static bool list_contains(const char *list, const char *name, size_t name_len)
{
	const char *p = list;
	while (*p) {
		const char *end = strchr(p, ' ');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == name_len && memcmp(p, name, n) == 0)
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

int dhcp6_domain_list_decode(const uint8_t *p, size_t len, char *out, size_t cap, unsigned *ignored)
{
	size_t off = 0;
	while (off < len) {
		char name[256];
		size_t n = 0;
		bool ok = true, ended = false;
		while (off < len) {
			uint8_t l = p[off++];
			if (l == 0) {
				ended = true;
				break;
			}
			if (l & 0xc0)
				return -EBADMSG; /* no compression in DHCPv6 (RFC 8415 §10) */
			if (len - off < l)
				return -EBADMSG;
			for (size_t i = 0; i < l; i++)
				if (!is_host_char(p[off + i]))
					ok = false;
			if (n + l + 1 >= sizeof(name)) {
				ok = false;
			} else {
				if (n)
					name[n++] = '.';
				memcpy(name + n, p + off, l);
				n += l;
			}
			off += l;
		}
		if (!ended)
			return -EBADMSG; /* a name without its root label */
		name[n] = '\0';
		if (!ok || n == 0) {
			if (ignored)
				(*ignored)++;
			continue;
		}
		if (list_contains(out, name, n))
			continue;
		size_t used = strlen(out);
		if (used + (used ? 1 : 0) + n + 1 > cap) {
			if (ignored)
				(*ignored)++;
			continue;
		}
		if (used)
			out[used++] = ' ';
		memcpy(out + used, name, n + 1);
	}
	return 0;
}

int dhcp6_reply_parse(const uint8_t *msg, size_t len, uint32_t iaid, struct dhcp6_reply *out)
{
	memset(out, 0, sizeof(*out));
	if (len < 4)
		return -EBADMSG;
	out->type = msg[0];
	out->xid = (uint32_t)msg[1] << 16 | (uint32_t)msg[2] << 8 | msg[3];
	struct option_iter it = { msg + 4, len - 4, 0 };
	uint16_t code;
	const uint8_t *v;
	size_t vlen;
	int r;
	while ((r = next_option(&it, &code, &v, &vlen)) > 0) {
		switch (code) {
		case DHCP6_OPT_SERVERID:
		case DHCP6_OPT_CLIENTID: {
			bool server = code == DHCP6_OPT_SERVERID;
			size_t *dlen = server ? &out->server_duid_len : &out->client_duid_len;
			if (vlen < 3 || vlen > DHCP6_DUID_MAX || *dlen) {
				out->ignored++;
				break;
			}
			memcpy(server ? out->server_duid : out->client_duid, v, vlen);
			*dlen = vlen;
			break;
		}
		case DHCP6_OPT_PREFERENCE:
			if (vlen == 1)
				out->preference = v[0];
			else
				out->ignored++;
			break;
		case DHCP6_OPT_RAPID_COMMIT:
			out->rapid_commit = true;
			break;
		case DHCP6_OPT_STATUS_CODE:
			if (parse_status(v, vlen, &out->status, out->status_text, sizeof(out->status_text)))
				out->has_status = true;
			else
				out->ignored++;
			break;
		case DHCP6_OPT_IA_NA:
			/* Only the IA we asked for; a second copy is ignored. */
			if (vlen < 12 || get32(v) != iaid || out->has_ia) {
				out->ignored++;
				break;
			}
			if (parse_ia_na(v, vlen, out) < 0)
				return -EBADMSG;
			break;
		case DHCP6_OPT_DNS_SERVERS:
			if (vlen % 16) {
				out->ignored++;
				break;
			}
			for (size_t i = 0; i < vlen / 16; i++) {
				struct in6_addr a;
				memcpy(&a, v + 16 * i, 16);
				if (out->n_dns == DHCP6_MAX_DNS || !dhcp6_address_is_usable(&a)) {
					out->ignored++;
					continue;
				}
				out->dns[out->n_dns++] = a;
			}
			break;
		case DHCP6_OPT_DOMAIN_LIST:
			if (dhcp6_domain_list_decode(v, vlen, out->search, sizeof(out->search),
						     &out->ignored) < 0) {
				out->ignored++;
				out->search[0] = '\0';
			}
			break;
		default:
			break;
		}
	}
	return r < 0 ? -EBADMSG : 0;
}
