#include "userdata/userdata.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "cache/origin.h"
#include "util/kvconf.h"
#include "util/text.h"

#define STORE_PREFIX NIX_STORE_DIR "/"

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static void add_warning(struct userdata_result *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void add_warning(struct userdata_result *out, const char *fmt, ...)
{
	if (out->n_warnings >= USERDATA_WARNINGS_MAX)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->warnings[out->n_warnings++], USERDATA_LINE_MAX, fmt, ap);
	va_end(ap);
}

static int not_ours(struct userdata_result *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int not_ours(struct userdata_result *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
	out->kind = USERDATA_NOT_OURS;
	return 0;
}

/* Store path syntax is nix/store_path.c's; user-data only adds a hint for
 * the commonest mistake, pasting <system>/init instead of <system>.
 * Writes a reason into why (no line number) and returns false if invalid. */
static bool userdata_store_path_valid(const char *p, size_t n, char *why, size_t why_size)
{
	struct ip_error path_err = { 0 };
	if (nix_store_path_check(p, n, &path_err) == 0)
		return true;
	size_t plen = strlen(STORE_PREFIX);
	if (n > plen && memcmp(p, STORE_PREFIX, plen) == 0 && memchr(p + plen, '/', n - plen))
		snprintf(why, why_size, "a path inside a store path, not the store path itself");
	else
		snprintf(why, why_size, "%s", ip_error_str(&path_err));
	return false;
}

/* Printable excerpt of untrusted bytes for a reason line. */
static void excerpt(const char *p, size_t n, char *dst, size_t dst_size)
{
	size_t max = dst_size - 1 < 24 ? dst_size - 1 : 24;
	size_t i;
	for (i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)p[i];
		dst[i] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
	}
	dst[i] = '\0';
}

/* Copies a word into out->text (NUL-terminated) and returns it. */
static const char *store_word(struct userdata_result *out, size_t *used, const char *w, size_t wl)
{
	if (*used + wl + 1 > sizeof(out->text))
		return NULL;
	char *dst = out->text + *used;
	memcpy(dst, w, wl);
	dst[wl] = '\0';
	*used += wl + 1;
	return dst;
}

/* ---- gzip ---------------------------------------------------------------- */

/* Inflates a gzip member into dst (at most dst_size bytes).  *overflow is set
 * when the data would not fit: dst then holds the first dst_size bytes. */
static int gunzip_bounded(const uint8_t *in, size_t in_len, uint8_t *dst, size_t dst_size,
			  size_t *out_len, bool *overflow, struct ip_error *err)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	*overflow = false;
	int zr = inflateInit2(&zs, 16 + MAX_WBITS); /* gzip wrapper only */
	if (zr != Z_OK)
		return ip_fail(err, zr == Z_MEM_ERROR ? -ENOMEM : -EBADMSG,
			       "gzip: cannot initialise zlib");
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)in_len;
	zs.next_out = dst;
	zs.avail_out = (uInt)dst_size;
	int r = 0;
	zr = inflate(&zs, Z_FINISH);
	if (zr == Z_STREAM_END) {
		if (zs.avail_in != 0)
			r = ip_fail(err, -EBADMSG, "bad gzip: %u bytes after the end of the stream",
				    zs.avail_in);
	} else if (zs.avail_out == 0 && (zr == Z_BUF_ERROR || zr == Z_OK)) {
		/* Filled dst, including the one byte past the limit. */
		*overflow = true;
	} else if (zr == Z_MEM_ERROR) {
		r = ip_fail(err, -ENOMEM, "gzip: out of memory");
	} else if (zr == Z_BUF_ERROR) {
		r = ip_fail(err, -EBADMSG, "bad gzip: truncated stream");
	} else {
		r = ip_fail(err, -EBADMSG, "bad gzip: %s", zs.msg ? zs.msg : "corrupt data");
	}
	*out_len = dst_size - zs.avail_out;
	inflateEnd(&zs);
	return r;
}

/* ---- sorting ------------------------------------------------------------- */

enum sniff { SNIFF_NOT_OURS, SNIFF_STORE_PATH, SNIFF_DOCUMENT };

static bool has_prefix(const char *p, size_t n, const char *prefix)
{
	size_t pl = strlen(prefix);
	return n >= pl && memcmp(p, prefix, pl) == 0;
}

static bool has_prefix_nocase(const char *p, size_t n, const char *prefix)
{
	size_t pl = strlen(prefix);
	return n >= pl && strncasecmp(p, prefix, pl) == 0;
}

/* A line after removing a comment and surrounding blanks. */
static void line_content(const char *p, size_t n, const char **start, size_t *len)
{
	const char *hash = memchr(p, '#', n);
	if (hash)
		n = (size_t)(hash - p);
	while (n > 0 && is_space(p[n - 1]))
		n--;
	while (n > 0 && is_space(*p)) {
		p++;
		n--;
	}
	*start = p;
	*len = n;
}

/* Decides whose the text is (steps 2 and 3 in userdata.h). */
static enum sniff sniff(const char *t, size_t n, struct userdata_result *out)
{
	size_t i = 0;
	while (i < n && is_space(t[i]))
		i++;
	if (i == n) {
		not_ours(out, "user-data is empty");
		return SNIFF_NOT_OURS;
	}
	if (has_prefix(t, n, "#!")) {
		not_ours(out, "a script (starts with #!), left for amazon-init");
		return SNIFF_NOT_OURS;
	}
	static const char *const cloud_init[] = {
		"#cloud-", "#include", "#part-handler", "#upstart-job",
	};
	for (size_t k = 0; k < sizeof(cloud_init) / sizeof(cloud_init[0]); k++) {
		if (has_prefix(t, n, cloud_init[k])) {
			char word[32];
			size_t wl = 0;
			while (wl < n && wl < sizeof(word) - 1 && !is_space(t[wl]))
				wl++;
			excerpt(t, wl, word, sizeof(word));
			not_ours(out, "cloud-init user-data (%s)", word);
			return SNIFF_NOT_OURS;
		}
	}
	if (has_prefix_nocase(t + i, n - i, "Content-Type:") ||
	    has_prefix_nocase(t + i, n - i, "MIME-Version:")) {
		not_ours(out, "a MIME multi-part document (cloud-init)");
		return SNIFF_NOT_OURS;
	}

	bool binary = memchr(t, '\0', n) != NULL;
	unsigned line = 0;
	size_t off = 0, ll;
	const char *p;
	while (text_next_line(t, n, &off, &p, &ll)) {
		line++;
		const char *c;
		size_t cl;
		line_content(p, ll, &c, &cl);
		if (cl == 0)
			continue;
		if (has_prefix(c, cl, STORE_PREFIX))
			return SNIFF_STORE_PATH;
		size_t k = 0;
		while (k < cl && ((c[k] >= 'a' && c[k] <= 'z') || (c[k] >= 'A' && c[k] <= 'Z') ||
				  (c[k] >= '0' && c[k] <= '9') || c[k] == '.' || c[k] == '_' ||
				  c[k] == '-'))
			k++;
		size_t key_len = k;
		while (k < cl && (c[k] == ' ' || c[k] == '\t'))
			k++;
		if (key_len > 0 && k < cl && c[k] == '=')
			return SNIFF_DOCUMENT;
		if (binary) {
			not_ours(out, "binary data that is not gzip");
		} else {
			char ex[32];
			excerpt(c, cl, ex, sizeof(ex));
			not_ours(out, "neither a store path nor 'key = value' settings (line %u: '%s')",
				 line, ex);
		}
		return SNIFF_NOT_OURS;
	}
	not_ours(out, "only comments, no setting");
	return SNIFF_NOT_OURS;
}

/* ---- the bare store path form --------------------------------------------- */

static int parse_store_path_form(const char *t, size_t n, struct userdata_result *out,
				 struct ip_error *err)
{
	unsigned line = 0, path_line = 0;
	size_t off = 0;
	const char *path = NULL;
	size_t path_len = 0;
	size_t ll;
	const char *p;
	while (text_next_line(t, n, &off, &p, &ll)) {
		line++;
		for (size_t i = 0; i < ll; i++) {
			unsigned char ch = (unsigned char)p[i];
			if (ch == '\0') {
				out->error_line = line;
				return kvconf_fail(err, line, -EINVAL, "NUL byte in column %zu", i + 1);
			}
		}
		const char *c;
		size_t cl;
		line_content(p, ll, &c, &cl);
		if (cl == 0)
			continue;
		size_t wl = 0;
		while (wl < cl && !is_space(c[wl]))
			wl++;
		if (path || wl < cl) {
			out->error_line = line;
			return kvconf_fail(err, line, -EINVAL,
					   "expected a single store path and nothing else");
		}
		path = c;
		path_len = wl;
		path_line = line;
	}
	char why[128];
	if (!userdata_store_path_valid(path, path_len, why, sizeof(why))) {
		out->error_line = path_line;
		return kvconf_fail(err, path_line, -EINVAL, "not a valid store path: %s", why);
	}
	memcpy(out->system, path, path_len);
	out->system[path_len] = '\0';
	out->format = USERDATA_FORMAT_STORE_PATH;
	out->kind = USERDATA_OK;
	return 0;
}

/* ---- the document form ---------------------------------------------------- */

struct doc_state {
	struct userdata_result *out;
	size_t used; /* bytes of out->text */
	unsigned system_line, substituters_line, keys_line;
	/* Parsed lists before the policy decides what to keep. */
	size_t n_subs, n_keys;
	const char *subs[USERDATA_SUBSTITUTERS_MAX];
	const char *keys[USERDATA_KEYS_MAX];
};

/* The one substituter URL check (cache/origin.h), under user-data's own
 * length limit. */
static bool substituter_valid(const char *w, size_t wl, char *why, size_t why_size)
{
	if (wl > USERDATA_URL_MAX) {
		snprintf(why, why_size, "URL longer than %d bytes", USERDATA_URL_MAX);
		return false;
	}
	struct ip_error e = { 0 };
	if (substituter_url_check(w, wl, &e) < 0) {
		snprintf(why, why_size, "%s", ip_error_str(&e));
		return false;
	}
	return true;
}

static bool is_base64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* "<name>:<base64 of a 32-byte ed25519 key>" (44 characters, one '='). */
static bool public_key_valid(const char *w, size_t wl, char *why, size_t why_size)
{
	const char *colon = memchr(w, ':', wl);
	if (wl > USERDATA_KEY_TEXT_MAX || !colon || colon == w) {
		snprintf(why, why_size, "expected '<name>:<base64 key>'");
		return false;
	}
	const char *b = colon + 1;
	size_t bl = wl - (size_t)(b - w);
	bool ok = bl == 44 && b[43] == '=' && b[42] != '=';
	for (size_t i = 0; ok && i < 43; i++)
		ok = is_base64_char(b[i]);
	if (!ok) {
		snprintf(why, why_size, "key '%.*s' is not 32 bytes of base64",
			 (int)(colon - w) > 64 ? 64 : (int)(colon - w), w);
		return false;
	}
	return true;
}

static int doc_entry(const struct kvconf_entry *e, void *ctx, struct ip_error *err)
{
	struct doc_state *st = ctx;
	struct userdata_result *out = st->out;
	unsigned *seen;
	if (kvconf_key_is(e, "system"))
		seen = &st->system_line;
	else if (kvconf_key_is(e, "substituters"))
		seen = &st->substituters_line;
	else if (kvconf_key_is(e, "trusted-public-keys"))
		seen = &st->keys_line;
	else {
		out->error_line = e->line;
		return kvconf_fail(err, e->line, -EINVAL,
				   "unknown key '%.*s' (known: system, substituters, "
				   "trusted-public-keys)", (int)e->key_len, e->key);
	}
	if (*seen) {
		out->error_line = e->line;
		return kvconf_fail(err, e->line, -EINVAL, "'%.*s' set twice (first on line %u)",
				   (int)e->key_len, e->key, *seen);
	}
	*seen = e->line;

	size_t pos = 0, wl;
	const char *w;
	char why[160];
	if (seen == &st->system_line) {
		if (!kvconf_next_word(e->value, e->value_len, &pos, &w, &wl)) {
			out->error_line = e->line;
			return kvconf_fail(err, e->line, -EINVAL, "'system' needs a store path");
		}
		size_t more_pos = pos;
		const char *w2;
		size_t wl2;
		if (kvconf_next_word(e->value, e->value_len, &more_pos, &w2, &wl2)) {
			out->error_line = e->line;
			return kvconf_fail(err, e->line, -EINVAL, "'system' takes one store path");
		}
		if (!userdata_store_path_valid(w, wl, why, sizeof(why))) {
			out->error_line = e->line;
			return kvconf_fail(err, e->line, -EINVAL, "not a valid store path: %s", why);
		}
		memcpy(out->system, w, wl);
		out->system[wl] = '\0';
		return 0;
	}
	bool subs = seen == &st->substituters_line;
	while (kvconf_next_word(e->value, e->value_len, &pos, &w, &wl)) {
		size_t *count = subs ? &st->n_subs : &st->n_keys;
		size_t max = subs ? USERDATA_SUBSTITUTERS_MAX : USERDATA_KEYS_MAX;
		if (*count >= max) {
			out->error_line = e->line;
			return kvconf_fail(err, e->line, -E2BIG, "more than %zu %s", max,
					   subs ? "substituters" : "keys");
		}
		bool ok = subs ? substituter_valid(w, wl, why, sizeof(why))
			       : public_key_valid(w, wl, why, sizeof(why));
		if (!ok) {
			out->error_line = e->line;
			return kvconf_fail(err, e->line, -EINVAL, "%s", why);
		}
		const char *stored = store_word(out, &st->used, w, wl);
		if (!stored) {
			out->error_line = e->line;
			return kvconf_fail(err, e->line, -E2BIG, "too much text");
		}
		(subs ? st->subs : st->keys)[(*count)++] = stored;
	}
	return 0;
}

static int parse_document_form(const char *t, size_t n, const struct userdata_policy *policy,
			       struct userdata_result *out, struct ip_error *err)
{
	struct doc_state st = { .out = out };
	const struct kvconf_limits lim = {
		.line_max = USERDATA_SIZE_MAX,
		.keys_max = 16,
		.size_max = USERDATA_SIZE_MAX,
	};
	int r = kvconf_parse(t, n, &lim, doc_entry, &st, &out->error_line, err);
	if (r < 0)
		return r;
	if (!st.system_line)
		return ip_fail(err, -EINVAL, "missing the required 'system' setting");

	out->format = USERDATA_FORMAT_DOCUMENT;
	out->kind = USERDATA_OK;
	if (st.n_subs) {
		if (policy && policy->allow_substituters) {
			memcpy(out->substituters, st.subs, st.n_subs * sizeof(st.subs[0]));
			out->n_substituters = st.n_subs;
		} else {
			out->substituters_ignored = true;
			add_warning(out, "line %u: substituters ignored: allow-user-data-substituters "
				    "is off, using the image's substituters", st.substituters_line);
		}
	}
	if (st.n_keys) {
		if (policy && policy->allow_keys) {
			memcpy(out->keys, st.keys, st.n_keys * sizeof(st.keys[0]));
			out->n_keys = st.n_keys;
		} else {
			out->keys_ignored = true;
			add_warning(out, "line %u: trusted-public-keys ignored: allow-user-data-keys "
				    "is off, trusting only the image's keys", st.keys_line);
		}
	}
	return 0;
}

/* ---- entry points --------------------------------------------------------- */

static void result_init(struct userdata_result *out, enum userdata_source source)
{
	memset(out, 0, offsetof(struct userdata_result, text));
	out->text[0] = '\0';
	out->kind = USERDATA_MALFORMED;
	out->source = source;
	out->format = USERDATA_FORMAT_NONE;
}

int userdata_parse(const uint8_t *buf, size_t len, const struct userdata_policy *policy,
		   struct userdata_result *out, struct ip_error *err)
{
	result_init(out, USERDATA_SOURCE_USER_DATA);
	if (len > USERDATA_SIZE_MAX)
		return ip_fail(err, -E2BIG, "user-data is %zu bytes, over the limit of %d",
			       len, USERDATA_SIZE_MAX);

	/* The plain text: the input itself, or what gunzip made of it (one byte
	 * more than the limit, to see that it is over).  Parsed strings are
	 * copied to out->text, so the decompressed bytes go to a local buffer. */
	uint8_t plain[USERDATA_SIZE_MAX + 1];
	const char *t = (const char *)buf;
	size_t n = len;
	bool overflow = false;
	if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) {
		out->gzipped = true;
		int r = gunzip_bounded(buf, len, plain, sizeof(plain), &n, &overflow, err);
		if (r < 0)
			return r;
		t = (const char *)plain;
		if (overflow)
			n = USERDATA_SIZE_MAX;
	}
	/* A UTF-8 byte order mark from a Windows editor is not content. */
	if (n >= 3 && memcmp(t, "\xef\xbb\xbf", 3) == 0) {
		t += 3;
		n -= 3;
	}

	enum sniff s = sniff(t, n, out);
	if (s == SNIFF_NOT_OURS) {
		if (overflow) {
			size_t rl = strlen(out->reason);
			snprintf(out->reason + rl, sizeof(out->reason) - rl,
				 " (gzip, over %d bytes uncompressed)", USERDATA_SIZE_MAX);
		}
		return 0;
	}
	/* Drop what sniff() wrote for a NOT_OURS verdict it did not reach. */
	out->reason[0] = '\0';
	if (overflow)
		return ip_fail(err, -E2BIG, "gzip-compressed user-data is over %d bytes uncompressed",
			       USERDATA_SIZE_MAX);
	if (s == SNIFF_STORE_PATH)
		return parse_store_path_form(t, n, out, err);
	return parse_document_form(t, n, policy, out, err);
}

int userdata_parse_tag(const char *value, size_t len, struct userdata_result *out,
		       struct ip_error *err)
{
	result_init(out, USERDATA_SOURCE_TAG);
	while (len > 0 && is_space(value[len - 1]))
		len--;
	while (len > 0 && is_space(*value)) {
		value++;
		len--;
	}
	if (len == 0)
		return not_ours(out, "the tag is empty");
	char why[128];
	if (len >= sizeof(out->system))
		return ip_fail(err, -EINVAL, "tag value is not a valid store path: too long");
	if (!userdata_store_path_valid(value, len, why, sizeof(why)))
		return ip_fail(err, -EINVAL, "tag value is not a valid store path: %s", why);
	memcpy(out->system, value, len);
	out->system[len] = '\0';
	out->format = USERDATA_FORMAT_STORE_PATH;
	out->kind = USERDATA_OK;
	return 0;
}

const struct userdata_result *userdata_choose(const struct userdata_result *user_data,
					      const struct userdata_result *tag)
{
	if (user_data && user_data->kind == USERDATA_OK)
		return user_data;
	if (user_data && user_data->kind == USERDATA_MALFORMED)
		return NULL;
	if (tag && tag->kind == USERDATA_OK)
		return tag;
	return NULL;
}

const char *userdata_kind_name(enum userdata_kind kind)
{
	switch (kind) {
	case USERDATA_OK: return "ok";
	case USERDATA_NOT_OURS: return "not ours";
	case USERDATA_MALFORMED: return "malformed";
	}
	return "?";
}

const char *userdata_source_name(enum userdata_source source)
{
	switch (source) {
	case USERDATA_SOURCE_USER_DATA: return "user-data";
	case USERDATA_SOURCE_TAG: return "instance tag";
	}
	return "?";
}
