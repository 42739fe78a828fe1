/* Loading another kernel with kexec_file_load(2) and rebooting into it. */
#ifndef IP_BOOT_KEXEC_H
#define IP_BOOT_KEXEC_H

#include "util/error.h"

/* Loads kernel + initrd (paths) with the command line.  -errno with err
 * naming the file or the kernel's refusal (EPERM under lockdown, ENOSYS
 * without kexec support, ENOEXEC for an unsigned/unknown image). */
int kexec_load_files(const char *kernel, const char *initrd, const char *cmdline, struct ip_error *err);

/* syncs, then reboots into the loaded kernel.  Returns only on failure. */
int kexec_reboot(struct ip_error *err);

#endif
