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
	NIX_COMPRESSION_UNSUPPORTED, /* br, lz4, anything else: see compression_name */
};

struct narinfo {
	char *store_path;              /* full path, checked */
	char *url;                     /* relative to the cache root */
	enum nix_compression compression;
	char *compression_name;        /* as written ("bzip2" when absent) */
	bool has_file_hash;
	struct nix_hash file_hash;
	uint64_t file_size;            /* 0 when absent */
	struct nix_hash nar_hash;
	uint64_t nar_size;
	char **references;             /* basenames, checked, as listed */
	size_t n_references;
	char *deriver;                 /* basename, or NULL */
	char **sigs;                   /* "keyname:base64" as listed */
	size_t n_sigs;
	char *ca;                      /* or NULL */
};

/* Parses one narinfo.  Unknown keys are ignored; a missing StorePath, URL,
 * NarHash or NarSize, a bad value, or a duplicate key is -EBADMSG with err
 * naming the key and line.  On failure *out is left empty (nothing to free). */
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
 * signatures were present and that none is by a trusted key / valid. */
int narinfo_verify(const struct narinfo *info, const struct trusted_key *keys, size_t n_keys,
		   struct ip_error *err);

struct nix_cache_info {
	char store_dir[256];           /* must be /nix/store for us */
	bool want_mass_query;
	int priority;                  /* 50 when absent, like Nix */
};

int nix_cache_info_parse(const char *buf, size_t len, struct nix_cache_info *out,
			 struct ip_error *err);

#endif
