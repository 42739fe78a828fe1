/* The system profile links, as `nix-env --profile P --set` makes them. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/profile.h"
#include "test.h"

#define SYS1 "/nix/store/985r3a1lvg3qf14jbvr10s7d2vmhv22d-tw-root"
#define SYS2 "/nix/store/mq8ldx4kahg093dj07cq86pdamrmdj7y-tw-noref"

static void generation_numbers(void)
{
	static const struct {
		const char *name;
		unsigned long want;
	} cases[] = {
		{ "system-1-link", 1 }, { "system-42-link", 42 }, { "system-0-link", 0 },
		{ "system-01-link", 0 }, { "system-1-lin", 0 }, { "system--1-link", 0 },
		{ "system-1-link.tmp", 0 }, { "system", 0 }, { "systems-1-link", 0 },
		{ "other-3-link", 0 }, { "system-x-link", 0 },
		{ "system-99999999999999999999999-link", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned long got = profile_generation_of("system", cases[i].name);
		if (got != cases[i].want) {
			test_record_failure(__FILE__, __LINE__, "%s: %lu, want %lu", cases[i].name, got,
					    cases[i].want);
			return;
		}
	}
}

static char *link_of(int root, const char *rel)
{
	static char buf[PATH_MAX];
	ssize_t k = readlinkat(root, rel, buf, sizeof(buf) - 1);
	if (k < 0)
		return NULL;
	buf[k] = '\0';
	return buf;
}

static void links_like_nix_env(void)
{
	char dir[] = "/tmp/test-profile.XXXXXX";
	CHECK(mkdtemp(dir));
	int root = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(root >= 0);
	char gen[PROFILE_LINK_MAX];

	CHECK_INT(profile_set_system(root, SYS1, true, gen, NULL), ==, 0);
	CHECK_STR(gen, "system-1-link");
	CHECK_STR(link_of(root, "nix/var/nix/profiles/system"), "system-1-link");
	CHECK_STR(link_of(root, "nix/var/nix/profiles/system-1-link"), SYS1);

	/* the same system again: no new generation */
	CHECK_INT(profile_set_system(root, SYS1, true, gen, NULL), ==, 0);
	CHECK_STR(gen, "system-1-link");
	CHECK(link_of(root, "nix/var/nix/profiles/system-2-link") == NULL);

	/* another system: the next number */
	CHECK_INT(profile_set_system(root, SYS2, true, gen, NULL), ==, 0);
	CHECK_STR(gen, "system-2-link");
	CHECK_STR(link_of(root, "nix/var/nix/profiles/system"), "system-2-link");
	CHECK_STR(link_of(root, "nix/var/nix/profiles/system-2-link"), SYS2);

	/* generations with gaps (old ones deleted): one more than the highest */
	CHECK_INT(symlinkat(SYS2, root, "nix/var/nix/profiles/system-7-link"), ==, 0);
	CHECK_INT(profile_set_system(root, SYS1, true, gen, NULL), ==, 0);
	CHECK_STR(gen, "system-8-link");
	CHECK_STR(link_of(root, "nix/var/nix/profiles/system"), "system-8-link");
	/* no temporary left behind */
	CHECK(faccessat(root, "nix/var/nix/profiles/.system.ip-tmp", F_OK, AT_SYMLINK_NOFOLLOW) < 0);
	close(root);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_INT(system(cmd), ==, 0);
}

TEST_MAIN("profile",
	  TEST_CASE(generation_numbers),
	  TEST_CASE(links_like_nix_env))
