#include "net/dhcp_option.h"

#include "net/dhcp_packet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

const char *dhcp_message_type_name(int type)
{
	static const char *const names[] = {
		[DHCP_DISCOVER] = "DHCPDISCOVER", [DHCP_OFFER] = "DHCPOFFER",
		[DHCP_REQUEST] = "DHCPREQUEST", [DHCP_DECLINE] = "DHCPDECLINE",
		[DHCP_ACK] = "DHCPACK", [DHCP_NAK] = "DHCPNAK",
		[DHCP_RELEASE] = "DHCPRELEASE", [DHCP_INFORM] = "DHCPINFORM",
	};
	if (type > 0 && (size_t)type < sizeof(names) / sizeof(names[0]))
		return names[type];
	return "unknown DHCP message";
}

int dhcp_option_append(struct dhcp_option_writer *w, uint8_t code, size_t len, const void *data)
{
	if (code == DHCP_OPT_PAD || code == DHCP_OPT_END || len > 255)
		return -EINVAL;
	if (w->len > w->cap || w->cap - w->len < 2 + len)
		return -ENOBUFS;
	w->buf[w->len++] = code;
	w->buf[w->len++] = (uint8_t)len;
	if (len)
		memcpy(w->buf + w->len, data, len);
	w->len += len;
	return 0;
}

int dhcp_option_append_end(struct dhcp_option_writer *w)
{
	if (w->len >= w->cap)
		return -ENOBUFS;
	w->buf[w->len++] = DHCP_OPT_END;
	return 0;
}

/* --- parsing ------------------------------------------------------------- */

/* Walks one option area, calling `fn` for every option except pad and end.
 * The walk stops at end or at the end of the area. */
typedef void (*option_fn)(void *ctx, uint8_t code, const uint8_t *val, uint8_t len);

static int walk_area(const uint8_t *p, size_t n, option_fn fn, void *ctx)
{
	size_t i = 0;
	while (i < n) {
		uint8_t code = p[i];
		if (code == DHCP_OPT_PAD) {
			i++;
			continue;
		}
		if (code == DHCP_OPT_END)
			return 0;
		if (n - i < 2)
			return -EBADMSG; /* a code without its length byte */
		uint8_t len = p[i + 1];
		if (n - i - 2 < len)
			return -EBADMSG; /* the value runs past the area */
		fn(ctx, code, p + i + 2, len);
		i += 2 + (size_t)len;
	}
	return 0;
}

struct parse_ctx {
	struct dhcp_options *o;
	bool copying;   /* pass 2 */
	bool main_area; /* overload is only honoured in the options field */
	bool too_big;
	uint16_t fill[256];
};

static void count_option(void *vctx, uint8_t code, const uint8_t *val, uint8_t len)
{
	struct parse_ctx *ctx = vctx;
	struct dhcp_options *o = ctx->o;
	if (!ctx->copying) {
		if (code == DHCP_OPT_OVERLOAD && ctx->main_area && !o->opt[code].present &&
		    len == 1 && val[0] >= 1 && val[0] <= 3)
			o->overload = val[0];
		o->opt[code].present = true;
		if (o->opt[code].len + (size_t)len > DHCP_OPTIONS_DATA_MAX)
			ctx->too_big = true;
		else
			o->opt[code].len += len;
		return;
	}
	memcpy(o->data + o->opt[code].off + ctx->fill[code], val, len);
	ctx->fill[code] += len;
}

static int walk_all(const uint8_t *msg, size_t len, struct parse_ctx *ctx)
{
	ctx->main_area = true;
	int r = walk_area(msg + DHCP_OPTIONS_OFFSET, len - DHCP_OPTIONS_OFFSET, count_option, ctx);
	if (r < 0)
		return r;
	ctx->main_area = false;
	/* RFC 2131 §4.1: with overload, options continue in 'file', then 'sname'. */
	if (ctx->o->overload & DHCP_OVERLOAD_FILE) {
		r = walk_area(msg + DHCP_FILE_OFFSET, DHCP_FILE_LEN, count_option, ctx);
		if (r < 0)
			return r;
	}
	if (ctx->o->overload & DHCP_OVERLOAD_SNAME) {
		r = walk_area(msg + DHCP_SNAME_OFFSET, DHCP_SNAME_LEN, count_option, ctx);
		if (r < 0)
			return r;
	}
	return 0;
}

int dhcp_options_parse(const uint8_t *msg, size_t len, struct dhcp_options *out)
{
	memset(out, 0, sizeof(*out));
	if (len < DHCP_OPTIONS_OFFSET)
		return -EBADMSG;
	/* Pass 1 checks the structure and sums each code's length; pass 2
	 * copies the values so split options come out concatenated. */
	struct parse_ctx ctx = { .o = out };
	int r = walk_all(msg, len, &ctx);
	if (r < 0)
		return r;
	if (ctx.too_big)
		return -EMSGSIZE;
	size_t total = 0;
	for (int code = 0; code < 256; code++) {
		out->opt[code].off = (uint16_t)total;
		total += out->opt[code].len;
		if (total > DHCP_OPTIONS_DATA_MAX)
			return -EMSGSIZE;
	}
	out->data_len = total;
	/* Pass 2 sees the same overload value: it is only taken from the
	 * first option 52 in the main area, which pass 1 already found. */
	ctx.copying = true;
	return walk_all(msg, len, &ctx);
}

const uint8_t *dhcp_options_get(const struct dhcp_options *o, uint8_t code, size_t *len)
{
	if (!o->opt[code].present)
		return NULL;
	if (len)
		*len = o->opt[code].len;
	return o->data + o->opt[code].off;
}

/* --- the lease ----------------------------------------------------------- */

int dhcp_netmask_prefixlen(uint32_t netmask_be)
{
	uint32_t m = ntohl(netmask_be);
	int n = 0;
	while (n < 32 && (m & (0x80000000u >> n)))
		n++;
	uint32_t expect = n == 0 ? 0 : 0xffffffffu << (32 - n);
	return m == expect ? n : -EINVAL;
}

static uint32_t prefix_to_mask(unsigned prefixlen)
{
	return htonl(prefixlen == 0 ? 0 : 0xffffffffu << (32 - prefixlen));
}

bool dhcp_address_is_unicast(uint32_t addr_be)
{
	uint32_t a = ntohl(addr_be);
	uint8_t first = a >> 24;
	return first != 0 && first != 127 && first < 224;
}

int dhcp_classless_routes_decode(const uint8_t *p, size_t len, struct dhcp_route *out,
				 size_t max, size_t *n, unsigned *dropped)
{
	size_t i = 0, count = 0;
	unsigned over = 0;
	while (i < len) {
		uint8_t width = p[i++];
		if (width > 32)
			return -EBADMSG;
		size_t octets = (width + 7u) / 8u;
		if (len - i < octets + 4)
			return -EBADMSG;
		uint8_t dst[4] = { 0 };
		memcpy(dst, p + i, octets);
		i += octets;
		uint32_t dst_be, gw_be;
		memcpy(&dst_be, dst, 4);
		memcpy(&gw_be, p + i, 4);
		i += 4;
		if (count == max) {
			over++;
			continue;
		}
		/* The kernel refuses a route whose destination has host bits set. */
		out[count].dst = dst_be & prefix_to_mask(width);
		out[count].prefixlen = width;
		out[count].gateway = gw_be;
		count++;
	}
	*n = count;
	if (dropped)
		*dropped = over;
	return 0;
}

/* Reads a list of IPv4 addresses (options 3 and 6), keeping unicast ones. */
static void read_addresses(const uint8_t *v, size_t len, uint32_t *out, size_t max, size_t *n,
			   unsigned *ignored)
{
	*n = 0;
	if (len == 0 || len % 4 != 0) {
		(*ignored)++;
		return;
	}
	for (size_t i = 0; i < len; i += 4) {
		uint32_t a;
		memcpy(&a, v + i, 4);
		if (!dhcp_address_is_unicast(a) || *n == max) {
			(*ignored)++;
			continue;
		}
		out[(*n)++] = a;
	}
}

/* A search domain goes verbatim into resolv.conf, so only host name
 * characters are accepted (no spaces or newlines from the network). */
static bool domain_ok(const uint8_t *v, size_t len)
{
	if (len == 0 || len > DHCP_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = v[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
		if (!ok)
			return false;
	}
	return true;
}

static uint32_t classful_netmask(uint32_t addr_be)
{
	uint8_t first = ntohl(addr_be) >> 24;
	if (first < 128)
		return prefix_to_mask(8);
	if (first < 192)
		return prefix_to_mask(16);
	return prefix_to_mask(24);
}

static bool get_u32(const struct dhcp_options *o, uint8_t code, uint32_t *out)
{
	size_t len;
	const uint8_t *v = dhcp_options_get(o, code, &len);
	if (!v || len != 4)
		return false;
	memcpy(out, v, 4);
	return true;
}

int dhcp_lease_from_options(const struct dhcp_options *o, uint32_t yiaddr, struct dhcp_lease *lease)
{
	memset(lease, 0, sizeof(*lease));
	size_t len;
	const uint8_t *v = dhcp_options_get(o, DHCP_OPT_MESSAGE_TYPE, &len);
	if (!v || len != 1)
		return -EBADMSG;
	lease->message_type = v[0];
	lease->address = yiaddr;

	uint32_t u;
	if (get_u32(o, DHCP_OPT_SERVER_ID, &u) && dhcp_address_is_unicast(u))
		lease->server_id = u;
	else if (dhcp_options_get(o, DHCP_OPT_SERVER_ID, NULL))
		lease->ignored++;

	int prefixlen = -EINVAL;
	if (get_u32(o, DHCP_OPT_SUBNET_MASK, &u))
		prefixlen = dhcp_netmask_prefixlen(u);
	if (prefixlen <= 0) {
		/* Absent or unusable: fall back to the address class, as other
		 * clients do (RFC 2131 does not say). */
		if (dhcp_options_get(o, DHCP_OPT_SUBNET_MASK, NULL))
			lease->ignored++;
		lease->netmask = classful_netmask(yiaddr);
		lease->prefixlen = (uint8_t)dhcp_netmask_prefixlen(lease->netmask);
		lease->netmask_from_class = true;
	} else {
		lease->netmask = u;
		lease->prefixlen = (uint8_t)prefixlen;
	}
	if (lease->prefixlen < 31) {
		if (get_u32(o, DHCP_OPT_BROADCAST, &u))
			lease->broadcast = u;
		else
			lease->broadcast = yiaddr | ~lease->netmask;
	}

	if ((v = dhcp_options_get(o, DHCP_OPT_ROUTER, &len)))
		read_addresses(v, len, lease->routers, DHCP_MAX_ROUTERS, &lease->n_routers,
			       &lease->ignored);
	if ((v = dhcp_options_get(o, DHCP_OPT_DNS, &len)))
		read_addresses(v, len, lease->dns, DHCP_MAX_DNS, &lease->n_dns, &lease->ignored);

	if ((v = dhcp_options_get(o, DHCP_OPT_DOMAIN, &len))) {
		/* Some servers count a terminating NUL in the length. */
		while (len > 0 && v[len - 1] == '\0')
			len--;
		if (domain_ok(v, len)) {
			memcpy(lease->domain, v, len);
			lease->domain[len] = '\0';
		} else {
			lease->ignored++;
		}
	}

	if ((v = dhcp_options_get(o, DHCP_OPT_MTU, &len))) {
		uint16_t mtu = len == 2 ? (uint16_t)(v[0] << 8 | v[1]) : 0;
		if (mtu >= DHCP_MIN_MTU)
			lease->mtu = mtu;
		else
			lease->ignored++;
	}

	if (get_u32(o, DHCP_OPT_LEASE_TIME, &u))
		lease->lease_time = ntohl(u);
	else if (dhcp_options_get(o, DHCP_OPT_LEASE_TIME, NULL))
		lease->ignored++;

	if ((v = dhcp_options_get(o, DHCP_OPT_CLASSLESS_ROUTES, &len))) {
		unsigned dropped = 0;
		if (dhcp_classless_routes_decode(v, len, lease->routes, DHCP_MAX_ROUTES,
						 &lease->n_routes, &dropped) == 0) {
			lease->has_classless_routes = true;
			lease->ignored += dropped;
		} else {
			/* Malformed: ignored as a whole; option 3 applies. */
			lease->n_routes = 0;
			lease->ignored++;
		}
	}
	if (!lease->has_classless_routes && lease->n_routers > 0) {
		lease->routes[0] = (struct dhcp_route){ .dst = 0, .prefixlen = 0,
							.gateway = lease->routers[0] };
		lease->n_routes = 1;
	}
	return 0;
}
