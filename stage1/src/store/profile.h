/* The system profile, the way `nix-env --profile P --set PATH` makes it
 * (src/libstore/profiles.cc):
 *     DIR/nix/var/nix/profiles/system          -> system-N-link   (relative)
 *     DIR/nix/var/nix/profiles/system-N-link   -> /nix/store/<path>
 * N is one more than the highest existing generation, except that when the
 * highest generation already points at PATH it is reused (Nix does not pile
 * up identical generations either). */
#ifndef IP_STORE_PROFILE_H
#define IP_STORE_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define PROFILE_DIR "nix/var/nix/profiles"
#define PROFILE_SYSTEM "system"
#define PROFILE_LINK_MAX 64   /* "system-<N>-link" + NUL */

/* Pure: the generation number in "<profile>-<N>-link", or 0 when `name` is
 * not such a link (N is a positive decimal without leading zeros). */
unsigned long profile_generation_of(const char *profile, const char *name);

/* Makes DIR/nix/var/nix/profiles/system point at `store_path` as above.
 * Writes the generation link's name (e.g. "system-3-link") to link_out.
 * With `sync`, the profiles directory is fsync'd at the end. */
int profile_set_system(int root_fd, const char *store_path, bool sync,
		       char link_out[PROFILE_LINK_MAX], struct ip_error *err);

#endif
