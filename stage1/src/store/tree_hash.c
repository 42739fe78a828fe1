#include "store/tree_hash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nix/nar_write.h"
#include "util/sha256.h"

#define READ_CHUNK (256 * 1024)
/* The NAR framing of a directory entry with the shortest node (a symlink
 * with a one-byte target) is well over this: a listing whose names and
 * entries would need more NAR than is left cannot match and is not read
 * further. */
#define ENTRY_NAR_MIN 96

struct walk {
	struct nar_writer w;
	struct sha256 sha;
	uint64_t max_size;
	unsigned char *buf;
	char path[4096];          /* of the node being walked, for messages */
};

static int hash_out(void *ctx, const void *data, size_t len, struct ip_error *err)
{
	struct walk *k = ctx;
	if (k->w.bytes + len > k->max_size)
		return ip_fail(err, -EFBIG, "%s: more than %llu bytes of NAR", k->path,
			       (unsigned long long)k->max_size);
	sha256_update(&k->sha, data, len);
	return 0;
}

/* Appends "/name" to k->path for the duration of a node; returns the old length. */
static size_t path_push(struct walk *k, const char *name)
{
	size_t old = strlen(k->path);
	snprintf(k->path + old, sizeof(k->path) - old, "/%s", name);
	return old;
}

static int sys_fail(struct walk *k, const char *op, int code, struct ip_error *err)
{
	return ip_fail(err, code, "%s: %s: %s", k->path, op, strerror(-code));
}

static int walk_node(struct walk *k, int dirfd, const char *name, const char *entry,
		     unsigned depth, struct ip_error *err);

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names in a directory (without "." and ".."), sorted bytewise as Nix
 * writes them. */
static int list_dir(struct walk *k, int fd, char ***names_out, size_t *n_out, struct ip_error *err)
{
	int dup_fd = dup(fd);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!d) {
		int e = -errno;
		if (dup_fd >= 0)
			close(dup_fd);
		return sys_fail(k, "reading the directory", e, err);
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	uint64_t need = k->w.bytes;
	int r = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		need += ENTRY_NAR_MIN + strlen(de->d_name);
		if (need > k->max_size) {
			r = ip_fail(err, -EFBIG, "%s: more entries than %llu bytes of NAR can hold",
				    k->path, (unsigned long long)k->max_size);
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			char **bigger = realloc(names, cap * sizeof(*names));
			if (!bigger) {
				r = ip_fail(err, -ENOMEM, "%s: out of memory", k->path);
				break;
			}
			names = bigger;
		}
		if (!(names[n] = strdup(de->d_name))) {
			r = ip_fail(err, -ENOMEM, "%s: out of memory", k->path);
			break;
		}
		n++;
	}
	if (r == 0 && errno)
		r = sys_fail(k, "reading the directory", -errno, err);
	closedir(d);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
		return r;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	*names_out = names;
	*n_out = n;
	return 0;
}

static int walk_dir(struct walk *k, int fd, const char *entry, unsigned depth, struct ip_error *err)
{
	if (depth >= NAR_MAX_DEPTH)
		return ip_fail(err, -EBADMSG, "%s: directories nested deeper than %d", k->path,
			       NAR_MAX_DEPTH);
	char **names = NULL;
	size_t n = 0;
	int r = list_dir(k, fd, &names, &n, err);
	if (r < 0)
		return r;
	r = nar_writer_ops.directory_begin(&k->w, entry, err);
	for (size_t i = 0; i < n && r == 0; i++)
		r = walk_node(k, fd, names[i], names[i], depth + 1, err);
	if (r == 0)
		r = nar_writer_ops.directory_end(&k->w, err);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

static int walk_file(struct walk *k, int fd, const char *entry, struct ip_error *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return sys_fail(k, "stat", -errno, err);
	if (!S_ISREG(st.st_mode))
		return ip_fail(err, -EBADMSG, "%s: changed while it was hashed", k->path);
	uint64_t left = (uint64_t)st.st_size;
	int r = nar_writer_ops.file_begin(&k->w, entry, (st.st_mode & S_IXUSR) != 0, left, err);
	while (r == 0 && left > 0) {
		ssize_t got = read(fd, k->buf, left < READ_CHUNK ? (size_t)left : READ_CHUNK);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return sys_fail(k, "read", -errno, err);
		if (got == 0)
			return ip_fail(err, -EIO, "%s: shrank while it was hashed", k->path);
		left -= (uint64_t)got;
		r = nar_writer_ops.file_data(&k->w, k->buf, (size_t)got, err);
	}
	if (r == 0)
		r = nar_writer_ops.file_end(&k->w, err);
	return r;
}

/* One node: `name` inside dirfd; `entry` is its NAR entry name (NULL for
 * the root). */
static int walk_node(struct walk *k, int dirfd, const char *name, const char *entry,
		     unsigned depth, struct ip_error *err)
{
	size_t old = entry ? path_push(k, entry) : strlen(k->path);
	struct stat st;
	int r = 0, fd = -1;
	if (entry && strlen(entry) > NAR_MAX_NAME) {
		r = ip_fail(err, -EBADMSG, "%s: name longer than %d bytes", k->path, NAR_MAX_NAME);
		goto out;
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		r = sys_fail(k, "stat", -errno, err);
		goto out;
	}
	if (S_ISLNK(st.st_mode)) {
		char target[NAR_MAX_TARGET + 2];
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target));
		if (n < 0)
			r = sys_fail(k, "readlink", -errno, err);
		else if (n == 0 || (size_t)n > NAR_MAX_TARGET)
			r = ip_fail(err, -EBADMSG, "%s: symlink target empty or longer than %d bytes",
				    k->path, NAR_MAX_TARGET);
		else {
			target[n] = '\0';
			r = nar_writer_ops.symlink(&k->w, entry, target, err);
		}
	} else if (S_ISDIR(st.st_mode)) {
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		r = fd < 0 ? sys_fail(k, "open", -errno, err) : walk_dir(k, fd, entry, depth, err);
	} else if (S_ISREG(st.st_mode)) {
		/* O_NONBLOCK: should it have become a fifo since the stat, the
		 * open does not wait for a writer (walk_file then refuses it). */
		fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		r = fd < 0 ? sys_fail(k, "open", -errno, err) : walk_file(k, fd, entry, err);
	} else {
		r = ip_fail(err, -EBADMSG, "%s: not a file, directory or symlink (mode %o)", k->path,
			    (unsigned)st.st_mode);
	}
out:
	if (fd >= 0)
		close(fd);
	k->path[old] = '\0';
	return r;
}

int tree_nar_hash(int dirfd, const char *name, uint64_t max_size, struct nix_hash *hash,
		  uint64_t *size, struct ip_error *err)
{
	struct walk *k = malloc(sizeof(*k));
	unsigned char *buf = malloc(READ_CHUNK);
	int r;
	if (!k || !buf) {
		r = ip_fail(err, -ENOMEM, "%s: out of memory", name);
		goto out;
	}
	nar_writer_init(&k->w, hash_out, k);
	sha256_init(&k->sha);
	k->max_size = max_size;
	k->buf = buf;
	snprintf(k->path, sizeof(k->path), "%s", name);
	r = walk_node(k, dirfd, name, NULL, 0, err);
	if (r == 0) {
		sha256_final(&k->sha, hash->bytes);
		*size = k->w.bytes;
	}
out:
	free(buf);
	free(k);
	return r;
}
