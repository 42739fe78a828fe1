/* The signed binary cache that tools/make-format-fixtures made with real Nix
 * (data/nix/cache/): two store paths, "top" referring to "dep". */
#ifndef IP_TESTS_NIX_FIXTURES_H
#define IP_TESTS_NIX_FIXTURES_H

#include <stddef.h>

struct nix_fixture_path {
	char path[256];       /* /nix/store/<hash>-fixture-... */
	char nar_hash[80];    /* as `nix-store -q --hash` printed it */
	unsigned long long nar_size;
};

struct nix_fixtures {
	struct nix_fixture_path top, dep;
};

/* Reads data/nix/cache/paths.tsv; 0 or -1. */
int nix_fixtures_load(struct nix_fixtures *f);
/* A data file as a NUL-terminated string, or NULL (free it). */
char *test_read_text(const char *relpath, size_t *len);
/* data/nix/cache/<hash>.narinfo of a store path, as text (free it). */
char *nix_fixture_narinfo(const char *store_path, size_t *len);

#endif
