#include "cache/closure.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cache/decompress.h"
#include "nix/store_path.h"
#include "store/registration.h"
#include "util/log.h"

#define NIX_CACHE_INFO_MAX (64 * 1024)

/* ---- the path table ----------------------------------------------------- */

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

size_t closure_find(const struct closure *c, const char *basename)
{
	if (!c->index_cap)
		return CLOSURE_NONE;
	size_t mask = c->index_cap - 1;
	for (size_t i = name_hash(basename) & mask;; i = (i + 1) & mask) {
		size_t k = c->index[i];
		if (k == CLOSURE_NONE)
			return CLOSURE_NONE;
		if (strcmp(c->paths[k].basename, basename) == 0)
			return k;
	}
}

static int index_grow(struct closure *c)
{
	size_t cap = c->index_cap ? c->index_cap * 2 : 64;
	size_t *index = malloc(cap * sizeof(*index));
	if (!index)
		return -ENOMEM;
	for (size_t i = 0; i < cap; i++)
		index[i] = CLOSURE_NONE;
	for (size_t k = 0; k < c->n; k++) {
		size_t i = name_hash(c->paths[k].basename) & (cap - 1);
		while (index[i] != CLOSURE_NONE)
			i = (i + 1) & (cap - 1);
		index[i] = k;
	}
	free(c->index);
	c->index = index;
	c->index_cap = cap;
	return 0;
}

int closure_add(struct closure *c, const char *basename, size_t referrer, size_t *index)
{
	size_t k = closure_find(c, basename);
	if (k != CLOSURE_NONE) {
		if (index)
			*index = k;
		return 0;
	}
	if ((c->n + 1) * 2 > c->index_cap && index_grow(c) < 0)
		return -ENOMEM;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct closure_path *paths = realloc(c->paths, cap * sizeof(*paths));
		if (!paths)
			return -ENOMEM;
		c->paths = paths;
		c->cap = cap;
	}
	struct closure_path *p = &c->paths[c->n];
	memset(p, 0, sizeof(*p));
	p->basename = strdup(basename);
	if (!p->basename)
		return -ENOMEM;
	p->referrer = referrer;
	p->sub_index = -1;
	k = c->n++;
	size_t i = name_hash(basename) & (c->index_cap - 1);
	while (c->index[i] != CLOSURE_NONE)
		i = (i + 1) & (c->index_cap - 1);
	c->index[i] = k;
	if (index)
		*index = k;
	return 0;
}

static void path_free(struct closure_path *p)
{
	free(p->basename);
	free(p->why_not);
	free(p->deriver);
	for (size_t i = 0; i < p->n_refs; i++)
		free(p->ref_names[i]);
	free(p->ref_names);
	free(p->refs);
	if (p->narinfo) {
		narinfo_free(p->narinfo);
		free(p->narinfo);
	}
}

void closure_free(struct closure *c)
{
	for (size_t k = 0; k < c->n; k++)
		path_free(&c->paths[k]);
	free(c->paths);
	free(c->index);
	memset(c, 0, sizeof(*c));
}

int closure_link(struct closure *c, struct ip_error *err)
{
	for (size_t k = 0; k < c->n; k++) {
		struct closure_path *p = &c->paths[k];
		free(p->refs);
		p->refs = p->n_refs ? malloc(p->n_refs * sizeof(*p->refs)) : NULL;
		if (p->n_refs && !p->refs)
			return ip_fail(err, -ENOMEM, "out of memory");
		for (size_t j = 0; j < p->n_refs; j++) {
			p->refs[j] = closure_find(c, p->ref_names[j]);
			if (p->refs[j] == CLOSURE_NONE)
				return ip_fail(err, -EBADMSG, "%s/%s refers to %s/%s, which is not in the closure",
					       NIX_STORE_DIR, p->basename, NIX_STORE_DIR, p->ref_names[j]);
		}
	}
	return 0;
}

static const struct closure *sort_closure;
static int cmp_by_name(const void *a, const void *b)
{
	return strcmp(sort_closure->paths[*(const size_t *)a].basename,
		      sort_closure->paths[*(const size_t *)b].basename);
}

size_t closure_topo_order(const struct closure *c, size_t *order)
{
	if (c->n == 0)
		return 0;
	/* Iterative depth-first search: a path is emitted after all its
	 * references.  0 = unseen, 1 = on the stack, 2 = emitted. */
	unsigned char *mark = calloc(c->n, 1);
	size_t *stack = malloc(c->n * sizeof(*stack));
	size_t *pos = calloc(c->n, sizeof(*pos));
	size_t **sorted = calloc(c->n, sizeof(*sorted));
	size_t n_out = 0, depth = 0;
	if (!mark || !stack || !pos || !sorted)
		goto out;
	/* references in name order, for a deterministic file */
	static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&sort_lock);
	sort_closure = c;
	for (size_t k = 0; k < c->n; k++) {
		const struct closure_path *p = &c->paths[k];
		if (!p->n_refs || !p->refs)
			continue;
		sorted[k] = malloc(p->n_refs * sizeof(size_t));
		if (!sorted[k])
			break;
		memcpy(sorted[k], p->refs, p->n_refs * sizeof(size_t));
		qsort(sorted[k], p->n_refs, sizeof(size_t), cmp_by_name);
	}
	pthread_mutex_unlock(&sort_lock);

	stack[depth++] = c->root;
	mark[c->root] = 1;
	while (depth > 0) {
		size_t k = stack[depth - 1];
		const struct closure_path *p = &c->paths[k];
		if (sorted[k] && pos[k] < p->n_refs) {
			size_t r = sorted[k][pos[k]++];
			if (r != CLOSURE_NONE && mark[r] == 0) {
				mark[r] = 1;
				stack[depth++] = r;
			}
			continue;
		}
		mark[k] = 2;
		order[n_out++] = k;
		depth--;
	}
out:
	if (sorted)
		for (size_t k = 0; k < c->n; k++)
			free(sorted[k]);
	free(sorted);
	free(mark);
	free(stack);
	free(pos);
	return n_out;
}

/* ---- resolution ----------------------------------------------------------- */

enum sub_check { SUB_UNCHECKED, SUB_CHECKING, SUB_OK, SUB_BAD };

struct nreq {
	struct http_request http;
	struct resolver *rv;
	size_t path;          /* CLOSURE_NONE: nix-cache-info */
	int sub;
	char *url;
	struct nreq *next, *prev;      /* live list */
	struct nreq *done_next;        /* completion queue */
};

struct sub_state {
	enum sub_check check;
	size_t *waiting;      /* paths waiting for the nix-cache-info check */
	size_t n_waiting, cap_waiting;
	char reason[320];
};

struct resolver {
	struct resolve_env *env;
	struct closure *c;
	struct closure old;   /* entries of the previous registration file */
	struct closure ledger;  /* paths of the ledger (identity and entry) */
	struct closure builtin; /* paths the image placed (with entries when it gave them) */
	struct sub_state *subs;
	struct http_client *http;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct nreq *done_head, *done_tail;   /* under lock */
	struct nreq *live;
	unsigned outstanding;
	size_t *todo;
	size_t n_todo, cap_todo;
	int failed;
	struct ip_error *err;
};

/* snprintf that may cut long messages (URLs can be long). */
static void fmt(char *out, size_t size, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *out, size_t size, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	vsnprintf(out, size, f, ap);
	va_end(ap);
}

static void nreq_done(void *ctx, struct http_request *req, const struct http_result *res)
{
	(void)req;
	(void)res;
	struct nreq *nr = ctx;
	struct resolver *rv = nr->rv;
	pthread_mutex_lock(&rv->lock);
	nr->done_next = NULL;
	if (rv->done_tail)
		rv->done_tail->done_next = nr;
	else
		rv->done_head = nr;
	rv->done_tail = nr;
	pthread_cond_signal(&rv->cond);
	pthread_mutex_unlock(&rv->lock);
}

static const struct http_request_ops nreq_ops = { .on_data = NULL, .on_done = nreq_done };

static int fail(struct resolver *rv, int code)
{
	if (!rv->failed)
		rv->failed = code;
	return code;
}

static int push_todo(struct resolver *rv, size_t k)
{
	if (rv->n_todo == rv->cap_todo) {
		size_t cap = rv->cap_todo ? rv->cap_todo * 2 : 64;
		size_t *todo = realloc(rv->todo, cap * sizeof(*todo));
		if (!todo)
			return fail(rv, ip_fail(rv->err, -ENOMEM, "out of memory"));
		rv->todo = todo;
		rv->cap_todo = cap;
	}
	rv->todo[rv->n_todo++] = k;
	return 0;
}

static int get_http(struct resolver *rv)
{
	if (rv->http)
		return 0;
	rv->http = rv->env->http.get(rv->env->http.ctx, rv->err);
	return rv->http ? 0 : fail(rv, rv->err->code ? rv->err->code : -EIO);
}

static int submit(struct resolver *rv, size_t path, int sub, const char *file)
{
	struct substituter *s = &rv->env->subs[sub];
	int r = get_http(rv);
	if (r < 0)
		return r;
	struct nreq *nr = calloc(1, sizeof(*nr));
	if (!nr)
		return fail(rv, ip_fail(rv->err, -ENOMEM, "out of memory"));
	r = substituter_join(s, file, &nr->url, rv->err);
	if (r < 0) {
		free(nr);
		return fail(rv, r);
	}
	nr->rv = rv;
	nr->path = path;
	nr->sub = sub;
	nr->http.url = nr->url;
	nr->http.sub = s;
	nr->http.use_hooks = true;
	nr->http.ops = &nreq_ops;
	nr->http.ctx = nr;
	nr->http.max_body = path == CLOSURE_NONE ? NIX_CACHE_INFO_MAX : NARINFO_MAX_SIZE;
	nr->next = rv->live;
	if (rv->live)
		rv->live->prev = nr;
	rv->live = nr;
	rv->outstanding++;
	if (path != CLOSURE_NONE)
		rv->env->stats[sub].narinfo_requests++;
	http_submit(rv->http, &nr->http, 0);
	return 0;
}

static void nreq_free(struct resolver *rv, struct nreq *nr)
{
	if (nr->prev)
		nr->prev->next = nr->next;
	else
		rv->live = nr->next;
	if (nr->next)
		nr->next->prev = nr->prev;
	http_request_reset(&nr->http);
	free(nr->url);
	free(nr);
}

static void describe_referrer(const struct closure *c, size_t k, char *out, size_t size)
{
	size_t ref = c->paths[k].referrer;
	if (ref == CLOSURE_NONE)
		snprintf(out, size, "the requested path");
	else
		snprintf(out, size, "referenced by %s/%s", NIX_STORE_DIR, c->paths[ref].basename);
}

static int dispatch(struct resolver *rv, size_t k);

static void warn(struct resolver *rv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct resolver *rv, const char *fmt, ...)
{
	(void)rv;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_debug("closure: %s", line);
	if (rv->env->warn)
		rv->env->warn(rv->env->warn_ctx, line);
}

static int all_exhausted(struct resolver *rv, size_t k)
{
	struct closure_path *p = &rv->c->paths[k];
	char who[400];
	describe_referrer(rv->c, k, who, sizeof(who));
	if (p->why_not)
		return fail(rv, ip_fail(rv->err, -EPERM, "cannot fetch %s/%s (%s): %s", NIX_STORE_DIR,
					p->basename, who, p->why_not));
	char asked[600] = "";
	size_t used = 0;
	bool any_bad = false;
	for (size_t i = 0; i < rv->env->n_subs; i++) {
		int n = snprintf(asked + used, sizeof(asked) - used, "%s%s%s", i ? ", " : "",
				 rv->env->subs[i].url,
				 rv->subs[i].check == SUB_BAD ? " (skipped)" : "");
		if (n > 0 && (size_t)n < sizeof(asked) - used)
			used += (size_t)n;
		any_bad |= rv->subs[i].check == SUB_BAD;
	}
	if (any_bad && rv->env->n_subs == 1)
		return fail(rv, ip_fail(rv->err, -EIO, "cannot fetch %s/%s (%s): %s", NIX_STORE_DIR,
					p->basename, who, rv->subs[0].reason));
	return fail(rv, ip_fail(rv->err, -ENOENT,
				"%s/%s (%s) is not in any substituter (asked: %s); check that the cache "
				"holds the whole closure",
				NIX_STORE_DIR, p->basename, who, asked));
}

static int wait_for_check(struct resolver *rv, int sub, size_t k)
{
	struct sub_state *s = &rv->subs[sub];
	if (s->n_waiting == s->cap_waiting) {
		size_t cap = s->cap_waiting ? s->cap_waiting * 2 : 32;
		size_t *w = realloc(s->waiting, cap * sizeof(*w));
		if (!w)
			return fail(rv, ip_fail(rv->err, -ENOMEM, "out of memory"));
		s->waiting = w;
		s->cap_waiting = cap;
	}
	s->waiting[s->n_waiting++] = k;
	return 0;
}

/* Asks the next substituter for path k. */
static int dispatch(struct resolver *rv, size_t k)
{
	struct closure_path *p = &rv->c->paths[k];
	while ((size_t)p->next_sub < rv->env->n_subs) {
		int sub = p->next_sub;
		struct sub_state *s = &rv->subs[sub];
		switch (s->check) {
		case SUB_BAD:
			p->next_sub++;
			continue;
		case SUB_UNCHECKED: {
			s->check = SUB_CHECKING;
			int r = submit(rv, CLOSURE_NONE, sub, "nix-cache-info");
			if (r < 0)
				return r;
		}
			/* fall through */
		case SUB_CHECKING:
			return wait_for_check(rv, sub, k);
		case SUB_OK: {
			char file[NIX_STORE_HASH_LEN + sizeof(".narinfo")];
			snprintf(file, sizeof(file), "%.*s.narinfo", NIX_STORE_HASH_LEN, p->basename);
			return submit(rv, k, sub, file);
		}
		}
	}
	return all_exhausted(rv, k);
}

/* Whether something vouches for present path k (the ledger when the entry
 * is still the one it recorded, else the image's list), and where its
 * registration entry can come from without a narinfo (NULL: nowhere). */
static struct closure_path *vouch(struct resolver *rv, struct closure_path *p)
{
	size_t l = closure_find(&rv->ledger, p->basename);
	if (l != CLOSURE_NONE) {
		struct closure_path *e = &rv->ledger.paths[l];
		if (e->has_id && e->resolved && tree_identity_equal(&e->id, &p->id)) {
			p->vouched = true;
			return e;
		}
	}
	size_t b = closure_find(&rv->builtin, p->basename);
	if (b == CLOSURE_NONE)
		return NULL;
	p->vouched = true;
	if (rv->builtin.paths[b].resolved)
		return &rv->builtin.paths[b];
	size_t o = closure_find(&rv->old, p->basename);
	return o != CLOSURE_NONE ? &rv->old.paths[o] : NULL;
}

/* A vouched path's entry stands in for its narinfo. */
static void take_entry(struct resolver *rv, struct closure_path *p, struct closure_path *src)
{
	p->nar_hash = src->nar_hash;
	p->nar_size = src->nar_size;
	p->deriver = src->deriver;
	src->deriver = NULL;
	p->ref_names = src->ref_names;
	p->n_refs = src->n_refs;
	src->ref_names = NULL;
	src->n_refs = 0;
	p->sub_index = -1;
	p->resolved = true;
	rv->env->paths_from_registration++;
}

static int add_references(struct resolver *rv, size_t k)
{
	for (size_t j = 0; j < rv->c->paths[k].n_refs; j++) {
		size_t before = rv->c->n, idx;
		int r = closure_add(rv->c, rv->c->paths[k].ref_names[j], k, &idx);
		if (r < 0)
			return fail(rv, ip_fail(rv->err, r, "out of memory"));
		if (rv->c->n > before && (r = push_todo(rv, idx)) < 0)
			return r;
	}
	return 0;
}

static int start_path(struct resolver *rv, size_t k)
{
	struct closure_path *p = &rv->c->paths[k];
	struct stat sb;
	p->present = store_stat(rv->env->store, p->basename, &sb);
	if (p->present) {
		tree_identity_of(&sb, &p->id);
		p->has_id = true;
		struct closure_path *src = vouch(rv, p);
		if (p->vouched)
			rv->env->paths_vouched++;
		else
			p->check = true;
		if (src) {
			take_entry(rv, p, src);
			return add_references(rv, k);
		}
	}
	return dispatch(rv, k);
}

static void reject(struct resolver *rv, struct nreq *nr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reject(struct resolver *rv, struct nreq *nr, const char *fmt, ...)
{
	struct closure_path *p = &rv->c->paths[nr->path];
	char msg[IP_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(p->why_not);
	p->why_not = strdup(msg);
	if (!p->why_not) {
		fail(rv, ip_fail(rv->err, -ENOMEM, "out of memory"));
		return;
	}
	rv->env->stats[nr->sub].narinfo_rejected++;
	warn(rv, "%s", msg);
	p->next_sub = nr->sub + 1;
	dispatch(rv, nr->path);
}

static void accept_narinfo(struct resolver *rv, struct nreq *nr, struct narinfo *info)
{
	struct closure_path *p = &rv->c->paths[nr->path];
	p->nar_hash = info->nar_hash;
	p->nar_size = info->nar_size;
	if (info->deriver && strcmp(info->deriver, "unknown-deriver") != 0) {
		p->deriver = info->deriver;
		info->deriver = NULL;
	}
	p->ref_names = info->references;
	p->n_refs = info->n_references;
	info->references = NULL;
	info->n_references = 0;
	p->sub_index = nr->sub;
	p->resolved = true;
	free(p->why_not);
	p->why_not = NULL;
	if (!p->vouched) { /* to fetch, or to check and maybe fetch */
		p->narinfo = malloc(sizeof(*p->narinfo));
		if (!p->narinfo) {
			narinfo_free(info);
			fail(rv, ip_fail(rv->err, -ENOMEM, "out of memory"));
			return;
		}
		*p->narinfo = *info;
	} else {
		narinfo_free(info);
	}
	rv->env->stats[nr->sub].narinfo_found++;
	add_references(rv, nr->path);
}

static void handle_narinfo(struct resolver *rv, struct nreq *nr)
{
	const struct http_result *res = &nr->http.res;
	struct closure_path *p = &rv->c->paths[nr->path];
	struct substituter_stats *st = &rv->env->stats[nr->sub];
	if (rv->failed)
		return;
	if (res->outcome == HTTP_NOT_FOUND) {
		st->narinfo_not_found++;
		p->next_sub = nr->sub + 1;
		dispatch(rv, nr->path);
		return;
	}
	if (res->outcome != HTTP_OK) {
		fail(rv, ip_fail(rv->err, -EIO, "fetching %s: %s%s; check the network and the cache",
				 nr->url, res->message,
				 res->outcome == HTTP_TRANSIENT ? " (gave up after retries)" : ""));
		return;
	}
	struct narinfo info;
	struct ip_error e = { 0 };
	if (narinfo_parse(res->body, res->body_len, &info, &e) < 0) {
		reject(rv, nr, "malformed narinfo %s: %s", nr->url, ip_error_str(&e));
		return;
	}
	char expect[NIX_STORE_PATH_MAX];
	snprintf(expect, sizeof(expect), "%s/%s", NIX_STORE_DIR, p->basename);
	if (strcmp(info.store_path, expect) != 0) {
		reject(rv, nr, "narinfo %s is for %s, not %s", nr->url, info.store_path, expect);
		narinfo_free(&info);
		return;
	}
	if (rv->env->check_sigs && narinfo_verify(&info, rv->env->keys, rv->env->n_keys, &e) < 0) {
		/* the message starts with the path, which the caller names already */
		const char *msg = ip_error_str(&e);
		size_t n = strlen(expect);
		if (strncmp(msg, expect, n) == 0 && strncmp(msg + n, ": ", 2) == 0)
			msg += n + 2;
		reject(rv, nr, "%s (narinfo %s)", msg, nr->url);
		narinfo_free(&info);
		return;
	}
	/* a present path may well be whole (checked later): its narinfo is
	 * not refused for a compression only a fetch would need */
	if (!p->present && info.compression == NIX_COMPRESSION_UNSUPPORTED) {
		reject(rv, nr, "the NAR of %s uses compression '%s', which is not supported "
			       "(supported: " DECOMPRESS_SUPPORTED_NAMES ")",
		       expect, info.compression_name ? info.compression_name : "?");
		narinfo_free(&info);
		return;
	}
	accept_narinfo(rv, nr, &info);
}

static void handle_cache_info(struct resolver *rv, struct nreq *nr)
{
	const struct http_result *res = &nr->http.res;
	struct sub_state *s = &rv->subs[nr->sub];
	const char *url = rv->env->subs[nr->sub].url;
	struct nix_cache_info ci;
	struct ip_error e = { 0 };
	if (res->outcome == HTTP_OK) {
		if (nix_cache_info_parse(res->body, res->body_len, &ci, &e) < 0)
			fmt(s->reason, sizeof(s->reason), "%s: bad nix-cache-info: %s", url,
				 ip_error_str(&e));
		else if (strcmp(ci.store_dir, NIX_STORE_DIR) != 0)
			fmt(s->reason, sizeof(s->reason), "%s: its StoreDir is '%s', not %s", url,
				 ci.store_dir, NIX_STORE_DIR);
	} else if (res->outcome == HTTP_NOT_FOUND) {
		fmt(s->reason, sizeof(s->reason),
			 "%s does not appear to be a binary cache (%s for nix-cache-info)", url,
			 res->message);
	} else {
		fmt(s->reason, sizeof(s->reason), "%s: fetching nix-cache-info: %s%s", url,
			 res->message, res->outcome == HTTP_TRANSIENT ? " (gave up after retries)" : "");
	}
	if (s->reason[0]) {
		s->check = SUB_BAD;
		rv->env->stats[nr->sub].skipped = true;
		warn(rv, "substituter skipped: %s", s->reason);
	} else {
		s->check = SUB_OK;
		rv->env->stats[nr->sub].usable = true;
	}
	/* the paths that waited for it go on (to it, or to the next one) */
	size_t n = s->n_waiting;
	s->n_waiting = 0;
	for (size_t i = 0; i < n && !rv->failed; i++)
		dispatch(rv, s->waiting[i]);
}

static int load_old_registration_entry(void *ctx, const struct registration_entry *e,
				       struct ip_error *err)
{
	struct closure *old = ctx;
	size_t k;
	if (closure_add(old, e->basename, CLOSURE_NONE, &k) < 0)
		return ip_fail(err, -ENOMEM, "out of memory");
	struct closure_path *p = &old->paths[k];
	if (p->resolved)
		return 0; /* listed twice: the first entry wins */
	p->nar_hash = e->nar_hash;
	p->nar_size = e->nar_size;
	p->resolved = true;
	if (e->deriver && !(p->deriver = strdup(e->deriver)))
		return ip_fail(err, -ENOMEM, "out of memory");
	if (e->n_references) {
		p->ref_names = calloc(e->n_references, sizeof(char *));
		if (!p->ref_names)
			return ip_fail(err, -ENOMEM, "out of memory");
		for (size_t i = 0; i < e->n_references; i++) {
			p->ref_names[i] = strdup(e->references[i]);
			if (!p->ref_names[i])
				return ip_fail(err, -ENOMEM, "out of memory");
			p->n_refs = i + 1;
		}
	}
	return 0;
}

static int load_ledger_identity(void *ctx, const char *basename, const struct tree_identity *id,
				struct ip_error *err)
{
	struct closure *ledger = ctx;
	size_t k;
	if (closure_add(ledger, basename, CLOSURE_NONE, &k) < 0)
		return ip_fail(err, -ENOMEM, "out of memory");
	ledger->paths[k].id = *id;
	ledger->paths[k].has_id = true;
	return 0;
}

/* closureInfo's `store-paths`: one store path per line. */
static int load_store_paths(const char *buf, size_t len, struct closure *out, struct ip_error *err)
{
	size_t lineno = 0;
	for (const char *p = buf, *end = buf + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char path[NIX_STORE_PATH_MAX];
		lineno++;
		if (n > 0) {
			if (n >= sizeof(path) || nix_store_path_check(p, n, NULL) < 0)
				return ip_fail(err, -EBADMSG, "line %zu: not a store path", lineno);
			memcpy(path, p, n);
			path[n] = '\0';
			if (closure_add(out, nix_store_path_basename(path), CLOSURE_NONE, NULL) < 0)
				return ip_fail(err, -ENOMEM, "out of memory");
		}
		p += n + 1;
	}
	return 0;
}

static void load_vouchers(struct resolver *rv)
{
	struct resolve_env *env = rv->env;
	struct ip_error e = { 0 };
	if (env->ledger &&
	    ledger_parse(env->ledger, env->ledger_len, load_ledger_identity, load_old_registration_entry,
			 &rv->ledger, &e) < 0) {
		warn(rv, "ignoring the ledger of earlier runs (%s/%s): %s", LEDGER_DIR, LEDGER_FILE,
		     ip_error_str(&e));
		closure_free(&rv->ledger);
	}
	ip_error_clear(&e);
	if (env->builtin_closure &&
	    registration_parse(env->builtin_closure, env->builtin_closure_len,
			       load_old_registration_entry, &rv->builtin, &e) < 0) {
		closure_free(&rv->builtin);
		ip_error_clear(&e);
		if (load_store_paths(env->builtin_closure, env->builtin_closure_len, &rv->builtin, &e) < 0) {
			warn(rv, "ignoring the built-in closure list (neither a registration nor "
				 "store paths): %s", ip_error_str(&e));
			closure_free(&rv->builtin);
		}
	}
}

int closure_resolve(struct resolve_env *env, const char *root_path, struct closure *out,
		    struct ip_error *err)
{
	struct resolver rv = { .env = env, .c = out, .err = err };
	int r;
	memset(out, 0, sizeof(*out));
	pthread_mutex_init(&rv.lock, NULL);
	pthread_cond_init(&rv.cond, NULL);
	rv.subs = calloc(env->n_subs ? env->n_subs : 1, sizeof(*rv.subs));
	if (!rv.subs) {
		r = ip_fail(err, -ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < env->n_subs; i++)
		if (env->stats[i].usable)
			rv.subs[i].check = SUB_OK;

	if (env->old_registration) {
		struct ip_error e = { 0 };
		if (registration_parse(env->old_registration, env->old_registration_len,
				       load_old_registration_entry, &rv.old, &e) < 0) {
			warn(&rv, "ignoring the existing %s: %s", REGISTRATION_FILE, ip_error_str(&e));
			closure_free(&rv.old);
		}
	}

	load_vouchers(&rv);

	r = closure_add(out, nix_store_path_basename(root_path), CLOSURE_NONE, &out->root);
	if (r < 0) {
		ip_fail(err, r, "out of memory");
		goto done;
	}
	push_todo(&rv, out->root);

	for (;;) {
		while (rv.n_todo > 0 && !rv.failed)
			start_path(&rv, rv.todo[--rv.n_todo]);
		if (rv.failed) {
			for (struct nreq *nr = rv.live; nr; nr = nr->next)
				http_cancel(rv.http, &nr->http);
		}
		if (rv.outstanding == 0)
			break;
		pthread_mutex_lock(&rv.lock);
		while (!rv.done_head) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&rv.cond, &rv.lock, &until);
		}
		struct nreq *batch = rv.done_head;
		rv.done_head = rv.done_tail = NULL;
		pthread_mutex_unlock(&rv.lock);
		while (batch) {
			struct nreq *nr = batch;
			batch = nr->done_next;
			rv.outstanding--;
			if (!rv.failed) {
				if (nr->path == CLOSURE_NONE)
					handle_cache_info(&rv, nr);
				else
					handle_narinfo(&rv, nr);
			}
			nreq_free(&rv, nr);
		}
	}
	r = rv.failed;
	if (r == 0)
		r = closure_link(out, err);
done:
	for (size_t i = 0; rv.subs && i < env->n_subs; i++)
		free(rv.subs[i].waiting);
	free(rv.subs);
	free(rv.todo);
	closure_free(&rv.old);
	closure_free(&rv.ledger);
	closure_free(&rv.builtin);
	pthread_cond_destroy(&rv.cond);
	pthread_mutex_destroy(&rv.lock);
	return r;
}

/* ---- one narinfo, blocking -------------------------------------------- */

struct sync_req {
	struct http_request http;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void sync_done(void *ctx, struct http_request *req, const struct http_result *res)
{
	(void)req;
	(void)res;
	struct sync_req *s = ctx;
	pthread_mutex_lock(&s->lock);
	s->done = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static const struct http_request_ops sync_ops = { .on_data = NULL, .on_done = sync_done };

static int fetch_sync(struct http_client *http, struct substituter *sub, const char *file,
		      size_t max_body, struct http_result *res_out, char **url_out,
		      struct ip_error *err)
{
	struct sync_req s = { 0 };
	int r = substituter_join(sub, file, url_out, err);
	if (r < 0)
		return r;
	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.cond, NULL);
	s.http.url = *url_out;
	s.http.sub = sub;
	s.http.use_hooks = true;
	s.http.ops = &sync_ops;
	s.http.ctx = &s;
	s.http.max_body = max_body;
	http_submit(http, &s.http, 0);
	pthread_mutex_lock(&s.lock);
	while (!s.done) /* the HTTP layer bounds every request */
		pthread_cond_wait(&s.cond, &s.lock);
	pthread_mutex_unlock(&s.lock);
	*res_out = s.http.res;  /* takes the body */
	pthread_cond_destroy(&s.cond);
	pthread_mutex_destroy(&s.lock);
	return 0;
}

static pthread_mutex_t sync_check_lock = PTHREAD_MUTEX_INITIALIZER;

int closure_fetch_narinfo(struct resolve_env *env, int sub, const char *basename,
			  struct narinfo **out, struct ip_error *err)
{
	struct http_result res;
	char *url = NULL;
	struct http_client *http = env->http.get(env->http.ctx, err);
	struct substituter *s = &env->subs[sub];
	int r;
	if (!http)
		return err && err->code ? err->code : -EIO;

	pthread_mutex_lock(&sync_check_lock);
	bool usable = env->stats[sub].usable, skipped = env->stats[sub].skipped;
	if (!usable && !skipped) {
		r = fetch_sync(http, s, "nix-cache-info", NIX_CACHE_INFO_MAX, &res, &url, err);
		if (r == 0) {
			struct nix_cache_info ci;
			if (res.outcome == HTTP_OK &&
			    nix_cache_info_parse(res.body, res.body_len, &ci, NULL) == 0 &&
			    strcmp(ci.store_dir, NIX_STORE_DIR) == 0)
				env->stats[sub].usable = usable = true;
			else
				env->stats[sub].skipped = true;
			free(res.body);
			free(url);
			url = NULL;
		}
	}
	pthread_mutex_unlock(&sync_check_lock);
	if (!usable)
		return -ENOENT;

	char file[NIX_STORE_HASH_LEN + sizeof(".narinfo")];
	snprintf(file, sizeof(file), "%.*s.narinfo", NIX_STORE_HASH_LEN, basename);
	r = fetch_sync(http, s, file, NARINFO_MAX_SIZE, &res, &url, err);
	if (r < 0)
		return r;
	env->stats[sub].narinfo_requests++;
	struct narinfo *info = NULL;
	char expect[NIX_STORE_PATH_MAX];
	snprintf(expect, sizeof(expect), "%s/%s", NIX_STORE_DIR, basename);
	if (res.outcome == HTTP_NOT_FOUND) {
		r = -ENOENT;
	} else if (res.outcome != HTTP_OK) {
		r = ip_fail(err, -EIO, "fetching %s: %s", url, res.message);
	} else if (!(info = calloc(1, sizeof(*info)))) {
		r = ip_fail(err, -ENOMEM, "out of memory");
	} else if ((r = narinfo_parse(res.body, res.body_len, info, err)) < 0) {
		ip_fail_ctx(err, r, "malformed narinfo %s", url);
		free(info);
		info = NULL;
	} else if (strcmp(info->store_path, expect) != 0 ||
		   (env->check_sigs && narinfo_verify(info, env->keys, env->n_keys, err) < 0) ||
		   info->compression == NIX_COMPRESSION_UNSUPPORTED) {
		r = ip_fail(err, -EPERM, "narinfo %s cannot be used", url);
		narinfo_free(info);
		free(info);
		info = NULL;
	}
	free(res.body);
	free(url);
	if (r == 0)
		*out = info;
	return r;
}
