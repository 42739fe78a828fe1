/* The NAR parser: real archives from `nix-store --dump` (with the tree each
 * was made from, as written by tools/make-format-fixtures), every chunking,
 * and a table of malformed archives, which are also committed as files under
 * data/nars/bad/ for the fuzzer (IP_WRITE_BAD_NARS=1 rewrites them). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "nix/nar.h"
#include "support/nar_builder.h"
#include "test.h"

static const char *const real_nars[] = {
	"tree", "file", "empty-file", "exec", "symlink", "empty-dir", "limits", "deep",
};
#define N_REAL (sizeof(real_nars) / sizeof(real_nars[0]))

struct blob {
	unsigned char *data;
	size_t len;
};

/* data/nars/<name>.<ext> */
static struct blob load(const char *name, const char *ext)
{
	char rel[256];
	snprintf(rel, sizeof(rel), "nars/%s.%s", name, ext);
	struct blob b = { 0 };
	b.data = test_read_data(rel, &b.len);
	return b;
}

/* Parses `nar` in chunks with the recording sink; compares with `want`. */
static bool events_match(const struct blob *nar, const struct blob *want, size_t chunk,
			 char *why, size_t why_size)
{
	struct nar_record rec;
	nar_record_init(&rec);
	struct ip_error err = { 0 };
	int r = nar_feed_chunked(&nar_record_ops, &rec, nar->data, nar->len, chunk, &err);
	bool ok = false;
	if (r != 0)
		snprintf(why, why_size, "chunk %zu: parse failed: %s", chunk, ip_error_str(&err));
	else if (rec.order_error[0])
		snprintf(why, why_size, "chunk %zu: callback order: %s", chunk, rec.order_error);
	else if (!rec.done || rec.depth)
		snprintf(why, why_size, "chunk %zu: archive not closed", chunk);
	else if (rec.log_len != want->len || memcmp(rec.log, want->data, want->len) != 0)
		snprintf(why, why_size, "chunk %zu: events differ from the tree:\n%s\nexpected:\n%.*s",
			 chunk, rec.log ? rec.log : "", (int)want->len, (const char *)want->data);
	else
		ok = true;
	nar_record_free(&rec);
	return ok;
}

static void real_nars_give_the_tree(void)
{
	for (size_t i = 0; i < N_REAL; i++) {
		struct blob nar = load(real_nars[i], "nar"), tsv = load(real_nars[i], "tsv");
		CHECK(nar.data && tsv.data);
		char why[4096];
		bool ok = events_match(&nar, &tsv, 0, why, sizeof(why));
		free(nar.data);
		free(tsv.data);
		if (!ok)
			test_record_failure(__FILE__, __LINE__, "%s: %s", real_nars[i], why);
		CHECK(ok);
	}
}

static void every_chunk_size_gives_the_same_events(void)
{
	for (size_t i = 0; i < N_REAL; i++) {
		struct blob nar = load(real_nars[i], "nar"), tsv = load(real_nars[i], "tsv");
		CHECK(nar.data && tsv.data);
		char why[4096];
		bool ok = true;
		for (size_t chunk = 1; chunk <= 17 && ok; chunk++)
			ok = events_match(&nar, &tsv, chunk, why, sizeof(why));
		if (ok)
			ok = events_match(&nar, &tsv, 4096, why, sizeof(why));
		free(nar.data);
		free(tsv.data);
		if (!ok)
			test_record_failure(__FILE__, __LINE__, "%s: %s", real_nars[i], why);
		CHECK(ok);
	}
}

/* Contents are handed over as slices of the input, not byte by byte: fed
 * whole, each non-empty file arrives in exactly one piece. */
static void contents_pass_through_in_slices(void)
{
	struct blob nar = load("tree", "nar");
	CHECK(nar.data);
	struct nar_record rec;
	nar_record_init(&rec);
	struct ip_error err = { 0 };
	int r = nar_feed_chunked(&nar_record_ops, &rec, nar.data, nar.len, 0, &err);
	unsigned long pieces_whole = rec.pieces;
	nar_record_free(&rec);
	nar_record_init(&rec);
	int r2 = nar_feed_chunked(&nar_record_ops, &rec, nar.data, nar.len, 1000, &err);
	unsigned long pieces_1000 = rec.pieces;
	nar_record_free(&rec);
	free(nar.data);
	CHECK_INT(r, ==, 0);
	CHECK_INT(r2, ==, 0);
	CHECK_INT(pieces_whole, ==, 11); /* the non-empty files in tree.tsv */
	/* 102403 bytes of "big" in chunks of 1000: at most 104 pieces, plus 1-2
	 * for each small file. */
	CHECK_INT(pieces_1000, <=, 104 + 2 * 10);
}

static void null_sink_and_null_callbacks_accept_real_nars(void)
{
	static const struct nar_sink_ops nothing = { 0 };
	for (size_t i = 0; i < N_REAL; i++) {
		struct blob nar = load(real_nars[i], "nar");
		CHECK(nar.data);
		struct ip_error err = { 0 };
		int r1 = nar_feed_chunked(&nar_null_sink_ops, NULL, nar.data, nar.len, 7, &err);
		int r2 = nar_feed_chunked(&nothing, NULL, nar.data, nar.len, 0, &err);
		struct nar_parser *p = nar_parser_new(&nar_null_sink_ops, NULL);
		CHECK(p);
		int r3 = nar_parser_feed(p, nar.data, nar.len, &err);
		uint64_t off = nar_parser_offset(p);
		int r4 = nar_parser_finish(p, &err);
		int r5 = nar_parser_finish(p, &err); /* idempotent */
		nar_parser_free(p);
		free(nar.data);
		CHECK_STR(err.msg, "");
		CHECK_INT(r1, ==, 0);
		CHECK_INT(r2, ==, 0);
		CHECK_INT(r3 | r4 | r5, ==, 0);
		CHECK_INT(off, ==, nar.len);
	}
}

/* --- malformed archives ------------------------------------------------- */

#define MAGIC "nix-archive-1 "
#define FILE_NODE(c) "( type regular contents " c " ) "
#define ENTRY(name, node) "entry ( name " name " node " node ") "
#define DIR_OPEN "( type directory "
#define DIR_CLOSE ") "

struct bad_case {
	const char *name;
	const char *spec;
	const char *error; /* expected substring of the message */
};

static const struct bad_case bad_cases[] = {
	{ "empty", "", "NAR: empty input at byte 0" },
	{ "bad-magic", "nix-archive-2 " FILE_NODE("x"), "not a NAR (magic \"nix-archive-2\"" },
	{ "magic-oversized", "=n100 " FILE_NODE("x"), "token of 100 bytes (limit 64) where \"nix-archive-1\" was expected at byte 0" },
	{ "magic-huge-length", "#18446744073709551615 !00", "token of 18446744073709551615 bytes (limit 64)" },
	{ "magic-padding", "~nix-archive-1 !0000ff " FILE_NODE("x"), "NAR: non-zero padding byte 0xff at byte 23" },
	{ "contents-padding", MAGIC "( type regular contents ~abc !0000000100 )", "NAR: non-zero padding byte 0x01 at byte 102" },
	{ "bad-token", MAGIC "( tpye regular contents x )", "expected \"type\", got \"tpye\" at byte 40" },
	{ "no-open-paren", MAGIC "type regular contents x )", "expected \"(\", got \"type\" at byte 24" },
	{ "unknown-type", MAGIC "( type fifo )", "expected \"regular\", \"symlink\" or \"directory\", got \"fifo\"" },
	{ "exec-nonempty", MAGIC "( type regular executable 1 contents x )", "\"executable\" must be followed by \"\", got a string of 1 bytes at byte 96" },
	{ "exec-after-contents", MAGIC "( type regular contents x executable '' )", "expected \")\" after file contents, got \"executable\"" },
	{ "exec-twice", MAGIC "( type regular executable '' executable '' contents x )", "expected \"contents\", got \"executable\"" },
	{ "no-contents", MAGIC "( type regular )", "expected \"executable\" or \"contents\", got \")\"" },
	{ "contents-huge", MAGIC "( type regular contents #18446744073709551615 !00", "file size 18446744073709551615 too large at byte 88" },
	{ "contents-negative", MAGIC "( type regular contents #9223372036854775808 !00", "file size 9223372036854775808 too large" },
	{ "contents-truncated", MAGIC "( type regular contents #100 !6869", "truncated in file contents (98 bytes missing) at byte 98" },
	{ "unsorted", MAGIC DIR_OPEN ENTRY("c", FILE_NODE("1")) ENTRY("b", FILE_NODE("2")) DIR_CLOSE,
	  "entry names not sorted (\"b\" after \"c\") at byte 320" },
	{ "unsorted-prefix", MAGIC DIR_OPEN ENTRY("ab", FILE_NODE("1")) ENTRY("a", FILE_NODE("2")) DIR_CLOSE,
	  "entry names not sorted (\"a\" after \"ab\")" },
	{ "unsorted-bytewise", MAGIC DIR_OPEN ENTRY("\\xc3\\xbc", FILE_NODE("1")) ENTRY("z", FILE_NODE("2")) DIR_CLOSE,
	  "entry names not sorted (\"z\" after \"\\xc3\\xbc\")" },
	{ "duplicate", MAGIC DIR_OPEN ENTRY("a", FILE_NODE("1")) ENTRY("a", "( type directory ) ") DIR_CLOSE,
	  "duplicate entry name \"a\"" },
	{ "name-dot", MAGIC DIR_OPEN ENTRY(".", FILE_NODE("1")) DIR_CLOSE, "entry name \".\" not allowed at byte 128" },
	{ "name-dotdot", MAGIC DIR_OPEN ENTRY("..", FILE_NODE("1")) DIR_CLOSE, "entry name \"..\" not allowed" },
	{ "name-slash", MAGIC DIR_OPEN ENTRY("a/b", FILE_NODE("1")) DIR_CLOSE, "entry name \"a/b\" contains '/'" },
	{ "name-escape", MAGIC DIR_OPEN ENTRY("../../etc", "( type symlink target x ) ") DIR_CLOSE, "entry name \"../../etc\" contains '/'" },
	{ "name-nul", MAGIC DIR_OPEN ENTRY("a\\x00b", FILE_NODE("1")) DIR_CLOSE, "entry name \"a\\x00b\" contains a NUL byte" },
	{ "name-empty", MAGIC DIR_OPEN ENTRY("''", FILE_NODE("1")) DIR_CLOSE, "empty entry name" },
	{ "name-too-long", MAGIC DIR_OPEN ENTRY("=x256", FILE_NODE("1")) DIR_CLOSE, "entry name of 256 bytes (limit 255)" },
	{ "name-huge-length", MAGIC DIR_OPEN "entry ( name #9223372036854775808 !00", "entry name of 9223372036854775808 bytes (limit 255)" },
	{ "too-deep", MAGIC DIR_OPEN "^64 $64 " DIR_CLOSE, "directories nested deeper than 64" },
	{ "target-too-long", MAGIC "( type symlink target =t4096 )", "NAR: symlink target of 4096 bytes (limit 4095) at byte 88" },
	{ "target-empty", MAGIC "( type symlink target '' )", "empty symlink target" },
	{ "target-nul", MAGIC "( type symlink target a\\x00b )", "symlink target contains a NUL byte" },
	{ "symlink-no-target", MAGIC "( type symlink )", "expected \"target\", got \")\"" },
	{ "entry-no-node", MAGIC DIR_OPEN "entry ( name a ( type regular contents x ) ) )", "expected \"node\", got \"(\"" },
	{ "entry-not-closed", MAGIC DIR_OPEN "entry ( name a node " FILE_NODE("x") "entry", "expected \")\" closing an entry, got \"entry\"" },
	{ "dir-bad-tag", MAGIC DIR_OPEN "file", "expected \"entry\" or \")\", got \"file\"" },
	{ "token-oversized", MAGIC "( =t65", "token of 65 bytes (limit 64) where \"type\" was expected at byte 40" },
	{ "trailing-garbage", MAGIC FILE_NODE("x") "!00", "trailing data after the end of the archive at byte 120" },
	{ "two-roots", MAGIC FILE_NODE("x") FILE_NODE("y"), "trailing data after the end of the archive at byte 120" },
	{ "truncated-magic", "#13 !6e69782d61726368", "truncated in \"nix-archive-1\" at byte 16" },
	{ "truncated-length", MAGIC "!0100", "truncated in the length of \"(\" at byte 26" },
	{ "truncated-padding", MAGIC "( type regular contents ~abc !00", "truncated in padding at byte 100" },
	{ "truncated-dir", MAGIC DIR_OPEN ENTRY("a", FILE_NODE("1")), "truncated: expected \"entry\" or \")\"" },
};
#define N_BAD (sizeof(bad_cases) / sizeof(bad_cases[0]))

static bool build_case(const struct bad_case *c, struct nar_builder *b)
{
	memset(b, 0, sizeof(*b));
	return nb_spec(b, c->spec);
}

static void malformed_nars_fail_with_the_right_message(void)
{
	for (size_t i = 0; i < N_BAD; i++) {
		const struct bad_case *c = &bad_cases[i];
		struct nar_builder b;
		if (!build_case(c, &b)) {
			test_record_failure(__FILE__, __LINE__, "%s: bad spec", c->name);
			return;
		}
		/* The same message whatever the chunking: offsets are positions in
		 * the archive, not in a chunk. */
		static const size_t chunks[] = { 0, 1, 3, 8, 13 };
		char first[IP_ERROR_MSG_MAX] = "";
		for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
			struct nar_record rec;
			nar_record_init(&rec);
			struct ip_error err = { 0 };
			int r = nar_feed_chunked(&nar_record_ops, &rec, b.buf, b.len, chunks[k], &err);
			bool misuse = rec.order_error[0];
			nar_record_free(&rec);
			if (r != -EBADMSG || !strstr(err.msg, c->error) || misuse ||
			    (k && strcmp(first, err.msg) != 0)) {
				test_record_failure(__FILE__, __LINE__,
						    "%s (chunk %zu): got %d \"%s\", want -EBADMSG \"%s\"%s",
						    c->name, chunks[k], r, err.msg, c->error,
						    misuse ? " (and callbacks out of order)" : "");
				nb_free(&b);
				return;
			}
			if (k == 0)
				snprintf(first, sizeof(first), "%s", err.msg);
		}
		nb_free(&b);
	}
}

/* The bad NARs under data/nars/bad/ (and their copies in the fuzzer's seed
 * corpus, fuzz/corpus/nar/bad-<name>.nar) are the table above, byte for
 * byte, so the fuzzer's seeds and the tests cannot drift apart. */
static void bad_nar_files_match_the_table(void)
{
	const char *write = getenv("IP_WRITE_BAD_NARS");
	for (size_t i = 0; i < N_BAD; i++) {
		struct nar_builder b;
		CHECK(build_case(&bad_cases[i], &b));
		char rels[2][160];
		snprintf(rels[0], sizeof(rels[0]), "nars/bad/%s.nar", bad_cases[i].name);
		snprintf(rels[1], sizeof(rels[1]), "../fuzz/corpus/nar/bad-%s.nar", bad_cases[i].name);
		for (int k = 0; k < 2; k++) {
			if (write && *write == '1') {
				char path[4096];
				snprintf(path, sizeof(path), "%s/nars/bad", test_data_dir());
				mkdir(path, 0755);
				snprintf(path, sizeof(path), "%s/%s", test_data_dir(), rels[k]);
				FILE *f = fopen(path, "wb");
				CHECK(f);
				CHECK(fwrite(b.buf ? (void *)b.buf : "", 1, b.len, f) == b.len);
				CHECK(fclose(f) == 0);
			}
			size_t len = 0;
			unsigned char *have = test_read_data(rels[k], &len);
			bool same = have && len == b.len && (len == 0 || memcmp(have, b.buf, len) == 0);
			free(have);
			if (!same) {
				test_record_failure(__FILE__, __LINE__,
						    "%s differs from the table; rewrite with IP_WRITE_BAD_NARS=1 %s",
						    rels[k], "build/asan/tests/test-nar bad_nar_files_match_the_table");
				nb_free(&b);
				return;
			}
		}
		nb_free(&b);
	}
}

/* Every proper prefix of a real archive is "truncated", never accepted. */
static void every_truncation_is_an_error(void)
{
	for (size_t i = 0; i < N_REAL; i++) {
		struct blob nar = load(real_nars[i], "nar");
		CHECK(nar.data);
		for (size_t cut = 0; cut < nar.len;) {
			struct ip_error err = { 0 };
			int r = nar_feed_chunked(&nar_null_sink_ops, NULL, nar.data, cut, 0, &err);
			if (r != -EBADMSG || (!strstr(err.msg, "truncated") && cut) ||
			    (cut == 0 && !strstr(err.msg, "empty input"))) {
				test_record_failure(__FILE__, __LINE__, "%s cut at %zu: %d \"%s\"",
						    real_nars[i], cut, r, err.msg);
				free(nar.data);
				return;
			}
			/* All offsets of the first 4 KiB and around the end; a stride
			 * through the large file in between keeps this quick. */
			cut += (cut < 4096 || nar.len - cut < 4096) ? 1 : 997;
		}
		free(nar.data);
	}
}

static void trailing_data_after_a_real_nar(void)
{
	struct blob nar = load("tree", "nar");
	CHECK(nar.data);
	unsigned char *more = malloc(nar.len + 8);
	CHECK(more);
	memcpy(more, nar.data, nar.len);
	memset(more + nar.len, 0, 8);
	struct ip_error err = { 0 };
	int r = nar_feed_chunked(&nar_null_sink_ops, NULL, more, nar.len + 1, 5, &err);
	char want[128];
	snprintf(want, sizeof(want), "NAR: trailing data after the end of the archive at byte %zu",
		 nar.len);
	free(more);
	free(nar.data);
	CHECK_INT(r, ==, -EBADMSG);
	CHECK_STR(err.msg, want);
}

/* A failing sink stops the parse with its own code and message, and the
 * parser keeps failing afterwards. */
static int refuse_file(void *sink, const char *name, bool executable, uint64_t size,
		       struct ip_error *err)
{
	return ip_fail(err, -ENOSPC, "sink: no room for %s", name ? name : "(root)");
}

static int refuse_silently(void *sink, const char *target_or_name, struct ip_error *err)
{
	return -EROFS;
}

static void sink_errors_propagate(void)
{
	struct blob nar = load("tree", "nar");
	CHECK(nar.data);
	struct nar_sink_ops ops = { .file_begin = refuse_file };
	struct nar_parser *p = nar_parser_new(&ops, NULL);
	struct ip_error err = { 0 };
	int r = nar_parser_feed(p, nar.data, nar.len, &err);
	struct ip_error err2 = { 0 };
	int r2 = nar_parser_feed(p, nar.data, 1, &err2);
	int r3 = nar_parser_finish(p, &err2);
	nar_parser_free(p);

	struct nar_sink_ops ops2 = { .directory_begin = refuse_silently };
	struct ip_error err3 = { 0 };
	int r4 = nar_feed_chunked(&ops2, NULL, nar.data, nar.len, 0, &err3);
	free(nar.data);
	CHECK_INT(r, ==, -ENOSPC);
	CHECK_STR(err.msg, "sink: no room for -dash");
	CHECK_INT(r2, ==, -ENOSPC);
	CHECK_INT(r3, ==, -ENOSPC);
	CHECK_INT(r4, ==, -EROFS);
	CHECK_CONTAINS(err3.msg, "NAR: unpacking failed at byte 56: Read-only file system");
}

/* Exactly at the limits is fine (limits.nar and deep.nar are real ones). */
static void limits_are_inclusive(void)
{
	struct nar_builder b = { 0 };
	CHECK(nb_spec(&b, MAGIC DIR_OPEN "^63 $63 " DIR_CLOSE));
	struct ip_error err = { 0 };
	int r = nar_feed_chunked(&nar_null_sink_ops, NULL, b.buf, b.len, 0, &err);
	nb_free(&b);
	CHECK_STR(err.msg, "");
	CHECK_INT(r, ==, 0);
	CHECK(nb_spec(&b, MAGIC DIR_OPEN ENTRY("=x255", "( type symlink target =t4095 ) ") DIR_CLOSE));
	r = nar_feed_chunked(&nar_null_sink_ops, NULL, b.buf, b.len, 0, &err);
	nb_free(&b);
	CHECK_STR(err.msg, "");
	CHECK_INT(r, ==, 0);
}

TEST_MAIN("nar",
	TEST_CASE(real_nars_give_the_tree),
	TEST_CASE(every_chunk_size_gives_the_same_events),
	TEST_CASE(contents_pass_through_in_slices),
	TEST_CASE(null_sink_and_null_callbacks_accept_real_nars),
	TEST_CASE(malformed_nars_fail_with_the_right_message),
	TEST_CASE(bad_nar_files_match_the_table),
	TEST_CASE(every_truncation_is_an_error),
	TEST_CASE(trailing_data_after_a_real_nar),
	TEST_CASE(sink_errors_propagate),
	TEST_CASE(limits_are_inclusive))
