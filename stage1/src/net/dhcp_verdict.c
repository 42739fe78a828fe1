#include "net/dhcp_verdict.h"

const char *dhcp_verdict_name(enum dhcp_verdict verdict)
{
	switch (verdict) {
	case DHCP_VERDICT_DROP: return "drop";
	case DHCP_VERDICT_RESTART: return "restart";
	case DHCP_VERDICT_ACCEPT: return "accept";
	}
	return "?";
}
