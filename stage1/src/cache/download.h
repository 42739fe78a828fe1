/* The download pipeline: NAR files from the caches to verified store paths.
 *
 *   HTTP thread (curl multi)    worker threads (--jobs)            coordinator thread
 *   socket -> on_data -> ring --> FileSize -> decompress -> NarHash  -> syncfs per batch
 *             (<= 256 KiB, pause    -> NAR parser -> disk sink         -> rename into place
 *              when full)              (temporary name)
 *
 * Paths come in while the closure still resolves: the coordinator (the
 * thread that calls fetch_closure, cache/fetch.c) steps the resolver and
 * this pipeline in one loop, adding each path as its narinfo is accepted
 * (download_add), so the first NARs arrive while the deep end of the graph
 * is still being asked for.  The closure is touched by the coordinator
 * only: a path's job gets copies of what it needs when it is added.
 *
 * The worker's part, FileSize to the sink, is one NAR stream
 * (cache/nar_stream.h); this file adds the threads, rings, pools and retries.
 *
 * Back-pressure: on_data copies into the transfer's bounded ring buffer; when
 * the chunk does not fit it returns CURL_WRITEFUNC_PAUSE, and the worker
 * that drains the ring asks the HTTP thread (http_resume) to unpause.  No
 * NAR is ever held whole in memory.
 *
 * Bounds: at most `max_transfers` NAR transfers at once (one connection
 * each).  The rings of large NARs stay within a budget of (2 * jobs + 4)
 * full rings; a NAR file smaller than a ring gets a ring of its size, and
 * those small rings have a budget of their own (DOWNLOAD_SMALL_RING_BUDGET),
 * so small NARs are fetched beside the large ones while a far cache
 * answers.  At most `max_decoders` large streams are decoded at once (each
 * live decoder holds a zstd/xz window of 2-8 MiB), plus one small NAR per
 * worker in slots of its own; a transfer waiting for a decoder just fills
 * its ring and pauses.  Transfers start largest first among the paths
 * known, only as slots free up, so memory stays flat whatever the closure.
 *
 * Decoder memory: all decoders together, in use or pooled, stay within
 * `decoder_memory`.  The small NARs' slots take DOWNLOAD_DECODER_SHARE_MIN
 * each when the budget has room for them beside jobs + 1 others; each
 * other slot is a share of the rest (at least DOWNLOAD_DECODER_SHARE_MIN:
 * fewer slots on a small budget), and each decoder is held to its slot's.  A stream that needs more
 * (an xz dictionary of 64 MiB) is stopped at its first block header and
 * fetched again as a big one: it waits, holding nothing, until the others
 * leave room (the idle decoders are freed for it), and only one big stream
 * is decoded at a time; later NARs of the same compression start as big
 * ones.  A stream needing more than the whole budget fails. *
 *
 * Failures: transient HTTP errors are retried with backoff (same policy as
 * narinfos).  Content errors (corrupt compressed data, malformed NAR, a
 * size or hash that does not match the narinfo) delete the temporary tree
 * and fetch the NAR once more, from the next substituter that has the path
 * (or the same one when there is no other); a second content error ends the
 * run naming the path and both hashes.  Anything else (disk full, ...) ends
 * the run at once.  On the first fatal error every transfer is cancelled,
 * every temporary tree removed; paths already renamed into place are whole
 * and stay (the next run will not fetch them again). */
#ifndef IP_CACHE_DOWNLOAD_H
#define IP_CACHE_DOWNLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/closure.h"
#include "store/store.h"
#include "util/error.h"

#define DOWNLOAD_RING_SIZE (256 * 1024)
/* NAR transfers at once by default: enough to hide 30 ms per request
 * behind the workers (measured: 8 left the workers waiting on a far cache;
 * 25 bought no more and cost CPU on loopback). */
#define DOWNLOAD_MAX_TRANSFERS 16
/* The smallest ring: two of the pieces the HTTP layer hands over at once
 * (a paused transfer resumes when half the ring is free). */
#define DOWNLOAD_RING_MIN (2 * HTTP_RECV_BUFFER)
/* A batch of verified paths is synced and renamed when it has this many
 * paths, or its oldest path waited this long, or nothing else is running. */
#define DOWNLOAD_COMMIT_BATCH_PATHS 256
/* The smallest decoder share: an xz preset 6 (8 MiB dictionary) or a
 * zstd window of 8 MiB decodes in it without waiting. */
#define DOWNLOAD_DECODER_SHARE_MIN (12u * 1024 * 1024)
/* Room for an xz -9 stream (65 MiB) beside the other decoders, or ten
 * decoders at Nix's defaults; what a 512 MiB instance can spare. */
#define DOWNLOAD_DEFAULT_DECODER_MEMORY (128u * 1024 * 1024)
#define DOWNLOAD_COMMIT_BATCH_MS 200
/* Ring memory for small NARs (files smaller than a ring) beside the large
 * ones' budget: under a far cache each costs a round trip more than
 * bandwidth, so they are fetched while the large ones fill the link. */
#define DOWNLOAD_SMALL_RING_BUDGET (4 * DOWNLOAD_RING_SIZE)

struct download_progress {
	size_t paths_done, paths_total;
	uint64_t bytes_done, bytes_total;   /* compressed (what goes over the wire) */
	uint64_t nar_bytes_done;
};

struct download_stats {
	size_t paths;                       /* paths renamed into place */
	uint64_t file_bytes, nar_bytes;     /* of those paths */
	unsigned nar_requests;              /* transfers started, retries included */
	unsigned retries;                   /* transient-error retries of NAR transfers */
	unsigned most_attempts;             /* the most transfers one NAR took from one cache */
	unsigned content_retries;           /* NARs fetched again after a content error */
	unsigned resumes;                   /* of those retries, resumed with Range */
	unsigned range_refused;             /* resumes the server refused (then from byte 0) */
	unsigned syncs;
	double sync_seconds;                /* wall time in syncfs + renames */
	double worker_cpu_seconds;          /* CPU time of the workers (unpack+verify) */
};

struct download_env {
	struct resolve_env *resolve;        /* substituters, store, stats, http */
	unsigned jobs;                      /* worker threads, >= 1 */
	unsigned max_transfers;             /* 0 = min(max_connections, DOWNLOAD_MAX_TRANSFERS) */
	unsigned max_decoders;              /* 0 = jobs + 1 (fewer on a small decoder_memory) */
	uint64_t decoder_memory;            /* all decoders together; 0 = the default below */
	unsigned max_connections;
	unsigned max_attempts;
	void (*progress)(void *ctx, const struct download_progress *p);
	void *progress_ctx;
	unsigned progress_interval_ms;      /* 0 = 250 */
	/* Asks for path k's narinfo at the substituters after `after_sub`
	 * (closure_resolver_find_other); the answer comes back through
	 * download_other_answer.  Coordinator thread.  < 0: it cannot ask. */
	int (*find_other)(void *ctx, size_t k, int after_sub);
	void *find_other_ctx;
};

struct download;
struct wakeup;

/* The pipeline, ready for paths; `wakeup` is posted whenever the
 * coordinator has something to do (download_step).  Threads start with
 * the first path.  *dl is set even on failure: end it with download_end. */
int download_start(struct download_env *env, struct closure *c, struct wakeup *wakeup,
		   struct download **dl, struct ip_error *err);
/* Path k (resolved, not present, with its narinfo) is to be fetched.
 * Coordinator thread.  < 0: the pipeline has failed (download_end says why). */
int download_add(struct download *dl, size_t k);
/* Every path is added: once they are all in place the pipeline is finished. */
void download_no_more(struct download *dl);
/* Ends the pipeline early (the resolution failed): transfers are
 * cancelled, temporary trees removed; download_end returns -ECANCELED. */
void download_cancel(struct download *dl);
/* What download_env.find_other found for path k: a narinfo (the pipeline
 * owns it) from substituter `sub`, or NULL. */
void download_other_answer(struct download *dl, size_t k, struct narinfo *info, int sub);
/* Commits verified paths that are due, hands lookups to find_other,
 * reports progress; never blocks on the network (a commit syncs the file
 * system).  Returns how long the coordinator may wait (ms) for the wakeup. */
unsigned download_step(struct download *dl);
/* Every path added has ended (in place, or failed). */
bool download_finished(struct download *dl);
/* Joins the threads and frees the pipeline: 0, or the first fatal error
 * (copied to err). */
int download_end(struct download *dl, struct download_stats *stats, struct ip_error *err);

#endif
