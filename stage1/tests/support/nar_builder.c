#include "support/nar_builder.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "util/hex.h"
#include "util/sha256.h"

void nb_free(struct nar_builder *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

void nb_raw(struct nar_builder *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + len)
			cap *= 2;
		unsigned char *bigger = realloc(b->buf, cap);
		if (!bigger)
			abort(); /* a test helper: no recovery needed */
		b->buf = bigger;
		b->cap = cap;
	}
	if (len)
		memcpy(b->buf + b->len, data, len);
	b->len += len;
}

void nb_u64(struct nar_builder *b, uint64_t v)
{
	unsigned char le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)(v >> (8 * i));
	nb_raw(b, le, 8);
}

static void nb_pad(struct nar_builder *b, size_t len)
{
	static const unsigned char zeros[8];
	nb_raw(b, zeros, (8 - len % 8) % 8);
}

void nb_bytes(struct nar_builder *b, const void *data, size_t len)
{
	nb_u64(b, len);
	nb_raw(b, data, len);
	nb_pad(b, len);
}

void nb_str(struct nar_builder *b, const char *s)
{
	nb_bytes(b, s, strlen(s));
}

/* Decodes \xNN and \s escapes of tok[0..n) into out; returns its length or -1. */
static long unescape(const char *tok, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (tok[i] != '\\') {
			out[o++] = tok[i];
			continue;
		}
		if (i + 1 < n && tok[i + 1] == 's') {
			out[o++] = ' ';
			i++;
		} else if (i + 3 < n && tok[i + 1] == 'x' && hex_digit_value(tok[i + 2]) >= 0 &&
			   hex_digit_value(tok[i + 3]) >= 0) {
			out[o++] = (char)(hex_digit_value(tok[i + 2]) << 4 | hex_digit_value(tok[i + 3]));
			i += 3;
		} else {
			return -1;
		}
	}
	return (long)o;
}

bool nb_spec(struct nar_builder *b, const char *spec)
{
	const char *p = spec;
	char tmp[1024];
	while (*p) {
		while (*p == ' ' || *p == '\n' || *p == '\t')
			p++;
		if (!*p)
			break;
		const char *start = p;
		while (*p && *p != ' ' && *p != '\n' && *p != '\t')
			p++;
		size_t n = (size_t)(p - start);
		char *end;
		if (n == 2 && memcmp(start, "''", 2) == 0) {
			nb_bytes(b, "", 0);
		} else if (start[0] == '=' && n >= 3) {
			unsigned long count = strtoul(start + 2, &end, 10);
			if (end != p)
				return false;
			char *s = malloc(count + 1);
			if (!s)
				abort();
			memset(s, start[1], count);
			nb_bytes(b, s, count);
			free(s);
		} else if (start[0] == '#' && n >= 2) {
			unsigned long long v = strtoull(start + 1, &end, 10);
			if (end != p)
				return false;
			nb_u64(b, v);
		} else if ((start[0] == '^' || start[0] == '$') && n >= 2) {
			unsigned long count = strtoul(start + 1, &end, 10);
			if (end != p)
				return false;
			for (unsigned long i = 0; i < count; i++)
				nb_spec(b, start[0] == '^' ? "entry ( name d node ( type directory" : ") )");
		} else if (start[0] == '!' && n % 2 == 1) {
			for (size_t i = 1; i < n; i += 2) {
				int hi = hex_digit_value(start[i]), lo = hex_digit_value(start[i + 1]);
				if (hi < 0 || lo < 0)
					return false;
				unsigned char c = (unsigned char)(hi << 4 | lo);
				nb_raw(b, &c, 1);
			}
		} else if (start[0] == '~' && n >= 2) {
			if (n - 1 > sizeof(tmp))
				return false;
			long m = unescape(start + 1, n - 1, tmp);
			if (m < 0)
				return false;
			nb_u64(b, (uint64_t)m);
			nb_raw(b, tmp, (size_t)m);
		} else {
			if (n > sizeof(tmp))
				return false;
			long m = unescape(start, n, tmp);
			if (m < 0)
				return false;
			nb_bytes(b, tmp, (size_t)m);
		}
	}
	return true;
}

/* --- recording sink ----------------------------------------------------- */

void nar_record_init(struct nar_record *r)
{
	memset(r, 0, sizeof(*r));
	r->sha = malloc(sizeof(struct sha256));
	if (!r->sha)
		abort();
}

void nar_record_free(struct nar_record *r)
{
	free(r->log);
	free(r->sha);
	memset(r, 0, sizeof(*r));
}

static void rec_append(struct nar_record *r, const char *s, size_t n)
{
	if (r->log_len + n + 1 > r->log_cap) {
		size_t cap = r->log_cap ? r->log_cap : 1024;
		while (cap < r->log_len + n + 1)
			cap *= 2;
		char *bigger = realloc(r->log, cap);
		if (!bigger)
			abort();
		r->log = bigger;
		r->log_cap = cap;
	}
	memcpy(r->log + r->log_len, s, n);
	r->log_len += n;
	r->log[r->log_len] = '\0';
}

static void rec_misuse(struct nar_record *r, const char *what)
{
	if (!r->order_error[0])
		snprintf(r->order_error, sizeof(r->order_error), "%s", what);
}

/* Sets r->path to the path of a new node ("" for the root). */
static void rec_enter(struct nar_record *r, const char *name)
{
	if (r->in_file)
		rec_misuse(r, "node inside a file");
	if (!name) {
		if (r->depth || r->done || r->log_len)
			rec_misuse(r, "second root");
		r->path[0] = '\0';
		return;
	}
	if (!r->depth)
		rec_misuse(r, "named node outside a directory");
	size_t o = r->path_len[r->depth];
	if (o)
		r->path[o++] = '/';
	size_t n = strlen(name);
	if (o + n + 1 > sizeof(r->path)) {
		rec_misuse(r, "path too long for the recorder");
		n = 0;
	}
	memcpy(r->path + o, name, n);
	r->path[o + n] = '\0';
}

static const char *rec_path(const struct nar_record *r)
{
	return r->path[0] ? r->path : ".";
}

static void rec_line(struct nar_record *r, char kind, const char *extra)
{
	char k[2] = { kind, '\t' };
	rec_append(r, k, 2);
	rec_append(r, rec_path(r), strlen(rec_path(r)));
	if (extra) {
		rec_append(r, "\t", 1);
		rec_append(r, extra, strlen(extra));
	}
	rec_append(r, "\n", 1);
}

static void rec_leaf_done(struct nar_record *r)
{
	if (r->depth)
		r->path[r->path_len[r->depth]] = '\0';
	else
		r->done = true;
}

static int rec_dir_begin(void *sink, const char *name, struct ip_error *err)
{
	struct nar_record *r = sink;
	rec_enter(r, name);
	rec_line(r, 'd', NULL);
	if (r->depth >= NAR_MAX_DEPTH)
		rec_misuse(r, "deeper than NAR_MAX_DEPTH");
	else
		r->path_len[++r->depth] = strlen(r->path);
	return 0;
}

static int rec_dir_end(void *sink, struct ip_error *err)
{
	struct nar_record *r = sink;
	if (!r->depth || r->in_file) {
		rec_misuse(r, "unbalanced directory_end");
		return 0;
	}
	r->depth--;
	if (r->depth)
		r->path[r->path_len[r->depth]] = '\0';
	else
		r->done = true;
	return 0;
}

static int rec_file_begin(void *sink, const char *name, bool executable, uint64_t size,
			  struct ip_error *err)
{
	struct nar_record *r = sink;
	rec_enter(r, name);
	r->in_file = true;
	r->exec = executable;
	r->size = size;
	r->got = 0;
	sha256_init(r->sha);
	return 0;
}

static int rec_file_data(void *sink, const void *data, size_t len, struct ip_error *err)
{
	struct nar_record *r = sink;
	if (!r->in_file)
		rec_misuse(r, "file_data outside a file");
	if (len == 0)
		rec_misuse(r, "empty file_data");
	r->got += len;
	r->pieces++;
	sha256_update(r->sha, data, len);
	return 0;
}

static int rec_file_end(void *sink, struct ip_error *err)
{
	struct nar_record *r = sink;
	if (!r->in_file)
		rec_misuse(r, "file_end outside a file");
	if (r->got != r->size)
		rec_misuse(r, "file size differs from file_begin");
	r->in_file = false;
	uint8_t h[32];
	sha256_final(r->sha, h);
	char extra[128];
	int o = snprintf(extra, sizeof(extra), "%" PRIu64 "\t", r->size);
	for (int i = 0; i < 32; i++)
		o += snprintf(extra + o, sizeof(extra) - (size_t)o, "%02x", h[i]);
	rec_line(r, r->exec ? 'x' : 'f', extra);
	rec_leaf_done(r);
	return 0;
}

static int rec_symlink(void *sink, const char *name, const char *target, struct ip_error *err)
{
	struct nar_record *r = sink;
	rec_enter(r, name);
	rec_line(r, 'l', target);
	rec_leaf_done(r);
	return 0;
}

const struct nar_sink_ops nar_record_ops = {
	.directory_begin = rec_dir_begin,
	.directory_end = rec_dir_end,
	.file_begin = rec_file_begin,
	.file_data = rec_file_data,
	.file_end = rec_file_end,
	.symlink = rec_symlink,
};

int nar_feed_chunked(const struct nar_sink_ops *ops, void *sink, const void *data, size_t len,
		     size_t chunk, struct ip_error *err)
{
	struct nar_parser *p = nar_parser_new(ops, sink);
	if (!p)
		return -ENOMEM;
	const unsigned char *d = data;
	int r = 0;
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len && r == 0; off += chunk)
		r = nar_parser_feed(p, d + off, len - off < chunk ? len - off : chunk, err);
	if (r == 0)
		r = nar_parser_finish(p, err);
	nar_parser_free(p);
	return r;
}

const char *const nar_fixture_names[NAR_FIXTURE_COUNT] = {
	"tree", "file", "empty-file", "exec", "symlink", "empty-dir", "limits", "deep",
};

unsigned char *nar_fixture_load(const char *name, const char *ext, size_t *len)
{
	char rel[256];
	snprintf(rel, sizeof(rel), "nars/%s.%s", name, ext);
	return test_read_data(rel, len);
}
