/* initrd-provision: provisions a NixOS system closure from a binary cache
 * inside the initrd.  This file only dispatches to the sub-commands. */
#include "cmd/commands.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifndef IP_VERSION
#define IP_VERSION "unknown"
#endif

static const struct command commands[] = {
	{ "boot", "the initrd step: network, IMDS, user-data, fetch, hand-off", cmd_boot },
	{ "fetch", "fetch a store path's closure from binary caches into a root", cmd_fetch },
	{ "net", "bring up the network with DHCPv4 (netlink)", cmd_net },
	{ "check-user-data", "validate an EC2 user-data document offline", cmd_check_user_data },
	{ "check-config", "validate the boot mode's configuration file offline", cmd_check_config },
};

static void print_help(FILE *out)
{
	fprintf(out,
		"Usage: initrd-provision [-h|--help] [-V|--version] COMMAND [ARGS...]\n"
		"       initrd-provision -C|--check-config FILE   (same as check-config FILE)\n"
		"\n"
		"Provisions a NixOS system closure from a Nix binary cache in the initrd.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-17s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\n"
		"Run 'initrd-provision COMMAND --help' for a command's options.\n"
		"Exit codes: 0 success, 1 the work failed, 2 usage or configuration error.\n");
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

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "check-config", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	/* '+': stop at the first non-option, which is the command. */
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "+:hVC:", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			print_help(stdout);
			return EXIT_OK;
		case 'V':
			printf("initrd-provision %s\n", IP_VERSION);
			return EXIT_OK;
		case 'C': {
			/* Spelling the NixOS module uses: same as "check-config FILE". */
			char *check_argv[] = { "check-config", optarg, NULL };
			optind = 0;
			return cmd_check_config(2, check_argv);
		}
		case ':':
			return cmd_usage_error(NULL, "option '%s' needs a value", argv[optind - 1]);
		default:
			return cmd_usage_error(NULL, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cmd_usage_error(NULL, "no command given");

	int command_index = optind;
	const char *name = argv[command_index];
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, name) == 0) {
			/* 0 makes both glibc and musl reset getopt's state completely. */
			optind = 0;
			opterr = 0;
			return commands[i].run(argc - command_index, argv + command_index);
		}
	}
	return cmd_usage_error(NULL, "unknown command '%s'", name);
}
