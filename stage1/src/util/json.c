#include "util/json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"

void json_init(struct json_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void json_free(struct json_writer *w)
{
	free(w->buf);
	json_init(w);
}

static void put(struct json_writer *w, const char *s, size_t n)
{
	if (!w->failed && text_append(&w->buf, &w->len, &w->cap, s, n) < 0)
		w->failed = -ENOMEM;
}

static void puts_(struct json_writer *w, const char *s)
{
	put(w, s, strlen(s));
}

static void putf(struct json_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct json_writer *w, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		w->failed = w->failed ? w->failed : -EINVAL;
		return;
	}
	put(w, tmp, (size_t)n);
}

static void put_string(struct json_writer *w, const char *s)
{
	put(w, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': puts_(w, "\\\""); break;
		case '\\': puts_(w, "\\\\"); break;
		case '\n': puts_(w, "\\n"); break;
		case '\r': puts_(w, "\\r"); break;
		case '\t': puts_(w, "\\t"); break;
		default:
			if (*p < 0x20)
				putf(w, "\\u%04x", *p);
			else
				put(w, (const char *)p, 1);
		}
	}
	put(w, "\"", 1);
}

/* Separator, indentation and the member name before a value. */
static void begin_value(struct json_writer *w, const char *key)
{
	if (w->depth > 0) {
		if (w->has_items[w->depth - 1])
			put(w, ",", 1);
		w->has_items[w->depth - 1] = true;
		put(w, "\n", 1);
		for (int i = 0; i < w->depth; i++)
			put(w, "  ", 2);
	} else if (w->len > 0) {
		w->failed = w->failed ? w->failed : -EINVAL; /* two top-level values */
	}
	if (key) {
		put_string(w, key);
		put(w, ": ", 2);
	}
}

static void open_container(struct json_writer *w, const char *key, const char *bracket)
{
	begin_value(w, key);
	puts_(w, bracket);
	if (w->depth >= JSON_MAX_DEPTH) {
		w->failed = w->failed ? w->failed : -EINVAL;
		return;
	}
	w->has_items[w->depth++] = false;
}

static void close_container(struct json_writer *w, const char *bracket)
{
	if (w->depth <= 0) {
		w->failed = w->failed ? w->failed : -EINVAL;
		return;
	}
	bool had = w->has_items[--w->depth];
	if (had) {
		put(w, "\n", 1);
		for (int i = 0; i < w->depth; i++)
			put(w, "  ", 2);
	}
	puts_(w, bracket);
}

void json_begin_object(struct json_writer *w, const char *key) { open_container(w, key, "{"); }
void json_end_object(struct json_writer *w) { close_container(w, "}"); }
void json_begin_array(struct json_writer *w, const char *key) { open_container(w, key, "["); }
void json_end_array(struct json_writer *w) { close_container(w, "]"); }

void json_string(struct json_writer *w, const char *key, const char *value)
{
	begin_value(w, key);
	if (value)
		put_string(w, value);
	else
		puts_(w, "null");
}

void json_uint(struct json_writer *w, const char *key, uint64_t value)
{
	begin_value(w, key);
	putf(w, "%llu", (unsigned long long)value);
}

void json_int(struct json_writer *w, const char *key, int64_t value)
{
	begin_value(w, key);
	putf(w, "%lld", (long long)value);
}

void json_double(struct json_writer *w, const char *key, double value, int decimals)
{
	begin_value(w, key);
	if (!isfinite(value) || fabs(value) >= 1e18)
		puts_(w, "null");
	else
		putf(w, "%.*f", decimals < 0 ? 0 : decimals > 9 ? 9 : decimals, value);
}

void json_bool(struct json_writer *w, const char *key, bool value)
{
	begin_value(w, key);
	puts_(w, value ? "true" : "false");
}

int json_finish(struct json_writer *w, const char **out, size_t *len)
{
	if (!w->failed && w->depth != 0)
		w->failed = -EINVAL;
	if (!w->failed)
		put(w, "\n", 1);
	if (w->failed)
		return w->failed;
	*out = w->buf;
	if (len)
		*len = w->len;
	return 0;
}
