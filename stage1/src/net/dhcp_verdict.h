/* How a DHCP client, v4 (dhcp_client.h) or v6 (dhcp6_client.h), sorted one
 * received message: the three ways systemd's sd-dhcp-client sorts them.
 * Each client's header says which messages fall where. */
#ifndef IP_NET_DHCP_VERDICT_H
#define IP_NET_DHCP_VERDICT_H

enum dhcp_verdict {
	DHCP_VERDICT_DROP,     /* ignored; the client goes on as before */
	DHCP_VERDICT_RESTART,  /* the server said no: back to INIT, start over */
	DHCP_VERDICT_ACCEPT,   /* taken: the client moved on */
};

/* "drop", "restart", "accept"; "?" for anything else. */
const char *dhcp_verdict_name(enum dhcp_verdict verdict);

#endif
