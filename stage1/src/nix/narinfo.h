/* <hash>.narinfo and nix-cache-info: pure parsers over buffers, plus the
 * signature fingerprint and its check against trusted keys. */
#ifndef IP_NIX_NARINFO_H
#define IP_NIX_NARINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nix/hash.h"
#include "util/error.h"

#define NARINFO_MAX_SIZE (1024 * 1024)  /* larger documents are rejected */
#define NARINFO_MAX_REFERENCES 65536
#define NARINFO_MAX_SIGS 64

enum nix_compression {
	NIX_COMPRESSION_NONE,
	NIX_COMPRESSION_XZ,
	NIX_COMPRESSION_ZSTD,
	NIX_COMPRESSION_BZIP2,
	NIX_COMPRESSION_GZIP,
	NIX_COMPRESSION_BR,
	NIX_COMPRESSION_LZIP,
	NIX_COMPRESSION_LZ4,
	NIX_COMPRESSION_UNSUPPORTED, /* lzma, compress, lzop, ...: see compression_name */
};

struct narinfo {
	char *store_path;              /* full path, checked */
	char *url;                     /* as written (printable ASCII, no spaces);
					* normally relative to the cache root */
	enum nix_compression compression;
	char *compression_name;        /* as written ("bzip2" when absent) */
	bool has_file_hash;
	struct nix_hash file_hash;
	uint64_t file_size;            /* 0 when absent */
	struct nix_hash nar_hash;
	uint64_t nar_size;
	char **references;             /* basenames, checked, as listed, no duplicates */
	size_t n_references;
	char *deriver;                 /* basename, or NULL (absent or "unknown-deriver") */
	char **sigs;                   /* "keyname:base64" as listed (only the shape
					* "name:..." is checked here; narinfo_verify
					* judges the rest) */
	size_t n_sigs;
	char *ca;                      /* or NULL */
};

/* Parses one narinfo.  Unknown keys are ignored; a missing StorePath, URL,
 * NarHash or NarSize, a bad value, or a duplicate key is -EBADMSG with err
 * naming the key and line, e.g.
 *   narinfo line 4: NarSize: must be greater than 0
 *   narinfo line 5: duplicate NarHash (first on line 3)
 *   narinfo: missing NarHash
 * Lines are "Key: value" ("Key:" alone is an empty value); CRLF line ends
 * are accepted, blank lines skipped, the final newline optional; a NUL byte,
 * a line without ':', "Key:value" without the space, more than
 * NARINFO_MAX_SIZE bytes, NARINFO_MAX_SIGS signatures or a reference listed
 * twice are errors.  Missing or empty Compression means bzip2.  On failure
 * *out is left zeroed (nothing to free); on success narinfo_free it. */
int narinfo_parse(const char *buf, size_t len, struct narinfo *out, struct ip_error *err);
void narinfo_free(struct narinfo *info);

/* "1;<StorePath>;sha256:<base32>;<NarSize>;<refs as full paths, sorted, ','>"
 * malloc'd, or NULL on allocation failure. */
char *narinfo_fingerprint(const struct narinfo *info);

struct trusted_key {
	char name[128];
	uint8_t key[32];               /* ed25519 public key */
};

/* Parses "<name>:<base64 of 32 bytes>". */
int trusted_key_parse(const char *text, struct trusted_key *out, struct ip_error *err);

/* 0 when at least one Sig is by a key in `keys` (same name) and verifies
 * over the fingerprint.  Otherwise -EPERM, and err says which path, which
 * signatures were present and what was wrong with each, e.g.
 *   /nix/store/...-foo: no valid signature by a trusted key (other-1 by an
 *   untrusted key, test-1 does not verify)
 * No keys at all, or no Sig at all, is -EPERM too.  Thread-safe. */
int narinfo_verify(const struct narinfo *info, const struct trusted_key *keys, size_t n_keys,
		   struct ip_error *err);

struct nix_cache_info {
	char store_dir[256];           /* must be /nix/store for us */
	bool want_mass_query;
	int priority;                  /* 50 when absent, like Nix */
};

/* Like Nix: lines without ':' are ignored, keys and values are trimmed,
 * unknown keys ignored.  StoreDir defaults to /nix/store; the caller checks
 * it is /nix/store.  A bad Priority (not an int) or WantMassQuery (not 0/1)
 * is -EBADMSG naming the line. */
int nix_cache_info_parse(const char *buf, size_t len, struct nix_cache_info *out,
			 struct ip_error *err);

#endif
