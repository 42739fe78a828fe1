/* Streaming NAR (nix-archive-1) parser.
 *
 * A push parser: feed it bytes in chunks of any size, as they come out of the
 * decompressor, and it calls the sink for every node.  File contents are
 * passed through in pieces and never buffered whole.  Everything untrusted
 * meets a named limit below.  The archive is good only once
 * nar_parser_finish returned 0: the root's directory_end (or file_end) comes
 * before trailing garbage can be seen, so a caller renames the unpacked tree
 * into place only after finish (and its hash checks) succeeded.
 * Checked: the magic, token spellings, zero padding, entry names (non-empty,
 * not "." or "..", no '/' or NUL, strictly increasing bytewise), the limits
 * below, "executable" followed by "", file sizes < 2^63, symlink targets
 * non-empty without NUL, truncation and trailing data.
 * See ../shared/reference/nix-binary-cache.md for the format.
 */
#ifndef IP_NIX_NAR_H
#define IP_NIX_NAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define NAR_MAX_NAME      255   /* bytes in one directory entry name */
#define NAR_MAX_TARGET    4095  /* bytes in a symlink target */
#define NAR_MAX_DEPTH     64    /* directories open at once, the root included */
#define NAR_MAX_TOKEN     64    /* bytes of a syntax token ("type", "(", ...) */

/* The sink receives the tree in order.  Every callback returns 0 or a
 * negative errno (and may fill err); an error stops the parse.  `name` is
 * NULL for the root node (the store path itself), otherwise one entry name,
 * already checked (non-empty, not "." or "..", no '/' or NUL, sorted).
 * Order: directory_begin, its entries, directory_end; file_begin, file_data
 * zero or more times (slices of the input, in order, never empty), file_end;
 * symlink once (target non-empty, no NUL, at most NAR_MAX_TARGET bytes).
 * The strings passed are valid only during the call.  A NULL callback is
 * treated as one that does nothing and succeeds.  When a callback fails
 * without filling err, the parser fills it with strerror and the offset. */
struct nar_sink_ops {
	int (*directory_begin)(void *sink, const char *name, struct ip_error *err);
	int (*directory_end)(void *sink, struct ip_error *err);
	int (*file_begin)(void *sink, const char *name, bool executable, uint64_t size,
			  struct ip_error *err);
	int (*file_data)(void *sink, const void *data, size_t len, struct ip_error *err);
	int (*file_end)(void *sink, struct ip_error *err);
	int (*symlink)(void *sink, const char *name, const char *target, struct ip_error *err);
};

/* A sink that only validates (all callbacks succeed and do nothing). */
extern const struct nar_sink_ops nar_null_sink_ops;

struct nar_parser;

/* NULL when out of memory.  The parser holds about 21 KiB (the limits above). */
struct nar_parser *nar_parser_new(const struct nar_sink_ops *ops, void *sink);
void nar_parser_free(struct nar_parser *parser);
/* Ready for a new archive, as nar_parser_new would make it, without
 * allocating (the download pipeline keeps its parsers). */
void nar_parser_reset(struct nar_parser *parser, const struct nar_sink_ops *ops, void *sink);

/* Consumes `len` bytes.  Returns 0, or a negative errno (-EBADMSG for a
 * malformed archive, the sink's code when a callback failed) with err
 * saying what is wrong and at which byte offset, e.g.
 *   NAR: entry names not sorted ("b" after "c") at byte 312
 * Bytes after the end of the archive are an error ("trailing data").  After
 * a failure the parser only repeats that failure. */
int nar_parser_feed(struct nar_parser *parser, const void *data, size_t len,
		    struct ip_error *err);

/* Call at end of input: fails with -EBADMSG ("truncated") unless exactly one
 * complete archive was fed. */
int nar_parser_finish(struct nar_parser *parser, struct ip_error *err);

/* Bytes consumed so far. */
uint64_t nar_parser_offset(const struct nar_parser *parser);

#endif
