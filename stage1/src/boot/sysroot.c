#include "boot/sysroot.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nix/store_path.h"

/* Appends "/name" to the resolved prefix in `done`. */
static int append_component(char *done, size_t size, const char *name, size_t len)
{
	size_t used = strlen(done);
	if (used + 1 + len + 1 > size)
		return -ENAMETOOLONG;
	done[used] = '/';
	memcpy(done + used + 1, name, len);
	done[used + 1 + len] = '\0';
	return 0;
}

int sysroot_resolve(int root_fd, const char *path, char *out, size_t out_size, struct ip_error *err)
{
	/* `todo` holds what is left to walk; `done` the resolved prefix ("" = "/"). */
	char todo[SYSROOT_PATH_MAX * 2], done[SYSROOT_PATH_MAX] = "";
	unsigned links = 0;
	if (path[0] != '/' || strlen(path) >= SYSROOT_PATH_MAX)
		return ip_fail(err, -EINVAL, "path \"%.64s\" is not absolute or too long", path);
	snprintf(todo, sizeof(todo), "%s", path);

	const char *p = todo;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t len = strcspn(p, "/");
		if (len == 1 && p[0] == '.') {
			p += len;
			continue;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(done, '/'); /* ".." never climbs above the root */
			if (slash)
				*slash = '\0';
			p += len;
			continue;
		}
		char candidate[SYSROOT_PATH_MAX];
		snprintf(candidate, sizeof(candidate), "%s", done);
		if (append_component(candidate, sizeof(candidate), p, len) < 0)
			return ip_fail(err, -ENAMETOOLONG, "resolving %s: path too long", path);

		struct stat st;
		if (fstatat(root_fd, candidate + 1, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return ip_fail(err, -errno, "resolving %s: %s: %s", path, candidate, strerror(errno));
		if (!S_ISLNK(st.st_mode)) {
			memcpy(done, candidate, sizeof(done));
			p += len;
			continue;
		}
		if (++links > SYSROOT_MAX_SYMLINKS)
			return ip_fail(err, -ELOOP, "resolving %s: more than %d symlinks", path, SYSROOT_MAX_SYMLINKS);
		char target[SYSROOT_PATH_MAX];
		ssize_t n = readlinkat(root_fd, candidate + 1, target, sizeof(target) - 1);
		if (n < 0)
			return ip_fail(err, -errno, "resolving %s: readlink %s: %s", path, candidate, strerror(errno));
		target[n] = '\0';
		/* The rest of the path after this component goes after the target. */
		char rest[SYSROOT_PATH_MAX * 2];
		snprintf(rest, sizeof(rest), "%s", p + len);
		if (target[0] == '/')
			done[0] = '\0';
		if ((size_t)snprintf(todo, sizeof(todo), "%s%s", target, rest) >= sizeof(todo))
			return ip_fail(err, -ENAMETOOLONG, "resolving %s: path too long", path);
		p = todo;
	}
	if ((size_t)snprintf(out, out_size, "%s", done[0] ? done : "/") >= out_size)
		return ip_fail(err, -ENAMETOOLONG, "resolving %s: result too long", path);
	return 0;
}

int sysroot_closure_of_init(int root_fd, const char *init, char *out, size_t out_size, struct ip_error *err)
{
	char resolved[SYSROOT_PATH_MAX];
	int r = sysroot_resolve(root_fd, init, resolved, sizeof(resolved), err);
	if (r < 0)
		return r;
	char *slash = strrchr(resolved, '/');
	if (!slash || slash == resolved)
		return ip_fail(err, -EINVAL, "init=%s resolves to %s, which is not inside a store path", init, resolved);
	*slash = '\0';
	if (nix_store_path_check(resolved, strlen(resolved), NULL) < 0)
		return ip_fail(err, -EINVAL, "init=%s resolves to a file in %s, which is not a store path", init,
			       resolved);
	if ((size_t)snprintf(out, out_size, "%s", resolved) >= out_size)
		return ip_fail(err, -ENAMETOOLONG, "closure path too long");
	return 0;
}

/* Reads exactly len bytes (the caller knows the file is long enough). */
static int read_exactly(int fd, char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = read(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* shorter than its size said: changed under us */
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Opens PATH (resolved inside the root) for reading, never following a link. */
static int open_in_root(int root_fd, const char *path, struct ip_error *err)
{
	char resolved[SYSROOT_PATH_MAX];
	int r = sysroot_resolve(root_fd, path, resolved, sizeof(resolved), err);
	if (r < 0)
		return r;
	int fd = openat(root_fd, resolved + 1, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return ip_fail(err, -errno, "opening %s: %s", path, strerror(errno));
	return fd;
}

int sysroot_same_contents(int root_fd, const char *a, const char *b, struct ip_error *err)
{
	char buf_a[16384], buf_b[16384];
	struct stat st_a, st_b;
	int fd_b = -1, r;
	int fd_a = open_in_root(root_fd, a, err);
	if (fd_a < 0)
		return fd_a;
	fd_b = open_in_root(root_fd, b, err);
	if (fd_b < 0) {
		r = fd_b;
		goto out;
	}
	if (fstat(fd_a, &st_a) < 0 || fstat(fd_b, &st_b) < 0) {
		r = ip_fail(err, -errno, "stat %s or %s: %s", a, b, strerror(errno));
		goto out;
	}
	r = 0;
	if (!S_ISREG(st_a.st_mode) || !S_ISREG(st_b.st_mode) || st_a.st_size != st_b.st_size)
		goto out;
	for (;;) {
		ssize_t n = read(fd_a, buf_a, sizeof(buf_a));
		if (n < 0) {
			r = ip_fail(err, -errno, "reading %s: %s", a, strerror(errno));
			goto out;
		}
		if (n == 0) {
			r = 1;
			goto out;
		}
		int rb = read_exactly(fd_b, buf_b, (size_t)n);
		if (rb < 0) {
			r = ip_fail(err, rb, "reading %s: %s", b, strerror(-rb));
			goto out;
		}
		if (memcmp(buf_a, buf_b, (size_t)n) != 0)
			goto out;
	}
out:
	close(fd_a);
	if (fd_b >= 0)
		close(fd_b);
	return r;
}
