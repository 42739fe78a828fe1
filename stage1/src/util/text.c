#include "util/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *text_quote(const char *s, size_t len, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + TEXT_QUOTE_RESERVE < size; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		if (i + 1 < len && o + TEXT_QUOTE_RESERVE >= size) {
			memcpy(out + o, "...", 3);
			o += 3;
		}
	}
	out[o] = '\0';
	return out;
}

int text_parse_u64(const char *s, size_t len, uint64_t *out)
{
	if (len == 0 || len > 20)
		return -EINVAL;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

bool text_next_line(const char *text, size_t len, size_t *off, const char **line,
		    size_t *line_len)
{
	if (*off >= len)
		return false;
	const char *p = text + *off;
	const char *lf = memchr(p, '\n', len - *off);
	size_t n = lf ? (size_t)(lf - p) : len - *off;
	*off += n + (lf ? 1 : 0);
	*line = p;
	*line_len = n;
	return true;
}

int text_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t bigger_cap = *cap ? *cap : 1024;
		while (bigger_cap < *len + n + 1)
			bigger_cap *= 2;
		char *bigger = realloc(*buf, bigger_cap);
		if (!bigger)
			return -ENOMEM;
		*buf = bigger;
		*cap = bigger_cap;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

int text_buf_put(struct text_buf *t, const char *s, size_t n)
{
	return text_append(&t->buf, &t->len, &t->cap, s, n);
}
