#include "cache/closure.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache/decompress.h"
#include "nix/store_path.h"
#include "store/registration.h"
#include "util/log.h"
#include "util/wakeup.h"

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

/* A reference, sortable by name without a global to find the closure. */
struct named_ref {
	const char *name;
	size_t k;
};

static int cmp_named_ref(const void *a, const void *b)
{
	return strcmp(((const struct named_ref *)a)->name, ((const struct named_ref *)b)->name);
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
	struct named_ref *refs = NULL;
	size_t n_out = 0, depth = 0, most_refs = 0;
	if (!mark || !stack || !pos || !sorted)
		goto out;
	/* references in name order, for a deterministic file */
	for (size_t k = 0; k < c->n; k++)
		if (c->paths[k].n_refs > most_refs)
			most_refs = c->paths[k].n_refs;
	if (most_refs && !(refs = malloc(most_refs * sizeof(*refs))))
		goto out;
	for (size_t k = 0; k < c->n; k++) {
		const struct closure_path *p = &c->paths[k];
		if (!p->n_refs || !p->refs)
			continue;
		sorted[k] = malloc(p->n_refs * sizeof(size_t));
		if (!sorted[k])
			goto out;
		for (size_t i = 0; i < p->n_refs; i++)
			refs[i] = (struct named_ref){ p->ref_names[i], p->refs[i] };
		qsort(refs, p->n_refs, sizeof(*refs), cmp_named_ref);
		for (size_t i = 0; i < p->n_refs; i++)
			sorted[k][i] = refs[i].k;
	}

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
	free(refs);
	free(mark);
	free(stack);
	free(pos);
	return n_out;
}

/* ---- accepting a narinfo -------------------------------------------------- */

int narinfo_accept(const char *body, size_t len, const char *basename, const char *url,
		   const struct narinfo_policy *policy, bool will_fetch, struct narinfo *info,
		   struct ip_error *err)
{
	struct ip_error e = { 0 };
	char expect[NIX_STORE_PATH_MAX];
	if (narinfo_parse(body, len, info, &e) < 0)
		return ip_fail(err, -EBADMSG, "malformed narinfo %s: %s", url, ip_error_str(&e));
	snprintf(expect, sizeof(expect), "%s/%s", NIX_STORE_DIR, basename);
	int r = 0;
	if (strcmp(info->store_path, expect) != 0) {
		r = ip_fail(err, -EBADMSG, "narinfo %s is for %s, not %s", url, info->store_path, expect);
	} else if (policy->check_sigs &&
		   narinfo_verify(info, policy->keys, policy->n_keys, &e) < 0) {
		/* the message starts with the path, which the caller names already */
		const char *msg = ip_error_str(&e);
		size_t n = strlen(expect);
		if (strncmp(msg, expect, n) == 0 && strncmp(msg + n, ": ", 2) == 0)
			msg += n + 2;
		r = ip_fail(err, -EPERM, "%s (narinfo %s)", msg, url);
	} else if (will_fetch && info->compression == NIX_COMPRESSION_UNSUPPORTED) {
		/* a present path may well be whole (checked later): its narinfo
		 * is not refused for a compression only a fetch would need */
		r = ip_fail(err, -ENOTSUP, "the NAR of %s uses compression '%s', which is not supported "
			    "(supported: " DECOMPRESS_SUPPORTED_NAMES ")",
			    expect, info->compression_name ? info->compression_name : "?");
	}
	if (r < 0)
		narinfo_free(info);
	return r;
}

/* ---- resolution ----------------------------------------------------------- */

enum sub_check { SUB_UNCHECKED, SUB_CHECKING, SUB_OK, SUB_BAD };

struct nreq {
	struct http_request http;
	struct closure_resolver *rv;
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

struct closure_resolver {
	struct resolve_env *env;
	struct closure *c;
	struct closure old;   /* entries of the previous registration file */
	struct closure ledger;  /* paths of the ledger (identity and entry) */
	struct closure builtin; /* paths the image placed (with entries when it gave them) */
	struct sub_state *subs;
	struct http_client *http;
	struct wakeup *wakeup;
	pthread_mutex_t lock;
	struct nreq *done_head, *done_tail;   /* under lock */
	struct nreq *live;
	size_t *todo;
	size_t n_todo, cap_todo;
	size_t unresolved;    /* paths added, not yet resolved */
	int failed;
	bool cancelled;       /* after the failure: what was in flight is cancelled */
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

/* HTTP thread: queues the answer for the resolver's thread. */
static void nreq_done(void *ctx, struct http_request *req, const struct http_result *res)
{
	(void)req;
	(void)res;
	struct nreq *nr = ctx;
	struct closure_resolver *rv = nr->rv;
	pthread_mutex_lock(&rv->lock);
	nr->done_next = NULL;
	if (rv->done_tail)
		rv->done_tail->done_next = nr;
	else
		rv->done_head = nr;
	rv->done_tail = nr;
	pthread_mutex_unlock(&rv->lock);
	wakeup_post(rv->wakeup);
}

static const struct http_request_ops nreq_ops = { .on_data = NULL, .on_done = nreq_done };

static int fail(struct closure_resolver *rv, int code)
{
	if (!rv->failed)
		rv->failed = code;
	return code;
}

static int push_todo(struct closure_resolver *rv, size_t k)
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
	rv->unresolved++;
	return 0;
}

static int get_http(struct closure_resolver *rv)
{
	if (rv->http)
		return 0;
	rv->http = rv->env->http.get(rv->env->http.ctx, rv->err);
	return rv->http ? 0 : fail(rv, rv->err->code ? rv->err->code : -EIO);
}

static int submit(struct closure_resolver *rv, size_t path, int sub, const char *file)
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
	if (path != CLOSURE_NONE)
		rv->env->stats[sub].narinfo_requests++;
	http_submit(rv->http, &nr->http, 0);
	return 0;
}

static void nreq_free(struct closure_resolver *rv, struct nreq *nr)
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

static void warn(struct closure_resolver *rv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct closure_resolver *rv, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_debug("closure: %s", line);
	if (rv->env->warn)
		rv->env->warn(rv->env->warn_ctx, line);
}

static int all_exhausted(struct closure_resolver *rv, size_t k)
{
	struct closure_path *p = &rv->c->paths[k];
	char who[400];
	if (p->finding_other) { /* a lookup ends without a narinfo: no failure */
		p->finding_other = false;
		rv->env->on_other(rv->env->cb_ctx, k, NULL, -1);
		return 0;
	}
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

static int wait_for_check(struct closure_resolver *rv, int sub, size_t k)
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

/* Asks the next substituter for path k; a substituter's nix-cache-info is
 * checked once, before its first narinfo, whoever asks first. */
static int dispatch(struct closure_resolver *rv, size_t k)
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
static struct closure_path *vouch(struct closure_resolver *rv, struct closure_path *p)
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

/* References of a resolved path k join the closure (new ones to resolve),
 * then the caller hears of k.  c->paths may move here. */
static int resolved(struct closure_resolver *rv, size_t k)
{
	rv->c->paths[k].resolved = true;
	rv->unresolved--;
	for (size_t j = 0; j < rv->c->paths[k].n_refs; j++) {
		size_t before = rv->c->n, idx;
		int r = closure_add(rv->c, rv->c->paths[k].ref_names[j], k, &idx);
		if (r < 0)
			return fail(rv, ip_fail(rv->err, r, "out of memory"));
		if (rv->c->n > before && (r = push_todo(rv, idx)) < 0)
			return r;
	}
	if (rv->env->on_resolved)
		rv->env->on_resolved(rv->env->cb_ctx, k);
	return 0;
}

/* A vouched path's entry stands in for its narinfo. */
static int take_entry(struct closure_resolver *rv, size_t k, struct closure_path *src)
{
	struct closure_path *p = &rv->c->paths[k];
	p->nar_hash = src->nar_hash;
	p->nar_size = src->nar_size;
	p->deriver = src->deriver;
	src->deriver = NULL;
	p->ref_names = src->ref_names;
	p->n_refs = src->n_refs;
	src->ref_names = NULL;
	src->n_refs = 0;
	p->sub_index = -1;
	rv->env->paths_from_registration++;
	return resolved(rv, k);
}

static int start_path(struct closure_resolver *rv, size_t k)
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
		if (src)
			return take_entry(rv, k, src);
	}
	return dispatch(rv, k);
}

/* Substituter nr->sub will not do for the path: the next one is asked. */
static void refuse(struct closure_resolver *rv, struct nreq *nr, const struct ip_error *why)
{
	struct closure_path *p = &rv->c->paths[nr->path];
	free(p->why_not);
	p->why_not = strdup(why->msg);
	if (!p->why_not) {
		fail(rv, ip_fail(rv->err, -ENOMEM, "out of memory"));
		return;
	}
	rv->env->stats[nr->sub].narinfo_rejected++;
	warn(rv, "%s", why->msg);
	p->next_sub = nr->sub + 1;
	dispatch(rv, nr->path);
}

static void take_narinfo(struct closure_resolver *rv, struct nreq *nr, struct narinfo *info)
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
	resolved(rv, nr->path);
}

static bool same_references(const struct narinfo *a, const struct closure_path *p)
{
	if (a->n_references != p->n_refs)
		return false;
	for (size_t i = 0; i < a->n_references; i++) {
		bool found = false;
		for (size_t k = 0; k < p->n_refs && !found; k++)
			found = strcmp(a->references[i], p->ref_names[k]) == 0;
		if (!found)
			return false;
	}
	return true;
}

/* Another cache's narinfo for a path being fetched: it must describe the
 * same closure (the references are registered already). */
static void offer_other(struct closure_resolver *rv, struct nreq *nr, struct narinfo *info)
{
	struct closure_path *p = &rv->c->paths[nr->path];
	if (!same_references(info, p)) {
		log_debug("closure: %s: not taken from %s: other references", p->basename, nr->url);
		narinfo_free(info);
		p->next_sub = nr->sub + 1;
		dispatch(rv, nr->path);
		return;
	}
	struct narinfo *copy = malloc(sizeof(*copy));
	if (!copy) {
		narinfo_free(info);
		fail(rv, ip_fail(rv->err, -ENOMEM, "out of memory"));
		return;
	}
	*copy = *info;
	rv->env->stats[nr->sub].narinfo_found++;
	p->finding_other = false;
	rv->env->on_other(rv->env->cb_ctx, nr->path, copy, nr->sub);
}

static void handle_narinfo(struct closure_resolver *rv, struct nreq *nr)
{
	const struct http_result *res = &nr->http.res;
	struct closure_path *p = &rv->c->paths[nr->path];
	struct substituter_stats *st = &rv->env->stats[nr->sub];
	if (res->outcome == HTTP_NOT_FOUND) {
		st->narinfo_not_found++;
		p->next_sub = nr->sub + 1;
		dispatch(rv, nr->path);
		return;
	}
	if (res->outcome != HTTP_OK && p->finding_other) {
		/* the path is resolved already: a cache that cannot answer now
		 * just does not stand in for the first one */
		log_debug("closure: %s: not taken from %s: %s", p->basename, nr->url, res->message);
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
	struct ip_error why = { 0 };
	const struct narinfo_policy policy = { rv->env->keys, rv->env->n_keys, rv->env->check_sigs };
	if (narinfo_accept(res->body, res->body_len, p->basename, nr->url, &policy,
			   !p->present || p->finding_other, &info, &why) < 0) {
		if (why.code == -ENOMEM)
			fail(rv, ip_fail(rv->err, -ENOMEM, "out of memory"));
		else
			refuse(rv, nr, &why);
		return;
	}
	if (p->finding_other)
		offer_other(rv, nr, &info);
	else
		take_narinfo(rv, nr, &info);
}

static void handle_cache_info(struct closure_resolver *rv, struct nreq *nr)
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

static void load_vouchers(struct closure_resolver *rv)
{
	struct resolve_env *env = rv->env;
	struct ip_error e = { 0 };
	if (env->old_registration &&
	    registration_parse(env->old_registration, env->old_registration_len,
			       load_old_registration_entry, &rv->old, &e) < 0) {
		warn(rv, "ignoring the existing %s: %s", REGISTRATION_FILE, ip_error_str(&e));
		closure_free(&rv->old);
	}
	ip_error_clear(&e);
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

int closure_resolver_new(struct resolve_env *env, const char *root_path, struct closure *out,
			 struct wakeup *wakeup, struct ip_error *err, struct closure_resolver **rv_out)
{
	struct closure_resolver *rv = calloc(1, sizeof(*rv));
	*rv_out = NULL;
	memset(out, 0, sizeof(*out));
	if (!rv)
		return ip_fail(err, -ENOMEM, "out of memory");
	rv->env = env;
	rv->c = out;
	rv->err = err;
	rv->wakeup = wakeup;
	pthread_mutex_init(&rv->lock, NULL);
	*rv_out = rv;
	rv->subs = calloc(env->n_subs ? env->n_subs : 1, sizeof(*rv->subs));
	if (!rv->subs)
		return fail(rv, ip_fail(err, -ENOMEM, "out of memory"));
	for (size_t i = 0; i < env->n_subs; i++)
		if (env->stats[i].usable)
			rv->subs[i].check = SUB_OK;
	load_vouchers(rv);
	int r = closure_add(out, nix_store_path_basename(root_path), CLOSURE_NONE, &out->root);
	if (r < 0)
		return fail(rv, ip_fail(err, r, "out of memory"));
	return push_todo(rv, out->root);
}

int closure_resolver_step(struct closure_resolver *rv)
{
	while (rv->n_todo > 0 && !rv->failed)
		start_path(rv, rv->todo[--rv->n_todo]);
	pthread_mutex_lock(&rv->lock);
	struct nreq *batch = rv->done_head;
	rv->done_head = rv->done_tail = NULL;
	pthread_mutex_unlock(&rv->lock);
	while (batch) {
		struct nreq *nr = batch;
		batch = nr->done_next;
		if (!rv->failed) {
			if (nr->path == CLOSURE_NONE)
				handle_cache_info(rv, nr);
			else
				handle_narinfo(rv, nr);
		}
		nreq_free(rv, nr);
		while (rv->n_todo > 0 && !rv->failed)
			start_path(rv, rv->todo[--rv->n_todo]);
	}
	if (rv->failed && !rv->cancelled) {
		rv->cancelled = true;
		for (struct nreq *nr = rv->live; nr; nr = nr->next)
			http_cancel(rv->http, &nr->http);
	}
	return rv->failed;
}

bool closure_resolver_done(const struct closure_resolver *rv)
{
	return rv->unresolved == 0 && !rv->failed;
}

int closure_resolver_find_other(struct closure_resolver *rv, size_t k, int after_sub)
{
	struct closure_path *p = &rv->c->paths[k];
	if (rv->failed)
		return rv->failed;
	p->finding_other = true;
	p->next_sub = after_sub + 1;
	return dispatch(rv, k);
}

void closure_resolver_free(struct closure_resolver *rv)
{
	if (!rv)
		return;
	/* answers still due are waited for: the HTTP layer bounds every
	 * request, and a cancelled one ends at once */
	for (struct nreq *nr = rv->live; nr; nr = nr->next)
		http_cancel(rv->http, &nr->http);
	while (rv->live) {
		uint64_t seen = wakeup_seen(rv->wakeup);
		pthread_mutex_lock(&rv->lock);
		struct nreq *batch = rv->done_head;
		rv->done_head = rv->done_tail = NULL;
		pthread_mutex_unlock(&rv->lock);
		if (!batch) {
			wakeup_wait(rv->wakeup, seen, 1000);
			continue;
		}
		while (batch) {
			struct nreq *nr = batch;
			batch = nr->done_next;
			nreq_free(rv, nr);
		}
	}
	for (size_t i = 0; rv->subs && i < rv->env->n_subs; i++)
		free(rv->subs[i].waiting);
	free(rv->subs);
	free(rv->todo);
	closure_free(&rv->old);
	closure_free(&rv->ledger);
	closure_free(&rv->builtin);
	pthread_mutex_destroy(&rv->lock);
	free(rv);
}
