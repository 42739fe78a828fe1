#include "net/dhcp_verdict.h"

const char *dhcp_verdict_name(enum dhcp_verdict verdict)
{
	static const char *const names[] = {
		[DHCP_VERDICT_DROP] = "drop",
		[DHCP_VERDICT_RESTART] = "restart",
		[DHCP_VERDICT_ACCEPT] = "accept",
	};
	return (unsigned)verdict < sizeof(names) / sizeof(names[0]) ? names[verdict] : "?";
}
