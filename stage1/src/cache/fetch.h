/* The closure engine's API: make DIR/nix/store hold the whole closure of a
 * store path, exactly as Nix would, write DIR/nix-path-registration for it,
 * and optionally point DIR/nix/var/nix/profiles/system at it.
 * `initrd-provision fetch` is a thin command line over fetch_closure; the
 * boot mode calls it with root "/sysroot". */
#ifndef IP_CACHE_FETCH_H
#define IP_CACHE_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nix/narinfo.h"
#include "util/error.h"

#define FETCH_MAX_SUBSTITUTERS 16

struct aws_creds_provider;

struct fetch_progress {
	size_t paths_done, paths_total;        /* of the paths to download */
	uint64_t bytes_done, bytes_total;      /* compressed bytes */
	double seconds;                        /* since the download started */
	/* The closure is resolved: the totals are final (NARs are fetched
	 * while it resolves, so earlier reports count what is known so far). */
	bool resolved;
};

struct fetch_options {
	const char *root;                      /* DIR */
	const char *store_path;                /* /nix/store/<hash>-<name> */
	const char *const *substituters;       /* tried in this order */
	size_t n_substituters;
	const struct trusted_key *keys;
	size_t n_keys;
	bool no_check_sigs;                    /* accept unsigned paths (tests only) */
	bool set_profile;                      /* nix/var/nix/profiles/system -> the path */
	/* A file listing the paths the image placed in the root (closureInfo's
	 * `registration` or `store-paths`): present ones are taken as whole
	 * without being read (README "Reliability").  NULL: none. */
	const char *builtin_closure;
	bool no_sync;                          /* skip syncfs/fsync (tests, benchmarks) */
	unsigned connections;                  /* 0 = 25 */
	unsigned jobs;                         /* worker threads; 0 = online CPUs */
	unsigned stall_timeout_ms;             /* 0 = 30 s */
	unsigned connect_timeout_ms;           /* 0 = 10 s */
	unsigned min_rate;                     /* bytes/s per stall window; 0 = 4096 */
	/* The whole fetch ends with -ETIMEDOUT once this much time has passed
	 * (every transfer cancelled, nothing partial left); 0 = no deadline.
	 * deadline_setting is how the caller's user sets it, for the message
	 * ("--deadline", "fetch-deadline"). */
	unsigned deadline_ms;
	const char *deadline_setting;
	/* What all decoders together may allocate (README "Reliability");
	 * 0 = 128 MiB (cache/download.h). */
	uint64_t decoder_memory;
	int retries;                           /* extra attempts per request; < 0 = 4 */
	const char *ca_bundle;                 /* NULL = /etc/ssl/certs/ca-certificates.crt */
	bool curl_verbose;
	/* s3:// substituters (README "S3 caches"): credentials (NULL: the
	 * environment's AWS_* variables, else unsigned requests) and the region
	 * for URLs without region= (NULL: us-east-1). */
	struct aws_creds_provider *aws_credentials;
	const char *aws_region;
	bool s3_dualstack;                     /* s3_url_prefer_dualstack for every s3:// URL */
	/* Optional callbacks, called from the calling thread. */
	void (*progress)(void *ctx, const struct fetch_progress *p);
	void (*warn)(void *ctx, const char *line);
	void *cb_ctx;
};

struct fetch_substituter_result {
	char url[256];
	unsigned narinfo_requests, narinfos, narinfo_not_found, narinfo_rejected;
	unsigned nar_requests, nars;
	uint64_t nar_bytes;                    /* compressed */
	bool skipped;                          /* no usable nix-cache-info */
};

struct fetch_result {
	size_t paths_total;                    /* the closure */
	size_t paths_present;                  /* already whole before the run */
	size_t paths_fetched;
	size_t paths_from_registration;        /* needed no narinfo */
	size_t paths_vouched;                  /* present, vouched for by the ledger or the image */
	size_t paths_checked;                  /* present, hashed and found whole */
	size_t paths_replaced;                 /* present, not whole: moved aside and fetched */
	uint64_t download_bytes;               /* compressed bytes of fetched NARs */
	uint64_t nar_bytes;                    /* their NAR size */
	uint64_t closure_nar_bytes;            /* NarSize of the whole closure */
	unsigned http_requests, http_retries, nar_retries, content_retries, stalls;
	unsigned nar_resumes;                  /* NAR retries resumed with Range */
	unsigned throttled;                    /* answers 503/429 (S3: SlowDown) */
	unsigned most_attempts;                /* the most attempts one request took */
	unsigned connections_low;              /* the lowest the throttled limit went */
	unsigned start_gap_ms_high;            /* below one connection: widest gap */
	unsigned syncs;
	double t_check;                        /* hashing present paths nothing vouched for */
	double t_resolve, t_download, t_unpack_cpu, t_sync, t_register, t_total;
	bool registration_written;             /* false: it was already up to date */
	char profile_link[64];                 /* "system-N-link" with set_profile */
	struct fetch_substituter_result subs[FETCH_MAX_SUBSTITUTERS];
	size_t n_subs;
	unsigned jobs, connections;
};

/* Checks options without touching anything: required fields, the store path,
 * substituter URLs, a key unless no_check_sigs.
 * -EINVAL/-ENOTSUP with err: a usage error. */
int fetch_check_options(const struct fetch_options *opts, struct ip_error *err);

/* 0 on success.  On failure a negative errno and err holds one line naming
 * what failed, where, and what to do; `result` has the figures so far.
 * Threads: one HTTP thread and opts->jobs workers live for the call; the
 * callbacks run on the calling thread, which also steps the resolver and
 * the download pipeline (see cache/download.h).  Memory: flat in the
 * closure size (static/musl: 18 MiB peak for the 600-path zstd benchmark
 * corpus, 4.5 MiB for one 1 GiB file: bench/results.md); with glibc call mallopt(M_MMAP_THRESHOLD, 128 KiB) first, as
 * `initrd-provision fetch` does, or decoder windows stay in the heap.
 * -EINVAL: bad options (see fetch_check_options). */
int fetch_closure(const struct fetch_options *opts, struct fetch_result *result,
		  struct ip_error *err);

/* The JSON report of a run (malloc'd NUL-terminated text). */
int fetch_report_json(const struct fetch_options *opts, const struct fetch_result *result,
		      const struct ip_error *error, char **out);

#endif
