/* The registration file: what we write must be what `nix-store --dump-db`
 * writes (the text below was printed by real Nix 2.8 for two paths of the
 * test world), it must parse back, and bad files are refused line by line. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/registration.h"
#include "test.h"

#define P_SCRIPT "3xq4b2cf5hhqjrhml99jc2498pf4v06d-tw-script"
#define P_NOREF "mq8ldx4kahg093dj07cq86pdamrmdj7y-tw-noref"
#define P_DOTS "5cf4ss5fk300dqfvqng81g2z5sr6xlbn-name.with.dots-1.2.3"

/* nix-store --dump-db of two paths (Nix 2.8). */
static const char real_dump_db[] =
	"/nix/store/" P_SCRIPT "\n"
	"6442c6738ab246e041d9d98b7729e9449f85ef1157b0887bd987bbce2bb9b86e\n"
	"216\n"
	"/nix/store/hb693w26lk0dcky9mldcrjfsakcy1324-tw-script.drv\n"
	"1\n"
	"/nix/store/" P_NOREF "\n"
	"/nix/store/" P_DOTS "\n"
	"4374173a8cbe88de152b609f96f46e958bcf65762017474eec5a05ec2bd61530\n"
	"280\n"
	"/nix/store/2mva9nfm59imf95h04srg66sfz1nhhqm-name.with.dots-1.2.3.drv\n"
	"0\n";

static int hex_hash(const char *hex, struct nix_hash *out)
{
	return nix_hash_parse(hex, strlen(hex), out, NULL);
}

static void format_matches_real_nix(void)
{
	const char *refs[] = { P_NOREF };
	struct registration_entry e[2] = {
		{ .basename = P_SCRIPT, .nar_size = 216,
		  .deriver = "hb693w26lk0dcky9mldcrjfsakcy1324-tw-script.drv",
		  .references = refs, .n_references = 1 },
		{ .basename = P_DOTS, .nar_size = 280,
		  .deriver = "2mva9nfm59imf95h04srg66sfz1nhhqm-name.with.dots-1.2.3.drv" },
	};
	CHECK(hex_hash("6442c6738ab246e041d9d98b7729e9449f85ef1157b0887bd987bbce2bb9b86e",
		       &e[0].nar_hash) == 0);
	CHECK(hex_hash("4374173a8cbe88de152b609f96f46e958bcf65762017474eec5a05ec2bd61530",
		       &e[1].nar_hash) == 0);
	char *text = NULL;
	size_t len = 0;
	CHECK_INT(registration_format(e, 2, &text, &len), ==, 0);
	CHECK_INT(len, ==, strlen(real_dump_db));
	CHECK_STR(text, real_dump_db);
	free(text);
}

static void format_without_deriver(void)
{
	struct registration_entry e = { .basename = P_NOREF, .nar_size = 136 };
	char *text = NULL;
	size_t len = 0;
	CHECK_INT(registration_format(&e, 1, &text, &len), ==, 0);
	CHECK_STR(text, "/nix/store/" P_NOREF "\n"
			"0000000000000000000000000000000000000000000000000000000000000000\n"
			"136\n\n0\n");
	free(text);
}

struct collected {
	int n;
	char names[4][80];
	size_t refs[4];
	int derivers;
	uint64_t sizes[4];
};

static int collect(void *ctx, const struct registration_entry *e, struct ip_error *err)
{
	struct collected *c = ctx;
	if (c->n == 4)
		return ip_fail(err, -E2BIG, "too many");
	snprintf(c->names[c->n], sizeof(c->names[0]), "%s", e->basename);
	c->refs[c->n] = e->n_references;
	c->sizes[c->n] = e->nar_size;
	c->derivers += e->deriver != NULL;
	c->n++;
	return 0;
}

static void parse_real_nix(void)
{
	struct collected c = { 0 };
	struct ip_error err = { 0 };
	CHECK_INT(registration_parse(real_dump_db, strlen(real_dump_db), collect, &c, &err), ==, 0);
	CHECK_INT(c.n, ==, 2);
	CHECK_STR(c.names[0], P_SCRIPT);
	CHECK_STR(c.names[1], P_DOTS);
	CHECK_INT(c.refs[0], ==, 1);
	CHECK_INT(c.refs[1], ==, 0);
	CHECK_INT(c.sizes[0], ==, 216);
	CHECK_INT(c.derivers, ==, 2);
}

static void parse_empty_and_other_hash_forms(void)
{
	struct collected c = { 0 };
	CHECK_INT(registration_parse("", 0, collect, &c, NULL), ==, 0);
	CHECK_INT(c.n, ==, 0);
	static const char b32[] =
		"/nix/store/" P_NOREF "\n"
		"sha256:00rhm5k68h555gqih9aaqz95apw5hhnk54b985fycdym9l9g21a2\n136\n\n0\n";
	CHECK_INT(registration_parse(b32, strlen(b32), collect, &c, NULL), ==, 0);
	CHECK_INT(c.n, ==, 1);
}

static void parse_bad(void)
{
	static const struct {
		const char *name, *text, *error;
	} cases[] = {
		{ "no final newline", "/nix/store/" P_NOREF "\n"
		  "6442c6738ab246e041d9d98b7729e9449f85ef1157b0887bd987bbce2bb9b86e\n136\n\n0",
		  "line 5: missing reference count" },
		{ "not a store path", "/usr/bin/" P_NOREF "\n", "line 1: expected a store path" },
		{ "bad hash", "/nix/store/" P_NOREF "\nzz\n136\n\n0\n", "line 2: bad NarHash" },
		{ "bad size", "/nix/store/" P_NOREF "\n"
		  "6442c6738ab246e041d9d98b7729e9449f85ef1157b0887bd987bbce2bb9b86e\n-1\n\n0\n",
		  "line 3: bad NarSize" },
		{ "bad deriver", "/nix/store/" P_NOREF "\n"
		  "6442c6738ab246e041d9d98b7729e9449f85ef1157b0887bd987bbce2bb9b86e\n1\nfoo\n0\n",
		  "line 4: bad deriver" },
		{ "missing reference", "/nix/store/" P_NOREF "\n"
		  "6442c6738ab246e041d9d98b7729e9449f85ef1157b0887bd987bbce2bb9b86e\n1\n\n2\n"
		  "/nix/store/" P_DOTS "\n",
		  "line 7: missing reference" },
		{ "huge count", "/nix/store/" P_NOREF "\n"
		  "6442c6738ab246e041d9d98b7729e9449f85ef1157b0887bd987bbce2bb9b86e\n1\n\n99999999\n",
		  "line 5: bad reference count" },
		{ "bad reference", "/nix/store/" P_NOREF "\n"
		  "6442c6738ab246e041d9d98b7729e9449f85ef1157b0887bd987bbce2bb9b86e\n1\n\n1\n/nix/store/x\n",
		  "line 6: bad reference" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct collected c = { 0 };
		struct ip_error err = { 0 };
		int r = registration_parse(cases[i].text, strlen(cases[i].text), collect, &c, &err);
		if (r != -EBADMSG || !strstr(err.msg, cases[i].error)) {
			test_record_failure(__FILE__, __LINE__, "%s: r=%d msg='%s', want '%s'",
					    cases[i].name, r, err.msg, cases[i].error);
			return;
		}
	}
}

static void write_replaces_atomically(void)
{
	char dir[] = "/tmp/test-registration.XXXXXX";
	CHECK(mkdtemp(dir));
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0);
	/* a temporary left by a killed run, and an older file */
	int t = openat(fd, ".nix-path-registration.ip-tmp-99999", O_CREAT | O_WRONLY, 0644);
	CHECK(t >= 0);
	close(t);
	CHECK_INT(registration_write(fd, "old\n", 4, true, NULL), ==, 0);
	registration_cleanup_temps(fd);
	CHECK_INT(registration_write(fd, real_dump_db, strlen(real_dump_db), true, NULL), ==, 0);
	char *back = NULL;
	size_t len = 0;
	CHECK_INT(registration_read(fd, &back, &len, NULL), ==, 0);
	CHECK_INT(len, ==, strlen(real_dump_db));
	CHECK_STR(back, real_dump_db);
	free(back);
	/* nothing else is left in the directory */
	DIR *d = fdopendir(dup(fd));
	CHECK(d);
	int entries = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			entries++;
	closedir(d);
	CHECK_INT(entries, ==, 1);
	CHECK_INT(unlinkat(fd, REGISTRATION_FILE, 0), ==, 0);
	CHECK_INT(registration_read(fd, &back, &len, NULL), ==, -ENOENT);
	close(fd);
	rmdir(dir);
}

TEST_MAIN("registration",
	  TEST_CASE(format_matches_real_nix),
	  TEST_CASE(format_without_deriver),
	  TEST_CASE(parse_real_nix),
	  TEST_CASE(parse_empty_and_other_hash_forms),
	  TEST_CASE(parse_bad),
	  TEST_CASE(write_replaces_atomically))
