/* DIR/nix-path-registration: the closure in `nix-store --load-db` format,
 * which NixOS's stage 2 loads into the Nix database on first boot.
 *
 * Per path (src/libstore/store-api.cc, makeValidityRegistration /
 * decodeValidPathInfo):
 *     /nix/store/<basename>
 *     <NarHash as 64 hex digits>          (what `nix-store --dump-db` writes)
 *     <NarSize>
 *     <deriver as a full path, or an empty line>
 *     <number of references>
 *     <one full reference path per line>
 * Every reference must be in the same file (or already valid), so the file
 * always holds a whole closure, references before referrers. */
#ifndef IP_STORE_REGISTRATION_H
#define IP_STORE_REGISTRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nix/hash.h"
#include "util/error.h"

#define REGISTRATION_FILE "nix-path-registration"
/* A registration file larger than this is not ours: it is ignored. */
#define REGISTRATION_MAX_SIZE (256u * 1024 * 1024)

/* Names are store basenames ("<hash>-<name>"), without /nix/store/. */
struct registration_entry {
	const char *basename;
	struct nix_hash nar_hash;
	uint64_t nar_size;
	const char *deriver;               /* basename, or NULL */
	const char *const *references;    /* basenames */
	size_t n_references;
};

/* Appends the text of `n` entries, in the order given, to a malloc'd
 * buffer.  0, or -ENOMEM. */
int registration_format(const struct registration_entry *entries, size_t n, char **out,
			size_t *out_len);

/* Parses a whole file and calls `entry` once per path, in file order (the
 * strings only live for the duration of the call).  -EBADMSG with err naming
 * the line on anything malformed; a callback's error stops the parse. */
int registration_parse(const char *buf, size_t len,
		       int (*entry)(void *ctx, const struct registration_entry *e,
				    struct ip_error *err),
		       void *ctx, struct ip_error *err);

/* Reads DIR/nix-path-registration into a malloc'd buffer.  -ENOENT when
 * there is none. */
int registration_read(int root_fd, char **out, size_t *out_len, struct ip_error *err);

/* Replaces DIR/nix-path-registration atomically: a temporary name in DIR,
 * fsync (unless !sync), rename, fsync of DIR. */
int registration_write(int root_fd, const char *buf, size_t len, bool sync, struct ip_error *err);

/* Removes temporaries that an interrupted registration_write left. */
void registration_cleanup_temps(int root_fd);

#endif
