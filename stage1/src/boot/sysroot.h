/* Paths inside the mounted root (/sysroot) as stage 2 will see them:
 * absolute symlink targets are taken relative to the root, never to the
 * initrd's own file system. */
#ifndef IP_BOOT_SYSROOT_H
#define IP_BOOT_SYSROOT_H

#include <stddef.h>

#include "util/error.h"

#define SYSROOT_MAX_SYMLINKS 40  /* like the kernel's MAXSYMLINKS */
#define SYSROOT_PATH_MAX 1024

/* Resolves `path` (absolute, as seen from inside the root) following every
 * symlink, with root_fd as "/".  Writes the resolved absolute path (inside
 * the root) to out.  -ENOENT when a component is missing, -ELOOP after
 * SYSROOT_MAX_SYMLINKS links. */
int sysroot_resolve(int root_fd, const char *path, char *out, size_t out_size, struct ip_error *err);

/* The closure an init= path belongs to: resolve it inside the root and take
 * its directory, which must be a store path ("/nix/store/<hash>-<name>"). */
int sysroot_closure_of_init(int root_fd, const char *init, char *out, size_t out_size,
			    struct ip_error *err);

/* Whether the files at a and b (absolute, resolved inside the root) hold the
 * same bytes: 1 when they do, 0 when not, negative errno when either cannot
 * be read. */
int sysroot_same_contents(int root_fd, const char *a, const char *b, struct ip_error *err);

#endif
