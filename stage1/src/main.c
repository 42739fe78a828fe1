/* initrd-provision: provisions a NixOS system closure from a binary cache
 * inside the initrd.  This file only dispatches to the sub-commands. */
#include "cmd/commands.h"

#include <getopt.h>
#include <stdio.h>

#ifndef IP_VERSION
#define IP_VERSION "unknown"
#endif

static void print_help(FILE *out)
{
	fprintf(out,
		"Usage: initrd-provision [-h|--help] [-V|--version] COMMAND [ARGS...]\n"
		"       initrd-provision -C|--check-config FILE   (same as check-config FILE)\n"
		"\n"
		"Provisions a NixOS system closure from a Nix binary cache in the initrd.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < cmd_table_len; i++)
		fprintf(out, "  %-17s %s\n", cmd_table[i].name, cmd_table[i].summary);
	fprintf(out,
		"\n"
		"Run 'initrd-provision COMMAND --help' for a command's options.\n"
		"Exit codes: 0 success, 1 the work failed, 2 usage or configuration error.\n");
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
	const struct command *command = cmd_find(name);
	if (!command)
		return cmd_usage_error(NULL, "unknown command '%s'", name);
	/* 0 makes both glibc and musl reset getopt's state completely. */
	optind = 0;
	opterr = 0;
	return command->run(argc - command_index, argv + command_index);
}
