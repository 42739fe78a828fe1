#include "store/ledger.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nix/store_path.h"
#include "util/fs.h"
#include "util/text.h"

void tree_identity_of(const struct stat *st, struct tree_identity *out)
{
	out->ino = (uint64_t)st->st_ino;
	out->ctime_sec = (uint64_t)st->st_ctim.tv_sec;
	out->ctime_nsec = (uint32_t)st->st_ctim.tv_nsec;
}

bool tree_identity_equal(const struct tree_identity *a, const struct tree_identity *b)
{
	return a->ino == b->ino && a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec;
}

size_t ledger_format_identity(const char *basename, const struct tree_identity *id, char *out)
{
	int n = snprintf(out, LEDGER_LINE_MAX, "%s %" PRIu64 " %" PRIu64 " %" PRIu32 "\n", basename,
			 id->ino, id->ctime_sec, id->ctime_nsec);
	return n > 0 && n < LEDGER_LINE_MAX ? (size_t)n : 0;
}

/* The next space-separated field of [*p, end). */
static bool field(const char **p, const char *end, const char **f, size_t *n)
{
	const char *s = *p, *sp = memchr(s, ' ', (size_t)(end - s));
	const char *e = sp ? sp : end;
	if (e == s)
		return false;
	*f = s;
	*n = (size_t)(e - s);
	*p = sp ? sp + 1 : end;
	return true;
}

static int parse_identity(const char *line, size_t len, char *basename, struct tree_identity *id)
{
	const char *p = line, *end = line + len, *f;
	size_t n;
	uint64_t nsec;
	if (!field(&p, end, &f, &n) || n > NIX_STORE_BASENAME_MAX ||
	    nix_store_basename_check(f, n, NULL) < 0)
		return -EINVAL;
	memcpy(basename, f, n);
	basename[n] = '\0';
	if (!field(&p, end, &f, &n) || text_parse_u64(f, n, &id->ino) < 0 ||
	    !field(&p, end, &f, &n) || text_parse_u64(f, n, &id->ctime_sec) < 0 ||
	    !field(&p, end, &f, &n) || text_parse_u64(f, n, &nsec) < 0 || nsec >= 1000000000u ||
	    p != end)
		return -EINVAL;
	id->ctime_nsec = (uint32_t)nsec;
	return 0;
}

int ledger_parse(const char *buf, size_t len,
		 int (*identity)(void *ctx, const char *basename, const struct tree_identity *id,
				 struct ip_error *err),
		 int (*entry)(void *ctx, const struct registration_entry *e, struct ip_error *err),
		 void *ctx, struct ip_error *err)
{
	const char *p = buf, *end = buf + len;
	size_t lineno = 0;
	char basename[NIX_STORE_BASENAME_MAX + 1];
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		lineno++;
		if (!nl)
			return ip_fail(err, -EBADMSG, "ledger, line %zu: %s", lineno,
				       lineno == 1 ? "not a ledger" : "no empty line before the registrations");
		size_t n = (size_t)(nl - p);
		const char *line = p;
		p = nl + 1;
		if (lineno == 1) {
			if (n != strlen(LEDGER_MAGIC) || memcmp(line, LEDGER_MAGIC, n) != 0)
				return ip_fail(err, -EBADMSG, "ledger, line 1: not a ledger");
			continue;
		}
		if (n == 0)
			break;
		struct tree_identity id;
		if (parse_identity(line, n, basename, &id) < 0)
			return ip_fail(err, -EBADMSG, "ledger, line %zu: expected <path> <inode> <ctime> <ns>",
				       lineno);
		int r = identity(ctx, basename, &id, err);
		if (r < 0)
			return r;
	}
	return registration_parse(p, (size_t)(end - p), entry, ctx, err);
}

int ledger_read(int root_fd, char **out, size_t *out_len, struct ip_error *err)
{
	return fs_read_file_at(root_fd, LEDGER_DIR "/" LEDGER_FILE, 2 * REGISTRATION_MAX_SIZE, out,
			       out_len, err);
}

int ledger_write(int root_fd, const char *text, size_t len, bool sync, struct ip_error *err)
{
	int dir = fs_mkdir_p_at(root_fd, LEDGER_DIR, 0755, err);
	if (dir < 0)
		return dir;
	int r = fs_replace_file_at(dir, LEDGER_FILE, "." LEDGER_FILE ".tmp", text, len, sync, err);
	close(dir);
	return r;
}
