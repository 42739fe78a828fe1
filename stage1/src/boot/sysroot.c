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
