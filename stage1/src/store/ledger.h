/* DIR/nix/var/initrd-provision/ledger: the store paths that an earlier run
 * of ours left whole, so that a later run may skip them without reading
 * them (issue 14: a present path is skipped only when something vouches for
 * it; see store/store.h).  It is ours alone because stage 2 deletes
 * nix-path-registration once it has loaded it.
 *
 * A path counts only while its top entry is the very one we recorded: the
 * same inode with the same ctime.  A path deleted and made again (stage 2's
 * garbage collector, then Nix unpacking it straight into its final name and
 * dying half-way) has another inode or ctime, so the ledger stops vouching
 * for it; so does anything that changes the top entry itself (a chmod, an
 * entry added to or removed from a top directory).  (ctime has the
 * kernel's coarse clock, a few ms: a path deleted and made again with the
 * same inode number within one tick would pass; a garbage collection and a
 * substitution are never that close.)  Changes deeper down
 * leave the top entry alone: the ledger, like Nix's database, trusts that
 * nothing edits a store path in place.
 *
 * Text:
 *     initrd-provision ledger 1
 *     <basename> <inode> <ctime seconds> <ctime nanoseconds>    (per path)
 *     <an empty line>
 *     <the same paths in nix-path-registration format, store/registration.h>
 * The second part stands in for the paths' narinfos, so a later run over a
 * whole closure makes no request even after stage 2 deleted
 * nix-path-registration. */
#ifndef IP_STORE_LEDGER_H
#define IP_STORE_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "nix/store_path.h"
#include "store/registration.h"
#include "util/error.h"

#define LEDGER_DIR "nix/var/initrd-provision"
#define LEDGER_FILE "ledger"
#define LEDGER_MAGIC "initrd-provision ledger 1"

struct tree_identity {
	uint64_t ino;
	uint64_t ctime_sec;
	uint32_t ctime_nsec;
};

void tree_identity_of(const struct stat *st, struct tree_identity *out);
bool tree_identity_equal(const struct tree_identity *a, const struct tree_identity *b);

/* Calls `identity` for every line of the first part, then `entry` for every
 * path of the second (strings live for the call only).  -EBADMSG with err
 * naming the line on anything malformed; a callback's error stops it. */
int ledger_parse(const char *buf, size_t len,
		 int (*identity)(void *ctx, const char *basename, const struct tree_identity *id,
				 struct ip_error *err),
		 int (*entry)(void *ctx, const struct registration_entry *e, struct ip_error *err),
		 void *ctx, struct ip_error *err);

/* One line of the first part, "<basename> <ino> <sec> <nsec>\n", into out
 * (at least LEDGER_LINE_MAX bytes); returns its length. */
#define LEDGER_LINE_MAX (NIX_STORE_BASENAME_MAX + 3 * 21 + 4)
size_t ledger_format_identity(const char *basename, const struct tree_identity *id, char *out);

/* Reads the ledger of the root at root_fd: -ENOENT when there is none. */
int ledger_read(int root_fd, char **out, size_t *out_len, struct ip_error *err);
/* Replaces it atomically (creating LEDGER_DIR when missing). */
int ledger_write(int root_fd, const char *text, size_t len, bool sync, struct ip_error *err);

#endif
