#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/file.h"

int fs_write_all(int fd, const void *buf, size_t len)
{
	return fs_write2_all(fd, buf, len, NULL, 0);
}

int fs_write2_all(int fd, const void *a, size_t alen, const void *b, size_t blen)
{
	struct iovec iov[2] = { { (void *)a, alen }, { (void *)b, blen } };
	struct iovec *v = iov;
	int cnt = 2;
	while (cnt > 0) {
		if (v->iov_len == 0) {
			v++;
			cnt--;
			continue;
		}
		ssize_t n = writev(fd, v, cnt);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* writev(2) never does this for regular files */
		for (size_t left = (size_t)n; left > 0;) {
			size_t take = left < v->iov_len ? left : v->iov_len;
			v->iov_base = (char *)v->iov_base + take;
			v->iov_len -= take;
			left -= take;
			if (v->iov_len == 0 && left > 0) {
				v++;
				cnt--;
			}
		}
	}
	return 0;
}

struct remove_ctx {
	const char *top;         /* the name given, for messages */
	struct ip_error *err;
};

static int remove_fail(struct remove_ctx *c, int code, const char *what, const char *name)
{
	if (name == c->top || strcmp(name, c->top) == 0)
		return ip_fail(c->err, code, "removing %s: %s: %s", c->top, what, strerror(-code));
	return ip_fail(c->err, code, "removing %s: %s \"%s\": %s", c->top, what, name,
		       strerror(-code));
}

static int remove_at(struct remove_ctx *c, int dirfd, const char *name, bool known_dir,
		     unsigned depth);

/* Removes everything inside the open directory fd (which it closes). */
static int remove_children(struct remove_ctx *c, int fd, const char *name, unsigned depth)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		int r = -errno;
		close(fd);
		return remove_fail(c, r, "opening directory", name);
	}
	int r = 0;
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (!e) {
			if (errno)
				r = remove_fail(c, -errno, "reading directory", name);
			break;
		}
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) {
			if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT) {
				r = remove_fail(c, -errno, "unlinking", e->d_name);
				break;
			}
			continue;
		}
		r = remove_at(c, dirfd(d), e->d_name, e->d_type == DT_DIR, depth + 1);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

static int remove_at(struct remove_ctx *c, int dirfd, const char *name, bool known_dir,
		     unsigned depth)
{
	if (!known_dir) {
		struct stat st;
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return errno == ENOENT ? 0 : remove_fail(c, -errno, "examining", name);
		if (!S_ISDIR(st.st_mode)) {
			if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
				return remove_fail(c, -errno, "unlinking", name);
			return 0;
		}
	}
	if (depth >= FS_REMOVE_MAX_DEPTH)
		return remove_fail(c, -ELOOP, "directories nested too deep at", name);
	const int oflags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(dirfd, name, oflags);
	if (fd < 0 && errno == EACCES) {
		/* Not readable for us (only when not root): we own it, so allow
		 * ourselves in.  A directory, as fstatat/d_type said. */
		if (fchmodat(dirfd, name, 0700, 0) == 0)
			fd = openat(dirfd, name, oflags);
	}
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return remove_fail(c, -errno, "opening directory", name);
	}
	/* Deleting entries needs write and search permission on the directory;
	 * a store path's directories are 0555. */
	if (fchmod(fd, 0700) < 0) {
		int r = -errno;
		close(fd);
		return remove_fail(c, r, "making writable", name);
	}
	int r = remove_children(c, fd, name, depth);
	if (r < 0)
		return r;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return remove_fail(c, -errno, "removing directory", name);
	return 0;
}

int fs_remove_tree_at(int dirfd, const char *name, struct ip_error *err)
{
	if (!name[0] || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return ip_fail(err, -EINVAL, "removing \"%s\": not a single path component", name);
	struct remove_ctx c = { name, err };
	return remove_at(&c, dirfd, name, false, 0);
}

int fs_mkdir_p_at(int dirfd, const char *path, mode_t mode, struct ip_error *err)
{
	const int oflags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	const char *p = path;
	int fd;
	if (*p == '/') {
		fd = open("/", oflags);
		while (*p == '/')
			p++;
	} else {
		fd = openat(dirfd, ".", oflags);
	}
	if (fd < 0)
		return ip_fail(err, -errno, "creating %s: %s", path, strerror(errno));
	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char comp[256];
		if (n >= sizeof(comp)) {
			close(fd);
			return ip_fail(err, -ENAMETOOLONG, "creating %s: a component is too long", path);
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		p += n;
		while (*p == '/')
			p++;
		if (n == 1 && comp[0] == '.')
			continue;
		if (mkdirat(fd, comp, mode) < 0 && errno != EEXIST) {
			int r = -errno;
			close(fd);
			return ip_fail(err, r, "creating %s: mkdir \"%s\": %s", path, comp, strerror(-r));
		}
		int next = openat(fd, comp, oflags);
		int e = errno;
		struct stat st;
		/* O_DIRECTORY|O_NOFOLLOW on a symlink says ENOTDIR or ELOOP. */
		if (next < 0 && (e == ENOTDIR || e == ELOOP) &&
		    fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			e = ELOOP;
		close(fd);
		if (next < 0)
			return ip_fail(err, -e, "creating %s: opening \"%s\": %s", path, comp,
				       e == ELOOP ? "is a symlink (not followed)" : strerror(e));
		fd = next;
	}
	return fd;
}

int fs_read_file_at(int dirfd, const char *path, size_t max_size, char **out, size_t *out_len,
		    struct ip_error *err)
{
	int r;
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : ip_fail(err, -errno, "opening %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max_size)
		r = ip_fail(err, -EINVAL, "%s is not a regular file of at most %zu bytes", path, max_size);
	else
		r = file_read_fd(fd, path, max_size, out, out_len, err);
	close(fd);
	return r;
}

int fs_replace_file_at(int dirfd, const char *name, const char *tmp_name, const void *buf, size_t len,
		       bool sync, struct ip_error *err)
{
	(void)unlinkat(dirfd, tmp_name, 0);
	int fd = openat(dirfd, tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return ip_fail(err, -errno, "creating %s: %s", tmp_name, strerror(errno));
	int r = fs_write_all(fd, buf, len);
	if (r == 0 && sync && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp_name, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlinkat(dirfd, tmp_name, 0);
		return ip_fail(err, r, "writing %s: %s", name, strerror(-r));
	}
	if (sync && fsync(dirfd) < 0)
		return ip_fail(err, -errno, "syncing the directory of %s: %s", name, strerror(errno));
	return 0;
}
