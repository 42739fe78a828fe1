/* Closure resolution: from one store path to the narinfos of its whole
 * closure, breadth-first with every known-but-unresolved path in flight at
 * once (so sequential round trips ~ depth of the graph, not its size).
 *
 * Per path, the substituters are asked in order; 401/403/404/410 (and a
 * narinfo that is malformed, names another path, or has no signature by a
 * trusted key) moves on to the next one, like Nix's substitution goal.  A
 * substituter's nix-cache-info is fetched once, before its first narinfo;
 * a cache that has none, has another StoreDir, or cannot be reached is
 * skipped with a warning.  Other errors (retries exhausted, TLS) end the run.
 *
 * The resolver never blocks: closure_resolver_step handles the answers that
 * have come and sends the requests they lead to, and the caller waits on the
 * wakeup between steps.  So one thread can resolve the closure and keep the
 * download pipeline going at the same time (cache/fetch.c): NARs start as
 * soon as their narinfos are in, while the rest of the graph resolves.
 *
 * A path present in the store is vouched for (see store/store.h) by the
 * ledger of an earlier run when its top entry is still the one recorded
 * there, or by the image's list of the paths it placed.  A vouched path
 * needs no narinfo when the ledger, that list or the previous registration
 * file has its entry: so a second run over a complete closure makes no
 * request.  A present path nothing vouches for gets its narinfo (kept in
 * `narinfo`, `check` set): the caller hashes it against the signed NarHash
 * before it counts. */
#ifndef IP_CACHE_CLOSURE_H
#define IP_CACHE_CLOSURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/http.h"
#include "cache/substituter.h"
#include "nix/hash.h"
#include "nix/narinfo.h"
#include "store/ledger.h"
#include "store/store.h"
#include "util/error.h"

#define CLOSURE_NONE ((size_t)-1)

struct closure_path {
	char *basename;
	struct nix_hash nar_hash;
	uint64_t nar_size;
	char *deriver;               /* basename or NULL */
	char **ref_names;            /* basenames, as listed */
	size_t n_refs;
	size_t *refs;                /* ref_names as closure indices */
	struct narinfo *narinfo;     /* verified narinfo of a path to fetch; NULL otherwise */
	int sub_index;               /* who served the narinfo; -1 = registration file */
	size_t referrer;             /* a path referring to it; CLOSURE_NONE for the root */
	bool present;                /* an entry is under the final name */
	bool vouched;                /* ... and the ledger or the image vouches for it */
	bool check;                  /* ... nothing does: hash it against nar_hash */
	struct tree_identity id;     /* of a present entry; of a ledger line */
	bool has_id;
	bool resolved;
	/* resolution bookkeeping */
	int next_sub;
	bool finding_other;          /* closure_resolver_find_other under way */
	char *why_not;               /* last substituter's reason for refusing it */
};

struct closure {
	struct closure_path *paths;
	size_t n, cap;
	size_t *index;               /* open addressing, basename -> paths index */
	size_t index_cap;
	size_t root;
};

struct substituter_stats {
	unsigned narinfo_requests, narinfo_found, narinfo_not_found, narinfo_rejected;
	unsigned nar_requests, nars;
	uint64_t nar_bytes;          /* compressed bytes of NARs taken from it */
	bool usable;                 /* nix-cache-info checked and fine */
	bool skipped;                /* nix-cache-info missing/bad/unreachable */
};

/* Hands out the HTTP client on first use (so a run that needs no request
 * starts no thread). */
struct http_provider {
	struct http_client *(*get)(void *ctx, struct ip_error *err);
	void *ctx;
};

struct resolve_env {
	struct substituter *subs;
	size_t n_subs;
	struct substituter_stats *stats;     /* n_subs of them */
	const struct trusted_key *keys;
	size_t n_keys;
	bool check_sigs;
	const struct store *store;
	struct http_provider http;
	const char *old_registration;        /* previous registration file or NULL */
	size_t old_registration_len;
	const char *ledger;                  /* store/ledger.h text or NULL */
	size_t ledger_len;
	const char *builtin_closure;         /* closureInfo's registration or store-paths, or NULL */
	size_t builtin_closure_len;
	/* Called (main thread) with one line for things the operator should
	 * see: a substituter skipped, a narinfo refused by one cache. */
	void (*warn)(void *ctx, const char *line);
	void *warn_ctx;
	/* Called (resolver's thread) once path k is resolved, its references
	 * added to the closure (c->paths may have moved: keep indices, not
	 * pointers).  NULL: not told. */
	void (*on_resolved)(void *ctx, size_t k);
	/* The answer to closure_resolver_find_other (resolver's thread): a
	 * verified narinfo (the callee owns it) from substituter `sub`, or
	 * NULL and -1 when no later substituter has one. */
	void (*on_other)(void *ctx, size_t k, struct narinfo *info, int sub);
	void *cb_ctx;
	unsigned paths_from_registration;    /* out */
	unsigned paths_vouched;              /* out */
};

struct wakeup;
struct closure_resolver;

/* Starts resolving the closure of root_path into *out: nothing is sent
 * before the first step.  The HTTP thread posts `wakeup` when an answer
 * arrives.  err receives the resolution's error (it must outlive the
 * resolver).  *rv is set even on failure: free it. */
int closure_resolver_new(struct resolve_env *env, const char *root_path, struct closure *out,
			 struct wakeup *wakeup, struct ip_error *err, struct closure_resolver **rv);
/* Handles the answers that have arrived, sends what follows from them;
 * never blocks.  0, or the resolution's error (then every request is
 * cancelled). */
int closure_resolver_step(struct closure_resolver *rv);
/* Every path of the closure is resolved (closure_link may follow). */
bool closure_resolver_done(const struct closure_resolver *rv);
/* Asks the substituters after `after_sub`, in order, for path k's
 * narinfo; env->on_other gets the first one that is acceptable and lists
 * the same references (the path's NAR failed to arrive whole, or is
 * missing, at the first).  nix-cache-info is checked as for any request. */
int closure_resolver_find_other(struct closure_resolver *rv, size_t k, int after_sub);
/* Cancels what is still in flight and waits for it to end. */
void closure_resolver_free(struct closure_resolver *rv);
void closure_free(struct closure *c);

/* CLOSURE_NONE when absent. */
size_t closure_find(const struct closure *c, const char *basename);
/* Adds a path (no-op if present); its index in *index.  For tests and for
 * the resolver. */
int closure_add(struct closure *c, const char *basename, size_t referrer, size_t *index);
/* Fills every path's refs[] from ref_names; -EINVAL if a reference is not in
 * the closure. */
int closure_link(struct closure *c, struct ip_error *err);
/* All paths reachable from the root, references before referrers (a
 * reverse topological order; ties in name order).  order[] gets c->n
 * indices; returns how many were written. */
size_t closure_topo_order(const struct closure *c, size_t *order);

/* Whether a narinfo answer (body, len) from `url` can stand for path
 * `basename`: it parses, names that path, carries a signature by a trusted
 * key (when policy->check_sigs), and, when its NAR is to be fetched
 * (will_fetch), uses a compression this program reads.  0 with *info
 * filled (narinfo_free it); else -EBADMSG (malformed, another path),
 * -EPERM (signature) or -ENOTSUP (compression), err saying why in one line
 * that names the URL.  Pure: the one place a narinfo is judged. */
struct narinfo_policy {
	const struct trusted_key *keys;
	size_t n_keys;
	bool check_sigs;
};
int narinfo_accept(const char *body, size_t len, const char *basename, const char *url,
		   const struct narinfo_policy *policy, bool will_fetch, struct narinfo *info,
		   struct ip_error *err);

#endif
