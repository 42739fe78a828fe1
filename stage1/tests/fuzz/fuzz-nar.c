/* The NAR parser on arbitrary bytes, fed as a stream in chunk sizes derived
 * from the input (so a crash reproduces from the input alone), into a sink
 * that checks the callback contract.  The same input fed whole must give the
 * same result and the same message: offsets never depend on chunking.  What
 * parses, nix/nar_write.h writes again byte for byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nix/nar.h"
#include "nix/nar_write.h"
#include "fuzz-chunks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct check {
	unsigned depth;
	bool in_file, root_done;
	uint64_t left;
	uint64_t bytes;
};

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "contract broken: %s\n", #c); abort(); } } while (0)

static void check_name(struct check *c, const char *name)
{
	REQUIRE(!c->in_file && !c->root_done);
	if (!name) {
		REQUIRE(c->depth == 0);
		return;
	}
	size_t n = strlen(name);
	REQUIRE(c->depth > 0 && n > 0 && n <= NAR_MAX_NAME && !strchr(name, '/'));
	REQUIRE(strcmp(name, ".") != 0 && strcmp(name, "..") != 0);
}

static int c_dir_begin(void *s, const char *name, struct ip_error *err)
{
	struct check *c = s;
	check_name(c, name);
	REQUIRE(c->depth < NAR_MAX_DEPTH);
	c->depth++;
	return 0;
}

static int c_dir_end(void *s, struct ip_error *err)
{
	struct check *c = s;
	REQUIRE(c->depth > 0 && !c->in_file);
	if (--c->depth == 0)
		c->root_done = true;
	return 0;
}

static int c_file_begin(void *s, const char *name, bool exec, uint64_t size, struct ip_error *err)
{
	struct check *c = s;
	check_name(c, name);
	c->in_file = true;
	c->left = size;
	return 0;
}

static int c_file_data(void *s, const void *data, size_t len, struct ip_error *err)
{
	struct check *c = s;
	REQUIRE(c->in_file && len > 0 && len <= c->left);
	c->left -= len;
	c->bytes += len;
	return 0;
}

static int c_file_end(void *s, struct ip_error *err)
{
	struct check *c = s;
	REQUIRE(c->in_file && c->left == 0);
	c->in_file = false;
	if (c->depth == 0)
		c->root_done = true;
	return 0;
}

static int c_symlink(void *s, const char *name, const char *target, struct ip_error *err)
{
	struct check *c = s;
	check_name(c, name);
	size_t n = strlen(target);
	REQUIRE(n > 0 && n <= NAR_MAX_TARGET);
	if (c->depth == 0)
		c->root_done = true;
	return 0;
}

static const struct nar_sink_ops check_ops = {
	c_dir_begin, c_dir_end, c_file_begin, c_file_data, c_file_end, c_symlink,
};

static int run(const uint8_t *data, size_t size, bool chunked, struct ip_error *err,
	       struct check *c)
{
	struct nar_parser *p = nar_parser_new(&check_ops, c);
	if (!p)
		abort();
	uint64_t x = fuzz_chunks_seed(data, size);
	int r = 0;
	size_t off = 0;
	while (off < size && r == 0) {
		size_t n = chunked ? fuzz_chunks_next(&x, size - off) : size - off;
		r = nar_parser_feed(p, data + off, n, err);
		off += n;
	}
	if (r == 0)
		r = nar_parser_finish(p, err);
	REQUIRE(r == 0 || err->msg[0]);
	REQUIRE(r != 0 || (c->root_done && c->depth == 0 && !c->in_file));
	REQUIRE(r != 0 || nar_parser_offset(p) == size);
	nar_parser_free(p);
	return r;
}

/* The writer gives back, byte for byte, every archive the parser accepts. */
struct compare {
	const uint8_t *data;
	size_t size, at;
};

static int compare_out(void *ctx, const void *bytes, size_t len, struct ip_error *err)
{
	(void)err;
	struct compare *c = ctx;
	REQUIRE(len <= c->size - c->at && memcmp(c->data + c->at, bytes, len) == 0);
	c->at += len;
	return 0;
}

static void rewrite(const uint8_t *data, size_t size)
{
	struct compare c = { data, size, 0 };
	struct nar_writer w;
	nar_writer_init(&w, compare_out, &c);
	struct nar_parser *p = nar_parser_new(&nar_writer_ops, &w);
	REQUIRE(p);
	struct ip_error err = { 0 };
	REQUIRE(nar_parser_feed(p, data, size, &err) == 0 && nar_parser_finish(p, &err) == 0);
	REQUIRE(c.at == size && w.bytes == size);
	nar_parser_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ip_error e1 = { 0 }, e2 = { 0 };
	struct check c1 = { 0 }, c2 = { 0 };
	int r1 = run(data, size, true, &e1, &c1);
	int r2 = run(data, size, false, &e2, &c2);
	if (r1 != r2 || strcmp(e1.msg, e2.msg) != 0 || c1.bytes != c2.bytes) {
		fprintf(stderr, "chunked: %d %s\nwhole:   %d %s\n", r1, e1.msg, r2, e2.msg);
		abort();
	}
	if (r1 == 0)
		rewrite(data, size);
	return 0;
}
