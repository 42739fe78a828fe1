/* initrd-provision boot: the initrd step (boot/boot.c). */
#include "cmd/commands.h"

#include <getopt.h>
#include <stdio.h>

#include "boot/boot.h"
#include "util/log.h"

int cmd_boot(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "sysroot", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "cmdline", required_argument, NULL, 'k' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "resolv-conf", required_argument, NULL, 'R' },
		{ "no-network", no_argument, NULL, 'N' },
		{ "no-power", no_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct boot_options opts;
	boot_options_defaults(&opts);
	int opt;
	while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			printf("Usage: initrd-provision boot [--sysroot DIR] [--config FILE] [--cmdline FILE]\n"
			       "                             [--run-dir DIR] [--resolv-conf PATH] [--verbose]\n"
			       "                             [--no-network] [--no-power]\n\n"
			       "Runs in the initrd after the root file system is mounted: brings up the\n"
			       "network, reads IMDSv2 user-data (or the instance tag), fetches the system it\n"
			       "names into DIR/nix/store, and hands stage 2 that system in\n"
			       "RUN-DIR/{system,init}.  Failures follow on-failure in the configuration.\n\n"
			       "  --sysroot DIR      the mounted root (default /sysroot)\n"
			       "  --config FILE      settings (default /etc/initrd-provision.conf)\n"
			       "  --cmdline FILE     kernel command line (default /proc/cmdline)\n"
			       "  --run-dir DIR      hand-off files and report (default /run/initrd-provision)\n"
			       "  --resolv-conf PATH DNS from the lease (default /etc/resolv.conf)\n"
			       "  --no-network       use the network as it is (for tests on a host)\n"
			       "  --no-power         print halt/reboot/kexec instead of doing them (tests)\n"
			       "  --verbose          debug output\n"
			       "  -h, --help         this text\n"
			       "Exit status: 0 when stage 1 should go on (also after a fallback).\n");
			return EXIT_OK;
		case 's': opts.sysroot = optarg; break;
		case 'c': opts.config_path = optarg; break;
		case 'k': opts.cmdline_path = optarg; break;
		case 'r': opts.run_dir = optarg; break;
		case 'R': opts.resolv_conf = optarg; break;
		case 'N': opts.no_network = true; break;
		case 'P': opts.no_power = true; break;
		case 'v': log_set_level(LOG_DEBUG); break;
		case ':':
			return cmd_usage_error("boot", "option '%s' needs a value", argv[optind - 1]);
		default:
			return cmd_usage_error("boot", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cmd_usage_error("boot", "unexpected argument '%s'", argv[optind]);
	return boot_run(&opts);
}
