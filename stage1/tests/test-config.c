/* The boot mode's configuration file: defaults, every key, refusals. */
#include "test.h"
#include "boot/config.h"

#include <stdio.h>
#include <stdlib.h>

static struct boot_config *parse(const char *text, int expect, const char *error_part)
{
	static struct boot_config config;
	struct ip_error err = { 0 };
	boot_config_defaults(&config);
	int r = boot_config_parse(text, strlen(text), &config, &err);
	if (r != expect) {
		test_record_failure(__FILE__, __LINE__, "parse returned %d, wanted %d (%s)", r, expect,
				    ip_error_str(&err));
		return NULL;
	}
	if (error_part && !strstr(err.msg, error_part)) {
		test_record_failure(__FILE__, __LINE__, "error \"%s\" lacks \"%s\"", err.msg, error_part);
		return NULL;
	}
	return &config;
}

static void defaults_match_the_contract(void)
{
	struct boot_config *c = parse("", 0, NULL);
	CHECK(c);
	CHECK_STR(c->builtin_system, "");
	CHECK_STR(c->builtin_closure, "");
	CHECK_STR(c->imds_endpoint, "auto");
	CHECK_INT(c->network_family, ==, NET_FAMILY_DUAL);
	CHECK_INT(c->ipv6_timeout, ==, 30);
	CHECK_INT(c->imds_timeout, ==, 30);
	CHECK_STR(c->system_tag, "nixos-system");
	CHECK_INT(c->on_failure, ==, ON_FAILURE_FALLBACK);
	CHECK_INT(c->kernel_mismatch, ==, KERNEL_MISMATCH_KEXEC);
	CHECK(!c->keep_network && !c->allow_user_data_keys && !c->allow_user_data_substituters);
	CHECK(!c->imds_allow_v1);
	CHECK_INT(c->dhcp_timeout, ==, 30);
	CHECK_STR(c->ca_bundle, "/etc/ssl/certs/ca-certificates.crt");
	CHECK_INT(c->connections, ==, 25);
	CHECK_INT(c->jobs, ==, 0);
	CHECK_INT(c->apply, ==, APPLY_EVERY_BOOT);
	CHECK_INT(c->fetch_deadline, ==, 600);
	CHECK_INT(c->decoder_memory, ==, 128);
}

static void apply_policy_parses(void)
{
	struct boot_config *c = parse("apply = when-changed\n", 0, NULL);
	CHECK(c);
	CHECK_INT(c->apply, ==, APPLY_WHEN_CHANGED);
	c = parse("apply = every-boot\n", 0, NULL);
	CHECK(c);
	CHECK_INT(c->apply, ==, APPLY_EVERY_BOOT);
	CHECK(parse("apply = once\n", -EINVAL, "line 1: apply: expected every-boot or when-changed, not 'once'"));
}

/* The bounds of issue 14: a deadline for the fetch, a decoder budget. */
static void deadline_and_decoder_memory(void)
{
	struct boot_config *c = parse("fetch-deadline = 45\ndecoder-memory = 64\n", 0, NULL);
	CHECK(c);
	CHECK_INT(c->fetch_deadline, ==, 45);
	CHECK_INT(c->decoder_memory, ==, 64);
	CHECK(parse("fetch-deadline = 10m\n", -EINVAL, "fetch-deadline: expected a whole number from 0 to 86400"));
	CHECK(parse("decoder-memory = 99999\n", -EINVAL, "decoder-memory: expected a whole number from 0 to 65536"));
}

/* The file the NixOS module renders for its "full" fixture. */
static void module_fixture_parses(void)
{
	size_t len;
	char *text = (char *)test_read_data("nixos-module/full.conf", &len);
	CHECK(text);
	struct boot_config config;
	struct ip_error err = { 0 };
	boot_config_defaults(&config);
	int r = boot_config_parse(text, len, &config, &err);
	free(text);
	if (r != 0) {
		test_record_failure(__FILE__, __LINE__, "%s", ip_error_str(&err));
		return;
	}
	CHECK_INT(config.n_substituters, ==, 2);
	CHECK_STR(config.substituters[1], "https://cache.example.org");
	CHECK_INT(config.n_trusted_public_keys, ==, 2);
	CHECK_STR(config.system_tag, "");
	CHECK_INT(config.on_failure, ==, ON_FAILURE_REBOOT);
	CHECK_INT(config.kernel_mismatch, ==, KERNEL_MISMATCH_CONTINUE);
	CHECK_INT(config.n_interfaces, ==, 2);
	CHECK_STR(config.interfaces[1], "ens6");
	CHECK_INT(config.jobs, ==, 4);
	CHECK_STR(config.aws_region, "eu-central-1");
	CHECK_INT(config.apply, ==, APPLY_WHEN_CHANGED);
}

static void builtin_closure_names_a_file(void)
{
	struct boot_config *c = parse("builtin-closure = /nix/var/nix/builtin-closure\n", 0, NULL);
	CHECK(c);
	CHECK_STR(c->builtin_closure, "/nix/var/nix/builtin-closure");
	CHECK(parse("builtin-closure = a\nbuiltin-closure = b\n", -EINVAL, "line 2: 'builtin-closure' is set twice"));
}

static void builtin_system_is_checked(void)
{
	struct boot_config *c = parse("builtin-system = /nix/store/0ahcn2x4l5kxxpmhxgyg4gyc8dcfxdc2-nixos-system\n",
				      0, NULL);
	CHECK(c);
	CHECK_STR(c->builtin_system, "/nix/store/0ahcn2x4l5kxxpmhxgyg4gyc8dcfxdc2-nixos-system");
	CHECK(parse("builtin-system = /nix/store/short\n", -EINVAL, "line 1: builtin-system: "));
}

static void refusals_name_the_line(void)
{
	static const struct { const char *text; const char *error; } cases[] = {
		{ "\nfrobnicate = 1\n", "line 2: unknown setting 'frobnicate'" },
		{ "jobs = 1\njobs = 2\n", "line 2: 'jobs' is set twice" },
		{ "keep-network = yes\n", "line 1: keep-network: expected true or false, not 'yes'" },
		{ "connections = -1\n", "connections: expected a whole number from 0 to 256" },
		{ "connections = 9999\n", "connections: expected a whole number from 0 to 256" },
		{ "dhcp-timeout = 12s\n", "dhcp-timeout: expected a whole number" },
		{ "on-failure = explode\n", "on-failure: expected fallback, halt or reboot, not 'explode'" },
		{ "kernel-mismatch = ignore\n", "kernel-mismatch: expected kexec, continue or fail" },
		{ "substituters = ftp://x\n", "substituters: substituter 'ftp://x': unsupported URL scheme" },
		{ "substituters = s3://\n", "line 1: substituters: " },
		{ "trusted-public-keys = nokey\n", "line 1: trusted-public-keys: " },
		{ "imds-endpoint = 169.254.169.254\n", "imds-endpoint: expected auto or an http:// URL, not '169.254.169.254'" },
		{ "imds-endpoint = https://169.254.169.254\n", "imds-endpoint: expected auto or an http:// URL" },
		{ "network-family = ipv5\n", "network-family: expected ipv4, ipv6 or dual, not 'ipv5'" },
		{ "ipv6-timeout = 4000\n", "ipv6-timeout: expected a whole number from 0 to 3600" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(parse(cases[i].text, -EINVAL, cases[i].error));
}

static void network_keys(void)
{
	struct boot_config *c = parse("network-family = ipv6\nipv6-timeout = 12\nimds-endpoint = http://[fd00:ec2::254]\n",
				      0, NULL);
	CHECK(c);
	CHECK_INT(c->network_family, ==, NET_FAMILY_IPV6);
	CHECK_INT(c->ipv6_timeout, ==, 12);
	CHECK_STR(c->imds_endpoint, "http://[fd00:ec2::254]");
	c = parse("network-family = ipv4\nimds-endpoint = auto\n", 0, NULL);
	CHECK(c);
	CHECK_INT(c->network_family, ==, NET_FAMILY_IPV4);
	CHECK_STR(c->imds_endpoint, "auto");
}

static void list_limit(void)
{
	char text[4096] = "interfaces =";
	for (int i = 0; i < CONFIG_LIST_MAX + 1; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), " eth%d", i);
	CHECK(parse(text, -EINVAL, "interfaces: more than 16 entries"));
	CHECK(parse("interfaces = averyveryverylongname0\n", -EINVAL, "interfaces: value too long"));
}

TEST_MAIN("config",
	TEST_CASE(defaults_match_the_contract),
	TEST_CASE(deadline_and_decoder_memory),
	TEST_CASE(module_fixture_parses),
	TEST_CASE(builtin_system_is_checked),
	TEST_CASE(apply_policy_parses),
	TEST_CASE(builtin_closure_names_a_file),
	TEST_CASE(refusals_name_the_line),
	TEST_CASE(network_keys),
	TEST_CASE(list_limit))
