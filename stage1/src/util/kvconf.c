#include "util/kvconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/text.h"

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

int kvconf_fail(struct ip_error *err, unsigned line, int code, const char *fmt, ...)
{
	char msg[IP_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ip_fail(err, code, "line %u: %s", line, msg);
}

bool kvconf_key_is(const struct kvconf_entry *entry, const char *name)
{
	size_t n = strlen(name);
	return entry->key_len == n && memcmp(entry->key, name, n) == 0;
}

bool kvconf_next_word(const char *value, size_t value_len, size_t *pos,
		      const char **word, size_t *word_len)
{
	size_t i = *pos;
	while (i < value_len && is_blank(value[i]))
		i++;
	if (i >= value_len) {
		*pos = value_len;
		return false;
	}
	size_t start = i;
	while (i < value_len && !is_blank(value[i]))
		i++;
	*word = value + start;
	*word_len = i - start;
	*pos = i;
	return true;
}

/* One line without its LF (and without a CR just before the LF). */
static int parse_line(const char *p, size_t n, unsigned line, size_t *nkeys,
		      const struct kvconf_limits *lim, kvconf_fn fn, void *ctx,
		      struct ip_error *err)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\0')
			return kvconf_fail(err, line, -EINVAL, "NUL byte in column %zu", i + 1);
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return kvconf_fail(err, line, -EINVAL,
					   "control character 0x%02x in column %zu", c, i + 1);
	}
	const char *hash = memchr(p, '#', n);
	if (hash)
		n = (size_t)(hash - p);
	while (n > 0 && is_blank(p[n - 1]))
		n--;
	size_t i = 0;
	while (i < n && is_blank(p[i]))
		i++;
	if (i == n)
		return 0;

	size_t key_start = i;
	while (i < n && is_key_char(p[i]))
		i++;
	size_t key_len = i - key_start;
	while (i < n && is_blank(p[i]))
		i++;
	if (key_len == 0 || i == n || p[i] != '=') {
		/* Nix's own directives: name them rather than calling them junk. */
		const char *word = p + key_start;
		size_t wl = 0;
		while (key_start + wl < n && !is_blank(word[wl]))
			wl++;
		if ((wl == 7 && memcmp(word, "include", 7) == 0) ||
		    (wl == 8 && memcmp(word, "!include", 8) == 0))
			return kvconf_fail(err, line, -EINVAL, "'%.*s' directives are not supported",
					   (int)wl, word);
		return kvconf_fail(err, line, -EINVAL, "expected 'key = value'");
	}
	if (key_len > KVCONF_KEY_MAX)
		return kvconf_fail(err, line, -E2BIG, "key longer than %d bytes", KVCONF_KEY_MAX);
	i++; /* '=' */
	while (i < n && is_blank(p[i]))
		i++;

	if (++*nkeys > lim->keys_max)
		return kvconf_fail(err, line, -E2BIG, "more than %zu settings", lim->keys_max);
	struct kvconf_entry e = {
		.key = p + key_start,
		.key_len = key_len,
		.value = p + i,
		.value_len = n - i,
		.line = line,
	};
	return fn(&e, ctx, err);
}

int kvconf_parse(const char *buf, size_t len, const struct kvconf_limits *limits,
		 kvconf_fn fn, void *ctx, unsigned *error_line, struct ip_error *err)
{
	if (error_line)
		*error_line = 0;
	struct kvconf_limits lim = {
		.line_max = KVCONF_DEFAULT_LINE_MAX,
		.keys_max = KVCONF_DEFAULT_KEYS_MAX,
		.size_max = KVCONF_DEFAULT_SIZE_MAX,
	};
	if (limits) {
		if (limits->line_max)
			lim.line_max = limits->line_max;
		if (limits->keys_max)
			lim.keys_max = limits->keys_max;
		if (limits->size_max)
			lim.size_max = limits->size_max;
	}
	if (len > lim.size_max)
		return ip_fail(err, -E2BIG, "document is %zu bytes, over the limit of %zu",
			       len, lim.size_max);

	size_t nkeys = 0;
	unsigned line = 0;
	size_t off = 0, n;
	const char *p;
	while (text_next_line(buf, len, &off, &p, &n)) {
		line++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		int r;
		if (n > lim.line_max)
			r = kvconf_fail(err, line, -E2BIG, "line longer than %zu bytes", lim.line_max);
		else
			r = parse_line(p, n, line, &nkeys, &lim, fn, ctx, err);
		if (r < 0) {
			if (error_line)
				*error_line = line;
			return r;
		}
	}
	return (int)nkeys;
}
