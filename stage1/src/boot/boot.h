/* The boot mode: one step of NixOS stage 1, run after the root file system
 * is mounted.  network -> IMDS -> user-data/tag -> closure -> kernel check
 * -> hand-off, with the failure policy applied in one place.  The contract
 * with the stage-1 glue (files written, exit status) is in README "Boot mode". */
#ifndef IP_BOOT_BOOT_H
#define IP_BOOT_BOOT_H

#include <stdbool.h>

struct boot_options {
	const char *sysroot;      /* "/sysroot" */
	const char *config_path;  /* "/etc/initrd-provision.conf" */
	const char *cmdline_path; /* "/proc/cmdline" */
	const char *run_dir;      /* "/run/initrd-provision" */
	const char *resolv_conf;  /* "/etc/resolv.conf" */
	bool no_network;          /* use the network as it is (host tests) */
	bool no_power;            /* print halt/reboot/kexec instead of doing them (host tests) */
};

void boot_options_defaults(struct boot_options *opts);

/* The report's words (README "Boot mode", the report fields). */
enum boot_source {
	BOOT_SOURCE_NONE,      /* nothing named a system: the built-in one */
	BOOT_SOURCE_USER_DATA,
	BOOT_SOURCE_TAG,
	BOOT_SOURCE_CMDLINE,   /* initrd_provision.system= */
};

enum boot_outcome {
	BOOT_OUTCOME_FAILED,      /* failed, and no built-in system to fall back to */
	BOOT_OUTCOME_PROVISIONED,
	BOOT_OUTCOME_BUILTIN,
	BOOT_OUTCOME_UNCHANGED,   /* apply = when-changed, nothing changed */
	BOOT_OUTCOME_FALLBACK,
	BOOT_OUTCOME_HALT,
	BOOT_OUTCOME_REBOOT,
	BOOT_OUTCOME_KEXEC,
};

enum boot_kernel_status {
	BOOT_KERNEL_UNKNOWN,
	BOOT_KERNEL_MATCH,
	BOOT_KERNEL_MISMATCH,
};

const char *boot_source_name(enum boot_source source);
const char *boot_outcome_name(enum boot_outcome outcome);
const char *boot_kernel_status_name(enum boot_kernel_status status);

/* Runs the boot mode.  Returns the process exit status: 0 whenever stage 1
 * should go on (provisioned, built-in, or fallback after a failure), 1 when
 * the failure policy's power action could not be carried out. */
int boot_run(const struct boot_options *opts);

#endif
