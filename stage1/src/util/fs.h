/* Filesystem helpers that work relative to directory file descriptors and
 * never follow a symbolic link. */
#ifndef IP_UTIL_FS_H
#define IP_UTIL_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

/* Deepest tree fs_remove_tree_at descends into (one open directory per level). */
#define FS_REMOVE_MAX_DEPTH 256

/* Writes all of buf, looping over partial writes and EINTR.  0 or -errno. */
int fs_write_all(int fd, const void *buf, size_t len);
/* a[0..alen) then b[0..blen), with writev (one call when the kernel takes
 * it all); 0 or -errno. */
int fs_write2_all(int fd, const void *a, size_t alen, const void *b, size_t blen);

/* Removes `name` (one path component) inside dirfd and everything under it.
 * Never follows a symlink: a symlink is removed, not what it points to.
 * Directories without write permission (the 0555 of a store path) are made
 * writable first.  0 when it is gone, including when it was never there;
 * otherwise a negative errno and err names the entry that could not go. */
int fs_remove_tree_at(int dirfd, const char *name, struct ip_error *err);

/* Creates every missing directory of `path` (relative to dirfd, or absolute)
 * with `mode`, and returns an O_DIRECTORY|O_CLOEXEC descriptor of the last
 * one (the caller closes it), or a negative errno with err.  A component that
 * is a symlink is refused (-ELOOP), not followed: open a root that may be a
 * symlink yourself and pass its descriptor with a relative path. */
int fs_mkdir_p_at(int dirfd, const char *path, mode_t mode, struct ip_error *err);

/* Reads the regular file `path` (relative to dirfd; its last component not
 * followed) into a malloc'd NUL-terminated buffer.  -ENOENT without a
 * message when there is none; -EINVAL for something that is not a regular
 * file of at most max_size bytes. */
int fs_read_file_at(int dirfd, const char *path, size_t max_size, char **out, size_t *out_len,
		    struct ip_error *err);

/* Replaces dirfd/name with buf atomically: written to dirfd/tmp_name (0644;
 * whatever was there is removed first), fsync'd unless !sync, renamed over
 * name, then dirfd is fsync'd.  On failure the temporary is removed and the
 * old file stays as it was. */
int fs_replace_file_at(int dirfd, const char *name, const char *tmp_name, const void *buf, size_t len,
		       bool sync, struct ip_error *err);

#endif
