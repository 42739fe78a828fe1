/* <hash>.narinfo and nix-cache-info ("Key: value" lines), the signature
 * fingerprint, and ed25519 verification against trusted keys.
 *
 * Choices where Nix is vague or lenient:
 *  - a line is "Key: value"; "Key:" at the end of a line is an empty value;
 *    "Key:value" (no space) is an error, as is a line without ':';
 *  - CRLF line ends are accepted (a '\r' can never be part of a legal value,
 *    so dropping it changes no meaning); blank lines are skipped; the last
 *    line may lack its '\n';
 *  - a known key given twice (except Sig) is an error; unknown keys are
 *    ignored, repeated or not;
 *  - a NUL byte anywhere is an error.
 */
#include "nix/narinfo.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nix/store_path.h"
#include "util/text.h"

/* Printable ASCII without space: URLs, compression names, Sig, CA. */
static bool is_token(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static char *dup_n(const char *s, size_t len)
{
	char *p = malloc(len + 1);
	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

/* --- line splitting ------------------------------------------------------ */

struct kv_line {
	unsigned lineno;
	size_t line_len;        /* without the line end */
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
	bool has_colon;
	bool space_after_colon; /* "Key: v" or "Key:" at the end of the line */
};

struct line_iter {
	const char *p, *end;
	unsigned lineno;
};

/* Next non-blank line, or false at the end. */
static bool next_line(struct line_iter *it, struct kv_line *out)
{
	while (it->p < it->end) {
		const char *start = it->p;
		const char *nl = memchr(start, '\n', (size_t)(it->end - start));
		const char *stop = nl ? nl : it->end;
		it->p = nl ? nl + 1 : it->end;
		it->lineno++;
		if (stop > start && stop[-1] == '\r')
			stop--;
		if (stop == start)
			continue;
		const char *colon = memchr(start, ':', (size_t)(stop - start));
		memset(out, 0, sizeof(*out));
		out->lineno = it->lineno;
		out->line_len = (size_t)(stop - start);
		out->key = start;
		if (!colon) {
			out->key_len = (size_t)(stop - start);
			return true;
		}
		out->has_colon = true;
		out->key_len = (size_t)(colon - start);
		out->value = colon + 1;
		out->space_after_colon = colon + 1 == stop || colon[1] == ' ';
		if (colon + 1 < stop && colon[1] == ' ')
			out->value++;
		out->value_len = (size_t)(stop - out->value);
		return true;
	}
	return false;
}

static bool key_is(const struct kv_line *l, const char *name)
{
	return l->key_len == strlen(name) && memcmp(l->key, name, l->key_len) == 0;
}

/* --- narinfo ------------------------------------------------------------- */

enum ni_key { K_STORE_PATH, K_URL, K_COMPRESSION, K_FILE_HASH, K_FILE_SIZE, K_NAR_HASH,
	      K_NAR_SIZE, K_REFERENCES, K_DERIVER, K_SIG, K_CA, K__COUNT };

static const char *const ni_key_names[K__COUNT] = {
	[K_STORE_PATH] = "StorePath", [K_URL] = "URL", [K_COMPRESSION] = "Compression",
	[K_FILE_HASH] = "FileHash", [K_FILE_SIZE] = "FileSize", [K_NAR_HASH] = "NarHash",
	[K_NAR_SIZE] = "NarSize", [K_REFERENCES] = "References", [K_DERIVER] = "Deriver",
	[K_SIG] = "Sig", [K_CA] = "CA",
};

static const struct {
	const char *name;
	enum nix_compression c;
} compressions[] = {
	{ "none", NIX_COMPRESSION_NONE }, { "xz", NIX_COMPRESSION_XZ },
	{ "zstd", NIX_COMPRESSION_ZSTD }, { "bzip2", NIX_COMPRESSION_BZIP2 },
	{ "gzip", NIX_COMPRESSION_GZIP }, { "br", NIX_COMPRESSION_BR },
	{ "lzip", NIX_COMPRESSION_LZIP }, { "lz4", NIX_COMPRESSION_LZ4 },
};

/* Appends a copy of s[0..len) to *arr of *n; more than max (`what` names
 * them in the message) is -EINVAL. */
static int append_copy(char ***arr, size_t *n, size_t max, const char *what, const char *s,
		       size_t len, struct ip_error *err)
{
	if (*n >= max)
		return ip_fail(err, -EINVAL, "more than %zu %s", max, what);
	/* Grow at powers of two. */
	if ((*n & (*n - 1)) == 0) {
		size_t cap = *n ? *n * 2 : 1;
		char **bigger = realloc(*arr, cap * sizeof(**arr));
		if (!bigger)
			return -ENOMEM;
		*arr = bigger;
	}
	char *copy = dup_n(s, len);
	if (!copy)
		return -ENOMEM;
	(*arr)[(*n)++] = copy;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Nix keeps references in a set; a list naming one twice is not something
 * a Nix writer produces, so it is refused rather than silently merged. */
static int references_unique(const struct narinfo *info, struct ip_error *err)
{
	if (info->n_references < 2)
		return 0;
	char **sorted = malloc(info->n_references * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	memcpy(sorted, info->references, info->n_references * sizeof(*sorted));
	qsort(sorted, info->n_references, sizeof(*sorted), cmp_str);
	int r = 0;
	for (size_t i = 1; i < info->n_references && r == 0; i++)
		if (strcmp(sorted[i - 1], sorted[i]) == 0)
			r = ip_fail(err, -EINVAL, "\"%s\" listed twice", sorted[i]);
	free(sorted);
	return r;
}

/* One value into `out`.  Returns 0 or a negative errno with err filled
 * (without the "line N" context, which the caller adds). */
static int ni_value(enum ni_key k, const char *v, size_t n, struct narinfo *out,
		    struct ip_error *err)
{
	char q[96];
	int r;
	switch (k) {
	case K_STORE_PATH:
		r = nix_store_path_check(v, n, err);
		if (r < 0)
			return r;
		return (out->store_path = dup_n(v, n)) ? 0 : -ENOMEM;
	case K_URL:
		if (n == 0 || !is_token(v, n))
			return ip_fail(err, -EINVAL, "empty or contains spaces or control characters");
		return (out->url = dup_n(v, n)) ? 0 : -ENOMEM;
	case K_COMPRESSION:
		if (n == 0) { /* Nix: empty means the historical default */
			v = "bzip2";
			n = 5;
		}
		if (!is_token(v, n) || n > 32) {
			text_quote(v, n, q, sizeof(q));
			return ip_fail(err, -EINVAL, "bad compression name \"%s\"", q);
		}
		out->compression = NIX_COMPRESSION_UNSUPPORTED;
		for (size_t i = 0; i < sizeof(compressions) / sizeof(compressions[0]); i++)
			if (strlen(compressions[i].name) == n && memcmp(compressions[i].name, v, n) == 0)
				out->compression = compressions[i].c;
		free(out->compression_name);
		return (out->compression_name = dup_n(v, n)) ? 0 : -ENOMEM;
	case K_FILE_HASH:
		out->has_file_hash = true;
		return nix_hash_parse(v, n, &out->file_hash, err);
	case K_NAR_HASH:
		return nix_hash_parse(v, n, &out->nar_hash, err);
	case K_FILE_SIZE:
	case K_NAR_SIZE: {
		uint64_t x;
		if (text_parse_u64(v, n, &x) < 0) {
			text_quote(v, n, q, sizeof(q));
			return ip_fail(err, -EINVAL, "\"%s\" is not a decimal size", q);
		}
		if (k == K_NAR_SIZE && x == 0)
			return ip_fail(err, -EINVAL, "must be greater than 0");
		*(k == K_NAR_SIZE ? &out->nar_size : &out->file_size) = x;
		return 0;
	}
	case K_REFERENCES:
		for (size_t i = 0; i < n;) {
			if (v[i] == ' ') {
				i++;
				continue;
			}
			size_t j = i;
			while (j < n && v[j] != ' ')
				j++;
			r = nix_store_basename_check(v + i, j - i, err);
			if (r < 0)
				return r;
			r = append_copy(&out->references, &out->n_references, NARINFO_MAX_REFERENCES,
					"references", v + i, j - i, err);
			if (r < 0)
				return r;
			i = j;
		}
		return references_unique(out, err);
	case K_DERIVER:
		if (n == strlen("unknown-deriver") && memcmp(v, "unknown-deriver", n) == 0)
			return 0;
		r = nix_store_basename_check(v, n, err);
		if (r < 0)
			return r;
		return (out->deriver = dup_n(v, n)) ? 0 : -ENOMEM;
	case K_SIG: {
		const char *colon = memchr(v, ':', n);
		if (!colon || colon == v || !is_token(v, n)) {
			text_quote(v, n, q, sizeof(q));
			return ip_fail(err, -EINVAL, "\"%s\" is not <key name>:<base64>", q);
		}
		return append_copy(&out->sigs, &out->n_sigs, NARINFO_MAX_SIGS, "signatures", v, n, err);
	}
	case K_CA:
		if (n == 0 || !is_token(v, n))
			return ip_fail(err, -EINVAL, "empty or contains spaces or control characters");
		return (out->ca = dup_n(v, n)) ? 0 : -ENOMEM;
	case K__COUNT:
		break;
	}
	return -EINVAL;
}

int narinfo_parse(const char *buf, size_t len, struct narinfo *out, struct ip_error *err)
{
	memset(out, 0, sizeof(*out));
	if (len > NARINFO_MAX_SIZE)
		return ip_fail(err, -EBADMSG, "narinfo: %zu bytes, more than the limit of %d", len,
			       NARINFO_MAX_SIZE);
	const char *nul = memchr(buf, '\0', len);
	if (nul) {
		unsigned line = 1;
		for (const char *p = buf; p < nul; p++)
			line += *p == '\n';
		return ip_fail(err, -EBADMSG, "narinfo line %u: NUL byte", line);
	}

	unsigned seen[K__COUNT] = { 0 }; /* line where each key was first seen */
	struct line_iter it = { buf, buf + len, 0 };
	struct kv_line l;
	int r = 0;
	char q[96];
	while (next_line(&it, &l)) {
		if (!l.has_colon || l.key_len == 0) {
			text_quote(l.key, l.line_len, q, sizeof(q));
			r = ip_fail(err, -EBADMSG, "narinfo line %u: \"%s\" is not \"Key: value\"",
				    l.lineno, q);
			goto fail;
		}
		enum ni_key k = K__COUNT;
		for (int i = 0; i < K__COUNT; i++)
			if (key_is(&l, ni_key_names[i]))
				k = (enum ni_key)i;
		if (k == K__COUNT)
			continue; /* unknown keys are for newer writers */
		if (!l.space_after_colon) {
			r = ip_fail(err, -EBADMSG, "narinfo line %u: %s: expected a space after ':'",
				    l.lineno, ni_key_names[k]);
			goto fail;
		}
		if (seen[k] && k != K_SIG) {
			r = ip_fail(err, -EBADMSG, "narinfo line %u: duplicate %s (first on line %u)",
				    l.lineno, ni_key_names[k], seen[k]);
			goto fail;
		}
		if (!seen[k])
			seen[k] = l.lineno;
		r = ni_value(k, l.value, l.value_len, out, err);
		if (r == -ENOMEM) {
			ip_fail(err, r, "narinfo: out of memory");
			goto fail;
		}
		if (r < 0) {
			r = ip_fail_ctx(err, -EBADMSG, "narinfo line %u: %s", l.lineno, ni_key_names[k]);
			goto fail;
		}
	}
	static const enum ni_key required[] = { K_STORE_PATH, K_URL, K_NAR_HASH, K_NAR_SIZE };
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (!seen[required[i]]) {
			r = ip_fail(err, -EBADMSG, "narinfo: missing %s", ni_key_names[required[i]]);
			goto fail;
		}
	}
	if (!out->compression_name) {
		out->compression = NIX_COMPRESSION_BZIP2; /* the historical default */
		if (!(out->compression_name = dup_n("bzip2", 5))) {
			r = ip_fail(err, -ENOMEM, "narinfo: out of memory");
			goto fail;
		}
	}
	return 0;
fail:
	narinfo_free(out);
	return r;
}

void narinfo_free(struct narinfo *info)
{
	if (!info)
		return;
	free(info->store_path);
	free(info->url);
	free(info->compression_name);
	for (size_t i = 0; i < info->n_references; i++)
		free(info->references[i]);
	free(info->references);
	free(info->deriver);
	for (size_t i = 0; i < info->n_sigs; i++)
		free(info->sigs[i]);
	free(info->sigs);
	free(info->ca);
	memset(info, 0, sizeof(*info));
}

/* --- signatures ---------------------------------------------------------- */

char *narinfo_fingerprint(const struct narinfo *info)
{
	char hash[NIX_HASH_TEXT_MAX];
	nix_hash_format(&info->nar_hash, hash);
	size_t len = 2 + strlen(info->store_path) + 1 + strlen(hash) + 1 + 20 + 1 + 1;
	for (size_t i = 0; i < info->n_references; i++)
		len += sizeof(NIX_STORE_DIR "/") - 1 + strlen(info->references[i]) + 1;
	char **sorted = info->n_references ? malloc(info->n_references * sizeof(*sorted)) : NULL;
	char *fp = malloc(len);
	if (!fp || (info->n_references && !sorted)) {
		free(fp);
		free(sorted);
		return NULL;
	}
	if (info->n_references) {
		memcpy(sorted, info->references, info->n_references * sizeof(*sorted));
		qsort(sorted, info->n_references, sizeof(*sorted), cmp_str);
	}
	size_t o = (size_t)snprintf(fp, len, "1;%s;%s;%" PRIu64 ";", info->store_path, hash,
				    info->nar_size);
	for (size_t i = 0; i < info->n_references; i++)
		o += (size_t)snprintf(fp + o, len - o, "%s" NIX_STORE_DIR "/%s", i ? "," : "",
				      sorted[i]);
	free(sorted);
	return fp;
}

int trusted_key_parse(const char *text, struct trusted_key *out, struct ip_error *err)
{
	char q[96];
	size_t len = strlen(text);
	text_quote(text, len, q, sizeof(q));
	const char *colon = strchr(text, ':');
	if (!colon || colon == text)
		return ip_fail(err, -EINVAL, "public key \"%s\" is not <name>:<base64 key>", q);
	size_t name_len = (size_t)(colon - text);
	if (name_len >= sizeof(out->name) || !is_token(text, name_len))
		return ip_fail(err, -EINVAL, "public key \"%s\": bad key name", q);
	struct trusted_key k = { 0 };
	if (nix_base64_decode(colon + 1, strlen(colon + 1), k.key, sizeof(k.key)) < 0)
		return ip_fail(err, -EINVAL,
			       "public key \"%s\": the key is not base64 of 32 bytes (an ed25519 public key)",
			       q);
	memcpy(k.name, text, name_len);
	*out = k;
	return 0;
}

int narinfo_verify(const struct narinfo *info, const struct trusted_key *keys, size_t n_keys,
		   struct ip_error *err)
{
	if (sodium_init() < 0)
		return ip_fail(err, -EIO, "libsodium failed to initialise");
	if (n_keys == 0)
		return ip_fail(err, -EPERM, "%s: no trusted public keys configured", info->store_path);
	if (info->n_sigs == 0)
		return ip_fail(err, -EPERM, "%s: narinfo has no signature (no Sig line)",
			       info->store_path);
	char *fp = narinfo_fingerprint(info);
	if (!fp)
		return ip_fail(err, -ENOMEM, "out of memory");
	size_t fp_len = strlen(fp);

	/* Why each signature failed, for the message. */
	char why[IP_ERROR_MSG_MAX] = "";
	size_t w = 0;
	int r = -EPERM;
	for (size_t s = 0; s < info->n_sigs && r != 0; s++) {
		const char *sig = info->sigs[s];
		const char *colon = strchr(sig, ':');
		size_t name_len = colon ? (size_t)(colon - sig) : strlen(sig);
		const char *verdict = "by an untrusted key";
		for (size_t k = 0; k < n_keys; k++) {
			if (strlen(keys[k].name) != name_len || memcmp(keys[k].name, sig, name_len) != 0)
				continue;
			uint8_t raw[crypto_sign_BYTES];
			if (!colon || nix_base64_decode(colon + 1, strlen(colon + 1), raw, sizeof(raw)) < 0) {
				verdict = "not base64 of 64 bytes";
				continue;
			}
			if (crypto_sign_verify_detached(raw, (const unsigned char *)fp, fp_len,
							keys[k].key) == 0) {
				r = 0;
				break;
			}
			verdict = "does not verify";
		}
		if (w < sizeof(why))
			w += (size_t)snprintf(why + w, sizeof(why) - w, "%s%.*s %s", s ? ", " : "",
					      (int)(name_len > 64 ? 64 : name_len), sig, verdict);
	}
	free(fp);
	if (r != 0)
		return ip_fail(err, -EPERM, "%s: no valid signature by a trusted key (%s)",
			       info->store_path, why);
	return 0;
}

/* --- nix-cache-info ------------------------------------------------------ */

static void trim(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

int nix_cache_info_parse(const char *buf, size_t len, struct nix_cache_info *out,
			 struct ip_error *err)
{
	struct nix_cache_info ci = { .store_dir = NIX_STORE_DIR, .want_mass_query = false,
				     .priority = 50 };
	if (len > NARINFO_MAX_SIZE)
		return ip_fail(err, -EBADMSG, "nix-cache-info: %zu bytes, more than the limit of %d",
			       len, NARINFO_MAX_SIZE);
	if (memchr(buf, '\0', len))
		return ip_fail(err, -EBADMSG, "nix-cache-info: NUL byte");
	struct line_iter it = { buf, buf + len, 0 };
	struct kv_line l;
	char q[96];
	while (next_line(&it, &l)) {
		if (!l.has_colon)
			continue; /* Nix ignores these */
		const char *key = l.key, *v = l.value;
		size_t kn = l.key_len, n = l.value_len;
		trim(&key, &kn);
		trim(&v, &n);
		text_quote(v, n, q, sizeof(q));
		if (kn == 8 && memcmp(key, "StoreDir", 8) == 0) {
			if (n == 0 || n >= sizeof(ci.store_dir) || !is_token(v, n))
				return ip_fail(err, -EBADMSG, "nix-cache-info line %u: bad StoreDir \"%s\"",
					       l.lineno, q);
			memcpy(ci.store_dir, v, n);
			ci.store_dir[n] = '\0';
		} else if (kn == 13 && memcmp(key, "WantMassQuery", 13) == 0) {
			if (n != 1 || (v[0] != '0' && v[0] != '1'))
				return ip_fail(err, -EBADMSG,
					       "nix-cache-info line %u: WantMassQuery \"%s\" is not 0 or 1",
					       l.lineno, q);
			ci.want_mass_query = v[0] == '1';
		} else if (kn == 8 && memcmp(key, "Priority", 8) == 0) {
			bool neg = n > 0 && v[0] == '-';
			uint64_t x;
			if (text_parse_u64(v + neg, n - neg, &x) < 0 || x > (uint64_t)INT32_MAX)
				return ip_fail(err, -EBADMSG,
					       "nix-cache-info line %u: Priority \"%s\" is not an integer",
					       l.lineno, q);
			ci.priority = neg ? -(int)x : (int)x;
		}
	}
	*out = ci;
	return 0;
}
