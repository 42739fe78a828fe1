#include "boot/kexec.h"

#include <fcntl.h>
#include <linux/reboot.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <unistd.h>

/* musl's headers may lack it; the numbers are the kernel's uapi ones. */
#ifndef SYS_kexec_file_load
#if defined(__x86_64__)
#define SYS_kexec_file_load 320
#elif defined(__aarch64__)
#define SYS_kexec_file_load 294 /* asm-generic/unistd.h */
#endif
#endif

int kexec_load_files(const char *kernel, const char *initrd, const char *cmdline, struct ip_error *err)
{
	int kernel_fd = -1, initrd_fd = -1, r = 0;

	kernel_fd = open(kernel, O_RDONLY | O_CLOEXEC);
	if (kernel_fd < 0) {
		r = ip_fail(err, -errno, "kexec: cannot open kernel %s: %s", kernel, strerror(errno));
		goto fail;
	}
	initrd_fd = open(initrd, O_RDONLY | O_CLOEXEC);
	if (initrd_fd < 0) {
		r = ip_fail(err, -errno, "kexec: cannot open initrd %s: %s", initrd, strerror(errno));
		goto fail;
	}
	/* The length includes the terminating NUL (kexec_file_load(2)). */
	if (syscall(SYS_kexec_file_load, kernel_fd, initrd_fd, strlen(cmdline) + 1, cmdline, 0UL) != 0) {
		int e = errno;
		const char *hint = e == EPERM	? " (kernel lockdown or missing CAP_SYS_BOOT?)"
				   : e == ENOSYS ? " (kernel built without kexec_file_load)"
				   : e == ENOEXEC || e == EKEYREJECTED ? " (image not accepted: unsigned or unknown format)"
									: "";
		r = ip_fail(err, -e, "kexec: loading %s failed: %s%s", kernel, strerror(e), hint);
		goto fail;
	}
fail:
	if (kernel_fd >= 0)
		close(kernel_fd);
	if (initrd_fd >= 0)
		close(initrd_fd);
	return r;
}

int kexec_reboot(struct ip_error *err)
{
	sync();
	reboot(LINUX_REBOOT_CMD_KEXEC);
	return ip_fail(err, -errno, "kexec: reboot into the loaded kernel failed: %s", strerror(errno));
}
