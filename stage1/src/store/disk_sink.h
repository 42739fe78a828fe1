/* The NAR sink that writes the tree to disk.
 *
 * It unpacks the archive's root as <parent_dirfd>/<name> (the engine passes a
 * temporary name in the store directory and renames it itself once the NAR
 * and its hashes checked out).  Only *at() calls relative to directory
 * descriptors it opened itself; nothing pre-existing is ever followed or
 * overwritten (O_CREAT|O_EXCL|O_NOFOLLOW, mkdirat, symlinkat all fail on an
 * existing entry).  Metadata is Nix's canonical form: regular files 0444,
 * executables 0555, directories 0555 (set after their entries are written),
 * mtime and atime 1 s after the epoch on everything, symlinks included.
 *
 * Use:
 *   disk_sink_open(storefd, ".tmp-...", flags, &s, err);
 *   p = nar_parser_new(&disk_sink_ops, s);
 *   nar_parser_feed(p, ...)...; nar_parser_finish(p, err);
 *   disk_sink_finish(s, err);    -- the tree is complete
 *   disk_sink_free(s);           -- always; closes, never deletes
 * On any failure the caller removes the partial tree with
 * fs_remove_tree_at(storefd, ".tmp-...", err).
 */
#ifndef IP_STORE_DISK_SINK_H
#define IP_STORE_DISK_SINK_H

#include "nix/nar.h"
#include "util/error.h"

/* fsync(2) every file and every directory before closing it (the caller
 * still has to fsync parent_dirfd after its rename). */
#define DISK_SINK_FSYNC 0x1u

/* Small writes are gathered up to this size; larger pieces of file contents
 * go straight to write(2) without a copy. */
#define DISK_SINK_BUFFER (64 * 1024)

struct disk_sink;

/* Creates nothing yet: the root is created by the first callback.  `name` is
 * one path component.  parent_dirfd must stay open until disk_sink_free.
 * -EINVAL for a bad name, -ENOMEM. */
int disk_sink_open(int parent_dirfd, const char *name, unsigned flags, struct disk_sink **out,
		   struct ip_error *err);

/* Closes what a failed tree left open; the sink can then be reused or
 * freed.  Never deletes anything. */
void disk_sink_close(struct disk_sink *sink);

/* Makes a sink (open, finished or failed) ready for another tree, as
 * disk_sink_open would, without allocating: what is still open is closed,
 * nothing is deleted. */
int disk_sink_reuse(struct disk_sink *sink, int parent_dirfd, const char *name, unsigned flags,
		    struct ip_error *err);

/* Pass with the sink as the parser's `sink` argument.  Errors name the entry
 * inside the tree, e.g. "unpacking .tmp-x/bin/sh: open: File exists". */
extern const struct nar_sink_ops disk_sink_ops;

/* After nar_parser_finish succeeded: 0 when a whole tree was written and
 * every descriptor but parent_dirfd is closed, else -EINVAL. */
int disk_sink_finish(struct disk_sink *sink, struct ip_error *err);

/* Closes what is still open and frees.  Never deletes anything. */
void disk_sink_free(struct disk_sink *sink);

/* Regular-file bytes written so far (for progress and statistics). */
unsigned long long disk_sink_bytes(const struct disk_sink *sink);

#endif
