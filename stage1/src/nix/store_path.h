/* Store path syntax (src/libstore/path.cc). */
#ifndef IP_NIX_STORE_PATH_H
#define IP_NIX_STORE_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define NIX_STORE_DIR "/nix/store"
#define NIX_STORE_HASH_LEN 32
#define NIX_STORE_NAME_MAX 211
/* "<hash>-<name>" at most */
#define NIX_STORE_BASENAME_MAX (NIX_STORE_HASH_LEN + 1 + NIX_STORE_NAME_MAX)
/* "/nix/store/<hash>-<name>" + NUL */
#define NIX_STORE_PATH_MAX (sizeof(NIX_STORE_DIR) + NIX_STORE_BASENAME_MAX + 1)

/* "<32 base-32 chars>-<name>" with a valid name.  -EINVAL with err. */
int nix_store_basename_check(const char *basename, size_t len, struct ip_error *err);
/* "/nix/store/<basename>" exactly (no trailing slash, no sub-path). */
int nix_store_path_check(const char *path, size_t len, struct ip_error *err);
/* Pointer to the basename inside a checked full store path. */
const char *nix_store_path_basename(const char *path);

#endif
