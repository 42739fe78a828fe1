#include "store/profile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

unsigned long profile_generation_of(const char *profile, const char *name)
{
	size_t plen = strlen(profile);
	if (strncmp(name, profile, plen) != 0 || name[plen] != '-')
		return 0;
	const char *p = name + plen + 1;
	if (*p < '1' || *p > '9')
		return 0;
	unsigned long n = 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (ULONG_MAX - 9) / 10)
			return 0;
		n = n * 10 + (unsigned long)(*p - '0');
	}
	return strcmp(p, "-link") == 0 ? n : 0;
}

/* Replaces (or creates) the symlink `name` in dir_fd atomically. */
static int replace_symlink_at(int dir_fd, const char *target, const char *name)
{
	char tmp[PROFILE_LINK_MAX + 32];
	snprintf(tmp, sizeof(tmp), ".%s.ip-tmp-%ld", name, (long)getpid());
	(void)unlinkat(dir_fd, tmp, 0);
	if (symlinkat(target, dir_fd, tmp) < 0)
		return -errno;
	if (renameat(dir_fd, tmp, dir_fd, name) < 0) {
		int r = -errno;
		(void)unlinkat(dir_fd, tmp, 0);
		return r;
	}
	return 0;
}

int profile_set_system(int root_fd, const char *store_path, bool sync,
		       char link_out[PROFILE_LINK_MAX], struct ip_error *err)
{
	int r;
	/* Component by component with O_NOFOLLOW: a symlink anywhere in
	 * nix/var/nix/profiles is refused, never followed out of the root. */
	int dir_fd = fs_mkdir_p_at(root_fd, PROFILE_DIR, 0755, err);
	if (dir_fd < 0)
		return dir_fd;
	int list_fd = dup(dir_fd);
	DIR *d = list_fd >= 0 ? fdopendir(list_fd) : NULL;
	if (!d) {
		r = ip_fail(err, -errno, "listing %s: %s", PROFILE_DIR, strerror(errno));
		if (list_fd >= 0)
			close(list_fd);
		goto out;
	}
	unsigned long highest = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		unsigned long n = profile_generation_of(PROFILE_SYSTEM, de->d_name);
		if (n > highest)
			highest = n;
		/* a temporary link of a run that was killed mid-switch */
		if (strncmp(de->d_name, "." PROFILE_SYSTEM ".ip-tmp-", strlen("." PROFILE_SYSTEM ".ip-tmp-")) == 0)
			(void)unlinkat(dir_fd, de->d_name, 0);
	}
	closedir(d);

	unsigned long gen = highest + 1;
	if (highest > 0) {
		char name[PROFILE_LINK_MAX], target[PATH_MAX];
		snprintf(name, sizeof(name), "%s-%lu-link", PROFILE_SYSTEM, highest);
		ssize_t k = readlinkat(dir_fd, name, target, sizeof(target) - 1);
		if (k > 0) {
			target[k] = '\0';
			if (strcmp(target, store_path) == 0)
				gen = highest;
		}
	}
	snprintf(link_out, PROFILE_LINK_MAX, "%s-%lu-link", PROFILE_SYSTEM, gen);
	if (gen != highest && symlinkat(store_path, dir_fd, link_out) < 0) {
		r = ip_fail(err, -errno, "creating %s/%s: %s", PROFILE_DIR, link_out,
			    strerror(errno));
		goto out;
	}
	r = replace_symlink_at(dir_fd, link_out, PROFILE_SYSTEM);
	if (r < 0) {
		ip_fail(err, r, "pointing %s/%s at %s: %s", PROFILE_DIR, PROFILE_SYSTEM, link_out,
			strerror(-r));
		goto out;
	}
	if (sync && fsync(dir_fd) < 0)
		r = ip_fail(err, -errno, "syncing %s: %s", PROFILE_DIR, strerror(errno));
out:
	close(dir_fd);
	return r;
}
