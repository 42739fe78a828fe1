/* net/dhcp_verdict: the verdicts both DHCP clients sort replies into, and
 * their names in log lines and test failures. */
#include "test.h"

#include "net/dhcp6_client.h"
#include "net/dhcp_client.h"
#include "net/dhcp_verdict.h"

static void names(void)
{
	CHECK_STR(dhcp_verdict_name(DHCP_VERDICT_DROP), "drop");
	CHECK_STR(dhcp_verdict_name(DHCP_VERDICT_RESTART), "restart");
	CHECK_STR(dhcp_verdict_name(DHCP_VERDICT_ACCEPT), "accept");
	CHECK_STR(dhcp_verdict_name((enum dhcp_verdict)99), "?");
}

/* A client's answer is a verdict (>= 0) or a negative errno: no verdict
 * may be negative, and the DHCPv6 names must mean the same verdicts. */
static void shared_by_both_clients(void)
{
	CHECK_INT(DHCP_VERDICT_DROP, >=, 0);
	CHECK_INT(DHCP_VERDICT_RESTART, >=, 0);
	CHECK_INT(DHCP_VERDICT_ACCEPT, >=, 0);
	CHECK_INT(DHCP_VERDICT_DROP, !=, DHCP_VERDICT_RESTART);
	CHECK_INT(DHCP_VERDICT_RESTART, !=, DHCP_VERDICT_ACCEPT);
	CHECK_INT(DHCP_VERDICT_DROP, !=, DHCP_VERDICT_ACCEPT);
	CHECK_INT(DHCP6_VERDICT_DROP, ==, DHCP_VERDICT_DROP);
	CHECK_INT(DHCP6_VERDICT_RESTART, ==, DHCP_VERDICT_RESTART);
	CHECK_INT(DHCP6_VERDICT_ACCEPT, ==, DHCP_VERDICT_ACCEPT);
}

TEST_MAIN("dhcp-verdict",
	TEST_CASE(names),
	TEST_CASE(shared_by_both_clients))
