#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "store/registration.h"
#include "util/fs.h"
#include "util/log.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

static int open_or_create_dir(int parent_fd, const char *name, const char *shown,
			      struct ip_error *err)
{
	if (mkdirat(parent_fd, name, 0755) < 0 && errno != EEXIST)
		return ip_fail(err, -errno, "creating %s: %s", shown, strerror(errno));
	int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return ip_fail(err, -errno, "opening %s: %s", shown, strerror(errno));
	return fd;
}

/* mkdir -p for the root the operator named (symlinks in it are theirs). */
static int mkdir_p(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = c;
	}
	return 0;
}

static void remove_stale_temps(struct store *st)
{
	int fd = dup(st->store_fd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, STORE_TEMP_PREFIX, strlen(STORE_TEMP_PREFIX)) != 0)
			continue;
		struct ip_error e = { 0 };
		if (fs_remove_tree_at(st->store_fd, de->d_name, &e) == 0) {
			st->stale_removed++;
			log_debug("store: removed %s left by an interrupted run", de->d_name);
		} else {
			log_debug("store: could not remove %s: %s", de->d_name, ip_error_str(&e));
		}
	}
	closedir(d);
}

int store_open(const char *root, bool sync, struct store *st, struct ip_error *err)
{
	int nix_fd = -1, r;
	st->root_fd = st->store_fd = -1;
	st->sync = sync;
	st->stale_removed = 0;

	st->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->root_fd < 0 && errno == ENOENT && mkdir_p(root) == 0)
		st->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->root_fd < 0) {
		r = ip_fail(err, -errno, "opening the root directory %s: %s", root, strerror(errno));
		goto fail;
	}
	nix_fd = r = open_or_create_dir(st->root_fd, "nix", "nix", err);
	if (r < 0)
		goto fail;
	st->store_fd = r = open_or_create_dir(nix_fd, "store", "nix/store", err);
	if (r < 0)
		goto fail;
	close(nix_fd);
	nix_fd = -1;
	if (flock(st->store_fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK
			    ? ip_fail(err, -EBUSY, "%s/nix/store is in use by another initrd-provision "
					   "process; wait for it to finish", root)
			    : ip_fail(err, -errno, "locking %s/nix/store: %s", root, strerror(errno));
		goto fail;
	}
	remove_stale_temps(st);
	registration_cleanup_temps(st->root_fd);
	return 0;
fail:
	if (nix_fd >= 0)
		close(nix_fd);
	store_close(st);
	return r;
}

void store_close(struct store *st)
{
	if (st->store_fd >= 0)
		close(st->store_fd); /* drops the flock */
	if (st->root_fd >= 0)
		close(st->root_fd);
	st->store_fd = st->root_fd = -1;
}

bool store_has(const struct store *st, const char *basename)
{
	struct stat sb;
	return store_stat(st, basename, &sb);
}

bool store_stat(const struct store *st, const char *basename, struct stat *sb)
{
	return fstatat(st->store_fd, basename, sb, AT_SYMLINK_NOFOLLOW) == 0;
}

int store_move_aside(const struct store *st, const char *basename, struct ip_error *err)
{
	char tmp[STORE_TEMP_NAME_MAX];
	store_temp_name(basename, tmp);
	int r = store_discard_temp(st, basename, err);
	if (r < 0)
		return r;
	/* the store lock keeps anything of ours from taking the temporary name */
	if (renameat(st->store_fd, basename, st->store_fd, tmp) < 0)
		return ip_fail(err, -errno, "moving nix/store/%s aside: %s", basename, strerror(errno));
	return fs_remove_tree_at(st->store_fd, tmp, err);
}

void store_temp_name(const char *basename, char out[STORE_TEMP_NAME_MAX])
{
	snprintf(out, STORE_TEMP_NAME_MAX, "%s%s", STORE_TEMP_PREFIX, basename);
}

int store_discard_temp(const struct store *st, const char *basename, struct ip_error *err)
{
	char tmp[STORE_TEMP_NAME_MAX];
	store_temp_name(basename, tmp);
	struct stat sb;
	if (fstatat(st->store_fd, tmp, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : ip_fail(err, -errno, "nix/store/%s: %s", tmp, strerror(errno));
	return fs_remove_tree_at(st->store_fd, tmp, err);
}

int store_sync_batch(const struct store *st, struct ip_error *err)
{
	if (st->sync && syncfs(st->store_fd) < 0)
		return ip_fail(err, -errno, "syncing the file system of nix/store: %s", strerror(errno));
	return 0;
}

int store_commit(const struct store *st, const char *basename, struct ip_error *err)
{
	char tmp[STORE_TEMP_NAME_MAX];
	store_temp_name(basename, tmp);
	long r = syscall(SYS_renameat2, st->store_fd, tmp, st->store_fd, basename, RENAME_NOREPLACE);
	if (r < 0 && (errno == EINVAL || errno == ENOSYS)) {
		/* A file system without RENAME_NOREPLACE: check, then rename (we
		 * hold the store lock, so nobody else of ours races us). */
		if (store_has(st, basename))
			errno = EEXIST;
		else
			r = renameat(st->store_fd, tmp, st->store_fd, basename);
	}
	if (r < 0) {
		if (errno == EEXIST)
			return ip_fail(err, -EEXIST, "nix/store/%s appeared while it was being fetched; "
				       "remove it and run again", basename);
		return ip_fail(err, -errno, "renaming nix/store/%s into place: %s", tmp, strerror(errno));
	}
	return 0;
}

int store_sync_dir(const struct store *st, struct ip_error *err)
{
	if (st->sync && fsync(st->store_fd) < 0)
		return ip_fail(err, -errno, "syncing nix/store: %s", strerror(errno));
	return 0;
}
