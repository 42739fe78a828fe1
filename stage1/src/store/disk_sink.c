#include "store/disk_sink.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

struct disk_sink {
	int parent_fd;
	unsigned flags;
	/* What the process's umask does to canonical file modes, learnt from
	 * the files of this tree: of the bits in mode_known, mode_stripped are
	 * the ones it removes. */
	mode_t mode_known, mode_stripped;
	bool root_started, root_done;
	unsigned depth;                  /* directories open */
	int dir_fds[NAR_MAX_DEPTH];      /* dir_fds[depth - 1] is the innermost */
	int file_fd;                     /* -1 when no file is open */
	bool file_exec;
	uint64_t file_left;              /* contents still to come */
	size_t buffered;
	unsigned long long bytes;
	/* "<root>/<dir>/<dir>" of the open directories (plus "/<file>" while a
	 * file is open), for messages; path_len[d] is the length of the path of
	 * dir_fds[d], path_len[0] that of the root name. */
	size_t path_len[NAR_MAX_DEPTH + 1];
	char path[(NAR_MAX_DEPTH + 1) * (NAR_MAX_NAME + 1) + 1];
	unsigned char buf[DISK_SINK_BUFFER];
};

static const struct timespec canonical_times[2] = { { 1, 0 }, { 1, 0 } };

/* Files are created with their canonical mode (0444/0555: the descriptor
 * from O_CREAT is writable whatever the mode), which saves a chmod per
 * file, unless the umask takes bits from it.  Which bits it takes is learnt
 * from the first file of each kind in a tree (one fstat), never by calling
 * umask(2): that changes the whole process's umask, and two workers doing
 * umask(0); umask(m) at once could leave it at 0 for good. */
static mode_t canonical_file_mode(bool executable)
{
	return executable ? 0555 : 0444;
}

/* Length of the path of the innermost open directory (or of the root name). */
static size_t dir_path_len(const struct disk_sink *s)
{
	return s->path_len[s->depth ? s->depth - 1 : 0];
}

/* "unpacking <dir>[/<name>]: <op>: <errno text>" */
static int sys_fail(struct disk_sink *s, const char *name, const char *op, int code,
		    struct ip_error *err)
{
	int dl = (int)dir_path_len(s);
	if (!name)
		return ip_fail(err, code, "unpacking %.*s: %s: %s", dl, s->path, op, strerror(-code));
	return ip_fail(err, code, "unpacking %.*s/%s: %s: %s", dl, s->path, name, op,
		       strerror(-code));
}

static bool name_ok(const char *name)
{
	return name[0] && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static void close_all(struct disk_sink *s)
{
	if (s->file_fd >= 0)
		close(s->file_fd);
	s->file_fd = -1;
	while (s->depth)
		close(s->dir_fds[--s->depth]);
}

/* Everything but the buffers, which need no clearing. */
static void start(struct disk_sink *s, int parent_dirfd, const char *name, unsigned flags)
{
	s->parent_fd = parent_dirfd;
	s->flags = flags;
	s->mode_known = s->mode_stripped = 0;
	s->root_started = s->root_done = false;
	s->depth = 0;
	s->file_fd = -1;
	s->file_exec = false;
	s->file_left = 0;
	s->buffered = 0;
	s->bytes = 0;
	s->path_len[0] = strlen(name);
	memcpy(s->path, name, s->path_len[0] + 1);
}

int disk_sink_open(int parent_dirfd, const char *name, unsigned flags, struct disk_sink **out,
		   struct ip_error *err)
{
	*out = NULL;
	if (!name_ok(name) || strlen(name) > NAR_MAX_NAME)
		return ip_fail(err, -EINVAL, "unpacking \"%s\": not a single path component", name);
	struct disk_sink *s = malloc(sizeof(*s));
	if (!s)
		return ip_fail(err, -ENOMEM, "unpacking %s: out of memory", name);
	start(s, parent_dirfd, name, flags);
	*out = s;
	return 0;
}

void disk_sink_close(struct disk_sink *s)
{
	close_all(s);
}

int disk_sink_reuse(struct disk_sink *s, int parent_dirfd, const char *name, unsigned flags,
		    struct ip_error *err)
{
	close_all(s);
	if (!name_ok(name) || strlen(name) > NAR_MAX_NAME)
		return ip_fail(err, -EINVAL, "unpacking \"%s\": not a single path component", name);
	start(s, parent_dirfd, name, flags);
	return 0;
}

/* Directory and name for the node being created; NULL name means the root. */
static int node_parent(struct disk_sink *s, const char *name, int *pfd, const char **nm,
		       struct ip_error *err)
{
	if (s->file_fd >= 0)
		return ip_fail(err, -EINVAL, "unpacking %s: new entry while a file is open", s->path);
	if (!name) {
		if (s->root_started)
			return ip_fail(err, -EINVAL, "unpacking %.*s: second root", (int)s->path_len[0],
				       s->path);
		s->root_started = true;
		*pfd = s->parent_fd;
		*nm = s->path; /* just the root name while no directory is open */
		return 0;
	}
	if (!s->depth || !name_ok(name) || strlen(name) > NAR_MAX_NAME)
		return ip_fail(err, -EINVAL, "unpacking %s: bad entry name", s->path);
	*pfd = s->dir_fds[s->depth - 1];
	*nm = name;
	return 0;
}

static int sink_directory_begin(void *sink, const char *name, struct ip_error *err)
{
	struct disk_sink *s = sink;
	const char *nm;
	int pfd, r = node_parent(s, name, &pfd, &nm, err);
	if (r < 0)
		return r;
	if (s->depth >= NAR_MAX_DEPTH)
		return ip_fail(err, -ELOOP, "unpacking %s: directories nested too deep", s->path);
	/* Writable for us until directory_end sets the canonical 0555. */
	if (mkdirat(pfd, nm, 0700) < 0)
		return sys_fail(s, name, "mkdir", -errno, err);
	int fd = openat(pfd, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sys_fail(s, name, "open", -errno, err);
	if (name) {
		size_t pl = s->path_len[s->depth - 1], n = strlen(name);
		s->path[pl] = '/';
		memcpy(s->path + pl + 1, name, n + 1);
		s->path_len[s->depth] = pl + 1 + n;
	}
	s->dir_fds[s->depth++] = fd;
	return 0;
}

static int sink_directory_end(void *sink, struct ip_error *err)
{
	struct disk_sink *s = sink;
	if (!s->depth || s->file_fd >= 0)
		return ip_fail(err, -EINVAL, "unpacking %s: unbalanced directory end", s->path);
	int fd = s->dir_fds[s->depth - 1];
	int r = 0;
	if (fchmod(fd, 0555) < 0)
		r = sys_fail(s, NULL, "chmod", -errno, err);
	else if (futimens(fd, canonical_times) < 0)
		r = sys_fail(s, NULL, "set mtime", -errno, err);
	else if ((s->flags & DISK_SINK_FSYNC) && fsync(fd) < 0)
		r = sys_fail(s, NULL, "fsync", -errno, err);
	if (close(fd) < 0 && r == 0)
		r = sys_fail(s, NULL, "close", -errno, err);
	s->depth--;
	s->path[dir_path_len(s)] = '\0';
	if (s->depth == 0)
		s->root_done = true;
	return r;
}

static int sink_file_begin(void *sink, const char *name, bool executable, uint64_t size,
			   struct ip_error *err)
{
	struct disk_sink *s = sink;
	const char *nm;
	int pfd, r = node_parent(s, name, &pfd, &nm, err);
	if (r < 0)
		return r;
	int fd = openat(pfd, nm, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			canonical_file_mode(executable));
	if (fd < 0)
		return sys_fail(s, name, "open", -errno, err);
	s->file_fd = fd;
	s->file_exec = executable;
	s->file_left = size;
	s->buffered = 0;
	/* The name is needed again for messages only while the file is open. */
	if (name) {
		size_t pl = s->path_len[s->depth - 1], n = strlen(name);
		s->path[pl] = '/';
		memcpy(s->path + pl + 1, name, n + 1);
	}
	return 0;
}

/* Messages about the open file: its path is in s->path (see file_begin). */
static int file_fail(struct disk_sink *s, const char *op, int code, struct ip_error *err)
{
	return ip_fail(err, code, "unpacking %s: %s: %s", s->path, op, strerror(-code));
}

static int sink_file_data(void *sink, const void *data, size_t len, struct ip_error *err)
{
	struct disk_sink *s = sink;
	if (s->file_fd < 0 || len > s->file_left)
		return ip_fail(err, -EINVAL, "unpacking %s: file data out of place", s->path);
	s->file_left -= len;
	s->bytes += len;
	/* Small pieces are gathered; once the gathered bytes and this piece
	 * fill the buffer, or the file is complete, both go out in one writev
	 * (no piece is copied once it is big enough to write by itself). */
	if (s->buffered + len < DISK_SINK_BUFFER && s->file_left != 0) {
		memcpy(s->buf + s->buffered, data, len);
		s->buffered += len;
		return 0;
	}
	int r = fs_write2_all(s->file_fd, s->buf, s->buffered, data, len);
	s->buffered = 0;
	return r < 0 ? file_fail(s, "write", r, err) : 0;
}

static int sink_file_end(void *sink, struct ip_error *err)
{
	struct disk_sink *s = sink;
	if (s->file_fd < 0 || s->file_left)
		return ip_fail(err, -EINVAL, "unpacking %s: file ended early", s->path);
	/* nothing is left gathered: the piece that completed the file wrote it */
	int fd = s->file_fd, r = 0;
	mode_t mode = canonical_file_mode(s->file_exec);
	if (mode & ~s->mode_known) {
		struct stat st;
		if (fstat(fd, &st) < 0)
			r = file_fail(s, "stat", -errno, err);
		else
			s->mode_stripped |= mode & ~st.st_mode;
		s->mode_known |= mode;
	}
	if (r == 0 && (mode & s->mode_stripped) && fchmod(fd, mode) < 0)
		r = file_fail(s, "chmod", -errno, err);
	if (r == 0 && futimens(fd, canonical_times) < 0)
		r = file_fail(s, "set mtime", -errno, err);
	if (r == 0 && (s->flags & DISK_SINK_FSYNC) && fsync(fd) < 0)
		r = file_fail(s, "fsync", -errno, err);
	if (close(fd) < 0 && r == 0)
		r = file_fail(s, "close", -errno, err);
	s->file_fd = -1;
	s->path[dir_path_len(s)] = '\0';
	if (s->depth == 0)
		s->root_done = true;
	return r;
}

static int sink_symlink(void *sink, const char *name, const char *target, struct ip_error *err)
{
	struct disk_sink *s = sink;
	const char *nm;
	int pfd, r = node_parent(s, name, &pfd, &nm, err);
	if (r < 0)
		return r;
	if (symlinkat(target, pfd, nm) < 0)
		return sys_fail(s, name, "symlink", -errno, err);
	if (utimensat(pfd, nm, canonical_times, AT_SYMLINK_NOFOLLOW) < 0)
		return sys_fail(s, name, "set mtime", -errno, err);
	if (!name)
		s->root_done = true;
	return 0;
}

const struct nar_sink_ops disk_sink_ops = {
	.directory_begin = sink_directory_begin,
	.directory_end = sink_directory_end,
	.file_begin = sink_file_begin,
	.file_data = sink_file_data,
	.file_end = sink_file_end,
	.symlink = sink_symlink,
};

int disk_sink_finish(struct disk_sink *s, struct ip_error *err)
{
	if (!s->root_done || s->depth || s->file_fd >= 0)
		return ip_fail(err, -EINVAL, "unpacking %.*s: the archive is incomplete",
			       (int)s->path_len[0], s->path);
	return 0;
}

unsigned long long disk_sink_bytes(const struct disk_sink *s)
{
	return s->bytes;
}

void disk_sink_free(struct disk_sink *s)
{
	if (!s)
		return;
	close_all(s);
	free(s);
}
