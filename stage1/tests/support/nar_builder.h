/* Test support for NARs: a writer for hand-made (often malformed) archives,
 * a sink that records what the parser reported, and a feeder that pushes a
 * buffer through a parser in chunks. */
#ifndef IP_TESTS_NAR_BUILDER_H
#define IP_TESTS_NAR_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nix/nar.h"

struct nar_builder {
	unsigned char *buf;
	size_t len, cap;
};

void nb_free(struct nar_builder *b);
/* Raw bytes, no framing. */
void nb_raw(struct nar_builder *b, const void *data, size_t len);
/* A bare 8-byte little-endian length field. */
void nb_u64(struct nar_builder *b, uint64_t v);
/* A string: length, bytes, zero padding to a multiple of 8. */
void nb_bytes(struct nar_builder *b, const void *data, size_t len);
void nb_str(struct nar_builder *b, const char *s);

/* Appends the strings of a small spec language, tokens separated by spaces:
 *   word       the string "word"; \xNN and \s (space) escapes allowed
 *   ''         the empty string
 *   =cN        the string of N copies of character c      (=x256)
 *   #N         a bare length field N, nothing after it     (#18446744073709551615)
 *   ~word      the string without its padding
 *   !HEX       raw bytes given in hex                      (!0100000000000000)
 *   ^N         N levels: "entry ( name d node ( type directory" (closing with $N)
 *   $N         N times ") )" closing what ^N opened (the inner ")" ends the node)
 * Returns false on a malformed spec (a bug in the test). */
bool nb_spec(struct nar_builder *b, const char *spec);

/* A sink that writes one line per node into a text log, in the format of
 * stage1/tests/data/nars/<name>.tsv:
 *   d<TAB>path                       a directory ("." is the root)
 *   f<TAB>path<TAB>size<TAB>sha256   a regular file (x for executable)
 *   l<TAB>path<TAB>target            a symlink
 * and checks the callback order (directories balanced, file data between
 * file_begin and file_end, sizes as announced). */
struct nar_record {
	char *log;
	size_t log_len, log_cap;
	char path[8192];
	size_t path_len[NAR_MAX_DEPTH + 2];
	unsigned depth;
	bool in_file, exec, done;
	uint64_t size, got;
	unsigned long pieces;
	char order_error[256];           /* first misuse seen, "" if none */
	void *sha;                       /* struct sha256 */
};
extern const struct nar_sink_ops nar_record_ops;
void nar_record_init(struct nar_record *r);
void nar_record_free(struct nar_record *r);

/* Feeds len bytes to a fresh parser over `ops`/`sink` in chunks of `chunk`
 * bytes (0 = all at once) and finishes it.  Returns the parser's result;
 * err holds the message. */
int nar_feed_chunked(const struct nar_sink_ops *ops, void *sink, const void *data, size_t len,
		     size_t chunk, struct ip_error *err);

/* The NARs Nix made from real trees (data/nars/<name>.nar, with .tsv: the
 * tree, .narhash: Nix's NarHash). */
extern const char *const nar_fixture_names[];
#define NAR_FIXTURE_COUNT 8
/* data/nars/<name>.<ext> (malloc'd), or NULL. */
unsigned char *nar_fixture_load(const char *name, const char *ext, size_t *len);

#endif
