/* The NAR writer and the tree hasher: real NARs (made by Nix) parsed into
 * the writer come out byte for byte; unpacked to disk, their trees hash to
 * the NarHash Nix computed; any change to a tree (a file changed, an entry
 * added, a partial tree, a dangling symlink in place of a directory) gives
 * another hash, and trees no NAR can describe are refused. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nix/hash.h"
#include "nix/nar.h"
#include "nix/nar_write.h"
#include "store/disk_sink.h"
#include "store/tree_hash.h"
#include "support/nar_builder.h"
#include "test.h"
#include "util/fs.h"


struct buffer {
	unsigned char *data;
	size_t len, cap;
};

static int to_buffer(void *ctx, const void *data, size_t len, struct ip_error *err)
{
	struct buffer *b = ctx;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len)
			cap *= 2;
		unsigned char *bigger = realloc(b->data, cap);
		if (!bigger)
			return ip_fail(err, -ENOMEM, "out of memory");
		b->data = bigger;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

static void writer_rewrites_real_nars(void)
{
	static const size_t chunks[] = { 0, 1, 7, 4096 };
	for (size_t i = 0; i < NAR_FIXTURE_COUNT; i++) {
		size_t len;
		unsigned char *nar = nar_fixture_load(nar_fixture_names[i], "nar", &len);
		CHECK(nar);
		for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			struct buffer b = { 0 };
			struct nar_writer w;
			nar_writer_init(&w, to_buffer, &b);
			struct ip_error err = { 0 };
			int r = nar_feed_chunked(&nar_writer_ops, &w, nar, len, chunks[c], &err);
			bool same = r == 0 && b.len == len && w.bytes == len && memcmp(b.data, nar, len) == 0;
			free(b.data);
			if (!same) {
				free(nar);
				test_record_failure(__FILE__, __LINE__, "%s, chunk %zu: %d %s, %zu bytes of %zu",
						    nar_fixture_names[i], chunks[c], r, err.msg, b.len, len);
				return;
			}
		}
		free(nar);
	}
}

static void writer_refuses_calls_out_of_order(void)
{
	struct buffer b = { 0 };
	struct nar_writer w;
	struct ip_error err = { 0 };
	nar_writer_init(&w, to_buffer, &b);
	CHECK_INT(nar_writer_ops.file_begin(&w, "x", false, 1, &err), ==, -EINVAL); /* entry at top */
	nar_writer_init(&w, to_buffer, &b);
	CHECK_INT(nar_writer_ops.file_begin(&w, NULL, false, 2, &err), ==, 0);
	CHECK_INT(nar_writer_ops.file_data(&w, "abc", 3, &err), ==, -EINVAL); /* beyond the size */
	CHECK_INT(nar_writer_ops.file_end(&w, &err), ==, -EINVAL);            /* 2 bytes missing */
	CHECK_INT(nar_writer_ops.directory_begin(&w, "d", &err), ==, -EINVAL);
	CHECK_CONTAINS(err.msg, "out of order");
	free(b.data);
}

/* A fresh scratch directory; returns an O_DIRECTORY fd, path in `path`. */
static int scratch(char *path, size_t size)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(path, size, "%s/test-tree-hash.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(path))
		return -1;
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void scratch_done(int fd, const char *path)
{
	fs_remove_tree_at(fd, "out", NULL);
	close(fd);
	rmdir(path);
}

static int unpack(int dirfd, const char *name, const unsigned char *nar, size_t len,
		  struct ip_error *err)
{
	struct disk_sink *s;
	int r = disk_sink_open(dirfd, name, 0, &s, err);
	if (r < 0)
		return r;
	r = nar_feed_chunked(&disk_sink_ops, s, nar, len, 0, err);
	if (r == 0)
		r = disk_sink_finish(s, err);
	disk_sink_free(s);
	return r;
}

static bool expected_hash(const char *name, struct nix_hash *out)
{
	size_t len;
	char *text = (char *)nar_fixture_load(name, "narhash", &len);
	if (!text)
		return false;
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		len--;
	bool ok = nix_hash_parse(text, len, out, NULL) == 0;
	free(text);
	return ok;
}

static void unpacked_real_nars_hash_to_their_narhash(void)
{
	char dir[4096];
	int dfd = scratch(dir, sizeof(dir));
	CHECK(dfd >= 0);
	for (size_t i = 0; i < NAR_FIXTURE_COUNT; i++) {
		size_t len;
		unsigned char *nar = nar_fixture_load(nar_fixture_names[i], "nar", &len);
		struct nix_hash want, got;
		uint64_t size = 0;
		struct ip_error err = { 0 };
		bool ok = nar && expected_hash(nar_fixture_names[i], &want) && unpack(dfd, "out", nar, len, &err) == 0 &&
			  tree_nar_hash(dfd, "out", len, &got, &size, &err) == 0 && size == len &&
			  nix_hash_equal(&got, &want);
		free(nar);
		fs_remove_tree_at(dfd, "out", NULL);
		if (!ok) {
			test_record_failure(__FILE__, __LINE__, "%s: %s (size %llu of %zu)", nar_fixture_names[i], err.msg,
					    (unsigned long long)size, len);
			break;
		}
	}
	scratch_done(dfd, dir);
}

/* The "tree" NAR unpacked to dir/out, then changed by `change`; returns
 * tree_nar_hash's result against the good NarHash: 1 same, 0 different,
 * negative an error. */
static int hash_after(void (*change)(int dfd, const char *dir), struct ip_error *err)
{
	char dir[4096];
	int dfd = scratch(dir, sizeof(dir));
	if (dfd < 0)
		return -EIO;
	size_t len;
	unsigned char *nar = nar_fixture_load("tree", "nar", &len);
	struct nix_hash want, got;
	uint64_t size = 0;
	int r = nar && expected_hash("tree", &want) ? unpack(dfd, "out", nar, len, err) : -EIO;
	free(nar);
	if (r == 0) {
		change(dfd, dir);
		r = tree_nar_hash(dfd, "out", len, &got, &size, err);
		if (r == 0)
			r = size == len && nix_hash_equal(&got, &want);
	}
	scratch_done(dfd, dir);
	return r;
}

static void sh(const char *dir, const char *cmd)
{
	char line[8192];
	snprintf(line, sizeof(line), "cd '%s/out' && chmod -R u+w . && %s", dir, cmd);
	if (system(line) != 0)
		test_record_failure(__FILE__, __LINE__, "setup failed: %s", cmd);
}

static void no_change(int dfd, const char *dir) { (void)dfd; (void)dir; }
static void one_byte_changed(int dfd, const char *dir) { (void)dfd; sh(dir, "printf x | dd of=big bs=1 seek=5000 conv=notrunc 2>/dev/null"); }
static void extra_file(int dfd, const char *dir) { (void)dfd; sh(dir, "echo > extra"); }
static void file_missing(int dfd, const char *dir) { (void)dfd; sh(dir, "rm big"); }
static void exec_bit_added(int dfd, const char *dir) { (void)dfd; sh(dir, "chmod +x Z"); }
static void truncated(int dfd, const char *dir) { (void)dfd; sh(dir, "truncate -s 100 big"); }

static void changes_change_the_hash(void)
{
	struct ip_error err = { 0 };
	CHECK_INT(hash_after(no_change, &err), ==, 1);
	CHECK_INT(hash_after(one_byte_changed, &err), ==, 0);
	CHECK_INT(hash_after(truncated, &err), ==, 0);
	CHECK_INT(hash_after(file_missing, &err), ==, 0);
	/* more NAR than the signed NarSize: stopped as soon as it is */
	CHECK_INT(hash_after(extra_file, &err), ==, -EFBIG);
	CHECK_CONTAINS(err.msg, "bytes of NAR");
	ip_error_clear(&err);
	CHECK_INT(hash_after(exec_bit_added, &err), ==, -EFBIG); /* "executable" "" is 32 bytes more */
}

static void dangling_symlink_fifo_and_limits(void)
{
	char dir[4096];
	int dfd = scratch(dir, sizeof(dir));
	CHECK(dfd >= 0);
	struct nix_hash h;
	uint64_t size;
	struct ip_error err = { 0 };
	/* a dangling symlink where a tree should be: hashed as the symlink,
	 * never followed */
	CHECK_INT(symlinkat("/nonexistent/outside", dfd, "out"), ==, 0);
	CHECK_INT(tree_nar_hash(dfd, "out", 1 << 20, &h, &size, &err), ==, 0);
	CHECK(size > 0 && size < 200);
	CHECK_INT(unlinkat(dfd, "out", 0), ==, 0);
	/* a symlink to a directory inside: not followed either */
	CHECK_INT(mkdirat(dfd, "out", 0755), ==, 0);
	CHECK_INT(symlinkat("/", dfd, "out/root"), ==, 0);
	CHECK_INT(tree_nar_hash(dfd, "out", 1 << 20, &h, &size, &err), ==, 0);
	CHECK(size < 400);
	/* a fifo cannot be in a NAR (and opening it must not wait) */
	CHECK_INT(mkfifoat(dfd, "out/pipe", 0644), ==, 0);
	CHECK_INT(tree_nar_hash(dfd, "out", 1 << 20, &h, &size, &err), ==, -EBADMSG);
	CHECK_CONTAINS(err.msg, "out/pipe: not a file, directory or symlink");
	CHECK_INT(unlinkat(dfd, "out/pipe", 0), ==, 0);
	ip_error_clear(&err);
	/* nested deeper than a NAR may be */
	char deep[4096] = "out";
	for (int i = 0; i < NAR_MAX_DEPTH; i++) {
		strcat(deep, "/d");
		CHECK_INT(mkdirat(dfd, deep, 0755), ==, 0);
	}
	CHECK_INT(tree_nar_hash(dfd, "out", 1 << 20, &h, &size, &err), ==, -EBADMSG);
	CHECK_CONTAINS(err.msg, "nested deeper");
	/* nothing there */
	CHECK_INT(tree_nar_hash(dfd, "absent", 1 << 20, &h, &size, &err), ==, -ENOENT);
	scratch_done(dfd, dir);
}

TEST_MAIN("tree-hash",
	  TEST_CASE(writer_rewrites_real_nars),
	  TEST_CASE(writer_refuses_calls_out_of_order),
	  TEST_CASE(unpacked_real_nars_hash_to_their_narhash),
	  TEST_CASE(changes_change_the_hash),
	  TEST_CASE(dangling_symlink_fifo_and_limits))
