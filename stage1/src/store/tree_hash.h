/* The NarHash and NarSize of a tree on disk, as `nix-store --dump PATH |
 * sha256sum` would give them, without reading anything twice: the tree is
 * walked in NAR order (entries sorted bytewise), encoded by nix/nar_write.h
 * and hashed as it goes.  Used to check a store path that is present but
 * that nothing vouches for (store/store.h) against its signed NarHash.
 *
 * Only *at() calls relative to directories opened with O_NOFOLLOW; nothing
 * is ever followed, a symlink is hashed as a symlink.  A tree no NAR can
 * describe (a device, fifo or socket, a name or link target over the
 * nix/nar.h limits, directories nested deeper than NAR_MAX_DEPTH) is
 * -EBADMSG; one that grows past `max_size` bytes of NAR is -EFBIG as soon
 * as it does (the signed NarSize bounds the work a hostile tree can cause);
 * a file that changes size while it is read is -EIO.  Each with err naming
 * the entry. */
#ifndef IP_STORE_TREE_HASH_H
#define IP_STORE_TREE_HASH_H

#include <stdint.h>

#include "nix/hash.h"
#include "util/error.h"

int tree_nar_hash(int dirfd, const char *name, uint64_t max_size, struct nix_hash *hash,
		  uint64_t *size, struct ip_error *err);

#endif
