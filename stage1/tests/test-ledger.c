/* The ledger's text (store/ledger.h): what parses, what is refused with the
 * line named, and the identity of an entry on disk. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/ledger.h"
#include "test.h"

#define P1 "mq8ldx4kahg093dj07cq86pdamrmdj7y-tw-noref"
#define P2 "z4mq6ppcnwg5ldk2nxzxbd479m1jaca1-tw-mid"
#define HASH "sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s"
#define REG(p) "/nix/store/" p "\n" HASH "\n120\n\n0\n"

struct seen {
	unsigned ids, entries;
	struct tree_identity last;
	char last_name[256];
};

static int on_id(void *ctx, const char *basename, const struct tree_identity *id, struct ip_error *err)
{
	(void)err;
	struct seen *s = ctx;
	s->ids++;
	s->last = *id;
	snprintf(s->last_name, sizeof(s->last_name), "%s", basename);
	return 0;
}

static int on_entry(void *ctx, const struct registration_entry *e, struct ip_error *err)
{
	(void)e;
	(void)err;
	((struct seen *)ctx)->entries++;
	return 0;
}

static void table(void)
{
	static const struct {
		const char *name, *text;
		int r;
		unsigned ids, entries;
		const char *error;
	} cases[] = {
		{ "two paths", LEDGER_MAGIC "\n" P1 " 12 1700000000 5\n" P2 " 13 1700000001 999999999\n\n"
		  REG(P1) REG(P2), 0, 2, 2, NULL },
		{ "empty ledger", LEDGER_MAGIC "\n\n", 0, 0, 0, NULL },
		{ "not a ledger", "/nix/store/" P1 "\n", -EBADMSG, 0, 0, "line 1: not a ledger" },
		{ "other version", "initrd-provision ledger 2\n\n", -EBADMSG, 0, 0, "line 1: not a ledger" },
		{ "nothing", "", -EBADMSG, 0, 0, "line 1: not a ledger" },
		{ "no empty line", LEDGER_MAGIC "\n" P1 " 12 1700000000 5\n", -EBADMSG, 1, 0,
		  "line 3: no empty line" },
		{ "nanoseconds out of range", LEDGER_MAGIC "\n" P1 " 12 1700000000 1000000000\n\n", -EBADMSG, 0, 0,
		  "line 2: expected" },
		{ "a field missing", LEDGER_MAGIC "\n" P1 " 12 1700000000\n\n", -EBADMSG, 0, 0, "line 2" },
		{ "a field too many", LEDGER_MAGIC "\n" P1 " 12 1 2 3\n\n", -EBADMSG, 0, 0, "line 2" },
		{ "two spaces", LEDGER_MAGIC "\n" P1 "  12 1 2\n\n", -EBADMSG, 0, 0, "line 2" },
		{ "not a store path", LEDGER_MAGIC "\n../etc 12 1 2\n\n", -EBADMSG, 0, 0, "line 2" },
		{ "sign", LEDGER_MAGIC "\n" P1 " -12 1 2\n\n", -EBADMSG, 0, 0, "line 2" },
		{ "bad registration part", LEDGER_MAGIC "\n\n/nix/store/" P1 "\nnot-a-hash\n", -EBADMSG, 0, 0,
		  "registration file, line 2: bad NarHash" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct seen s = { 0 };
		struct ip_error err = { 0 };
		int r = ledger_parse(cases[i].text, strlen(cases[i].text), on_id, on_entry, &s, &err);
		bool ok = r == cases[i].r && s.ids == cases[i].ids && s.entries == cases[i].entries &&
			  (!cases[i].error || strstr(err.msg, cases[i].error));
		if (!ok)
			test_record_failure(__FILE__, __LINE__, "%s: r=%d ids=%u entries=%u \"%s\"", cases[i].name, r,
					    s.ids, s.entries, err.msg);
	}
}

static void identity_lines_round_trip(void)
{
	struct tree_identity id = { .ino = 18446744073709551615ull, .ctime_sec = 1796586589, .ctime_nsec = 123456789 };
	char text[LEDGER_LINE_MAX + 64];
	size_t n = (size_t)snprintf(text, sizeof(text), "%s\n", LEDGER_MAGIC);
	n += ledger_format_identity(P1, &id, text + n);
	text[n++] = '\n';
	text[n] = '\0';
	struct seen s = { 0 };
	CHECK_INT(ledger_parse(text, n, on_id, on_entry, &s, NULL), ==, 0);
	CHECK_INT(s.ids, ==, 1);
	CHECK_STR(s.last_name, P1);
	CHECK(tree_identity_equal(&s.last, &id));
}

/* An entry made again under the same name while the old one still exists
 * (moved aside) has another inode.  (Deleted first, the inode number may
 * come back, and then only the ctime tells them apart.) */
static void identity_changes_when_made_again(void)
{
	char dir[] = "/tmp/test-ledger.XXXXXX";
	CHECK(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0);
	struct stat a, b;
	struct tree_identity ia, ib;
	CHECK_INT(mkdirat(dfd, "p", 0555), ==, 0);
	CHECK_INT(fstatat(dfd, "p", &a, AT_SYMLINK_NOFOLLOW), ==, 0);
	tree_identity_of(&a, &ia);
	CHECK_INT(fstatat(dfd, "p", &b, AT_SYMLINK_NOFOLLOW), ==, 0);
	tree_identity_of(&b, &ib);
	CHECK(tree_identity_equal(&ia, &ib));
	CHECK_INT(renameat(dfd, "p", dfd, "old"), ==, 0);
	CHECK_INT(mkdirat(dfd, "p", 0555), ==, 0);
	CHECK_INT(fstatat(dfd, "p", &b, AT_SYMLINK_NOFOLLOW), ==, 0);
	tree_identity_of(&b, &ib);
	CHECK(!tree_identity_equal(&ia, &ib));
	unlinkat(dfd, "p", AT_REMOVEDIR);
	unlinkat(dfd, "old", AT_REMOVEDIR);
	close(dfd);
	rmdir(dir);
}

TEST_MAIN("ledger",
	  TEST_CASE(table),
	  TEST_CASE(identity_lines_round_trip),
	  TEST_CASE(identity_changes_when_made_again))
