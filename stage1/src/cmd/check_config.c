/* initrd-provision check-config FILE: validates the boot mode's configuration
 * file offline (the NixOS module runs it at build time) and prints the
 * settings it would use. */
#include "cmd/commands.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/config.h"
#include "util/file.h"

static void print_list(const char *key, const char *items, size_t item_size, size_t n)
{
	printf("%s =", key);
	for (size_t i = 0; i < n; i++)
		printf(" %s", items + i * item_size);
	printf("\n");
}

static void print_config(const struct boot_config *c)
{
	printf("builtin-system = %s\n", c->builtin_system[0] ? c->builtin_system : "(from init= at boot)");
	printf("builtin-kernel = %s\n", c->builtin_kernel[0] ? c->builtin_kernel : "(<builtin-system>/kernel)");
	printf("builtin-closure = %s\n", c->builtin_closure[0] ? c->builtin_closure : "(none: present paths are hashed)");
	print_list("substituters", c->substituters[0], sizeof(c->substituters[0]), c->n_substituters);
	print_list("trusted-public-keys", c->trusted_public_keys[0], sizeof(c->trusted_public_keys[0]),
		   c->n_trusted_public_keys);
	printf("allow-user-data-substituters = %s\n", c->allow_user_data_substituters ? "true" : "false");
	printf("allow-user-data-keys = %s\n", c->allow_user_data_keys ? "true" : "false");
	printf("imds-endpoint = %s\nimds-timeout = %u\nimds-allow-v1 = %s\n", c->imds_endpoint,
	       c->imds_timeout, c->imds_allow_v1 ? "true" : "false");
	printf("system-tag = %s\n", c->system_tag[0] ? c->system_tag : "(disabled)");
	printf("on-failure = %s\nkernel-mismatch = %s\n", on_failure_name(c->on_failure),
	       kernel_mismatch_name(c->kernel_mismatch));
	printf("keep-network = %s\n", c->keep_network ? "true" : "false");
	print_list("interfaces", c->interfaces[0], sizeof(c->interfaces[0]), c->n_interfaces);
	printf("network-family = %s\nipv6-timeout = %u\n", net_family_name(c->network_family),
	       c->ipv6_timeout);
	printf("dhcp-timeout = %u\nca-bundle = %s\nconnections = %u\njobs = %u\naws-region = %s\n",
	       c->dhcp_timeout, c->ca_bundle, c->connections, c->jobs,
	       c->aws_region[0] ? c->aws_region : "(from the URL, else IMDS, else us-east-1)");
	printf("fetch-deadline = %u\ndecoder-memory = %u\n", c->fetch_deadline, c->decoder_memory);
	printf("apply = %s\n", apply_policy_name(c->apply));
}

int cmd_check_config(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	bool quiet = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "hq", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			printf("Usage: initrd-provision check-config [--quiet] FILE\n"
			       "       initrd-provision --check-config FILE\n\n"
			       "Validates the boot mode's configuration file (/etc/initrd-provision.conf)\n"
			       "and prints the settings it would use.  builtin-system may be absent: at\n"
			       "boot it comes from init= on the kernel command line.\n\n"
			       "  -q, --quiet   print nothing when the file is valid\n"
			       "  -h, --help    this text\n"
			       "Exit codes: 0 valid, 2 invalid or unreadable.\n");
			return EXIT_OK;
		case 'q':
			quiet = true;
			break;
		default:
			return cmd_usage_error("check-config", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cmd_usage_error("check-config", "expected exactly one FILE");
	const char *path = argv[optind];

	struct ip_error err = { 0 };
	char *buf = NULL;
	size_t len = 0;
	if (file_read_all(path, CONFIG_SIZE_MAX, &buf, &len, &err) < 0) {
		fprintf(stderr, "initrd-provision: check-config: %s\n", ip_error_str(&err));
		return EXIT_USAGE;
	}
	struct boot_config *config = malloc(sizeof(*config));
	if (!config) {
		free(buf);
		fprintf(stderr, "initrd-provision: check-config: out of memory\n");
		return EXIT_FAILURE_RUN;
	}
	boot_config_defaults(config);
	int r = boot_config_parse(buf, len, config, &err);
	free(buf);
	if (r < 0) {
		fprintf(stderr, "initrd-provision: check-config: %s: %s; fix the file (see README, \"Configuration file\")\n",
			path, ip_error_str(&err));
		free(config);
		return EXIT_USAGE;
	}
	if (!quiet)
		print_config(config);
	free(config);
	return EXIT_OK;
}
