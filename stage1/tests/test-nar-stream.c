/* The body of a NAR transfer (cache/nar_stream.c) over the validate-only
 * sink: every real NAR, plain and compressed, in chunks of every size; the
 * bad NARs of data/nars/bad/; and each check against the narinfo, with the
 * exact messages the download pipeline prints. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "cache/nar_stream.h"
#include "support/compressors.h"
#include "support/nar_builder.h"
#include "test.h"

#define BASENAME "0c3xw5s1b3hzv4ixmqfdk0ppwwmkw61b-fixture"
#define STORE_PATH "/nix/store/" BASENAME
#define URL "http://cache.test/nar/fixture.nar"

struct outcome {
	int r;
	bool at_finish;                  /* the error came from nar_stream_finish */
	struct ip_error err;
	uint64_t file_bytes, nar_bytes, memory_needed;
	int again;                       /* a feed after the failure */
};

/* Feeds in[0..len) in chunks of `chunk` bytes (0: at once) through a
 * stream over `ops`/`sink`, then finishes it.  memlimit 0: the decoder's
 * default. */
static void run_with(const struct nar_stream_expect *want, const unsigned char *in, size_t len,
		     size_t chunk, const struct nar_sink_ops *ops, void *sink, uint64_t memlimit,
		     struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	struct decompressor *dec = NULL;
	o->r = decompressor_new(want->compression, "test", &dec, &o->err);
	if (o->r < 0)
		return;
	if (memlimit)
		decompressor_set_memlimit(dec, memlimit);
	struct nar_parser *parser = nar_parser_new(ops, sink);
	struct nar_stream s;
	nar_stream_open(&s, want, BASENAME, URL, dec, parser);
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len && o->r == 0; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		o->r = nar_stream_feed(&s, in + off, n, &o->err);
	}
	if (o->r == 0) {
		o->at_finish = true;
		o->r = nar_stream_finish(&s, &o->err);
	}
	if (o->r < 0) {
		struct ip_error again = { 0 };
		o->again = nar_stream_feed(&s, in, len ? 1 : 0, &again);
	}
	o->file_bytes = s.file_bytes;
	o->nar_bytes = s.nar_bytes;
	o->memory_needed = nar_stream_memory_needed(&s);
	nar_parser_free(parser);
	decompressor_free(dec);
}

static void run(const struct nar_stream_expect *want, const struct buf *in, size_t chunk,
		struct outcome *o)
{
	run_with(want, in->data, in->len, chunk, &nar_null_sink_ops, NULL, 0, o);
}

/* A real NAR with its NarHash (data/nars/<name>.nar, .narhash). */
struct fixture {
	struct buf nar;
	struct nix_hash hash;
	char hash_text[NIX_HASH_TEXT_MAX];
};

static bool fixture_load(const char *name, struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	size_t text_len = 0;
	char *text = (char *)nar_fixture_load(name, "narhash", &text_len);
	f->nar.data = nar_fixture_load(name, "nar", &f->nar.len);
	struct ip_error err = { 0 };
	while (text && text_len && (text[text_len - 1] == '\n' || text[text_len - 1] == ' '))
		text_len--;
	bool ok = text && f->nar.data && nix_hash_parse(text, text_len, &f->hash, &err) == 0;
	free(text);
	if (ok)
		nix_hash_format(&f->hash, f->hash_text);
	return ok;
}

static void fixture_free(struct fixture *f)
{
	free(f->nar.data);
	f->nar.data = NULL;
}

/* The fixture as a cache would serve it with method m (`none`: as is). */
static void serve(const struct fixture *f, enum nix_compression m, struct buf *out,
		  struct nar_stream_expect *want)
{
	memset(out, 0, sizeof(*out));
	if (m == NIX_COMPRESSION_NONE && f->nar.len) /* (buf_put wants bytes) */
		buf_put(out, f->nar.data, f->nar.len);
	else if (m != NIX_COMPRESSION_NONE)
		compress_with(m, f->nar.data, f->nar.len, out);
	*want = (struct nar_stream_expect){
		.compression = m, .nar_hash = f->hash, .nar_size = f->nar.len, .file_size = out->len,
	};
}

static bool load_served(const char *name, enum nix_compression m, struct fixture *f,
			struct buf *in, struct nar_stream_expect *want)
{
	if (!fixture_load(name, f))
		return false;
	serve(f, m, in, want);
	return true;
}

/* The message of the bound on compressed bytes (decompress_max_input). */
static void too_long(char *msg, size_t msg_size, enum nix_compression m, uint64_t most,
		     uint64_t nar_size)
{
	snprintf(msg, msg_size, "compressed NAR " URL " of " STORE_PATH " is too long: more than %" PRIu64
		 " bytes for a NarSize of %" PRIu64 ", beyond the worst case of %s (endless padding or "
		 "empty frames)", most, nar_size, decompressor_name(m));
}

static const enum nix_compression methods[] = {
	NIX_COMPRESSION_NONE, NIX_COMPRESSION_ZSTD, NIX_COMPRESSION_XZ,
};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))
/* one byte, odd sizes across block and chunk edges, everything at once */
static const size_t chunks[] = { 1, 7, 4099, DECOMPRESS_OUT_CHUNK + 3, 0 };
#define N_CHUNKS (sizeof(chunks) / sizeof(chunks[0]))

static void every_nar_every_method_every_chunk(void)
{
	for (size_t i = 0; i < NAR_FIXTURE_COUNT; i++) {
		struct fixture f;
		CHECK(fixture_load(nar_fixture_names[i], &f));
		for (size_t m = 0; m < N_METHODS; m++) {
			struct buf in;
			struct nar_stream_expect want;
			serve(&f, methods[m], &in, &want);
			for (size_t k = 0; k < N_CHUNKS; k++) {
				struct outcome o;
				run(&want, &in, chunks[k], &o);
				if (o.r != 0 || o.file_bytes != in.len || o.nar_bytes != f.nar.len)
					test_record_failure(__FILE__, __LINE__, "%s, %s, chunk %zu: %d (%s), "
							    "%" PRIu64 "/%zu file bytes, %" PRIu64 "/%zu NAR bytes",
							    nar_fixture_names[i], decompressor_name(methods[m]),
							    chunks[k], o.r, ip_error_str(&o.err), o.file_bytes,
							    in.len, o.nar_bytes, f.nar.len);
			}
			/* FileSize is optional (unsigned): absent, nothing bounds but NarSize */
			want.file_size = 0;
			struct outcome o;
			run(&want, &in, 0, &o);
			if (o.r != 0)
				test_record_failure(__FILE__, __LINE__, "%s, %s, no FileSize: %s",
						    nar_fixture_names[i], decompressor_name(methods[m]),
						    ip_error_str(&o.err));
			free(in.data);
		}
		fixture_free(&f);
	}
}

/* Whatever the chunking or compression, a malformed archive is a bad NAR
 * (not corrupt compressed data), a content error. */
static void bad_nars_are_bad_nars(void)
{
	char dir_path[4096];
	snprintf(dir_path, sizeof(dir_path), "%s/nars/bad", test_data_dir());
	DIR *dir = opendir(dir_path);
	CHECK(dir != NULL);
	static const char want_prefix[] = "bad NAR for " STORE_PATH " (" URL "): NAR: ";
	size_t seen = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		size_t name_len = strlen(de->d_name);
		if (name_len < 5 || strcmp(de->d_name + name_len - 4, ".nar") != 0)
			continue;
		char rel[512];
		snprintf(rel, sizeof(rel), "nars/bad/%s", de->d_name);
		struct buf nar = { 0 };
		nar.data = test_read_data(rel, &nar.len);
		if (!nar.data) {
			test_record_failure(__FILE__, __LINE__, "cannot read %s", rel);
			break;
		}
		struct fixture f = { .nar = nar };
		struct sha256 h;
		sha256_init(&h);
		sha256_update(&h, nar.data, nar.len);
		sha256_final(&h, f.hash.bytes);
		for (size_t m = 0; m < 2; m++) { /* none, zstd */
			struct buf in;
			struct nar_stream_expect want;
			serve(&f, methods[m], &in, &want);
			for (size_t k = 0; k < N_CHUNKS; k++) {
				struct outcome o;
				run(&want, &in, chunks[k], &o);
				if (o.r != -EBADMSG || strncmp(o.err.msg, want_prefix, strlen(want_prefix)) != 0 ||
				    o.again != -EBADMSG)
					test_record_failure(__FILE__, __LINE__, "%s, %s, chunk %zu: %d: %s",
							    de->d_name, decompressor_name(methods[m]), chunks[k],
							    o.r, o.err.msg);
			}
			free(in.data);
		}
		free(nar.data);
		seen++;
	}
	closedir(dir);
	CHECK_INT(seen, >=, 40);
}

/* ---- each check against the narinfo: a table --------------------------- */

enum damage {
	WRONG_NAR_HASH,
	NAR_SIZE_SHORT,       /* the narinfo says one byte more than the NAR has */
	NAR_SIZE_LONG,        /* ... one byte less */
	FILE_SIZE_SHORT,
	FILE_SIZE_LONG,
	TRUNCATED,            /* the compressed stream stops early */
	BAD_MAGIC,
	TRAILING_GARBAGE,     /* after the stream, fed with it: the decoder complains after
			       * its output went through the NAR side without error */
	PLAIN_TOO_LONG,       /* `none`: a byte beyond NarSize */
};

struct check_case {
	const char *name;
	enum nix_compression method;
	enum damage damage;
	bool at_finish;       /* the error comes from nar_stream_finish */
	const char *decoder;  /* a decoder's complaint: the message starts with this */
};

#define CORRUPT "corrupt compressed data in NAR " URL " of " STORE_PATH ": "
static const struct check_case check_cases[] = {
	{ "NarHash mismatch", NIX_COMPRESSION_ZSTD, WRONG_NAR_HASH, true, NULL },
	{ "NarSize too short", NIX_COMPRESSION_XZ, NAR_SIZE_SHORT, true, NULL },
	{ "NarSize too long", NIX_COMPRESSION_ZSTD, NAR_SIZE_LONG, false, NULL },
	{ "FileSize too short", NIX_COMPRESSION_ZSTD, FILE_SIZE_SHORT, true, NULL },
	{ "FileSize too long", NIX_COMPRESSION_XZ, FILE_SIZE_LONG, false, NULL },
	{ "none beyond NarSize", NIX_COMPRESSION_NONE, PLAIN_TOO_LONG, false, NULL },
	{ "truncated zstd", NIX_COMPRESSION_ZSTD, TRUNCATED, true,
	  CORRUPT "zstd: compressed data is truncated" },
	{ "truncated xz", NIX_COMPRESSION_XZ, TRUNCATED, true, CORRUPT "xz: " },
	{ "corrupt zstd magic", NIX_COMPRESSION_ZSTD, BAD_MAGIC, false, CORRUPT "zstd: " },
	{ "garbage after zstd", NIX_COMPRESSION_ZSTD, TRAILING_GARBAGE, false, CORRUPT "zstd: " },
	/* liblzma reads on for a next stream (concatenated), until the end */
	{ "garbage after xz", NIX_COMPRESSION_XZ, TRAILING_GARBAGE, true, CORRUPT "xz: " },
};

#define GOT_MORE SIZE_MAX
/* "<what> mismatch ...: expected N bytes, got M" (or "got more") */
static void size_mismatch(char *msg, size_t msg_size, const char *what, uint64_t expected, size_t got)
{
	char got_text[32] = "more";
	if (got != GOT_MORE)
		snprintf(got_text, sizeof(got_text), "%zu", got);
	snprintf(msg, msg_size, "%s mismatch for " STORE_PATH " (NAR " URL "): expected %" PRIu64
		 " bytes, got %s", what, expected, got_text);
}

/* Damages the served NAR (or the narinfo) as `c` says, and writes the
 * message expected (for a decoder's complaint: its start). */
static void damage(const struct check_case *c, const struct fixture *f, struct buf *in,
		   struct nar_stream_expect *want, char *msg, size_t msg_size)
{
	char hash_text[NIX_HASH_TEXT_MAX];
	switch (c->damage) {
	case WRONG_NAR_HASH:
		want->nar_hash.bytes[5] ^= 0x40;
		nix_hash_format(&want->nar_hash, hash_text);
		snprintf(msg, msg_size, "NarHash mismatch for " STORE_PATH " (NAR " URL "): expected %s, "
			 "got %s", hash_text, f->hash_text);
		return;
	case NAR_SIZE_SHORT:
		size_mismatch(msg, msg_size, "NarSize", ++want->nar_size, f->nar.len);
		return;
	case NAR_SIZE_LONG:
		size_mismatch(msg, msg_size, "NarSize", --want->nar_size, GOT_MORE);
		return;
	case FILE_SIZE_SHORT:
		size_mismatch(msg, msg_size, "FileSize", ++want->file_size, in->len);
		return;
	case FILE_SIZE_LONG:
		size_mismatch(msg, msg_size, "FileSize", --want->file_size, GOT_MORE);
		return;
	case PLAIN_TOO_LONG:
		buf_put(in, "", 1);
		want->file_size = 0;
		too_long(msg, msg_size, NIX_COMPRESSION_NONE, want->nar_size, want->nar_size);
		return;
	case TRUNCATED:
		in->len -= 5;
		want->file_size = in->len;
		break;
	case BAD_MAGIC:
		in->data[0] ^= 0xff;
		break;
	case TRAILING_GARBAGE:
		buf_put(in, "garbage!", 8);
		want->file_size = in->len;
		break;
	}
	snprintf(msg, msg_size, "%s", c->decoder);
}

static void each_check_has_its_message(void)
{
	struct fixture f;
	CHECK(fixture_load("tree", &f));
	for (size_t i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
		const struct check_case *c = &check_cases[i];
		bool exact = c->decoder == NULL;
		size_t whole_chunk_only = c->damage == TRAILING_GARBAGE ? 1 : N_CHUNKS;
		for (size_t k = N_CHUNKS - whole_chunk_only; k < N_CHUNKS; k++) {
			struct buf in;
			struct nar_stream_expect want;
			char msg[IP_ERROR_MSG_MAX];
			serve(&f, c->method, &in, &want);
			damage(c, &f, &in, &want, msg, sizeof(msg));
			struct outcome o;
			run(&want, &in, chunks[k], &o);
			bool ok = o.r == -EBADMSG && o.at_finish == c->at_finish && o.again == -EBADMSG &&
				  (c->damage != TRAILING_GARBAGE || o.nar_bytes == f.nar.len) &&
				  (exact ? strcmp(o.err.msg, msg) == 0
					 : strncmp(o.err.msg, msg, strlen(msg)) == 0);
			if (!ok)
				test_record_failure(__FILE__, __LINE__, "%s, chunk %zu: %d (at finish: %d): "
						    "\"%s\", expected %s\"%s\"", c->name, chunks[k], o.r,
						    o.at_finish, o.err.msg, exact ? "" : "a prefix ", msg);
			free(in.data);
		}
	}
	fixture_free(&f);
}

/* zstd skippable frames decode to nothing: without the bound on compressed
 * bytes per NAR byte a cache could send them for ever. */
static void endless_empty_frames_hit_the_worst_case(void)
{
	struct fixture f;
	struct buf in;
	struct nar_stream_expect want;
	CHECK(load_served("file", NIX_COMPRESSION_ZSTD, &f, &in, &want));
	want.file_size = 0;
	uint64_t most = decompress_max_input(NIX_COMPRESSION_ZSTD, f.nar.len);
	static const unsigned char empty_frame[16] = { 0x50, 0x2a, 0x4d, 0x18, 8 };
	while (in.len + sizeof(empty_frame) <= most)
		buf_put(&in, empty_frame, sizeof(empty_frame));
	struct outcome o;
	run(&want, &in, 4099, &o);
	CHECK_INT(o.r, ==, 0); /* up to the bound: fine */
	CHECK_INT(o.nar_bytes, ==, f.nar.len);
	buf_put(&in, empty_frame, sizeof(empty_frame));
	for (size_t k = 0; k < N_CHUNKS; k++) {
		if (chunks[k] == 1)
			continue; /* 65 KiB of single bytes: slow, and 7 crosses the same edge */
		run(&want, &in, chunks[k], &o);
		char msg[IP_ERROR_MSG_MAX];
		too_long(msg, sizeof(msg), NIX_COMPRESSION_ZSTD, most, f.nar.len);
		CHECK_INT(o.r, ==, -EBADMSG);
		CHECK(!o.at_finish);
		CHECK_STR(o.err.msg, msg);
	}
	free(in.data);
	fixture_free(&f);
}

/* Not a content error: the caller fetches the NAR again with what the
 * decoder says it needs. */
static void decoder_over_its_memory_says_how_much(void)
{
	struct fixture f;
	struct buf in;
	struct nar_stream_expect want;
	CHECK(load_served("tree", NIX_COMPRESSION_XZ, &f, &in, &want));
	struct outcome o;
	run_with(&want, in.data, in.len, 0, &nar_null_sink_ops, NULL, 1u << 20, &o);
	free(in.data);
	fixture_free(&f);
	CHECK_INT(o.r, ==, -E2BIG);
	CHECK_INT(o.again, ==, -E2BIG);
	CHECK(!o.at_finish);
	CHECK(strncmp(o.err.msg, "xz: needs ", 10) == 0);
	CHECK_CONTAINS(o.err.msg, "MiB of memory, more than the");
	CHECK_INT(o.memory_needed, >, 1u << 20);
	CHECK_INT(o.memory_needed, <=, DECOMPRESS_XZ_MEMLIMIT + DECOMPRESS_FIXED_MEMORY);
}

static int refuse_file(void *sink, const char *name, bool executable, uint64_t size,
		       struct ip_error *err)
{
	(void)sink;
	(void)name;
	(void)executable;
	(void)size;
	return ip_fail(err, -ENOSPC, "no space left for a file");
}

/* The sink's error keeps its code and says where it happened; raised inside
 * the decoder's callback, it is not taken for corrupt compressed data. */
static void sink_errors_pass_through(void)
{
	static const struct nar_sink_ops refusing = { .file_begin = refuse_file };
	struct fixture f;
	CHECK(fixture_load("tree", &f));
	for (size_t m = 0; m < N_METHODS; m++) {
		struct buf in;
		struct nar_stream_expect want;
		serve(&f, methods[m], &in, &want);
		struct outcome o;
		run_with(&want, in.data, in.len, 7, &refusing, NULL, 0, &o);
		free(in.data);
		CHECK_INT(o.r, ==, -ENOSPC);
		CHECK_INT(o.again, ==, -ENOSPC);
		CHECK(strncmp(o.err.msg, "writing " STORE_PATH ": ", strlen("writing " STORE_PATH ": ")) == 0);
		CHECK_CONTAINS(o.err.msg, "no space left for a file");
	}
	fixture_free(&f);
}

TEST_MAIN("nar-stream",
	  TEST_CASE(every_nar_every_method_every_chunk),
	  TEST_CASE(bad_nars_are_bad_nars),
	  TEST_CASE(each_check_has_its_message),
	  TEST_CASE(endless_empty_frames_hit_the_worst_case),
	  TEST_CASE(decoder_over_its_memory_says_how_much),
	  TEST_CASE(sink_errors_pass_through))
