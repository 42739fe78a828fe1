/* libFuzzer target for boot_config_parse (/etc/initrd-provision.conf): any
 * bytes parse or are refused with a "line N: ..." message, never crash, and
 * an accepted configuration is self-consistent: every string terminated
 * inside its field, every list within CONFIG_LIST_MAX with non-empty words,
 * every URL of an allowed scheme, every key parsable, every number within
 * its bound, every enum in range.  A refused document may leave the struct
 * half-filled, but still terminated.  The same bytes parse the same way
 * twice (no hidden state). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/config.h"
#include "nix/narinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "config contract broken: %s\n", #c); abort(); } } while (0)

static struct boot_config c1, c2;

static void require_terminated(const char *field, size_t size)
{
	REQUIRE(memchr(field, '\0', size) != NULL);
}

static bool url_ok(const char *url)
{
	return strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0 ||
	       strncmp(url, "s3://", 5) == 0 || strncmp(url, "file://", 7) == 0;
}

static void check_terminated(const struct boot_config *c)
{
	require_terminated(c->builtin_system, sizeof(c->builtin_system));
	require_terminated(c->builtin_kernel, sizeof(c->builtin_kernel));
	require_terminated(c->builtin_closure, sizeof(c->builtin_closure));
	require_terminated(c->imds_endpoint, sizeof(c->imds_endpoint));
	require_terminated(c->system_tag, sizeof(c->system_tag));
	require_terminated(c->ca_bundle, sizeof(c->ca_bundle));
	require_terminated(c->aws_region, sizeof(c->aws_region));
	REQUIRE(c->n_substituters <= CONFIG_LIST_MAX);
	REQUIRE(c->n_trusted_public_keys <= CONFIG_LIST_MAX);
	REQUIRE(c->n_interfaces <= CONFIG_LIST_MAX);
	for (size_t i = 0; i < c->n_substituters; i++)
		require_terminated(c->substituters[i], sizeof(c->substituters[i]));
	for (size_t i = 0; i < c->n_trusted_public_keys; i++)
		require_terminated(c->trusted_public_keys[i], sizeof(c->trusted_public_keys[i]));
	for (size_t i = 0; i < c->n_interfaces; i++)
		require_terminated(c->interfaces[i], sizeof(c->interfaces[i]));
}

static void check_accepted(const struct boot_config *c)
{
	check_terminated(c);
	for (size_t i = 0; i < c->n_substituters; i++) {
		REQUIRE(c->substituters[i][0] != '\0');
		REQUIRE(url_ok(c->substituters[i]));
		REQUIRE(!strpbrk(c->substituters[i], " \t\r\n#"));
	}
	for (size_t i = 0; i < c->n_trusted_public_keys; i++) {
		struct trusted_key key;
		struct ip_error err = { 0 };
		REQUIRE(trusted_key_parse(c->trusted_public_keys[i], &key, &err) == 0);
	}
	for (size_t i = 0; i < c->n_interfaces; i++)
		REQUIRE(c->interfaces[i][0] != '\0' && !strpbrk(c->interfaces[i], " \t"));
	/* "auto" (IPv4 first, then IPv6) or one plain-HTTP URL: IMDS has no TLS. */
	REQUIRE(strcmp(c->imds_endpoint, "auto") == 0 || (strncmp(c->imds_endpoint, "http://", 7) == 0 &&
							   c->imds_endpoint[7] != '\0'));
	REQUIRE(c->ipv6_timeout <= 3600 && c->fetch_deadline <= 86400);
	REQUIRE(strcmp(net_family_name(c->network_family), "?") != 0);
	REQUIRE(c->apply == APPLY_EVERY_BOOT || c->apply == APPLY_WHEN_CHANGED);
	REQUIRE(c->builtin_system[0] == '\0' || strncmp(c->builtin_system, "/nix/store/", 11) == 0);
	REQUIRE(c->imds_timeout <= 3600 && c->dhcp_timeout <= 3600);
	REQUIRE(c->connections <= 256 && c->jobs <= 256);
	REQUIRE(c->on_failure <= ON_FAILURE_REBOOT);
	REQUIRE(c->kernel_mismatch <= KERNEL_MISMATCH_FAIL);
	REQUIRE(on_failure_name(c->on_failure) && kernel_mismatch_name(c->kernel_mismatch));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ip_error e1 = { 0 }, e2 = { 0 };
	boot_config_defaults(&c1);
	int r1 = boot_config_parse((const char *)data, size, &c1, &e1);
	REQUIRE(r1 == 0 || r1 < 0);
	if (r1 == 0) {
		check_accepted(&c1);
	} else {
		check_terminated(&c1);
		REQUIRE(e1.msg[0] != '\0');
		REQUIRE(memchr(e1.msg, '\0', sizeof(e1.msg)) != NULL);
		REQUIRE(!strchr(e1.msg, '\n'));
	}

	boot_config_defaults(&c2);
	int r2 = boot_config_parse((const char *)data, size, &c2, &e2);
	REQUIRE(r1 == r2);
	REQUIRE(strcmp(e1.msg, e2.msg) == 0);
	if (r1 == 0)
		REQUIRE(memcmp(&c1, &c2, sizeof(c1)) == 0);
	return 0;
}
