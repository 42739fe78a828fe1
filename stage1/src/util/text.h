/* Small text helpers shared by the parsers: rendering untrusted bytes in a
 * message, and decimal numbers without strtoull's leniency (signs, spaces,
 * leading "0x"). */
#ifndef IP_UTIL_TEXT_H
#define IP_UTIL_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes s[0..len) to out (size bytes) for a message: printable ASCII as it
 * is, anything else (and '"', '\\') as \xNN, cut with "..." when it does
 * not fit.  Returns out. */
const char *text_quote(const char *s, size_t len, char *out, size_t size);
/* What text_quote keeps free at the end of out: one \xNN, "..." and the NUL.
 * An out of N + TEXT_QUOTE_RESERVE bytes shows N printable characters whole. */
#define TEXT_QUOTE_RESERVE 8

/* Parses 1 to 20 decimal digits, nothing else.  -EINVAL for anything that
 * is not digits, -ERANGE above UINT64_MAX. */
int text_parse_u64(const char *s, size_t len, uint64_t *out);

/* Lines of text[0..len): the next one from *off, without its '\n' (a last
 * line without one counts too).  Moves *off past it; false at the end. */
bool text_next_line(const char *text, size_t len, size_t *off, const char **line,
		    size_t *line_len);

/* Appends s[0..n) to the NUL-terminated text *buf of *len bytes in *cap
 * allocated ones (NULL/0/0 at first), growing it by doubling.  0, or
 * -ENOMEM (the text is left as it was).  For texts kept in fields of their
 * own; text_buf_put is this for a struct text_buf. */
int text_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n);

/* A growing NUL-terminated text (buf is NULL until the first put). */
struct text_buf {
	char *buf;
	size_t len, cap;
};

/* Appends s[0..n).  0, or -ENOMEM (the text is left as it was). */
int text_buf_put(struct text_buf *t, const char *s, size_t n);

#endif
