/* The sub-commands of initrd-provision.  Each lives in its own file under
 * cmd/ and returns a process exit code (see EXIT_* below).  The table and
 * the usage-error line live in cmd/commands.c, not in main.c, so that a
 * test links a command without main(). */
#ifndef IP_CMD_COMMANDS_H
#define IP_CMD_COMMANDS_H

#include <stddef.h>

/* Documented exit codes (README "Exit codes"). */
enum {
	EXIT_OK = 0,
	EXIT_FAILURE_RUN = 1, /* the work failed; the console line says why */
	EXIT_USAGE = 2,       /* bad command line or configuration */
};

struct command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv); /* argv[0] is the command name */
};

/* Every command, in the order `initrd-provision --help` lists them. */
extern const struct command cmd_table[];
extern const size_t cmd_table_len;

/* The command called name, or NULL. */
const struct command *cmd_find(const char *name);

int cmd_fetch(int argc, char **argv);
int cmd_boot(int argc, char **argv);
int cmd_net(int argc, char **argv);
int cmd_check_user_data(int argc, char **argv);
int cmd_check_config(int argc, char **argv);

/* Prints "initrd-provision: <cmd>: <msg>; try 'initrd-provision <cmd> --help'"
 * and returns EXIT_USAGE. */
int cmd_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
