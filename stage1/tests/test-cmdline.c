/* Kernel command line parsing and the kexec command line. */
#include "test.h"
#include "boot/cmdline.h"

static void parses_the_words_we_use(void)
{
	const char *line = "BOOT_IMAGE=/vmlinuz console=tty0 console=ttyS0,115200n8 "
			   "init=/nix/store/abc-system/init initrd_provision.system=/nix/store/def-sys quiet\n";
	struct boot_cmdline c;
	CHECK_INT(boot_cmdline_parse(line, strlen(line), &c, NULL), ==, 0);
	CHECK(!c.provision_off);
	CHECK_STR(c.init, "/nix/store/abc-system/init");
	CHECK_STR(c.system_override, "/nix/store/def-sys");
	CHECK_INT(c.n_consoles, ==, 2);
	CHECK_STR(c.consoles[0], "tty0");
	CHECK_STR(c.consoles[1], "ttyS0,115200n8");
}

static void provision_off_spellings(void)
{
	static const struct { const char *line; bool off; } cases[] = {
		{ "initrd_provision=off", true },   { "initrd_provision=0", true },
		{ "initrd_provision=no", true },    { "initrd_provision=false", true },
		{ "initrd_provision=on", false },   { "initrd_provision_off", false },
		{ "xinitrd_provision=off", false }, { "", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct boot_cmdline c;
		CHECK_INT(boot_cmdline_parse(cases[i].line, strlen(cases[i].line), &c, NULL), ==, 0);
		if (c.provision_off != cases[i].off) {
			test_record_failure(__FILE__, __LINE__, "'%s': off=%d", cases[i].line, c.provision_off);
			return;
		}
	}
}

static void quotes_group_a_value(void)
{
	const char *line = "a=\"x y\" init=\"/nix/store/q-s/init\"";
	struct boot_cmdline c;
	CHECK_INT(boot_cmdline_parse(line, strlen(line), &c, NULL), ==, 0);
	CHECK_STR(c.init, "/nix/store/q-s/init");
}

static void too_long_values_are_errors(void)
{
	char line[700] = "init=";
	memset(line + 5, 'a', 600);
	line[605] = '\0';
	struct boot_cmdline c;
	struct ip_error err = { 0 };
	CHECK_INT(boot_cmdline_parse(line, strlen(line), &c, &err), ==, -EINVAL);
	CHECK_CONTAINS(err.msg, "value of init is too long");
}

static void kexec_line_adds_init_and_console(void)
{
	struct boot_cmdline cur;
	const char *now = "console=ttyS0,115200n8 init=/nix/store/old/init";
	CHECK_INT(boot_cmdline_parse(now, strlen(now), &cur, NULL), ==, 0);
	char out[512];
	CHECK_INT(boot_cmdline_for_kexec("loglevel=4 net.ifnames=0\n", "/nix/store/new-sys", &cur, out,
					 sizeof(out), NULL), ==, 0);
	CHECK_STR(out, "loglevel=4 net.ifnames=0 init=/nix/store/new-sys/init console=ttyS0,115200n8");
}

static void kexec_line_keeps_params_console(void)
{
	struct boot_cmdline cur;
	const char *now = "console=ttyS1";
	CHECK_INT(boot_cmdline_parse(now, strlen(now), &cur, NULL), ==, 0);
	char out[512];
	CHECK_INT(boot_cmdline_for_kexec("console=ttyS0", "/nix/store/n", &cur, out, sizeof(out), NULL), ==, 0);
	CHECK_STR(out, "console=ttyS0 init=/nix/store/n/init");
	CHECK_INT(boot_cmdline_for_kexec("", "/nix/store/n", &cur, out, sizeof(out), NULL), ==, 0);
	CHECK_STR(out, "init=/nix/store/n/init console=ttyS1");
}

static void kexec_line_too_long(void)
{
	struct boot_cmdline cur = { 0 };
	char out[16];
	struct ip_error err = { 0 };
	CHECK_INT(boot_cmdline_for_kexec("quiet", "/nix/store/n", &cur, out, sizeof(out), &err), ==,
		  -ENAMETOOLONG);
	CHECK_CONTAINS(err.msg, "would exceed 15 bytes");
}

TEST_MAIN("cmdline",
	TEST_CASE(parses_the_words_we_use),
	TEST_CASE(provision_off_spellings),
	TEST_CASE(quotes_group_a_value),
	TEST_CASE(too_long_values_are_errors),
	TEST_CASE(kexec_line_adds_init_and_console),
	TEST_CASE(kexec_line_keeps_params_console),
	TEST_CASE(kexec_line_too_long))
