/* The kernel command line (/proc/cmdline): what the boot mode reads from it.
 * Pure functions over a buffer. */
#ifndef IP_BOOT_CMDLINE_H
#define IP_BOOT_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define CMDLINE_MAX 4096        /* the kernel's COMMAND_LINE_SIZE on x86 is 2048 */
#define CMDLINE_MAX_CONSOLES 8

struct boot_cmdline {
	bool provision_off;          /* initrd_provision=off (or =0, =no, =false) */
	char system_override[512];   /* initrd_provision.system=/nix/store/... */
	char init[512];              /* init=... as given */
	char consoles[CMDLINE_MAX_CONSOLES][64]; /* console=... in order */
	size_t n_consoles;
};

/* Parses the command line.  Words are separated by white space; double
 * quotes group a value ("a b") like the kernel's own parser.  Unknown words
 * are ignored.  -EINVAL when the line is too long or an interesting value
 * does not fit. */
int boot_cmdline_parse(const char *buf, size_t len, struct boot_cmdline *out, struct ip_error *err);

/* Builds the command line for the kexec'd kernel: the system's
 * kernel-params, then init=<system>/init, then the consoles of the current
 * boot (unless kernel-params already names a console).  Returns -ENAMETOOLONG
 * when it would exceed out_size. */
int boot_cmdline_for_kexec(const char *kernel_params, const char *system_path,
			   const struct boot_cmdline *current, char *out, size_t out_size,
			   struct ip_error *err);

#endif
