/* A tiny JSON writer for the fetch report: objects, arrays, strings,
 * integers, fixed-point numbers, booleans.  Output goes to a growing buffer
 * (it is a few kilobytes at most); allocation failure is remembered and
 * reported once by json_finish. */
#ifndef IP_UTIL_JSON_H
#define IP_UTIL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 16

struct json_writer {
	char *buf;
	size_t len, cap;
	int failed;                   /* -ENOMEM or -EINVAL (misuse) */
	int depth;
	bool has_items[JSON_MAX_DEPTH];
};

void json_init(struct json_writer *w);
/* `key` is the member name inside an object and NULL inside an array or at
 * the top level. */
void json_begin_object(struct json_writer *w, const char *key);
void json_end_object(struct json_writer *w);
void json_begin_array(struct json_writer *w, const char *key);
void json_end_array(struct json_writer *w);
/* value NULL writes null. */
void json_string(struct json_writer *w, const char *key, const char *value);
void json_uint(struct json_writer *w, const char *key, uint64_t value);
void json_int(struct json_writer *w, const char *key, int64_t value);
/* Fixed notation with `decimals` digits (NaN and infinities become null). */
void json_double(struct json_writer *w, const char *key, double value, int decimals);
void json_bool(struct json_writer *w, const char *key, bool value);

/* 0 and the NUL-terminated text in *out (owned by the writer until
 * json_free), or the first error.  All containers must be closed. */
int json_finish(struct json_writer *w, const char **out, size_t *len);
void json_free(struct json_writer *w);

#endif
