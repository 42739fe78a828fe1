#include "cmd/commands.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const struct command cmd_table[] = {
	{ "boot", "the initrd step: network, IMDS, user-data, fetch, hand-off", cmd_boot },
	{ "fetch", "fetch a store path's closure from binary caches into a root", cmd_fetch },
	{ "net", "bring up the network with DHCPv4 (netlink)", cmd_net },
	{ "check-user-data", "validate an EC2 user-data document offline", cmd_check_user_data },
	{ "check-config", "validate the boot mode's configuration file offline", cmd_check_config },
};
const size_t cmd_table_len = sizeof(cmd_table) / sizeof(cmd_table[0]);

const struct command *cmd_find(const char *name)
{
	for (size_t i = 0; i < cmd_table_len; i++)
		if (strcmp(cmd_table[i].name, name) == 0)
			return &cmd_table[i];
	return NULL;
}

int cmd_usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "initrd-provision: %s%s%s; try 'initrd-provision %s%s--help'\n",
		cmd ? cmd : "", cmd ? ": " : "", msg, cmd ? cmd : "", cmd ? " " : "");
	return EXIT_USAGE;
}
