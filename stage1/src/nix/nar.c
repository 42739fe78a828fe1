/* Streaming NAR parser: a push state machine over (buf, len) chunks.
 *
 * Two levels of state: `raw` says where we are inside one length-prefixed
 * string (its 8-byte length, its bytes, its zero padding), `expect` says which
 * string of the grammar comes next.  Small strings (tokens, names, targets)
 * are collected into one bounded buffer; file contents are never collected:
 * each slice of input that belongs to them goes to the sink as it is.
 *
 * Grammar (nix-archive-1; src/libutil/archive.cc):
 *   nar   = "nix-archive-1" node
 *   node  = "(" "type" ( "regular" ["executable" ""] "contents" DATA
 *                      | "symlink" "target" TARGET
 *                      | "directory" { "entry" "(" "name" NAME "node" node ")" } ) ")"
 */
#include "nix/nar.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"

enum nar_expect {
	X_MAGIC,
	X_OPEN,
	X_TYPE,
	X_TYPE_VALUE,
	X_REG_TAG,
	X_EXEC_VALUE,
	X_CONTENTS,
	X_DATA,
	X_REG_CLOSE,
	X_TARGET_TAG,
	X_TARGET,
	X_LINK_CLOSE,
	X_DIR_TAG,
	X_ENTRY_OPEN,
	X_NAME_TAG,
	X_NAME,
	X_NODE_TAG,
	X_ENTRY_CLOSE,
	X_END,
};

/* What was expected, for messages ("expected %s"). */
static const char *const expect_text[] = {
	[X_MAGIC] = "\"nix-archive-1\"",
	[X_OPEN] = "\"(\"",
	[X_TYPE] = "\"type\"",
	[X_TYPE_VALUE] = "\"regular\", \"symlink\" or \"directory\"",
	[X_REG_TAG] = "\"executable\" or \"contents\"",
	[X_EXEC_VALUE] = "\"\" after \"executable\"",
	[X_CONTENTS] = "\"contents\"",
	[X_DATA] = "file contents",
	[X_REG_CLOSE] = "\")\" after file contents",
	[X_TARGET_TAG] = "\"target\"",
	[X_TARGET] = "a symlink target",
	[X_LINK_CLOSE] = "\")\" after a symlink target",
	[X_DIR_TAG] = "\"entry\" or \")\"",
	[X_ENTRY_OPEN] = "\"(\" after \"entry\"",
	[X_NAME_TAG] = "\"name\"",
	[X_NAME] = "an entry name",
	[X_NODE_TAG] = "\"node\"",
	[X_ENTRY_CLOSE] = "\")\" closing an entry",
	[X_END] = "the end of the archive",
};

enum nar_raw { R_LEN, R_BYTES, R_DATA, R_PAD };

#define NAR_STR_MAX NAR_MAX_TARGET /* the largest string we ever collect */

struct nar_parser {
	const struct nar_sink_ops *ops;
	void *sink;
	uint64_t offset;        /* bytes consumed */
	uint64_t item_start;    /* offset of the current string's length field */
	enum nar_expect expect;
	enum nar_raw raw;
	unsigned len_have;      /* bytes of the length field read */
	unsigned pad_left;
	uint8_t len_buf[8];
	uint64_t want;          /* string length, or contents bytes still to come */
	uint64_t data_size;     /* size of the file being read */
	size_t have;            /* string bytes collected */
	bool executable;
	unsigned depth;         /* directories open, the root included */
	int error;              /* sticky: the first failure */
	char str[NAR_STR_MAX + 1];
	/* names[d] is the last entry name read in the directory at depth d
	 * (d = 1 .. NAR_MAX_DEPTH); name_len[d] == 0 before its first entry. */
	size_t name_len[NAR_MAX_DEPTH + 1];
	char names[NAR_MAX_DEPTH + 1][NAR_MAX_NAME + 1];
};

/* --- the null sink ------------------------------------------------------- */

static int null_dir_begin(void *s, const char *name, struct ip_error *err) { return 0; }
static int null_dir_end(void *s, struct ip_error *err) { return 0; }
static int null_file_begin(void *s, const char *name, bool executable, uint64_t size,
			   struct ip_error *err) { return 0; }
static int null_file_data(void *s, const void *data, size_t len, struct ip_error *err) { return 0; }
static int null_file_end(void *s, struct ip_error *err) { return 0; }
static int null_symlink(void *s, const char *name, const char *target, struct ip_error *err)
{
	return 0;
}

const struct nar_sink_ops nar_null_sink_ops = {
	.directory_begin = null_dir_begin,
	.directory_end = null_dir_end,
	.file_begin = null_file_begin,
	.file_data = null_file_data,
	.file_end = null_file_end,
	.symlink = null_symlink,
};

/* --- lifecycle ----------------------------------------------------------- */

struct nar_parser *nar_parser_new(const struct nar_sink_ops *ops, void *sink)
{
	struct nar_parser *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->ops = ops;
	p->sink = sink;
	p->expect = X_MAGIC;
	p->raw = R_LEN;
	return p;
}

void nar_parser_reset(struct nar_parser *p, const struct nar_sink_ops *ops, void *sink)
{
	/* everything before the string buffers, and the name lengths (the
	 * names themselves are read only up to their lengths) */
	memset(p, 0, offsetof(struct nar_parser, str));
	memset(p->name_len, 0, sizeof(p->name_len));
	p->ops = ops;
	p->sink = sink;
	p->expect = X_MAGIC;
	p->raw = R_LEN;
}

void nar_parser_free(struct nar_parser *parser)
{
	free(parser);
}

uint64_t nar_parser_offset(const struct nar_parser *parser)
{
	return parser->offset;
}

/* --- errors -------------------------------------------------------------- */

/* Records a malformed-archive error: "NAR: <what> at byte <offset>". */
__attribute__((format(printf, 4, 5)))
static int bad(struct nar_parser *p, struct ip_error *err, uint64_t at, const char *fmt, ...)
{
	char what[IP_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	p->error = -EBADMSG;
	return ip_fail(err, -EBADMSG, "NAR: %s at byte %" PRIu64, what, at);
}

/* A sink callback failed: keep its code and (if it set one) its message. */
static int sink_failed(struct nar_parser *p, int r, struct ip_error *err)
{
	if (r >= 0)
		r = -EIO; /* a sink must not return positive; treat it as failure */
	p->error = r;
	return ip_fail(err, r, "NAR: unpacking failed at byte %" PRIu64 ": %s", p->item_start,
		       strerror(-r));
}

/* --- grammar ------------------------------------------------------------- */

static bool str_is(const struct nar_parser *p, const char *tok)
{
	size_t n = strlen(tok);
	return p->have == n && memcmp(p->str, tok, n) == 0;
}

static int unexpected(struct nar_parser *p, struct ip_error *err)
{
	char q[80];
	return bad(p, err, p->item_start, "expected %s, got \"%s\"", expect_text[p->expect],
		   text_quote(p->str, p->have, q, sizeof(q)));
}

/* The entry name of the node being read; NULL for the root. */
static const char *node_name(const struct nar_parser *p)
{
	return p->depth ? p->names[p->depth] : NULL;
}

static void node_done(struct nar_parser *p)
{
	p->expect = p->depth ? X_ENTRY_CLOSE : X_END;
}

static int check_name(struct nar_parser *p, struct ip_error *err)
{
	char q[80], prev[80];
	const char *s = p->str;
	size_t n = p->have;
	if (n == 0)
		return bad(p, err, p->item_start, "empty entry name");
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return bad(p, err, p->item_start, "entry name \"%s\" not allowed",
			   text_quote(s, n, q, sizeof(q)));
	if (memchr(s, '/', n))
		return bad(p, err, p->item_start, "entry name \"%s\" contains '/'",
			   text_quote(s, n, q, sizeof(q)));
	if (memchr(s, '\0', n))
		return bad(p, err, p->item_start, "entry name \"%s\" contains a NUL byte",
			   text_quote(s, n, q, sizeof(q)));
	size_t pn = p->name_len[p->depth];
	if (pn) {
		const char *ps = p->names[p->depth];
		int c = memcmp(ps, s, pn < n ? pn : n);
		if (c == 0 && pn == n)
			return bad(p, err, p->item_start, "duplicate entry name \"%s\"",
				   text_quote(s, n, q, sizeof(q)));
		if (c > 0 || (c == 0 && pn > n))
			return bad(p, err, p->item_start, "entry names not sorted (\"%s\" after \"%s\")",
				   text_quote(s, n, q, sizeof(q)), text_quote(ps, pn, prev, sizeof(prev)));
	}
	memcpy(p->names[p->depth], s, n);
	p->names[p->depth][n] = '\0';
	p->name_len[p->depth] = n;
	return 0;
}

/* The states where the grammar allows one fixed token, and what follows it. */
static const struct keyword_step {
	const char *token;
	enum nar_expect next;
} keyword_steps[X_END + 1] = {
	[X_OPEN] = { "(", X_TYPE },
	[X_TYPE] = { "type", X_TYPE_VALUE },
	[X_CONTENTS] = { "contents", X_DATA },
	[X_TARGET_TAG] = { "target", X_TARGET },
	[X_ENTRY_OPEN] = { "(", X_NAME_TAG },
	[X_NAME_TAG] = { "name", X_NAME },
	[X_NODE_TAG] = { "node", X_OPEN },
	[X_ENTRY_CLOSE] = { ")", X_DIR_TAG },
};

/* A complete string (padding checked) has arrived in p->str. */
static int string_done(struct nar_parser *p, struct ip_error *err)
{
	int r;
	p->str[p->have] = '\0';
	const struct keyword_step *step = &keyword_steps[p->expect];
	if (step->token) {
		if (!str_is(p, step->token))
			return unexpected(p, err);
		p->expect = step->next;
		return 0;
	}
	switch (p->expect) {
	case X_MAGIC:
		if (!str_is(p, "nix-archive-1")) {
			char q[80];
			return bad(p, err, p->item_start, "not a NAR (magic \"%s\", expected \"nix-archive-1\")",
				   text_quote(p->str, p->have, q, sizeof(q)));
		}
		p->expect = X_OPEN;
		return 0;
	case X_TYPE_VALUE:
		if (str_is(p, "regular")) {
			p->executable = false;
			p->expect = X_REG_TAG;
		} else if (str_is(p, "symlink")) {
			p->expect = X_TARGET_TAG;
		} else if (str_is(p, "directory")) {
			if (p->depth >= NAR_MAX_DEPTH)
				return bad(p, err, p->item_start, "directories nested deeper than %d",
					   NAR_MAX_DEPTH);
			if (p->ops->directory_begin &&
			    (r = p->ops->directory_begin(p->sink, node_name(p), err)) != 0)
				return sink_failed(p, r, err);
			p->depth++;
			p->name_len[p->depth] = 0;
			p->expect = X_DIR_TAG;
		} else {
			return unexpected(p, err);
		}
		return 0;
	case X_REG_TAG:
		if (str_is(p, "executable")) {
			p->executable = true;
			p->expect = X_EXEC_VALUE;
		} else if (str_is(p, "contents")) {
			p->expect = X_DATA;
		} else {
			return unexpected(p, err);
		}
		return 0;
	case X_EXEC_VALUE: /* its length was checked to be 0 */
		p->expect = X_CONTENTS;
		return 0;
	case X_REG_CLOSE:
	case X_LINK_CLOSE:
		if (!str_is(p, ")"))
			return unexpected(p, err);
		node_done(p);
		return 0;
	case X_TARGET:
		if (p->have == 0)
			return bad(p, err, p->item_start, "empty symlink target");
		if (memchr(p->str, '\0', p->have))
			return bad(p, err, p->item_start, "symlink target contains a NUL byte");
		if (p->ops->symlink && (r = p->ops->symlink(p->sink, node_name(p), p->str, err)) != 0)
			return sink_failed(p, r, err);
		p->expect = X_LINK_CLOSE;
		return 0;
	case X_DIR_TAG:
		if (str_is(p, "entry")) {
			p->expect = X_ENTRY_OPEN;
			return 0;
		}
		if (!str_is(p, ")"))
			return unexpected(p, err);
		if (p->ops->directory_end && (r = p->ops->directory_end(p->sink, err)) != 0)
			return sink_failed(p, r, err);
		p->depth--;
		node_done(p);
		return 0;
	case X_NAME:
		if ((r = check_name(p, err)) < 0)
			return r;
		p->expect = X_NODE_TAG;
		return 0;
	case X_OPEN:
	case X_TYPE:
	case X_CONTENTS:
	case X_TARGET_TAG:
	case X_ENTRY_OPEN:
	case X_NAME_TAG:
	case X_NODE_TAG:
	case X_ENTRY_CLOSE: /* keyword_steps, above */
	case X_DATA:
	case X_END:
		break;
	}
	return bad(p, err, p->item_start, "internal error: string in state %d", (int)p->expect);
}

/* The string or the contents, and their padding, are complete. */
static int item_done(struct nar_parser *p, struct ip_error *err)
{
	p->raw = R_LEN;
	p->len_have = 0;
	if (p->expect == X_DATA) {
		int r;
		if (p->ops->file_end && (r = p->ops->file_end(p->sink, err)) != 0)
			return sink_failed(p, r, err);
		p->expect = X_REG_CLOSE;
		return 0;
	}
	return string_done(p, err);
}

/* The bytes of an item of length n are in: its padding follows. */
static int start_pad(struct nar_parser *p, uint64_t n, struct ip_error *err)
{
	p->pad_left = (unsigned)((8 - (n & 7)) & 7);
	p->raw = R_PAD;
	return p->pad_left ? 0 : item_done(p, err);
}

/* The 8-byte length of the next item has arrived. */
static int length_done(struct nar_parser *p, struct ip_error *err)
{
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | p->len_buf[i];
	if (p->expect == X_DATA) {
		if (n > (uint64_t)INT64_MAX)
			return bad(p, err, p->item_start, "file size %" PRIu64 " too large", n);
		int r;
		if (p->ops->file_begin &&
		    (r = p->ops->file_begin(p->sink, node_name(p), p->executable, n, err)) != 0)
			return sink_failed(p, r, err);
		p->want = p->data_size = n;
		p->raw = R_DATA;
		return n ? 0 : start_pad(p, 0, err);
	}
	uint64_t limit = NAR_MAX_TOKEN;
	const char *what = NULL;
	if (p->expect == X_NAME) {
		limit = NAR_MAX_NAME;
		what = "entry name";
	} else if (p->expect == X_TARGET) {
		limit = NAR_MAX_TARGET;
		what = "symlink target";
	} else if (p->expect == X_EXEC_VALUE && n != 0) {
		return bad(p, err, p->item_start, "\"executable\" must be followed by \"\", got a string of %" PRIu64 " bytes", n);
	}
	if (n > limit && limit == NAR_MAX_TOKEN)
		return bad(p, err, p->item_start,
			   "token of %" PRIu64 " bytes (limit %d) where %s was expected", n,
			   NAR_MAX_TOKEN, expect_text[p->expect]);
	if (n > limit)
		return bad(p, err, p->item_start, "%s of %" PRIu64 " bytes (limit %" PRIu64 ")", what,
			   n, limit);
	p->want = n;
	p->have = 0;
	p->raw = R_BYTES;
	return n ? 0 : start_pad(p, 0, err);
}

int nar_parser_feed(struct nar_parser *p, const void *data, size_t len, struct ip_error *err)
{
	const uint8_t *d = data;
	int r = 0;
	if (p->error)
		return ip_fail(err, p->error, "NAR: parser used after an error");
	while (len > 0) {
		size_t take;
		switch (p->raw) {
		case R_LEN:
			if (p->len_have == 0) {
				if (p->expect == X_END)
					return bad(p, err, p->offset, "trailing data after the end of the archive");
				p->item_start = p->offset;
			}
			take = 8 - p->len_have;
			if (take > len)
				take = len;
			memcpy(p->len_buf + p->len_have, d, take);
			p->len_have += (unsigned)take;
			p->offset += take;
			d += take;
			len -= take;
			if (p->len_have == 8)
				r = length_done(p, err);
			break;
		case R_BYTES:
			take = (size_t)(p->want - p->have);
			if (take > len)
				take = len;
			memcpy(p->str + p->have, d, take);
			p->have += take;
			p->offset += take;
			d += take;
			len -= take;
			if (p->have == p->want)
				r = start_pad(p, p->want, err);
			break;
		case R_DATA:
			/* The hot path: hand over the whole slice that is contents. */
			take = p->want < len ? (size_t)p->want : len;
			if (p->ops->file_data && (r = p->ops->file_data(p->sink, d, take, err)) != 0) {
				p->item_start = p->offset;
				return sink_failed(p, r, err);
			}
			p->want -= take;
			p->offset += take;
			d += take;
			len -= take;
			if (p->want == 0)
				r = start_pad(p, p->data_size, err);
			break;
		case R_PAD:
			take = p->pad_left < len ? p->pad_left : len;
			for (size_t i = 0; i < take; i++)
				if (d[i] != 0)
					return bad(p, err, p->offset + i, "non-zero padding byte 0x%02x", d[i]);
			p->pad_left -= (unsigned)take;
			p->offset += take;
			d += take;
			len -= take;
			if (p->pad_left == 0)
				r = item_done(p, err);
			break;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int nar_parser_finish(struct nar_parser *p, struct ip_error *err)
{
	if (p->error)
		return ip_fail(err, p->error, "NAR: parser used after an error");
	if (p->expect == X_END && p->raw == R_LEN && p->len_have == 0)
		return 0;
	if (p->offset == 0)
		return bad(p, err, 0, "empty input");
	const char *what = expect_text[p->expect];
	switch (p->raw) {
	case R_LEN:
		if (p->len_have == 0)
			return bad(p, err, p->offset, "truncated: expected %s", what);
		return bad(p, err, p->offset, "truncated in the length of %s", what);
	case R_BYTES:
		return bad(p, err, p->offset, "truncated in %s", what);
	case R_DATA:
		return bad(p, err, p->offset, "truncated in file contents (%" PRIu64 " bytes missing)",
			   p->want);
	case R_PAD:
		break;
	}
	return bad(p, err, p->offset, "truncated in padding");
}
