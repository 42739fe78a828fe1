#include "store/registration.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nix/store_path.h"
#include "util/fs.h"
#include "util/text.h"

#define TEMP_PREFIX ".nix-path-registration.ip-tmp"

static int text_path(struct text_buf *t, const char *basename)
{
	int r = text_buf_put(t, NIX_STORE_DIR "/", sizeof(NIX_STORE_DIR));
	if (r == 0)
		r = text_buf_put(t, basename, strlen(basename));
	if (r == 0)
		r = text_buf_put(t, "\n", 1);
	return r;
}

int registration_format(const struct registration_entry *entries, size_t n, char **out,
			size_t *out_len)
{
	struct text_buf t = { 0 };
	int r = text_buf_put(&t, "", 0);
	for (size_t i = 0; r == 0 && i < n; i++) {
		const struct registration_entry *e = &entries[i];
		char hex[NIX_SHA256_HEX_LEN + 1];
		char line[64];
		nix_hash_format_hex(&e->nar_hash, hex);
		r = text_path(&t, e->basename);
		if (r == 0)
			r = text_buf_put(&t, hex, strlen(hex));
		if (r == 0) {
			int k = snprintf(line, sizeof(line), "\n%" PRIu64 "\n", e->nar_size);
			r = text_buf_put(&t, line, (size_t)k);
		}
		if (r == 0)
			r = e->deriver ? text_path(&t, e->deriver) : text_buf_put(&t, "\n", 1);
		if (r == 0) {
			int k = snprintf(line, sizeof(line), "%zu\n", e->n_references);
			r = text_buf_put(&t, line, (size_t)k);
		}
		for (size_t j = 0; r == 0 && j < e->n_references; j++)
			r = text_path(&t, e->references[j]);
	}
	if (r < 0) {
		free(t.buf);
		return r;
	}
	*out = t.buf;
	*out_len = t.len;
	return 0;
}

/* Line reader over the buffer. */
struct lines {
	const char *p, *end;
	size_t lineno;
};

static int next_line(struct lines *l, const char **line, size_t *len)
{
	if (l->p >= l->end)
		return -ENODATA;
	const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
	if (!nl)
		return -EBADMSG; /* every line ends with a newline */
	*line = l->p;
	*len = (size_t)(nl - l->p);
	l->p = nl + 1;
	l->lineno++;
	return 0;
}

/* A full store path line into a NUL-terminated basename. */
static int parse_path(const char *line, size_t len, char *out)
{
	const size_t prefix = sizeof(NIX_STORE_DIR); /* "/nix/store/" */
	if (len <= prefix || len - prefix > NIX_STORE_BASENAME_MAX ||
	    memcmp(line, NIX_STORE_DIR "/", prefix) != 0)
		return -EINVAL;
	if (nix_store_basename_check(line + prefix, len - prefix, NULL) < 0)
		return -EINVAL;
	memcpy(out, line + prefix, len - prefix);
	out[len - prefix] = '\0';
	return 0;
}

/* Per-entry scratch; references are kept in one growing array of names. */
struct scratch {
	char path[NIX_STORE_BASENAME_MAX + 1];
	char deriver[NIX_STORE_BASENAME_MAX + 1];
	char (*names)[NIX_STORE_BASENAME_MAX + 1];
	const char **refs;
	size_t cap;
};

static int scratch_reserve(struct scratch *s, size_t n)
{
	if (n <= s->cap)
		return 0;
	size_t cap = s->cap ? s->cap : 16;
	while (cap < n)
		cap *= 2;
	void *names = realloc(s->names, cap * sizeof(*s->names));
	if (!names)
		return -ENOMEM;
	s->names = names;
	const char **refs = realloc(s->refs, cap * sizeof(*s->refs));
	if (!refs)
		return -ENOMEM;
	s->refs = refs;
	s->cap = cap;
	return 0;
}

/* Bounds the reference count of one entry (same limit as a narinfo's). */
#define REGISTRATION_MAX_REFERENCES 65536

int registration_parse(const char *buf, size_t len,
		       int (*entry)(void *ctx, const struct registration_entry *e,
				    struct ip_error *err),
		       void *ctx, struct ip_error *err)
{
	struct lines l = { buf, buf + len, 0 };
	struct scratch s = { 0 };
	const char *line;
	size_t n;
	int r = 0;

#define BAD(what) do { \
		r = ip_fail(err, -EBADMSG, "registration file, line %zu: %s", l.lineno, what); \
		goto fail; \
	} while (0)
#define NEXT(what) do { \
		if (next_line(&l, &line, &n) < 0) { l.lineno++; BAD("missing " what); } \
	} while (0)

	for (;;) {
		struct registration_entry e = { 0 };
		uint64_t count;
		r = next_line(&l, &line, &n);
		if (r == -ENODATA) {
			r = 0;
			break;
		}
		if (r < 0 || parse_path(line, n, s.path) < 0)
			BAD("expected a store path");
		e.basename = s.path;
		NEXT("NarHash");
		if (nix_hash_parse(line, n, &e.nar_hash, NULL) < 0)
			BAD("bad NarHash");
		NEXT("NarSize");
		if (text_parse_u64(line, n, &e.nar_size) < 0)
			BAD("bad NarSize");
		NEXT("deriver");
		if (n > 0) {
			if (parse_path(line, n, s.deriver) < 0)
				BAD("bad deriver");
			e.deriver = s.deriver;
		}
		NEXT("reference count");
		if (text_parse_u64(line, n, &count) < 0 || count > REGISTRATION_MAX_REFERENCES)
			BAD("bad reference count");
		if (scratch_reserve(&s, (size_t)count) < 0) {
			r = ip_fail(err, -ENOMEM, "registration file: out of memory");
			goto fail;
		}
		for (size_t i = 0; i < count; i++) {
			NEXT("reference");
			if (parse_path(line, n, s.names[i]) < 0)
				BAD("bad reference");
			s.refs[i] = s.names[i];
		}
		e.references = s.refs;
		e.n_references = (size_t)count;
		r = entry(ctx, &e, err);
		if (r < 0)
			goto fail;
	}
#undef NEXT
#undef BAD
fail:
	free(s.names);
	free(s.refs);
	return r;
}

int registration_read(int root_fd, char **out, size_t *out_len, struct ip_error *err)
{
	return fs_read_file_at(root_fd, REGISTRATION_FILE, REGISTRATION_MAX_SIZE, out, out_len, err);
}

int registration_write(int root_fd, const char *buf, size_t len, bool sync, struct ip_error *err)
{
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "%s-%ld", TEMP_PREFIX, (long)getpid());
	return fs_replace_file_at(root_fd, REGISTRATION_FILE, tmp, buf, len, sync, err);
}

void registration_cleanup_temps(int root_fd)
{
	int fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) == 0)
			(void)unlinkat(root_fd, de->d_name, 0);
	}
	closedir(d);
}
