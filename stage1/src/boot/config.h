/* /etc/initrd-provision.conf: the image's settings for the boot mode.
 * nix.conf syntax (util/kvconf.h); every key is listed in boot/config.c's
 * table with its default, and in the README ("Configuration file").  Pure:
 * parses a buffer; the caller reads the file. */
#ifndef IP_BOOT_CONFIG_H
#define IP_BOOT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "boot/applied.h"
#include "net/net.h"
#include "nix/store_path.h"
#include "util/error.h"

#define CONFIG_SIZE_MAX 65536
#define CONFIG_LIST_MAX 16          /* substituters, keys, interfaces */
#define CONFIG_URL_MAX 1024
#define CONFIG_KEY_TEXT_MAX 256
#define CONFIG_IFNAME_MAX 16        /* IFNAMSIZ */
#define CONFIG_PATH_MAX 512

/* The defaults that are this file's own (README "Configuration file"); the
 * others are their module's: IMDS_ENDPOINT_AUTO, IMDS_DEFAULT_BUDGET_MS,
 * USERDATA_DEFAULT_TAG, NET_DEFAULT_TIMEOUT_MS, HTTP_DEFAULT_CA_BUNDLE,
 * HTTP_DEFAULT_CONNECTIONS, DOWNLOAD_DEFAULT_DECODER_MEMORY (see
 * boot_config_defaults). */
/* Within the NixOS module's outer bound (timeout = 900 s) with room for DHCP
 * and IMDS: the boot applies on-failure itself, before it. */
#define CONFIG_DEFAULT_FETCH_DEADLINE_S 600

/* The largest values accepted. */
#define CONFIG_TIMEOUT_MAX_S 3600          /* imds-, dhcp-, ipv6-timeout */
#define CONFIG_CONNECTIONS_MAX 256
#define CONFIG_JOBS_MAX 256
#define CONFIG_FETCH_DEADLINE_MAX_S 86400
#define CONFIG_DECODER_MEMORY_MAX_MIB 65536

enum on_failure { ON_FAILURE_FALLBACK, ON_FAILURE_HALT, ON_FAILURE_REBOOT };
enum kernel_mismatch { KERNEL_MISMATCH_KEXEC, KERNEL_MISMATCH_CONTINUE, KERNEL_MISMATCH_FAIL };

struct boot_config {
	char builtin_system[NIX_STORE_PATH_MAX];  /* "" = from init= on the command line */
	char builtin_kernel[CONFIG_PATH_MAX];     /* "" = <builtin-system>/kernel */
	char builtin_closure[CONFIG_PATH_MAX];    /* "" = none; a file inside the root */
	char substituters[CONFIG_LIST_MAX][CONFIG_URL_MAX];
	size_t n_substituters;
	char trusted_public_keys[CONFIG_LIST_MAX][CONFIG_KEY_TEXT_MAX];
	size_t n_trusted_public_keys;
	bool allow_user_data_substituters;
	bool allow_user_data_keys;
	char imds_endpoint[CONFIG_URL_MAX];       /* "auto" or an http:// URL */
	unsigned imds_timeout;                    /* seconds, total IMDS budget */
	bool imds_allow_v1;
	char system_tag[128];                     /* "" disables the tag source */
	enum on_failure on_failure;
	enum kernel_mismatch kernel_mismatch;
	bool keep_network;
	char interfaces[CONFIG_LIST_MAX][CONFIG_IFNAME_MAX];
	size_t n_interfaces;
	unsigned dhcp_timeout;                    /* seconds, IPv4 */
	enum net_family network_family;           /* ipv4, ipv6, dual */
	unsigned ipv6_timeout;                    /* seconds */
	char ca_bundle[CONFIG_PATH_MAX];
	unsigned connections;
	unsigned jobs;                            /* 0 = number of CPUs */
	unsigned fetch_deadline;                  /* seconds for the whole fetch; 0 = none */
	unsigned decoder_memory;                  /* MiB, all decompressors together */
	char aws_region[64];
	enum apply_policy apply;                  /* later boots (boot/applied.h) */
};

void boot_config_defaults(struct boot_config *config);

/* Parses a configuration document on top of the defaults.  Unknown keys,
 * duplicate keys, bad values: -EINVAL with "line N: ..." in err. */
int boot_config_parse(const char *buf, size_t len, struct boot_config *config, struct ip_error *err);

const char *on_failure_name(enum on_failure policy);
const char *kernel_mismatch_name(enum kernel_mismatch policy);

#endif
