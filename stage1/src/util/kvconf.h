/* A parser for nix.conf syntax over a buffer: `key = value` lines, `#`
 * comments (to the end of the line, anywhere on it, as in Nix's
 * src/libutil/config.cc), blank lines.  Pure: no I/O, no allocation.
 *
 * Used for EC2 user-data documents (userdata/) and for the boot mode's
 * configuration file, so it knows nothing about any key: it hands each
 * key/value pair with its line number to a callback, and the caller decides
 * what the keys mean.
 *
 * Syntax accepted:
 *   - lines end with LF; a CR before the LF is dropped (files edited on
 *     Windows, user-data pasted into a web console);
 *   - `#` starts a comment wherever it appears (so a value cannot contain #);
 *   - a line is blank after comment removal, or `KEY = VALUE`: KEY is a
 *     word of [A-Za-z0-9._-] (what Nix setting names use), `=` may have
 *     spaces around it or not, VALUE is the rest with surrounding white
 *     space removed (may be empty);
 *   - Nix's `include` / `!include` directives are refused by name;
 *   - NUL bytes and other control characters (except tab and CR before LF)
 *     are errors.
 * Errors name the line: "line 3: expected 'key = value'".
 */
#ifndef IP_UTIL_KVCONF_H
#define IP_UTIL_KVCONF_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

/* Defaults for struct kvconf_limits (a zero field means the default). */
#define KVCONF_DEFAULT_LINE_MAX 4096   /* bytes per line, without the LF */
#define KVCONF_DEFAULT_KEYS_MAX 64     /* key = value lines per document */
#define KVCONF_DEFAULT_SIZE_MAX 65536  /* bytes per document */
#define KVCONF_KEY_MAX 64              /* bytes per key */

struct kvconf_limits {
	size_t line_max;
	size_t keys_max;
	size_t size_max;
};

/* One `key = value` line.  key and value point into the caller's buffer and
 * are NOT NUL-terminated. */
struct kvconf_entry {
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
	unsigned line; /* 1-based */
};

/* Called for every entry in document order.  Return 0 to go on, a negative
 * errno to stop the parse (kvconf_parse then returns it; fill err yourself,
 * e.g. with kvconf_fail()). */
typedef int (*kvconf_fn)(const struct kvconf_entry *entry, void *ctx, struct ip_error *err);

/* Parses buf[0..len).  limits may be NULL (all defaults).  Returns the number
 * of entries (>= 0), or a negative errno: -EINVAL for a syntax error,
 * -E2BIG for a limit, or what the callback returned.  Errors start with
 * "line N: "; error_line (may be NULL) gets N, or 0 for an error about the
 * whole document. */
int kvconf_parse(const char *buf, size_t len, const struct kvconf_limits *limits,
		 kvconf_fn fn, void *ctx, unsigned *error_line, struct ip_error *err);

/* ip_fail with "line N: " before the message, for callbacks. */
int kvconf_fail(struct ip_error *err, unsigned line, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Iterates the whitespace-separated words of a value (list settings such as
 * `substituters = a b c`).  *pos starts at 0.  Returns true and sets
 * word/word_len for each word; false at the end. */
bool kvconf_next_word(const char *value, size_t value_len, size_t *pos,
		      const char **word, size_t *word_len);

/* True when the entry's key is exactly `name`. */
bool kvconf_key_is(const struct kvconf_entry *entry, const char *name);

#endif
