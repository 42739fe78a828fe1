/* The target store: creation, the lock, temporaries of killed runs, the
 * rename into place that never replaces anything. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "test.h"

#define BASE "mq8ldx4kahg093dj07cq86pdamrmdj7y-tw-noref"

static char root[64];

static void make_root(void)
{
	snprintf(root, sizeof(root), "/tmp/test-store.XXXXXX");
	if (!mkdtemp(root))
		root[0] = '\0';
}

static void remove_root(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "chmod -R u+w %s; rm -rf %s", root, root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
}

static void creates_locks_and_cleans(void)
{
	make_root();
	CHECK(root[0]);
	char sub[192];
	snprintf(sub, sizeof(sub), "%s/deeper/root", root);
	struct store st, other;
	struct ip_error err = { 0 };
	CHECK_INT(store_open(sub, false, &st, &err), ==, 0);
	CHECK_INT(st.stale_removed, ==, 0);

	/* a second opener is turned away while the first holds the lock */
	CHECK_INT(store_open(sub, false, &other, &err), ==, -EBUSY);
	CHECK_CONTAINS(err.msg, "in use by another initrd-provision process");

	/* leave a temporary tree the way a killed run would: read-only dirs */
	char tmp[STORE_TEMP_NAME_MAX];
	store_temp_name(BASE, tmp);
	CHECK_STR(tmp, ".ip-tmp-" BASE);
	CHECK_INT(mkdirat(st.store_fd, tmp, 0755), ==, 0);
	char inner[STORE_TEMP_NAME_MAX + 8];
	snprintf(inner, sizeof(inner), "%s/bin", tmp);
	CHECK_INT(mkdirat(st.store_fd, inner, 0555), ==, 0);
	CHECK_INT(fchmodat(st.store_fd, tmp, 0555, 0), ==, 0);
	/* and a path that is whole (not ours to touch) */
	CHECK_INT(mkdirat(st.store_fd, "00000000000000000000000000000000-kept", 0555), ==, 0);
	store_close(&st);

	ip_error_clear(&err);
	CHECK_INT(store_open(sub, false, &st, &err), ==, 0);
	CHECK_INT(st.stale_removed, ==, 1);
	CHECK(!store_has(&st, tmp));
	CHECK(store_has(&st, "00000000000000000000000000000000-kept"));
	store_close(&st);
	remove_root();
}

static void commit_renames_but_never_replaces(void)
{
	make_root();
	CHECK(root[0]);
	struct store st;
	struct ip_error err = { 0 };
	CHECK_INT(store_open(root, true, &st, &err), ==, 0);
	char tmp[STORE_TEMP_NAME_MAX];
	store_temp_name(BASE, tmp);
	int fd = openat(st.store_fd, tmp, O_CREAT | O_WRONLY | O_EXCL, 0444);
	CHECK(fd >= 0);
	CHECK_INT(write(fd, "x", 1), ==, 1);
	close(fd);
	CHECK(!store_has(&st, BASE));
	CHECK_INT(store_sync_batch(&st, &err), ==, 0);
	CHECK_INT(store_commit(&st, BASE, &err), ==, 0);
	CHECK(store_has(&st, BASE));
	CHECK_INT(store_sync_dir(&st, &err), ==, 0);

	/* something at the final name: the commit fails and leaves it alone */
	fd = openat(st.store_fd, tmp, O_CREAT | O_WRONLY | O_EXCL, 0444);
	CHECK(fd >= 0);
	close(fd);
	CHECK_INT(store_commit(&st, BASE, &err), ==, -EEXIST);
	CHECK_CONTAINS(err.msg, "appeared while it was being fetched");
	struct stat sb;
	CHECK_INT(fstatat(st.store_fd, BASE, &sb, 0), ==, 0);
	CHECK_INT(sb.st_size, ==, 1);
	CHECK_INT(store_discard_temp(&st, BASE, &err), ==, 0);
	CHECK(fstatat(st.store_fd, tmp, &sb, AT_SYMLINK_NOFOLLOW) < 0);
	/* discarding nothing is fine */
	CHECK_INT(store_discard_temp(&st, BASE, &err), ==, 0);
	store_close(&st);
	remove_root();
}

static void symlink_at_final_name_counts_and_is_not_followed(void)
{
	make_root();
	CHECK(root[0]);
	struct store st;
	CHECK_INT(store_open(root, false, &st, NULL), ==, 0);
	CHECK_INT(symlinkat("/nonexistent/outside", st.store_fd, BASE), ==, 0);
	CHECK(store_has(&st, BASE));
	store_close(&st);
	remove_root();
}

/* A present path that is not whole is taken out of its final name at once
 * (a read-only tree, as store paths are), leaving nothing behind. */
static void move_aside_frees_the_final_name(void)
{
	make_root();
	CHECK(root[0]);
	struct store st;
	struct ip_error err = { 0 };
	CHECK_INT(store_open(root, false, &st, &err), ==, 0);
	CHECK_INT(mkdirat(st.store_fd, BASE, 0755), ==, 0);
	CHECK_INT(mkdirat(st.store_fd, BASE "/bin", 0555), ==, 0);
	CHECK_INT(fchmodat(st.store_fd, BASE, 0555, 0), ==, 0);
	CHECK_INT(store_move_aside(&st, BASE, &err), ==, 0);
	CHECK(!store_has(&st, BASE));
	char tmp[STORE_TEMP_NAME_MAX];
	store_temp_name(BASE, tmp);
	CHECK(!store_has(&st, tmp));
	/* a planted symlink goes the same way, its target untouched */
	CHECK_INT(symlinkat(root, st.store_fd, BASE), ==, 0);
	CHECK_INT(store_move_aside(&st, BASE, &err), ==, 0);
	CHECK(!store_has(&st, BASE));
	struct stat sb;
	CHECK_INT(stat(root, &sb), ==, 0);
	store_close(&st);
	remove_root();
}

TEST_MAIN("store",
	  TEST_CASE(creates_locks_and_cleans),
	  TEST_CASE(commit_renames_but_never_replaces),
	  TEST_CASE(symlink_at_final_name_counts_and_is_not_followed),
	  TEST_CASE(move_aside_frees_the_final_name))
