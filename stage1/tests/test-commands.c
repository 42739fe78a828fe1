/* cmd/commands: the command table and the usage-error line link without
 * main.c, so a test can run a command in-process. */
#include "test.h"
#include "cmd/commands.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Runs fn with stderr sent to a file; returns what it printed (malloc'd). */
static char *stderr_of(int (*fn)(void *), void *arg, int *rc)
{
	char *text = NULL;
	FILE *tmp = tmpfile();
	if (!tmp)
		return NULL;
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	dup2(fileno(tmp), STDERR_FILENO);
	*rc = fn(arg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	long size = ftell(tmp);
	if (size >= 0 && (text = calloc(1, (size_t)size + 1)) != NULL) {
		rewind(tmp);
		if (fread(text, 1, (size_t)size, tmp) != (size_t)size)
			text[0] = '\0';
	}
	fclose(tmp);
	return text;
}

static void table_is_whole(void)
{
	static const char *const expected[] = { "boot", "fetch", "net", "check-user-data",
						"check-config" };
	CHECK_INT(cmd_table_len, ==, sizeof(expected) / sizeof(expected[0]));
	for (size_t i = 0; i < cmd_table_len; i++) {
		CHECK_STR(cmd_table[i].name, expected[i]);
		CHECK(cmd_table[i].summary && cmd_table[i].summary[0]);
		CHECK(cmd_table[i].run != NULL);
		CHECK(cmd_find(expected[i]) == &cmd_table[i]);
	}
	CHECK(cmd_find("") == NULL);
	CHECK(cmd_find("fetchx") == NULL);
	CHECK(cmd_find("FETCH") == NULL);
}

static int usage_with_command(void *arg)
{
	return cmd_usage_error("fetch", "unknown option '%s'", (const char *)arg);
}

static int usage_without_command(void *arg)
{
	return cmd_usage_error(NULL, "no command given");
}

static void usage_error_line(void)
{
	int rc = -1;
	char *text = stderr_of(usage_with_command, "--bogus", &rc);
	CHECK_INT(rc, ==, EXIT_USAGE);
	CHECK_STR(text, "initrd-provision: fetch: unknown option '--bogus'; "
			"try 'initrd-provision fetch --help'\n");
	free(text);
	text = stderr_of(usage_without_command, NULL, &rc);
	CHECK_INT(rc, ==, EXIT_USAGE);
	CHECK_STR(text, "initrd-provision: no command given; try 'initrd-provision --help'\n");
	free(text);
}

static int run_check_config(void *arg)
{
	char **argv = arg;
	int argc = 0;
	while (argv[argc])
		argc++;
	optind = 0; /* as main() does before a command */
	opterr = 0;
	return cmd_find("check-config")->run(argc, argv);
}

static void command_runs_in_process(void)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/nixos-module/defaults.conf", test_data_dir());
	char *valid[] = { "check-config", "--quiet", path, NULL };
	int rc = -1;
	char *text = stderr_of(run_check_config, valid, &rc);
	CHECK_INT(rc, ==, EXIT_OK);
	CHECK_STR(text, "");
	free(text);

	char *missing[] = { "check-config", NULL };
	text = stderr_of(run_check_config, missing, &rc);
	CHECK_INT(rc, ==, EXIT_USAGE);
	CHECK_CONTAINS(text, "check-config: expected exactly one FILE");
	free(text);
}

TEST_MAIN("commands",
	TEST_CASE(table_is_whole),
	TEST_CASE(usage_error_line),
	TEST_CASE(command_runs_in_process))
