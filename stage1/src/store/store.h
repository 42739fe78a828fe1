/* The target store: DIR/nix/store, its temporary names, and the one rule
 * that decides whether a store path is already there.
 *
 * Completeness rule.  The only way this program creates an entry under a
 * store path's final name is `rename(".ip-tmp-<basename>", "<basename>")`,
 * and it does that only after the NAR was unpacked under the temporary name,
 * its NarHash/NarSize (and FileSize) verified, and the tree made
 * durable (one syncfs(2) per batch of paths, see store_sync_batch).  So:
 *   - an entry under a temporary name is an interrupted download: it is
 *     removed when the next run starts (store_open), under the store lock;
 *   - an entry under a final name may still be anything else: Nix in stage
 *     2 unpacks straight into final names (a crash leaves a partial tree),
 *     and anyone may plant a symlink.  It is skipped without being read
 *     only when something vouches for it: our ledger (store/ledger.h: an
 *     earlier run of ours left exactly this entry whole) or the image's
 *     list of the paths it placed (fetch_options.builtin_closure).  Any
 *     other present path is serialised and hashed (store/tree_hash.h) and
 *     compared with its signed NarHash; when it differs it is moved aside
 *     (store_move_aside) and fetched like a missing one;
 *   - the registration file is written last, for the whole closure, from
 *     narinfos and from the previous registration file (which only ever
 *     lists paths that were whole), never from what happens to be on disk.
 * A SIGKILL or power loss at any moment therefore leaves either a path in
 * place and whole, or a temporary that the next run deletes: the next run
 * fetches what is missing and rewrites the registration file.
 *
 * Only one process works on a store at a time: store_open takes an
 * exclusive flock(2) on the DIR/nix/store directory itself (no lock file, so
 * nothing extra appears in the store). */
#ifndef IP_STORE_STORE_H
#define IP_STORE_STORE_H

#include <stdbool.h>
#include <sys/stat.h>

#include "nix/store_path.h"
#include "util/error.h"

#define STORE_TEMP_PREFIX ".ip-tmp-"
/* ".ip-tmp-" + basename (<= 244) + NUL: always under NAME_MAX. */
#define STORE_TEMP_NAME_MAX (sizeof(STORE_TEMP_PREFIX) + NIX_STORE_BASENAME_MAX)

struct store {
	int root_fd;      /* DIR */
	int store_fd;     /* DIR/nix/store, flock'd */
	bool sync;        /* make paths durable before they become visible */
	unsigned stale_removed;  /* temporaries of earlier runs deleted at open */
};

/* Creates DIR/nix/store when missing (0755), locks it, removes temporaries
 * left by an interrupted run.  -EBUSY when another process holds the lock. */
int store_open(const char *root, bool sync, struct store *st, struct ip_error *err);
void store_close(struct store *st);

/* True when an entry exists under the path's final name (not followed when
 * it is a symlink). */
bool store_has(const struct store *st, const char *basename);
/* The same, with the entry's lstat for the caller (the ledger's identity). */
bool store_stat(const struct store *st, const char *basename, struct stat *sb);

/* Takes a present path that is not whole out of its final name: renamed to
 * its temporary name (the final name is free at once), then removed; a
 * crash in between leaves a temporary that the next store_open removes. */
int store_move_aside(const struct store *st, const char *basename, struct ip_error *err);

void store_temp_name(const char *basename, char out[STORE_TEMP_NAME_MAX]);

/* Removes whatever is under the temporary name of `basename` (no error when
 * there is nothing). */
int store_discard_temp(const struct store *st, const char *basename, struct ip_error *err);

/* Makes every temporary written so far durable (syncfs), so that a batch of
 * verified paths can be renamed into place.  No-op without `sync`. */
int store_sync_batch(const struct store *st, struct ip_error *err);

/* Renames the verified temporary of `basename` to its final name.  Fails
 * (and leaves the final name alone) if something appeared there. */
int store_commit(const struct store *st, const char *basename, struct ip_error *err);

/* Makes the renames durable (fsync of DIR/nix/store). */
int store_sync_dir(const struct store *st, struct ip_error *err);

#endif
