/* The pure parts around the DHCP client: which links are candidates, which
 * routes a lease becomes (on-link host routes for gateways outside the
 * subnet), and resolv.conf (content, and the atomic write). */
#include "test.h"

#include "net/link.h"
#include "net/net.h"
#include "net/resolv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t ip(const char *s)
{
	struct in_addr a;
	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static const char *ipstr(uint32_t a)
{
	static char buf[4][INET_ADDRSTRLEN];
	static int n;
	char *b = buf[n++ % 4];
	inet_ntop(AF_INET, &a, b, INET_ADDRSTRLEN);
	return b;
}

static void candidate_table(void)
{
	static const struct {
		const char *name;
		struct link_info l;
		bool want;
		const char *why;
	} cases[] = {
		{ "NIC with device", { .arptype = ARPHRD_ETHER, .sysfs_known = true, .has_device = true },
		  true, NULL },
		{ "no sysfs: kind decides", { .arptype = ARPHRD_ETHER }, true, NULL },
		{ "loopback", { .arptype = ARPHRD_LOOPBACK, .flags = IFF_LOOPBACK }, false, "loopback" },
		{ "veth", { .arptype = ARPHRD_ETHER, .kind = "veth", .sysfs_known = true }, false, "virtual" },
		{ "bridge", { .arptype = ARPHRD_ETHER, .kind = "bridge" }, false, "virtual" },
		{ "wireless", { .arptype = ARPHRD_ETHER, .sysfs_known = true, .has_device = true,
				.is_wireless = true }, false, "wireless" },
		{ "no device behind it", { .arptype = ARPHRD_ETHER, .sysfs_known = true }, false,
		  "no device behind it" },
		{ "not Ethernet (IPoIB)", { .arptype = ARPHRD_INFINIBAND, .sysfs_known = true,
					    .has_device = true }, false, "not Ethernet" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = "unset";
		bool got = link_is_candidate(&cases[i].l, &why);
		bool ok = got == cases[i].want &&
			  (cases[i].why ? why && strcmp(why, cases[i].why) == 0 : why == NULL);
		if (!ok) {
			test_record_failure(__FILE__, __LINE__, "%s: got %d (%s)", cases[i].name, got,
					    why ? why : "-");
			return;
		}
	}
}

static struct dhcp_lease lease_with(const char *addr, int prefixlen)
{
	struct dhcp_lease l;
	memset(&l, 0, sizeof(l));
	l.address = ip(addr);
	l.prefixlen = (uint8_t)prefixlen;
	return l;
}

static void add_route(struct dhcp_lease *l, const char *dst, int prefixlen, const char *gw)
{
	l->routes[l->n_routes++] = (struct dhcp_route){ ip(dst), (uint8_t)prefixlen, ip(gw) };
}

static void plan_gateway_in_subnet(void)
{
	struct dhcp_lease l = lease_with("192.0.2.67", 24);
	add_route(&l, "0.0.0.0", 0, "192.0.2.1");
	struct link_route p[8];
	size_t n = 0;
	CHECK_INT(link_route_plan(&l, p, 8, &n), ==, 0);
	CHECK_INT(n, ==, 1);
	CHECK_STR(ipstr(p[0].gateway), "192.0.2.1");
	CHECK_INT(p[0].prefixlen, ==, 0);
}

/* The dnsmasq test's routes: one gateway outside 192.0.2.0/24. */
static void plan_gateway_outside_subnet_gets_host_route_first(void)
{
	struct dhcp_lease l = lease_with("192.0.2.67", 24);
	add_route(&l, "198.51.100.0", 24, "192.0.2.254");
	add_route(&l, "203.0.113.0", 24, "198.18.0.1");
	add_route(&l, "0.0.0.0", 0, "192.0.2.1");
	struct link_route p[8];
	size_t n = 0;
	CHECK_INT(link_route_plan(&l, p, 8, &n), ==, 0);
	CHECK_INT(n, ==, 4);
	CHECK_STR(ipstr(p[1].dst), "198.18.0.1");
	CHECK_INT(p[1].prefixlen, ==, 32);
	CHECK_INT(p[1].gateway, ==, 0);
	CHECK_STR(ipstr(p[2].dst), "203.0.113.0");
	CHECK_STR(ipstr(p[2].gateway), "198.18.0.1");
}

/* A /32 address (as some clouds hand out): every gateway is outside. */
static void plan_slash32_address(void)
{
	struct dhcp_lease l = lease_with("10.128.0.5", 32);
	add_route(&l, "0.0.0.0", 0, "10.128.0.1");
	add_route(&l, "10.0.0.0", 8, "10.128.0.1");
	struct link_route p[8];
	size_t n = 0;
	CHECK_INT(link_route_plan(&l, p, 8, &n), ==, 0);
	CHECK_INT(n, ==, 3); /* host route once, then both */
	CHECK_STR(ipstr(p[0].dst), "10.128.0.1");
	CHECK_INT(p[0].prefixlen, ==, 32);
	CHECK_INT(p[1].prefixlen, ==, 0);
	CHECK_INT(p[2].prefixlen, ==, 8);
}

static void plan_on_link_and_duplicates(void)
{
	struct dhcp_lease l = lease_with("192.0.2.67", 24);
	add_route(&l, "198.51.100.0", 24, "0.0.0.0");      /* RFC 3442: on-link */
	add_route(&l, "198.51.100.0", 24, "192.0.2.9");    /* same destination again */
	add_route(&l, "203.0.113.0", 24, "192.0.2.67");    /* via ourselves: on-link */
	struct link_route p[8];
	size_t n = 0;
	CHECK_INT(link_route_plan(&l, p, 8, &n), ==, 0);
	CHECK_INT(n, ==, 2);
	CHECK_INT(p[0].gateway, ==, 0);
	CHECK_INT(p[1].gateway, ==, 0);
	CHECK_INT(link_route_plan(&l, p, 1, &n), ==, -ENOBUFS);
}

static void resolv_content(void)
{
	struct dhcp_lease l = lease_with("192.0.2.67", 24);
	l.server_id = ip("192.0.2.1");
	char buf[RESOLV_CONF_MAX];
	CHECK_INT(resolv_format(&l, "eth0", buf, sizeof(buf)), ==, -ENODATA);
	l.dns[l.n_dns++] = ip("192.0.2.53");
	l.dns[l.n_dns++] = ip("192.0.2.54");
	l.dns[l.n_dns++] = ip("192.0.2.55");
	l.dns[l.n_dns++] = ip("192.0.2.56");
	strcpy(l.domain, "example.test");
	int n = resolv_format(&l, "eth0", buf, sizeof(buf));
	CHECK_INT(n, ==, (int)strlen(buf));
	CHECK_STR(buf, "# written by initrd-provision from the DHCP lease on eth0 (server 192.0.2.1)\n"
		       "search example.test\n"
		       "nameserver 192.0.2.53\n"
		       "nameserver 192.0.2.54\n"
		       "nameserver 192.0.2.55\n");
	CHECK_INT(resolv_format(&l, "eth0", buf, 100), ==, -ENOBUFS);
	CHECK_INT(resolv_format(&l, "eth0", buf, 0), ==, -ENOBUFS);
}

/* Both families: IPv4 and IPv6 servers alternate (one of each first), the
 * search names merge without duplicates; IPv6 alone works too. */
static void resolv_both_families(void)
{
	struct dhcp_lease l = lease_with("192.0.2.67", 24);
	l.server_id = ip("192.0.2.1");
	l.dns[l.n_dns++] = ip("192.0.2.53");
	l.dns[l.n_dns++] = ip("192.0.2.54");
	strcpy(l.domain, "example.test");
	struct resolv_ipv6 v6 = { .ifname = "eth0" };
	CHECK(inet_pton(AF_INET6, "fd00:ec2::253", &v6.dns[v6.n_dns++]) == 1);
	CHECK(inet_pton(AF_INET6, "2001:db8::53", &v6.dns[v6.n_dns++]) == 1);
	strcpy(v6.search, "example6.test example.test");
	char buf[RESOLV_CONF_MAX];
	CHECK_INT(resolv_format_both(&l, "eth0", &v6, buf, sizeof(buf)), >, 0);
	CHECK_STR(buf, "# written by initrd-provision from the DHCP lease on eth0 (server 192.0.2.1)\n"
		       "# written by initrd-provision from DHCPv6 and the router advertisement on eth0\n"
		       "search example.test example6.test\n"
		       "nameserver 192.0.2.53\n"
		       "nameserver fd00:ec2::253\n"
		       "nameserver 192.0.2.54\n");
	CHECK_INT(resolv_format_both(NULL, NULL, &v6, buf, sizeof(buf)), >, 0);
	CHECK_STR(buf, "# written by initrd-provision from DHCPv6 and the router advertisement on eth0\n"
		       "search example6.test example.test\n"
		       "nameserver fd00:ec2::253\n"
		       "nameserver 2001:db8::53\n");
	v6.n_dns = 0;
	CHECK_INT(resolv_format_both(NULL, NULL, &v6, buf, sizeof(buf)), ==, -ENODATA);
}

/* The grace rule: {trying, only_unmanaged, first ask, other up at} -> give
 * up at (grace 1000 ms). */
static void grace_rule(void)
{
	static const struct {
		const char *name;
		struct net_family_progress p;
		uint64_t other_up, want;
	} t[] = {
		{ "other family not up", { true, false, 100 }, 0, UINT64_MAX },
		{ "asked at 100, other up at 50", { true, false, 100 }, 50, 1100 },
		{ "asked at 100, other up at 5000", { true, false, 100 }, 5000, 5000 },
		{ "not asked yet (no carrier)", { true, false, UINT64_MAX }, 300, 1300 },
		{ "only RAs without M", { true, true, 100 }, 50, 50 },
		{ "nothing trying", { false, true, UINT64_MAX }, 70, 1070 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t got = net_give_up_at(&t[i].p, t[i].other_up, 1000);
		if (got != t[i].want) {
			test_record_failure(__FILE__, __LINE__, "%s: %llu, want %llu", t[i].name,
					    (unsigned long long)got, (unsigned long long)t[i].want);
			return;
		}
	}
}

static void resolv_write_replaces_atomically(void)
{
	char dir[] = "/tmp/ip-test-resolv.XXXXXX";
	CHECK(mkdtemp(dir));
	char path[256], target[256], content[64];
	snprintf(path, sizeof(path), "%s/resolv.conf", dir);
	snprintf(target, sizeof(target), "%s/elsewhere", dir);
	/* A symlink at the path is replaced, its target left alone. */
	FILE *f = fopen(target, "w");
	CHECK(f);
	fputs("old\n", f);
	fclose(f);
	CHECK_INT(symlink(target, path), ==, 0);
	struct ip_error err = { 0 };
	int r = resolv_write(path, "nameserver 192.0.2.53\n", 22, &err);
	struct stat st;
	int lr = lstat(path, &st);
	f = fopen(path, "r");
	content[0] = '\0';
	if (f) {
		size_t got = fread(content, 1, sizeof(content) - 1, f);
		content[got] = '\0';
		fclose(f);
	}
	char old[16] = "";
	f = fopen(target, "r");
	if (f) {
		size_t got = fread(old, 1, sizeof(old) - 1, f);
		old[got] = '\0';
		fclose(f);
	}
	int r2 = resolv_write("/nonexistent-dir/resolv.conf", "x", 1, &err);
	unlink(path);
	unlink(target);
	rmdir(dir); /* fails if a temporary file was left behind */
	struct stat gone;
	CHECK_INT(r, ==, 0);
	CHECK_INT(lr, ==, 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_INT(st.st_mode & 0777, ==, 0644);
	CHECK_STR(content, "nameserver 192.0.2.53\n");
	CHECK_STR(old, "old\n");
	CHECK(stat(dir, &gone) != 0);
	CHECK_INT(r2, ==, -ENOENT);
	CHECK_CONTAINS(err.msg, "/nonexistent-dir/resolv.conf");
}

TEST_MAIN("net",
	TEST_CASE(candidate_table),
	TEST_CASE(plan_gateway_in_subnet),
	TEST_CASE(plan_gateway_outside_subnet_gets_host_route_first),
	TEST_CASE(plan_slash32_address),
	TEST_CASE(plan_on_link_and_duplicates),
	TEST_CASE(resolv_content),
	TEST_CASE(resolv_both_families),
	TEST_CASE(grace_rule),
	TEST_CASE(resolv_write_replaces_atomically))
