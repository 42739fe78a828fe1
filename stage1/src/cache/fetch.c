#include "cache/fetch.h"

#include "aws/credentials.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache/closure.h"
#include "cache/download.h"
#include "cache/http.h"
#include "cache/substituter.h"
#include "nix/store_path.h"
#include "store/tree_hash.h"
#include "util/clock.h"
#include "util/file.h"
#include "util/text.h"
#include "store/ledger.h"
#include "store/profile.h"
#include "store/registration.h"
#include "store/store.h"
#include "util/json.h"
#include "util/log.h"
#include "util/wakeup.h"

struct run {
	const struct fetch_options *o;
	struct http_client_options hopts;
	struct http_client *http;
	struct timespec t_download_start;
	struct store store;
	struct substituter subs[FETCH_MAX_SUBSTITUTERS];
	struct substituter_stats stats[FETCH_MAX_SUBSTITUTERS];
	size_t n_subs;
	char *old_reg;
	size_t old_reg_len;
	char *old_ledger;
	size_t old_ledger_len;
	char *builtin_closure;
	size_t builtin_closure_len;
	struct text_buf ledger;             /* the new ledger's text */
	struct closure closure;
	struct closure_resolver *resolver;
	struct download *download;
	size_t n_todo;                      /* paths handed to the download */
	bool resolved;                      /* the closure is known */
	struct registration_entry *entries;
	size_t *order;
	char *reg_text;
	struct aws_creds_provider *own_creds; /* environment-only, when the caller gave none */
};

static struct http_client *get_http(void *ctx, struct ip_error *err)
{
	struct run *run = ctx;
	if (!run->http && http_client_start(&run->hopts, &run->http, err) < 0)
		return NULL;
	return run->http;
}

static void on_download_progress(void *ctx, const struct download_progress *p)
{
	struct run *run = ctx;
	if (!run->o->progress)
		return;
	struct fetch_progress fp = {
		.paths_done = p->paths_done, .paths_total = p->paths_total,
		.bytes_done = p->bytes_done, .bytes_total = p->bytes_total,
		.seconds = seconds_since(&run->t_download_start),
		.resolved = run->resolved,
	};
	run->o->progress(run->o->cb_ctx, &fp);
}

int fetch_check_options(const struct fetch_options *o, struct ip_error *err)
{
	if (!o->root || !*o->root)
		return ip_fail(err, -EINVAL, "no root directory given (--root DIR)");
	if (!o->store_path)
		return ip_fail(err, -EINVAL, "no store path given");
	struct ip_error e = { 0 };
	if (nix_store_path_check(o->store_path, strlen(o->store_path), &e) < 0)
		return ip_fail(err, -EINVAL, "'%s' is not a store path: %s", o->store_path,
			       ip_error_str(&e));
	if (o->n_substituters == 0)
		return ip_fail(err, -EINVAL, "no substituter given (--substituter URL)");
	if (o->n_substituters > FETCH_MAX_SUBSTITUTERS)
		return ip_fail(err, -EINVAL, "at most %d substituters", FETCH_MAX_SUBSTITUTERS);
	if (o->n_keys == 0 && !o->no_check_sigs)
		return ip_fail(err, -EINVAL,
			       "no trusted public key given: pass --trusted-public-key NAME:KEY "
			       "(signature checking can only be turned off with --no-check-sigs)");
	for (size_t i = 0; i < o->n_substituters; i++) {
		struct substituter sub;
		int r = substituter_init(&sub, o->substituters[i], (int)i, NULL, err);
		if (r < 0)
			return r;
		substituter_free(&sub);
	}
	return 0;
}

static void fill_result(struct run *run, struct fetch_result *res)
{
	res->n_subs = run->n_subs;
	for (size_t i = 0; i < run->n_subs; i++) {
		struct fetch_substituter_result *s = &res->subs[i];
		const struct substituter_stats *st = &run->stats[i];
		snprintf(s->url, sizeof(s->url), "%s", run->subs[i].url ? run->subs[i].url : "");
		s->narinfo_requests = st->narinfo_requests;
		s->narinfos = st->narinfo_found;
		s->narinfo_not_found = st->narinfo_not_found;
		s->narinfo_rejected = st->narinfo_rejected;
		s->nar_requests = st->nar_requests;
		s->nars = st->nars;
		s->nar_bytes = st->nar_bytes;
		s->skipped = st->skipped;
	}
	if (run->http) {
		struct http_stats hs;
		http_client_stats(run->http, &hs);
		res->http_requests = hs.requests;
		res->http_retries = hs.retries;
		res->stalls = hs.stalls;
		res->throttled = hs.throttled;
		res->connections_low = hs.connections_low;
		res->start_gap_ms_high = hs.gap_high_ms;
		if (hs.most_attempts > res->most_attempts)
			res->most_attempts = hs.most_attempts;
	}
}

/* Entries of the previous registration file for paths outside this closure
 * (e.g. the image's own built-in system, which stage 2 has yet to load) are
 * kept, as long as the path is still in the store: the file is replaced, so
 * dropping them would leave those paths unregistered. */
struct keep_ctx {
	struct run *run;
	size_t *len;
};

static int keep_entry(void *ctx, const struct registration_entry *e, struct ip_error *err)
{
	struct keep_ctx *k = ctx;
	struct run *run = k->run;
	struct stat st;
	if (closure_find(&run->closure, e->basename) != CLOSURE_NONE)
		return 0;
	if (fstatat(run->store.store_fd, e->basename, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0; /* gone: nothing to register */
	char *text = NULL;
	size_t text_len = 0;
	if (registration_format(e, 1, &text, &text_len) < 0)
		return ip_fail(err, -ENOMEM, "out of memory");
	char *grown = realloc(run->reg_text, *k->len + text_len + 1);
	if (!grown) {
		free(text);
		return ip_fail(err, -ENOMEM, "out of memory");
	}
	memcpy(grown + *k->len, text, text_len + 1);
	run->reg_text = grown;
	*k->len += text_len;
	free(text);
	return 0;
}

static int keep_other_registrations(struct run *run, size_t *len, struct ip_error *err)
{
	if (!run->old_reg)
		return 0;
	struct keep_ctx k = { .run = run, .len = len };
	struct ip_error parse_err = { 0 };
	int r = registration_parse(run->old_reg, run->old_reg_len, keep_entry, &k, &parse_err);
	if (r == -ENOMEM)
		return ip_fail(err, r, "%s", ip_error_str(&parse_err));
	return 0; /* a malformed old file was already reported when it was read */
}

/* The registration file for the whole closure, references first. */
static int write_registration(struct run *run, struct fetch_result *res, struct ip_error *err)
{
	struct closure *c = &run->closure;
	run->order = malloc(c->n * sizeof(*run->order));
	run->entries = calloc(c->n, sizeof(*run->entries));
	if (!run->order || !run->entries)
		return ip_fail(err, -ENOMEM, "out of memory");
	size_t n = closure_topo_order(c, run->order);
	if (n != c->n)
		return ip_fail(err, -ENOMEM, "ordering the closure: out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct closure_path *p = &c->paths[run->order[i]];
		struct registration_entry *e = &run->entries[i];
		if (!p->present)
			return ip_fail(err, -EIO, "internal error: %s/%s is not in place", NIX_STORE_DIR,
				       p->basename);
		e->basename = p->basename;
		e->nar_hash = p->nar_hash;
		e->nar_size = p->nar_size;
		e->deriver = p->deriver;
		e->references = (const char *const *)p->ref_names;
		e->n_references = p->n_refs;
	}
	size_t len;
	if (registration_format(run->entries, n, &run->reg_text, &len) < 0)
		return ip_fail(err, -ENOMEM, "out of memory");
	int r = keep_other_registrations(run, &len, err);
	if (r < 0)
		return r;
	if (run->old_reg && run->old_reg_len == len && memcmp(run->old_reg, run->reg_text, len) == 0)
		return 0; /* already exactly this */
	r = registration_write(run->store.root_fd, run->reg_text, len, run->store.sync, err);
	if (r == 0)
		res->registration_written = true;
	return r;
}

/* Whatever failed last, the deadline is why the run ends: say that. */
static int deadline_error(const struct fetch_options *o, const struct fetch_result *res, size_t n_todo,
			  struct ip_error *err)
{
	char where[128];
	if (res->paths_total == 0)
		snprintf(where, sizeof(where), "still resolving the closure");
	else
		snprintf(where, sizeof(where), "%zu of %zu paths fetched", res->paths_fetched, n_todo);
	if (err)
		ip_error_clear(err); /* ip_fail keeps a message: this one replaces it */
	return ip_fail(err, -ETIMEDOUT,
		       "deadline reached: the fetch was not done after %u s (%s); %s; the cache is too slow "
		       "or does not answer", o->deadline_ms / 1000,
		       o->deadline_setting ? o->deadline_setting : "deadline", where);
}

/* ---- present paths nothing vouches for --------------------------------- */

static void warn_line(struct run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn_line(struct run *run, const char *fmt, ...)
{
	char line[IP_ERROR_MSG_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_debug("%s", line);
	if (run->o->warn)
		run->o->warn(run->o->cb_ctx, line);
}

/* The hashing of the present paths to check, spread over the worker
 * threads (one path at a time each: most closures are many small paths). */
struct check_result {
	int r;
	struct nix_hash got;
	uint64_t size;
	struct ip_error err;
};

struct check_pool {
	struct run *run;
	const size_t *paths;          /* closure indices */
	struct check_result *results;
	size_t n;
	size_t next;                  /* under lock */
	pthread_mutex_t lock;
};

static void *check_worker(void *arg)
{
	struct check_pool *pool = arg;
	for (;;) {
		pthread_mutex_lock(&pool->lock);
		size_t i = pool->next < pool->n ? pool->next++ : pool->n;
		pthread_mutex_unlock(&pool->lock);
		if (i == pool->n)
			return NULL;
		const struct closure_path *p = &pool->run->closure.paths[pool->paths[i]];
		struct check_result *res = &pool->results[i];
		res->r = tree_nar_hash(pool->run->store.store_fd, p->basename, p->nar_size, &res->got,
				       &res->size, &res->err);
	}
}

/* Hashes every present path nothing vouches for as a NAR: whole when it
 * matches the signed NarHash and NarSize, else moved aside so that it is
 * fetched like a missing one. */
static int check_present_paths(struct run *run, unsigned jobs, struct fetch_result *res,
			       struct ip_error *err)
{
	struct closure *c = &run->closure;
	struct check_pool pool = { .run = run };
	pthread_t threads[64];
	size_t n_threads = 0, *paths = malloc((c->n ? c->n : 1) * sizeof(*paths));
	int r = 0;
	if (!paths)
		return ip_fail(err, -ENOMEM, "out of memory");
	for (size_t k = 0; k < c->n; k++)
		if (c->paths[k].present && c->paths[k].check)
			paths[pool.n++] = k;
	pool.paths = paths;
	pool.results = pool.n ? calloc(pool.n, sizeof(*pool.results)) : NULL;
	if (pool.n && !pool.results) {
		free(paths);
		return ip_fail(err, -ENOMEM, "out of memory");
	}
	pthread_mutex_init(&pool.lock, NULL);
	for (; n_threads + 1 < jobs && n_threads + 1 < pool.n && n_threads < 64; n_threads++)
		if (pthread_create(&threads[n_threads], NULL, check_worker, &pool) != 0)
			break;
	check_worker(&pool); /* this thread too */
	for (size_t i = 0; i < n_threads; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&pool.lock);

	for (size_t i = 0; i < pool.n && r == 0; i++) {
		struct closure_path *p = &c->paths[paths[i]];
		struct check_result *cr = &pool.results[i];
		char why[IP_ERROR_MSG_MAX + 160];
		if (cr->r == -ENOMEM) {
			r = ip_fail(err, cr->r, "%s", ip_error_str(&cr->err));
			break;
		}
		if (cr->r == 0 && cr->size == p->nar_size && nix_hash_equal(&cr->got, &p->nar_hash)) {
			res->paths_checked++;
			continue;
		}
		if (cr->r < 0) {
			snprintf(why, sizeof(why), "%s", ip_error_str(&cr->err));
		} else {
			char want_text[NIX_HASH_TEXT_MAX], got_text[NIX_HASH_TEXT_MAX];
			nix_hash_format(&p->nar_hash, want_text);
			nix_hash_format(&cr->got, got_text);
			snprintf(why, sizeof(why), "its NAR is %s, %llu bytes; signed: %s, %llu bytes",
				 got_text, (unsigned long long)cr->size, want_text,
				 (unsigned long long)p->nar_size);
		}
		warn_line(run, "%s/%s is present but not what its signed NarHash says (%s): moved "
			       "aside, fetching it again", NIX_STORE_DIR, p->basename, why);
		r = store_move_aside(&run->store, p->basename, err);
		if (r == 0) {
			p->present = false;
			res->paths_replaced++;
		}
	}
	free(pool.results);
	free(paths);
	return r;
}

/* ---- the ledger ------------------------------------------------------------ */

static int ledger_put(struct run *run, const char *text, size_t len)
{
	return text_buf_put(&run->ledger, text, len);
}

static int ledger_put_identity(struct run *run, const char *basename, const struct stat *st)
{
	struct tree_identity id;
	char line[LEDGER_LINE_MAX];
	tree_identity_of(st, &id);
	return ledger_put(run, line, ledger_format_identity(basename, &id, line));
}

/* Paths of the old ledger outside this closure are kept while their entry
 * is still the one recorded (another system of this machine, say). */
struct ledger_keep {
	struct run *run;
	struct closure kept;
	bool entries;          /* second pass: registration entries */
	int r;
};

static int keep_ledger_identity(void *ctx, const char *basename, const struct tree_identity *id,
				struct ip_error *err)
{
	(void)err;
	struct ledger_keep *k = ctx;
	struct stat st;
	struct tree_identity now;
	if (k->entries || closure_find(&k->run->closure, basename) != CLOSURE_NONE ||
	    !store_stat(&k->run->store, basename, &st))
		return 0;
	tree_identity_of(&st, &now);
	if (!tree_identity_equal(id, &now))
		return 0;
	if (closure_add(&k->kept, basename, CLOSURE_NONE, NULL) < 0 ||
	    ledger_put_identity(k->run, basename, &st) < 0)
		return k->r = -ENOMEM;
	return 0;
}

static int keep_ledger_entry(void *ctx, const struct registration_entry *e, struct ip_error *err)
{
	(void)err;
	struct ledger_keep *k = ctx;
	if (!k->entries || closure_find(&k->kept, e->basename) == CLOSURE_NONE)
		return 0;
	char *text = NULL;
	size_t len = 0;
	if (registration_format(e, 1, &text, &len) < 0 || ledger_put(k->run, text, len) < 0)
		k->r = -ENOMEM;
	free(text);
	return k->r;
}

/* The ledger after a successful run: every path of the closure (all whole
 * now) with its entry's identity, plus the old ledger's still-valid paths.
 * Losing it costs only time (the next run hashes those paths), so failing
 * to write it is a warning. */
static void write_ledger(struct run *run, size_t n_entries)
{
	struct ledger_keep k = { .run = run };
	struct ip_error e = { 0 };
	int r = ledger_put(run, LEDGER_MAGIC "\n", strlen(LEDGER_MAGIC) + 1);
	for (size_t i = 0; r == 0 && i < n_entries; i++) {
		struct stat st;
		const char *b = run->entries[i].basename;
		if (!store_stat(&run->store, b, &st))
			r = -ENOENT;
		else
			r = ledger_put_identity(run, b, &st);
	}
	if (r == 0 && run->old_ledger)
		(void)ledger_parse(run->old_ledger, run->old_ledger_len, keep_ledger_identity,
				   keep_ledger_entry, &k, NULL);
	if (r == 0 && (r = k.r) == 0)
		r = ledger_put(run, "\n", 1);
	char *reg = NULL;
	size_t reg_len = 0;
	if (r == 0 && (r = registration_format(run->entries, n_entries, &reg, &reg_len)) == 0)
		r = ledger_put(run, reg, reg_len);
	free(reg);
	k.entries = true;
	if (r == 0 && run->old_ledger && k.kept.n)
		(void)ledger_parse(run->old_ledger, run->old_ledger_len, keep_ledger_identity,
				   keep_ledger_entry, &k, NULL);
	if (r == 0)
		r = k.r;
	closure_free(&k.kept);
	if (r == 0 && run->old_ledger && run->old_ledger_len == run->ledger.len &&
	    memcmp(run->old_ledger, run->ledger.buf, run->ledger.len) == 0)
		return; /* already exactly this */
	if (r == 0)
		r = ledger_write(run->store.root_fd, run->ledger.buf, run->ledger.len, run->store.sync, &e);
	if (r < 0)
		warn_line(run, "could not record the closure in %s/%s (the next run will hash the paths "
			       "it cannot vouch for): %s", LEDGER_DIR, LEDGER_FILE,
			  e.msg[0] ? e.msg : strerror(-r));
}

/* ---- the coordinator: resolution and download in one loop --------------- */

/* A path is resolved: fetch it if it is missing (a present one is whole,
 * vouched for, or hashed once the closure is known). */
static void on_path_resolved(void *ctx, size_t k)
{
	struct run *run = ctx;
	if (!run->closure.paths[k].present && download_add(run->download, k) == 0)
		run->n_todo++;
}

static int find_other_narinfo(void *ctx, size_t k, int after_sub)
{
	struct run *run = ctx;
	return closure_resolver_find_other(run->resolver, k, after_sub);
}

static void on_other_narinfo(void *ctx, size_t k, struct narinfo *info, int sub)
{
	struct run *run = ctx;
	download_other_answer(run->download, k, info, sub);
}

/* The closure is known: link it, hash the present paths nothing vouches
 * for, and fetch those that are not whole like the missing ones. */
static int closure_known(struct run *run, unsigned jobs, struct fetch_result *res,
			 const struct timespec *t0, struct ip_error *err)
{
	struct timespec t;
	res->t_resolve = seconds_since(t0);
	int r = closure_link(&run->closure, err);
	if (r < 0)
		return r;
	res->paths_total = run->closure.n;
	clock_gettime(CLOCK_MONOTONIC, &t);
	r = check_present_paths(run, jobs, res, err);
	res->t_check = seconds_since(&t);
	if (r < 0)
		return r;
	for (size_t k = 0; k < run->closure.n; k++) {
		const struct closure_path *p = &run->closure.paths[k];
		if (!p->present && p->check && download_add(run->download, k) == 0)
			run->n_todo++;
	}
	download_no_more(run->download);
	run->resolved = true;
	return 0;
}

static int resolve_and_download(struct run *run, struct resolve_env *env, struct download_env *denv,
				unsigned jobs, struct fetch_result *res, struct ip_error *err)
{
	struct wakeup wakeup;
	struct ip_error download_err = { 0 };
	struct download_stats ds;
	struct timespec t0;
	bool known = false;
	int r;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run->t_download_start = t0;
	wakeup_init(&wakeup);
	r = download_start(denv, &run->closure, &wakeup, &run->download, err);
	if (r == 0)
		r = closure_resolver_new(env, run->o->store_path, &run->closure, &wakeup, err,
					 &run->resolver);
	while (r == 0) {
		uint64_t seen = wakeup_seen(&wakeup);
		r = closure_resolver_step(run->resolver);
		if (r == 0 && !known && closure_resolver_done(run->resolver)) {
			known = true;
			r = closure_known(run, jobs, res, &t0, err);
		}
		if (r < 0)
			break;
		unsigned wait_ms = download_step(run->download);
		if (download_finished(run->download))
			break;
		wakeup_wait(&wakeup, seen, wait_ms);
	}
	/* a failure of the resolution ends the download: what is in place
	 * stays (whole), the rest is removed */
	if (r < 0 && run->download) {
		download_cancel(run->download);
		while (!download_finished(run->download)) {
			uint64_t seen = wakeup_seen(&wakeup);
			unsigned wait_ms = download_step(run->download);
			if (!download_finished(run->download))
				wakeup_wait(&wakeup, seen, wait_ms);
		}
	}
	closure_resolver_free(run->resolver);
	run->resolver = NULL;
	int dr = download_end(run->download, &ds, &download_err);
	run->download = NULL;
	wakeup_destroy(&wakeup);
	if (r == 0 && dr < 0) {
		r = dr;
		if (err)
			*err = download_err;
	}
	if (!known)
		res->t_resolve = seconds_since(&t0);
	res->paths_fetched = ds.paths;
	res->download_bytes = ds.file_bytes;
	res->nar_bytes = ds.nar_bytes;
	res->nar_retries = ds.retries;
	res->most_attempts = ds.most_attempts;
	res->content_retries = ds.content_retries;
	res->nar_resumes = ds.resumes;
	res->syncs = ds.syncs;
	res->t_sync = ds.sync_seconds;
	res->t_unpack_cpu = ds.worker_cpu_seconds;
	res->t_download = seconds_since(&run->t_download_start);
	return r;
}

/* The substituters of the command line, with the environment's AWS
 * credentials for s3:// ones when the caller gave no provider. */
static int open_substituters(struct run *run, struct ip_error *err)
{
	const struct fetch_options *o = run->o;
	struct substituter_env sub_env = {
		.aws_credentials = o->aws_credentials,
		.aws_region = o->aws_region,
		.s3_dualstack = o->s3_dualstack,
		.note = o->warn,
		.note_ctx = o->cb_ctx,
	};
	int r;
	for (size_t i = 0; i < o->n_substituters && !sub_env.aws_credentials; i++) {
		if (strncmp(o->substituters[i], "s3://", 5) != 0)
			continue;
		struct aws_creds_config cc = { 0 };
		r = aws_creds_provider_new(&cc, &run->own_creds, err);
		if (r < 0)
			return r;
		sub_env.aws_credentials = run->own_creds;
	}
	for (; run->n_subs < o->n_substituters; run->n_subs++) {
		r = substituter_init(&run->subs[run->n_subs], o->substituters[run->n_subs],
				     (int)run->n_subs, &sub_env, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* What earlier runs and the image left that vouches for present paths:
 * the registration file, the ledger, the built-in closure list.  Each is
 * optional: one that cannot be read is ignored with a warning. */
static void read_earlier_runs(struct run *run)
{
	const struct fetch_options *o = run->o;
	struct ip_error e = { 0 };
	if (run->store.stale_removed)
		warn_line(run, "removed %u incomplete download(s) left in %s/nix/store by an interrupted run",
			  run->store.stale_removed, o->root);
	int r = registration_read(run->store.root_fd, &run->old_reg, &run->old_reg_len, &e);
	if (r < 0 && r != -ENOENT)
		warn_line(run, "ignoring it: %s", ip_error_str(&e));
	ip_error_clear(&e);
	r = ledger_read(run->store.root_fd, &run->old_ledger, &run->old_ledger_len, &e);
	if (r < 0 && r != -ENOENT)
		warn_line(run, "ignoring the ledger of earlier runs: %s", ip_error_str(&e));
	ip_error_clear(&e);
	if (o->builtin_closure &&
	    file_read_all(o->builtin_closure, 2 * REGISTRATION_MAX_SIZE, &run->builtin_closure,
			  &run->builtin_closure_len, &e) < 0)
		warn_line(run, "ignoring the built-in closure list %s (its paths will be hashed): %s",
			  o->builtin_closure, ip_error_str(&e));
}

int fetch_closure(const struct fetch_options *o, struct fetch_result *res, struct ip_error *err)
{
	struct run run = { .o = o };
	struct timespec t0, t;
	int r;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(res, 0, sizeof(*res));
	run.store.root_fd = run.store.store_fd = -1;

	r = fetch_check_options(o, err);
	if (r < 0)
		return r;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned jobs = o->jobs ? o->jobs : cpus > 0 ? (unsigned)cpus : 1;
	res->jobs = jobs;
	res->connections = o->connections ? o->connections : HTTP_DEFAULT_CONNECTIONS;
	run.hopts = (struct http_client_options){
		.max_connections = res->connections,
		.max_attempts = o->retries >= 0 ? (unsigned)o->retries + 1 : HTTP_DEFAULT_ATTEMPTS,
		.connect_timeout_ms = o->connect_timeout_ms,
		.stall_timeout_ms = o->stall_timeout_ms,
		.min_rate = o->min_rate,
		.deadline_ms = o->deadline_ms ? monotonic_ms() + o->deadline_ms : 0,
		.ca_bundle = o->ca_bundle,
		.verbose = o->curl_verbose,
	};

	r = open_substituters(&run, err);
	if (r < 0)
		goto out;
	r = store_open(o->root, !o->no_sync, &run.store, err);
	if (r < 0)
		goto out;
	read_earlier_runs(&run);

	/* 1-3. resolve the closure, hash present paths nothing vouches for,
	 * fetch the missing ones: one loop on this thread steps the resolver
	 * and the download pipeline, so NARs arrive while the rest of the
	 * graph is still being asked for */
	struct resolve_env env = {
		.subs = run.subs, .n_subs = run.n_subs, .stats = run.stats,
		.keys = o->keys, .n_keys = o->n_keys, .check_sigs = !o->no_check_sigs,
		.store = &run.store, .http = { get_http, &run },
		.old_registration = run.old_reg, .old_registration_len = run.old_reg_len,
		.ledger = run.old_ledger, .ledger_len = run.old_ledger_len,
		.builtin_closure = run.builtin_closure, .builtin_closure_len = run.builtin_closure_len,
		.warn = o->warn, .warn_ctx = o->cb_ctx,
		.on_resolved = on_path_resolved, .on_other = on_other_narinfo, .cb_ctx = &run,
	};
	struct download_env denv = {
		.resolve = &env, .jobs = jobs,
		.max_connections = res->connections, .max_attempts = run.hopts.max_attempts,
		.decoder_memory = o->decoder_memory,
		.progress = on_download_progress, .progress_ctx = &run,
		.progress_interval_ms = 250,
		.find_other = find_other_narinfo, .find_other_ctx = &run,
	};
	r = resolve_and_download(&run, &env, &denv, jobs, res, err);
	res->paths_from_registration = env.paths_from_registration;
	res->paths_vouched = env.paths_vouched;
	if (r < 0)
		goto out;
	for (size_t k = 0; k < run.closure.n; k++) {
		res->closure_nar_bytes += run.closure.paths[k].nar_size;
		res->paths_present += run.closure.paths[k].present;
	}
	res->paths_present -= res->paths_fetched; /* present before the run */

	/* 4. registration (after the renames are durable), ledger, profile */
	clock_gettime(CLOCK_MONOTONIC, &t);
	if (run.n_todo > 0 && (r = store_sync_dir(&run.store, err)) < 0)
		goto out;
	r = write_registration(&run, res, err);
	if (r < 0)
		goto out;
	write_ledger(&run, run.closure.n);
	if (o->set_profile) {
		r = profile_set_system(run.store.root_fd, o->store_path, run.store.sync,
				       res->profile_link, err);
		if (r < 0)
			goto out;
	}
	res->t_register = seconds_since(&t);
out:
	fill_result(&run, res);
	if (r < 0 && run.http && http_client_deadline_passed(run.http))
		r = deadline_error(o, res, run.n_todo, err);
	if (run.http)
		http_client_stop(run.http);
	store_close(&run.store);
	closure_free(&run.closure);
	for (size_t i = 0; i < run.n_subs; i++)
		substituter_free(&run.subs[i]);
	if (run.own_creds)
		aws_creds_provider_free(run.own_creds);
	free(run.old_reg);
	free(run.old_ledger);
	free(run.builtin_closure);
	free(run.ledger.buf);
	free(run.order);
	free(run.entries);
	free(run.reg_text);
	res->t_total = seconds_since(&t0);
	if (r == -ENOSPC && err && err->msg[0]) {
		size_t used = strlen(err->msg);
		snprintf(err->msg + used, sizeof(err->msg) - used,
			 "; make room on the file system of %s (the closure needs %.0f MiB unpacked)",
			 o->root, (double)res->closure_nar_bytes / 1048576.0);
	}
	return r;
}

int fetch_report_json(const struct fetch_options *o, const struct fetch_result *res,
		      const struct ip_error *error, char **out)
{
	struct json_writer w;
	json_init(&w);
	json_begin_object(&w, NULL);
	json_bool(&w, "ok", error == NULL);
	json_string(&w, "error", error ? ip_error_str(error) : NULL);
	json_string(&w, "store_path", o->store_path);
	json_string(&w, "root", o->root);
	json_begin_object(&w, "paths");
	json_uint(&w, "closure", res->paths_total);
	json_uint(&w, "present", res->paths_present);
	json_uint(&w, "fetched", res->paths_fetched);
	json_uint(&w, "from_registration", res->paths_from_registration);
	json_uint(&w, "vouched", res->paths_vouched);
	json_uint(&w, "checked", res->paths_checked);
	json_uint(&w, "replaced", res->paths_replaced);
	json_end_object(&w);
	json_begin_object(&w, "bytes");
	json_uint(&w, "download", res->download_bytes);
	json_uint(&w, "nar", res->nar_bytes);
	json_uint(&w, "closure_nar", res->closure_nar_bytes);
	json_end_object(&w);
	json_begin_object(&w, "seconds");
	json_double(&w, "resolve", res->t_resolve, 3);
	json_double(&w, "check", res->t_check, 3);
	json_double(&w, "download", res->t_download, 3);
	json_double(&w, "unpack_verify_cpu", res->t_unpack_cpu, 3);
	json_double(&w, "sync", res->t_sync, 3);
	json_double(&w, "register", res->t_register, 3);
	json_double(&w, "total", res->t_total, 3);
	json_end_object(&w);
	json_double(&w, "mib_per_second",
		    res->t_total > 0 ? (double)res->download_bytes / 1048576.0 / res->t_total : 0, 1);
	json_begin_object(&w, "requests");
	json_uint(&w, "http", res->http_requests);
	json_uint(&w, "http_retries", res->http_retries);
	json_uint(&w, "nar_retries", res->nar_retries);
	json_uint(&w, "content_retries", res->content_retries);
	json_uint(&w, "nar_resumes", res->nar_resumes);
	json_uint(&w, "stalls", res->stalls);
	json_uint(&w, "throttled", res->throttled);
	json_uint(&w, "most_attempts", res->most_attempts);
	json_end_object(&w);
	json_uint(&w, "syncs", res->syncs);
	json_bool(&w, "registration_written", res->registration_written);
	json_string(&w, "profile_link", res->profile_link[0] ? res->profile_link : NULL);
	json_uint(&w, "jobs", res->jobs);
	json_uint(&w, "connections", res->connections);
	json_uint(&w, "connections_low", res->connections_low);
	json_uint(&w, "start_gap_ms_high", res->start_gap_ms_high);
	json_begin_array(&w, "substituters");
	for (size_t i = 0; i < res->n_subs; i++) {
		const struct fetch_substituter_result *s = &res->subs[i];
		json_begin_object(&w, NULL);
		json_string(&w, "url", s->url);
		json_bool(&w, "skipped", s->skipped);
		json_uint(&w, "narinfo_requests", s->narinfo_requests);
		json_uint(&w, "narinfos", s->narinfos);
		json_uint(&w, "narinfo_not_found", s->narinfo_not_found);
		json_uint(&w, "narinfo_rejected", s->narinfo_rejected);
		json_uint(&w, "nar_requests", s->nar_requests);
		json_uint(&w, "nars", s->nars);
		json_uint(&w, "nar_bytes", s->nar_bytes);
		json_end_object(&w);
	}
	json_end_array(&w);
	json_end_object(&w);
	const char *text;
	int r = json_finish(&w, &text, NULL);
	if (r == 0) {
		*out = strdup(text);
		if (!*out)
			r = -ENOMEM;
	}
	json_free(&w);
	return r;
}
