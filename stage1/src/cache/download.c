#include "cache/download.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/decompress.h"
#include "cache/download_decide.h"
#include "cache/nar_stream.h"
#include "cache/origin.h"
#include "nix/nar.h"
#include "nix/store_path.h"
#include "store/disk_sink.h"
#include "util/clock.h"
#include "util/jitter.h"
#include "util/log.h"
#include "util/wakeup.h"

/* A worker hands a transfer back to the queue after this many bytes, so
 * one fast NAR cannot starve the others. */
#define WORKER_SLICE_BYTES (4u * 1024 * 1024)

/* A job is made when its transfer starts (a path not started yet is a
 * `struct pending`). */
enum job_state {
	JOB_RUNNING,      /* transfer (or a retry of it) under way */
	JOB_ASKING,       /* waiting for another cache's narinfo (the resolver asks) */
	JOB_VERIFIED,     /* whole under its temporary name, waiting for the commit */
	JOB_DONE,         /* renamed into place */
	JOB_FAILED,       /* gave up (the run fails) or cancelled */
};

static const char *job_state_name(enum job_state s)
{
	static const char *const names[] = {
		[JOB_RUNNING] = "running",
		[JOB_ASKING] = "asking another cache",
		[JOB_VERIFIED] = "verified",
		[JOB_DONE] = "done",
		[JOB_FAILED] = "failed",
	};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* A path added to the pipeline whose transfer has not started: what the
 * job will need, copied, so that starting one never reads the closure
 * (the resolver may be growing it on another thread's behalf). */
struct pending {
	size_t path;                       /* closure index */
	const char *basename;              /* the closure's string (it does not move) */
	const struct narinfo *info;        /* the closure's narinfo (it does not move) */
	int sub;
	uint64_t wire_size;                /* bytes to transfer: what orders the starts */
};

struct pipeline;

/* Objects kept for reuse, at most `cap` (under the pipeline's lock). */
struct pool {
	void **items;
	size_t n, cap;
};

struct job {
	struct pipeline *pl;
	size_t slot;                       /* index in pl->jobs */
	size_t path;                       /* closure index */
	const char *basename;
	const struct narinfo *info;        /* the path's narinfo, or alt_info */
	struct narinfo *alt_info;          /* from another substituter, after a content error */
	int sub;
	char *url;
	struct http_request req;
	enum job_state state;              /* under pl->lock, set by job_set_state_locked */
	/* JOB_ASKING: how the job ends when no other cache has the path (a
	 * missing NAR); empty: fetched again from the same cache */
	struct ip_error if_none;

	/* ring buffer, under lock (ring and ring_size fixed while the job lives) */
	pthread_mutex_t lock;
	unsigned char *ring;
	size_t ring_size;
	size_t rpos, fill;
	bool paused, eof, scheduled, refuse;
	bool has_slot;                     /* decoder slot (under pl->lock) */
	uint64_t mem_need;                 /* a big stream's need; 0: the share (under pl->lock) */
	uint64_t mem_grant;                /* held with the slot (under pl->lock) */
	bool slot_big;                     /* the slot is the one big stream's (under pl->lock) */
	bool slot_small;                   /* the slot is a small NAR's (under pl->lock) */
	uint64_t mem_needed_now;           /* what the decoder said after -E2BIG (worker) */

	/* stage: only the worker holding the job touches these */
	bool stage_open, broken;
	struct decompressor *dec;          /* pooled; lent to the stream */
	struct nar_parser *parser;         /* pooled; lent to the stream */
	struct disk_sink *sink;
	struct nar_stream stream;
	uint64_t file_bytes, nar_bytes;    /* the stream's, kept after it closed */
	unsigned attempt;                  /* transfers of this NAR from this substituter */
	unsigned content_failures;
	char first_url[320];
	struct ip_error err;               /* the stage's error */

	struct job *next;                  /* queue link (under pl->lock) */
};

struct queue {
	struct job *head, *tail;
};

struct pending_heap {
	struct pending *items;
	size_t n, cap;
};

enum ring_class { RING_LARGE, RING_SMALL };

/* A NAR file smaller than a full ring gets a ring of its size (see
 * ring_size_for): it arrives whole, and is one round trip's work. */
static enum ring_class ring_class_of(size_t ring_size)
{
	return ring_size < DOWNLOAD_RING_SIZE ? RING_SMALL : RING_LARGE;
}

struct pipeline {
	struct download_env *env;
	struct closure *c;                 /* read and written by the coordinator only */
	struct http_client *http;
	struct wakeup *wakeup;             /* the coordinator's: posted when it has work */
	pthread_t *threads;                /* the workers, started with the first path */
	unsigned n_threads;
	/* The paths added (n_jobs) and their jobs, by start order: a job is
	 * allocated when started, freed (coordinator) once committed. */
	struct job **jobs;
	size_t n_jobs, cap_jobs, n_started;
	/* Paths not started, largest first (the long transfers start early):
	 * those whose ring is a full one, and the small ones.  A large one
	 * that does not fit in the ring budget does not hold up a small one
	 * that does: under a far cache a small NAR costs a round trip, not
	 * bandwidth, so small ones left to the end would be fetched 16 round
	 * trips at a time while the link idles. */
	struct pending_heap pending_large, pending_small;
	size_t n_pending;                  /* in both */
	bool no_more;                      /* every path is added */
	bool cancelled;                    /* after the failure: transfers cancelled */
	uint64_t next_progress_ms;

	pthread_mutex_t lock;
	pthread_cond_t work_cond;
	struct queue ready, commit;
	/* Jobs waiting for a decoder slot: small NARs (the whole file in the
	 * ring: decoded in one go, the slot soon free again) before large
	 * ones, which hold a slot for their whole transfer. */
	struct queue slot_wait_small, slot_wait;
	struct queue to_ask;               /* JOB_ASKING jobs for the coordinator to hand on */
	struct queue asking;               /* ... handed to the resolver (coordinator only) */
	unsigned transfers, decoders;      /* running / holding a decoder */
	unsigned max_transfers, max_decoders;
	uint64_t mem_budget, mem_share;    /* decoder memory: all of it / one slot's */
	/* Decoder slots of their own for small NARs (the whole file in the
	 * ring), each held to DOWNLOAD_DECODER_SHARE_MIN and carved out of the
	 * budget: a small NAR is decoded in one go while the large streams,
	 * which hold their slots for their whole transfer, wait on the
	 * network.  0 when the budget has no room for them beside jobs + 1
	 * full slots (then small NARs take the common slots). */
	unsigned small_decoders, max_small_decoders;
	uint64_t mem_held;                 /* granted to the slots held */
	bool big_active;                   /* a big stream holds a slot */
	bool big_noted;                    /* the console was told about big streams */
	/* The most a stream of each method turned out to need: later NARs of
	 * that method start as big ones instead of being fetched twice (a
	 * cache compresses all its NARs alike). */
	uint64_t learned_need[NIX_COMPRESSION_UNSUPPORTED + 1];
	/* Substituters (bit = index, the first 64) that answered a Range with
	 * the whole file or a 416: their cut transfers start over at once. */
	uint64_t range_ignored;
	/* Rings of the running transfers and their bound, large and small
	 * apart (RING_LARGE, RING_SMALL): see pending_large. */
	size_t ring_bytes[2], ring_budget[2];
	size_t finished;                   /* DONE or FAILED */
	uint64_t commit_oldest_ms;
	bool shutdown;
	int failed;
	struct ip_error err;
	struct download_stats stats;
	uint64_t bytes_done, bytes_total;
	double worker_cpu;
	uint64_t rng;

	/* Decoders, sinks and parsers outlive their jobs (under lock): a NAR
	 * starts with memory that is already mapped and touched, instead of
	 * mapping a window and buffers and unmapping them again (a TLB
	 * shootdown on every core) once per path. */
	struct pool idle_decoders, idle_small_decoders, idle_sinks, idle_parsers;
};

/* ---- the pools --------------------------------------------------------- */

static int pool_init(struct pool *p, size_t cap)
{
	p->items = calloc(cap, sizeof(*p->items));
	p->n = 0;
	p->cap = cap;
	return p->items ? 0 : -ENOMEM;
}

/* NULL when the pool is empty. */
static void *pool_get(struct pipeline *pl, struct pool *p)
{
	void *item = NULL;
	pthread_mutex_lock(&pl->lock);
	if (p->n)
		item = p->items[--p->n];
	pthread_mutex_unlock(&pl->lock);
	return item;
}

/* false when the pool is full: the caller frees `item`. */
static bool pool_put(struct pipeline *pl, struct pool *p, void *item)
{
	bool kept = false;
	pthread_mutex_lock(&pl->lock);
	if (p->n < p->cap) {
		p->items[p->n++] = item;
		kept = true;
	}
	pthread_mutex_unlock(&pl->lock);
	return kept;
}

static void pool_destroy(struct pool *p, void (*destroy)(void *))
{
	while (p->n)
		destroy(p->items[--p->n]);
	free(p->items);
	p->items = NULL;
}

static void free_decoder(void *d) { decompressor_free(d); }
static void free_sink(void *s) { disk_sink_free(s); }
static void free_parser(void *p) { nar_parser_free(p); }

/* A NAR file that fits gets a ring of its size (a small NAR ties up
 * little memory, so many can be in flight, which hides the latency of a far
 * cache); never less than DOWNLOAD_RING_MIN. */
static size_t ring_size_for(const struct narinfo *info)
{
	uint64_t want = info->file_size ? info->file_size : DOWNLOAD_RING_SIZE;
	if (want >= DOWNLOAD_RING_SIZE)
		return DOWNLOAD_RING_SIZE;
	want = (want + 4095) & ~(uint64_t)4095;
	return want < DOWNLOAD_RING_MIN ? DOWNLOAD_RING_MIN : (size_t)want;
}

/* Frees the ring and gives its bytes back to the budget. */
static void ring_free(struct pipeline *pl, unsigned char *ring, size_t size)
{
	if (!ring)
		return;
	pthread_mutex_lock(&pl->lock);
	pl->ring_bytes[ring_class_of(size)] -= size;
	pthread_mutex_unlock(&pl->lock);
	free(ring);
}

static void queue_push(struct queue *q, struct job *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static struct job *queue_pop(struct queue *q)
{
	struct job *j = q->head;
	if (j) {
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		j->next = NULL;
	}
	return j;
}

/* Every job state change goes through here (lock held), so the debug log
 * tells each job's story. */
static void job_set_state_locked(struct job *j, enum job_state state)
{
	log_debug("download: %s: %s -> %s", j->basename, job_state_name(j->state), job_state_name(state));
	j->state = state;
}

/* First fatal error wins (lock held). */
static void pipeline_fail_locked(struct pipeline *pl, const struct ip_error *e)
{
	if (pl->failed)
		return;
	pl->failed = e->code ? e->code : -EIO;
	pl->err = *e;
	/* paths never started are over too */
	pl->finished += pl->n_pending;
	pl->n_pending = pl->pending_large.n = pl->pending_small.n = 0;
	/* jobs waiting for a decoder need none to be cleaned up */
	struct job *j;
	while ((j = queue_pop(&pl->slot_wait_small)) != NULL || (j = queue_pop(&pl->slot_wait)) != NULL)
		queue_push(&pl->ready, j);
	pthread_cond_broadcast(&pl->work_cond);
	wakeup_post(pl->wakeup);
}

/* A small NAR that needs no more than a small slot's memory (as far as
 * is known) takes a small slot, when there are any. */
static bool wants_small_slot(const struct pipeline *pl, const struct job *j)
{
	return pl->max_small_decoders && ring_class_of(j->ring_size) == RING_SMALL && !j->mem_need;
}

/* Whether `j` can have a decoder slot now (lock held): a free slot and its
 * memory within the budget; a big stream also needs to be the only one. */
static bool slot_fits_locked(struct pipeline *pl, const struct job *j)
{
	if (wants_small_slot(pl, j))
		return pl->small_decoders < pl->max_small_decoders &&
		       pl->mem_held + DOWNLOAD_DECODER_SHARE_MIN <= pl->mem_budget &&
		       !(pl->slot_wait.head && pl->slot_wait.head->mem_need); /* a big one waits */
	if (pl->decoders >= pl->max_decoders)
		return false;
	if (j->mem_need && pl->big_active)
		return false;
	uint64_t need = j->mem_need ? j->mem_need : pl->mem_share;
	return pl->mem_held + need <= pl->mem_budget;
}

static void take_slot_locked(struct pipeline *pl, struct job *j)
{
	j->has_slot = true;
	if (wants_small_slot(pl, j)) {
		j->slot_small = true;
		pl->small_decoders++;
		j->mem_grant = DOWNLOAD_DECODER_SHARE_MIN;
		pl->mem_held += j->mem_grant;
		return;
	}
	pl->decoders++;
	j->mem_grant = j->mem_need ? j->mem_need : pl->mem_share;
	pl->mem_held += j->mem_grant;
	j->slot_big = j->mem_need != 0;
	if (j->slot_big) {
		/* The idle decoders hold up to a share each outside the grants:
		 * gone, the budget holds (no new one is made while one is idle). */
		pl->big_active = true;
		while (pl->idle_decoders.n)
			decompressor_free(pl->idle_decoders.items[--pl->idle_decoders.n]);
		while (pl->idle_small_decoders.n)
			decompressor_free(pl->idle_small_decoders.items[--pl->idle_small_decoders.n]);
	}
}

/* Puts a job that has work (data or the end of its transfer) on the ready
 * queue, giving it a decoder slot first.  Slots go to small NARs first,
 * then in arrival order: a big stream at the head of slot_wait is not
 * overtaken by another large one. */
static void schedule(struct pipeline *pl, struct job *j)
{
	bool small = ring_class_of(j->ring_size) == RING_SMALL;
	struct queue *wait = small ? &pl->slot_wait_small : &pl->slot_wait;
	pthread_mutex_lock(&pl->lock);
	if (j->has_slot || pl->failed) {
		queue_push(&pl->ready, j);
	} else if (!wait->head && (small || !pl->slot_wait_small.head) && slot_fits_locked(pl, j)) {
		take_slot_locked(pl, j);
		queue_push(&pl->ready, j);
	} else {
		queue_push(wait, j);
	}
	pthread_cond_signal(&pl->work_cond);
	pthread_mutex_unlock(&pl->lock);
}

static void release_slot_locked(struct pipeline *pl, struct job *j)
{
	if (!j->has_slot)
		return;
	j->has_slot = false;
	if (j->slot_small)
		pl->small_decoders--;
	else
		pl->decoders--;
	pl->mem_held -= j->mem_grant;
	j->slot_small = false;
	if (j->slot_big)
		pl->big_active = false;
	j->slot_big = false;
	j->mem_grant = 0;
	struct queue *waits[] = { &pl->slot_wait_small, &pl->slot_wait };
	for (size_t i = 0; i < 2; i++) {
		while (waits[i]->head && slot_fits_locked(pl, waits[i]->head)) {
			struct job *w = queue_pop(waits[i]);
			take_slot_locked(pl, w);
			queue_push(&pl->ready, w);
			pthread_cond_signal(&pl->work_cond);
		}
		if (waits[i]->head)
			break; /* the first in line is not overtaken */
	}
}

/* ---- HTTP thread side ------------------------------------------------- */

static size_t job_on_data(void *ctx, const void *data, size_t len)
{
	struct job *j = ctx;
	bool wake = false;
	pthread_mutex_lock(&j->lock);
	if (j->refuse) {
		pthread_mutex_unlock(&j->lock);
		return 0;
	}
	if (j->ring_size - j->fill < len) {
		j->paused = true;
		pthread_mutex_unlock(&j->lock);
		return HTTP_PAUSE;
	}
	size_t wpos = (j->rpos + j->fill) % j->ring_size;
	size_t first = j->ring_size - wpos < len ? j->ring_size - wpos : len;
	memcpy(j->ring + wpos, data, first);
	memcpy(j->ring, (const unsigned char *)data + first, len - first);
	j->fill += len;
	if (!j->scheduled) {
		j->scheduled = true;
		wake = true;
	}
	pthread_mutex_unlock(&j->lock);
	if (wake)
		schedule(j->pl, j);
	return len;
}

static void job_on_done(void *ctx, struct http_request *req, const struct http_result *res)
{
	(void)req;
	(void)res;
	struct job *j = ctx;
	bool wake = false;
	pthread_mutex_lock(&j->lock);
	j->eof = true;
	if (!j->scheduled) {
		j->scheduled = true;
		wake = true;
	}
	pthread_mutex_unlock(&j->lock);
	if (wake)
		schedule(j->pl, j);
}

static const struct http_request_ops job_ops = { .on_data = job_on_data, .on_done = job_on_done };

/* ---- starting transfers ------------------------------------------------ */

static int job_set_url(struct job *j, struct ip_error *err)
{
	struct substituter *sub = &j->pl->env->resolve->subs[j->sub];
	free(j->url);
	j->url = NULL;
	int r = substituter_join(sub, j->info->url, &j->url, err);
	if (r < 0)
		return r;
	/* URL: in a narinfo is not signed.  A cache that signs its requests
	 * (s3://) is read only inside its own origin: Nix reads such a URL as
	 * a key in the bucket, and an unsigned request to a host the narinfo
	 * names would reach whatever the instance can reach. */
	enum url_place place = url_place_in(sub->base, j->url);
	if (place != URL_INSIDE && sub->prepare_request) {
		char origin[160];
		url_origin(j->url, origin, sizeof(origin));
		return ip_fail(err, -EPERM, "NAR of %s/%s not fetched: the narinfo from %s puts it outside "
			       "the cache (%s: %s), and a signed cache is read only inside its own origin "
			       "(URL: %s)", NIX_STORE_DIR, j->basename, sub->url, url_place_name(place), origin,
			       j->url);
	}
	j->req.url = j->url;
	j->req.sub = sub;
	j->req.use_hooks = place == URL_INSIDE;
	return 0;
}

static void job_submit(struct job *j, unsigned delay_ms)
{
	pthread_mutex_lock(&j->lock);
	j->rpos = j->fill = 0;
	j->paused = j->eof = j->refuse = false;
	j->scheduled = false;
	pthread_mutex_unlock(&j->lock);
	pthread_mutex_lock(&j->pl->lock);
	j->pl->stats.nar_requests++;
	j->pl->env->resolve->stats[j->sub].nar_requests++;
	pthread_mutex_unlock(&j->pl->lock);
	http_submit(j->pl->http, &j->req, delay_ms);
}

static const struct http_request_ops job_ops;

static struct job *job_new(struct pipeline *pl, size_t slot, const struct pending *pe,
			   size_t ring_size)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->pl = pl;
	j->slot = slot;
	j->path = pe->path;
	j->basename = pe->basename;
	j->info = pe->info;
	j->sub = pe->sub;
	j->req.ops = &job_ops;
	j->req.ctx = j;
	j->req.ahead = true; /* at most max_transfers of them */
	pthread_mutex_init(&j->lock, NULL);
	j->ring = malloc(ring_size);
	j->ring_size = ring_size;
	if (!j->ring) {
		pthread_mutex_destroy(&j->lock);
		free(j);
		return NULL;
	}
	return j;
}

static void stage_close(struct job *j);

static void job_free(struct job *j)
{
	if (!j)
		return;
	stage_close(j);
	ring_free(j->pl, j->ring, j->ring_size);
	http_request_reset(&j->req);
	free(j->url);
	if (j->alt_info) {
		narinfo_free(j->alt_info);
		free(j->alt_info);
	}
	pthread_mutex_destroy(&j->lock);
	free(j);
}

/* ---- the pending heap (lock held) ------------------------------------------ */

static bool starts_before(const struct pending *a, const struct pending *b)
{
	if (a->wire_size != b->wire_size)
		return a->wire_size > b->wire_size;
	return strcmp(a->basename, b->basename) < 0;
}

static void pending_swap(struct pending *a, struct pending *b)
{
	struct pending t = *a;
	*a = *b;
	*b = t;
}

static void heap_push(struct pending_heap *h, const struct pending *pe)
{
	size_t i = h->n++;
	h->items[i] = *pe;
	while (i > 0 && starts_before(&h->items[i], &h->items[(i - 1) / 2])) {
		pending_swap(&h->items[i], &h->items[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
}

static struct pending heap_pop(struct pending_heap *h)
{
	struct pending top = h->items[0];
	h->items[0] = h->items[--h->n];
	for (size_t i = 0;;) {
		size_t first = i, l = 2 * i + 1, r = l + 1;
		if (l < h->n && starts_before(&h->items[l], &h->items[first]))
			first = l;
		if (r < h->n && starts_before(&h->items[r], &h->items[first]))
			first = r;
		if (first == i)
			break;
		pending_swap(&h->items[i], &h->items[first]);
		i = first;
	}
	return top;
}

/* The pending path to start next and its ring, if its ring fits in the
 * budget (the first transfer always starts): a large one, else a small
 * one.  Lock held. */
static struct pending_heap *next_to_start_locked(struct pipeline *pl, size_t *ring)
{
	struct pending_heap *heaps[] = { &pl->pending_large, &pl->pending_small };
	for (size_t i = 0; i < 2; i++) {
		if (!heaps[i]->n)
			continue;
		*ring = ring_size_for(heaps[i]->items[0].info);
		enum ring_class rc = ring_class_of(*ring);
		if (pl->transfers == 0 || pl->ring_bytes[rc] + *ring <= pl->ring_budget[rc])
			return heaps[i];
	}
	return NULL;
}

/* Starts pending paths while a connection is free and their rings fit in
 * the budget (the first transfer always starts).  Any thread; lock not
 * held. */
static void start_more(struct pipeline *pl)
{
	for (;;) {
		struct pending pe = { 0 };
		struct pending_heap *from = NULL;
		size_t slot = 0, ring = 0;
		bool go = false;
		pthread_mutex_lock(&pl->lock);
		if (!pl->failed && pl->transfers < pl->max_transfers)
			go = (from = next_to_start_locked(pl, &ring)) != NULL;
		if (go) {
			pe = heap_pop(from);
			pl->n_pending--;
			slot = pl->n_started++;
			pl->transfers++;
			pl->ring_bytes[ring_class_of(ring)] += ring;
		}
		pthread_mutex_unlock(&pl->lock);
		if (!go)
			return;
		struct ip_error e = { 0 };
		struct job *j = job_new(pl, slot, &pe, ring);
		int r = j ? job_set_url(j, &e) : ip_fail(&e, -ENOMEM, "out of memory");
		pthread_mutex_lock(&pl->lock);
		if (j) {
			job_set_state_locked(j, r < 0 ? JOB_FAILED : JOB_RUNNING);
			pl->jobs[slot] = j;
			j->mem_need = pl->learned_need[j->info->compression];
		} else {
			pl->ring_bytes[ring_class_of(ring)] -= ring;
		}
		if (r < 0) {
			pipeline_fail_locked(pl, &e);
			pl->transfers--;
			pl->finished++;
			wakeup_post(pl->wakeup);
		}
		pthread_mutex_unlock(&pl->lock);
		if (r < 0)
			return;
		snprintf(j->first_url, sizeof(j->first_url), "%s", j->url);
		job_submit(j, 0);
	}
}

/* ---- the stage: compressed bytes -> verified tree ------------------------ */

/* The decoder, parser and sink go back to their pools (a failed stage's
 * too: reuse resets them completely). */
/* Closes the stage; a transfer after this starts from byte 0 (a resume
 * continues an open stage: see job_finalize). */
/* Small slots' decoders are kept apart: each stays within its small
 * grant, so that the budget holds for the pooled ones too. */
static struct pool *decoder_pool(struct job *j)
{
	return j->slot_small ? &j->pl->idle_small_decoders : &j->pl->idle_decoders;
}

static void stage_close(struct job *j)
{
	struct pipeline *pl = j->pl;
	j->req.range_start = 0;
	/* a big stream's decoder is not kept: its memory goes back at once */
	if (j->dec && (j->mem_need || !pool_put(pl, decoder_pool(j), j->dec)))
		decompressor_free(j->dec);
	j->dec = NULL;
	if (j->parser && !pool_put(pl, &pl->idle_parsers, j->parser))
		nar_parser_free(j->parser);
	j->parser = NULL;
	if (j->sink) {
		disk_sink_close(j->sink); /* no descriptor into a tree about to be removed */
		if (!pool_put(pl, &pl->idle_sinks, j->sink))
			disk_sink_free(j->sink);
	}
	j->sink = NULL;
	j->stage_open = false;
}

static int decoder_get(struct job *j)
{
	struct pipeline *pl = j->pl;
	struct decompressor *d = j->mem_need ? NULL : pool_get(pl, decoder_pool(j));
	const struct narinfo *info = j->info;
	int r;
	if (!d) {
		r = decompressor_new(info->compression, info->compression_name, &d, &j->err);
	} else if ((r = decompressor_reuse(d, info->compression, info->compression_name, &j->err)) < 0) {
		decompressor_free(d);
		d = NULL;
	}
	if (r < 0)
		return r;
	pthread_mutex_lock(&pl->lock);
	uint64_t grant = j->mem_grant;
	pthread_mutex_unlock(&pl->lock);
	decompressor_set_memlimit(d, grant);
	j->dec = d;
	return 0;
}

static int sink_get(struct job *j, int store_fd, const char *name)
{
	struct disk_sink *s = pool_get(j->pl, &j->pl->idle_sinks);
	if (!s)
		return disk_sink_open(store_fd, name, 0, &j->sink, &j->err);
	int r = disk_sink_reuse(s, store_fd, name, 0, &j->err);
	if (r < 0) {
		disk_sink_free(s);
		return r;
	}
	j->sink = s;
	return 0;
}

static int parser_get(struct job *j)
{
	struct nar_parser *p = pool_get(j->pl, &j->pl->idle_parsers);
	if (p)
		nar_parser_reset(p, &disk_sink_ops, j->sink);
	else if (!(p = nar_parser_new(&disk_sink_ops, j->sink)))
		return ip_fail(&j->err, -ENOMEM, "out of memory");
	j->parser = p;
	return 0;
}

static int stage_open(struct job *j)
{
	const struct store *st = j->pl->env->resolve->store;
	char tmp[STORE_TEMP_NAME_MAX];
	int r = store_discard_temp(st, j->basename, &j->err);
	if (r < 0)
		return r;
	store_temp_name(j->basename, tmp);
	r = decoder_get(j);
	if (r < 0)
		return ip_fail_ctx(&j->err, r, "%s/%s", NIX_STORE_DIR, j->basename);
	r = sink_get(j, st->store_fd, tmp);
	if (r < 0)
		return r;
	r = parser_get(j);
	if (r < 0)
		return r;
	const struct narinfo *info = j->info;
	struct nar_stream_expect want = {
		.compression = info->compression, .nar_hash = info->nar_hash,
		.nar_size = info->nar_size, .file_size = info->file_size,
	};
	nar_stream_open(&j->stream, &want, j->basename, j->url, j->dec, j->parser);
	j->file_bytes = j->nar_bytes = 0;
	j->stage_open = true;
	return 0;
}

static void stage_count(struct job *j)
{
	j->file_bytes = j->stream.file_bytes;
	j->nar_bytes = j->stream.nar_bytes;
}

static int stage_feed(struct job *j, const unsigned char *data, size_t len)
{
	if (!j->stage_open) {
		int r = stage_open(j);
		if (r < 0)
			return r;
	}
	int r = nar_stream_feed(&j->stream, data, len, &j->err);
	stage_count(j);
	if (r == -E2BIG) /* job_finalize decodes it again, as a big one */
		j->mem_needed_now = nar_stream_memory_needed(&j->stream);
	return r;
}

/* End of a complete transfer: everything must add up. */
static int stage_finish(struct job *j)
{
	int r;
	if (!j->stage_open && (r = stage_open(j)) < 0) /* an empty body */
		return r;
	r = nar_stream_finish(&j->stream, &j->err);
	stage_count(j);
	if (r < 0)
		return r;
	r = disk_sink_finish(j->sink, &j->err);
	if (r < 0)
		return ip_fail_ctx(&j->err, r, "writing %s/%s", NIX_STORE_DIR, j->basename);
	return 0;
}

/* ---- retries and the end of a job ----------------------------------------- */

static double next_jitter(struct pipeline *pl)
{
	pthread_mutex_lock(&pl->lock);
	double j = jitter_next(&pl->rng);
	pthread_mutex_unlock(&pl->lock);
	return j;
}

static void job_end_locked(struct pipeline *pl, struct job *j, enum job_state state)
{
	job_set_state_locked(j, state);
	release_slot_locked(pl, j);
	pl->transfers--;
	if (state == JOB_VERIFIED) {
		if (!pl->commit.head)
			pl->commit_oldest_ms = monotonic_ms();
		queue_push(&pl->commit, j);
	} else {
		pl->finished++;
	}
	wakeup_post(pl->wakeup);
}

static void job_free_transfer(struct job *j)
{
	ring_free(j->pl, j->ring, j->ring_size);
	j->ring = NULL;
	http_request_reset(&j->req);
}

static void job_fail(struct job *j, const struct ip_error *e)
{
	struct pipeline *pl = j->pl;
	struct ip_error ce = { 0 };
	stage_close(j);
	store_discard_temp(pl->env->resolve->store, j->basename, &ce);
	job_free_transfer(j);
	pthread_mutex_lock(&pl->lock);
	if (e)
		pipeline_fail_locked(pl, e);
	job_end_locked(pl, j, JOB_FAILED);
	pthread_mutex_unlock(&pl->lock);
}

/* Starts the transfer again: from byte 0 (the temporary tree is gone, the
 * stage reset), or, with an open stage, from j->req.range_start, keeping
 * the decoder slot its decoder lives in. */
static void job_retry(struct job *j, unsigned delay_ms)
{
	struct pipeline *pl = j->pl;
	pthread_mutex_lock(&pl->lock);
	bool failed = pl->failed != 0;
	if (!j->stage_open)
		release_slot_locked(pl, j);
	pthread_mutex_unlock(&pl->lock);
	if (failed)
		job_fail(j, NULL);
	else
		job_submit(j, delay_ms);
}

/* The decoder needs more memory than its share: fetch the NAR again and
 * decode it with what it needs, once no other big stream runs and the
 * budget has room (schedule).  Not a content error: nothing is wrong with
 * the NAR.  The need only grows, so this ends. */
static void job_refetch_big(struct job *j)
{
	struct pipeline *pl = j->pl;
	struct ip_error e = { 0 };
	uint64_t need = j->mem_needed_now;
	stage_close(j);
	if (store_discard_temp(pl->env->resolve->store, j->basename, &e) < 0) {
		job_fail(j, &e);
		return;
	}
	pthread_mutex_lock(&pl->lock);
	uint64_t budget = pl->mem_budget, had = j->mem_grant;
	pthread_mutex_unlock(&pl->lock);
	if (need == 0 || need > budget || need <= had) {
		ip_fail(&e, -ENOMEM, "NAR %s of %s/%s: %s; that is more than the decoder memory budget of "
			"%" PRIu64 " MiB (--decoder-memory, decoder-memory)", j->url, NIX_STORE_DIR, j->basename,
			j->err.msg, budget >> 20);
		job_fail(j, &e);
		return;
	}
	pthread_mutex_lock(&pl->lock);
	j->mem_need = need;
	if (need > pl->learned_need[j->info->compression])
		pl->learned_need[j->info->compression] = need;
	bool first = !pl->big_noted;
	pl->big_noted = true;
	uint64_t share = pl->mem_share;
	pthread_mutex_unlock(&pl->lock);
	/* once per run: a cache of such NARs would otherwise say it per path */
	log_msg(first ? LOG_INFO : LOG_DEBUG, "%s/%s: its %s stream needs %" PRIu64 " MiB to decode, more than a "
				       "decoder's share (%" PRIu64 " of %" PRIu64 " MiB): fetching it again, and "
				       "decoding such NARs one at a time", NIX_STORE_DIR, j->basename,
				       decompressor_name(j->info->compression), (need + (1 << 20) - 1) >> 20,
				       share >> 20, budget >> 20);
	ip_error_clear(&j->err);
	j->broken = false;
	job_retry(j, 0);
}

/* Another cache may have the path: the coordinator hands the question to
 * the resolver (closure_resolver_find_other) and download_other_answer
 * carries the answer out.  The job keeps its transfer slot and ring. */
static void ask_other(struct job *j)
{
	struct pipeline *pl = j->pl;
	pthread_mutex_lock(&pl->lock);
	release_slot_locked(pl, j);
	job_set_state_locked(j, JOB_ASKING);
	queue_push(&pl->to_ask, j);
	pthread_mutex_unlock(&pl->lock);
	wakeup_post(pl->wakeup);
}

/* Gathers what happened to the transfer that ended (finishing the stage
 * when all of it arrived) for download_decide. */
static struct job_outcome job_outcome_of(struct job *j)
{
	struct pipeline *pl = j->pl;
	const struct http_result *res = &j->req.res;
	pthread_mutex_lock(&pl->lock);
	bool cancelled = pl->failed != 0;
	bool ranges = j->sub >= 64 || !(pl->range_ignored & (1ull << j->sub));
	pthread_mutex_unlock(&pl->lock);
	if (!cancelled && !j->broken && res->outcome == HTTP_OK && stage_finish(j) < 0)
		j->broken = true;
	struct job_outcome o = {
		.cancelled = cancelled,
		.stage_error = j->broken ? (j->err.code ? j->err.code : -EIO) : 0,
		.content_failures = j->content_failures,
		.http = res->outcome,
		.range_refused = j->req.range_start > 0 &&
				 (res->curl_code == CURLE_RANGE_ERROR || res->status == 416),
		.can_resume = ranges && j->stage_open && j->file_bytes > 0 &&
			      strncmp(j->url, "file://", 7) != 0,
		.retry_delay_ms = -1,
	};
	if (!o.cancelled && !o.stage_error && o.http == HTTP_TRANSIENT && !o.range_refused)
		o.retry_delay_ms = http_retry_delay_ms(res, j->attempt + 1, pl->env->max_attempts,
						       next_jitter(pl));
	return o;
}

/* The partial tree goes: the next transfer starts from byte 0. */
static int job_restart_stage(struct job *j, struct ip_error *e)
{
	stage_close(j);
	return store_discard_temp(j->pl->env->resolve->store, j->basename, e);
}

static void job_commit(struct job *j)
{
	struct pipeline *pl = j->pl;
	struct substituter_stats *st = &pl->env->resolve->stats[j->sub];
	stage_close(j);
	job_free_transfer(j);
	pthread_mutex_lock(&pl->lock);
	pl->stats.file_bytes += j->file_bytes;
	pl->stats.nar_bytes += j->nar_bytes;
	st->nars++;
	st->nar_bytes += j->file_bytes;
	job_end_locked(pl, j, JOB_VERIFIED);
	pthread_mutex_unlock(&pl->lock);
}

static void job_fail_content(struct job *j, const struct job_outcome *o)
{
	struct ip_error fe = j->err;
	if (o->stage_error == -EBADMSG) { /* the second content error */
		size_t used = strlen(fe.msg);
		if (strcmp(j->first_url, j->url) == 0)
			snprintf(fe.msg + used, sizeof(fe.msg) - used, " (the same on a second download)");
		else
			snprintf(fe.msg + used, sizeof(fe.msg) - used,
				 " (and the first download, from %s, failed too)", j->first_url);
	}
	job_fail(j, &fe);
}

/* The first content error: once more, from another cache if one has it. */
static void job_refetch_content(struct job *j)
{
	struct pipeline *pl = j->pl;
	struct download_env *env = pl->env;
	struct ip_error e = { 0 };
	j->content_failures++;
	log_debug("download: %s: %s; fetching it again", j->basename, j->err.msg);
	if (env->resolve->warn) {
		char line[IP_ERROR_MSG_MAX + 32];
		snprintf(line, sizeof(line), "%s; fetching it again", j->err.msg);
		env->resolve->warn(env->resolve->warn_ctx, line);
	}
	if (job_restart_stage(j, &e) < 0) {
		job_fail(j, &e);
		return;
	}
	ip_error_clear(&j->err);
	j->broken = false;
	ip_error_clear(&j->if_none);
	pthread_mutex_lock(&pl->lock);
	pl->stats.content_retries++;
	pthread_mutex_unlock(&pl->lock);
	ask_other(j);
}

/* The cache says the NAR is not there although its narinfo lists it. */
static void job_refetch_missing(struct job *j)
{
	struct ip_error e = { 0 };
	if (job_restart_stage(j, &e) < 0) {
		job_fail(j, &e);
		return;
	}
	ip_error_clear(&j->if_none);
	ip_fail(&j->if_none, -ENOENT, "the NAR of %s/%s is missing: %s answered %s although its "
		"narinfo lists it", NIX_STORE_DIR, j->basename, j->url, j->req.res.message);
	ask_other(j);
}

static void job_retry_after(struct job *j, const struct download_decision *d)
{
	struct pipeline *pl = j->pl;
	const struct http_result *res = &j->req.res;
	struct ip_error e = { 0 };
	if (d->reason == DOWNLOAD_RANGE_REFUSED) {
		log_debug("download: %s: Range from byte %" PRIu64 " refused (%s); from byte 0", j->url,
			  j->req.range_start, res->message);
		if (job_restart_stage(j, &e) < 0) {
			job_fail(j, &e);
			return;
		}
		pthread_mutex_lock(&pl->lock);
		pl->stats.range_refused++;
		if (j->sub < 64)
			pl->range_ignored |= 1ull << j->sub;
		pthread_mutex_unlock(&pl->lock);
		job_retry(j, 0);
		return;
	}
	/* A transient failure.  What arrived was fed through the decoder, the
	 * hash and the NAR parser to disk, so a resumed transfer asks for the
	 * rest (Range) and the stage goes on where it stands; file:// reads
	 * (no cut to recover from) and failures before any byte start over. */
	if (!d->resume && job_restart_stage(j, &e) < 0) {
		job_fail(j, &e);
		return;
	}
	j->attempt++;
	log_debug("download: %s: %s; attempt %u in %u ms%s", j->url, res->message, j->attempt + 1,
		  d->delay_ms, d->resume ? ", resuming" : "");
	if (d->resume)
		j->req.range_start = j->file_bytes;
	pthread_mutex_lock(&pl->lock);
	pl->stats.retries++;
	pl->stats.resumes += d->resume;
	if (j->attempt + 1 > pl->stats.most_attempts)
		pl->stats.most_attempts = j->attempt + 1;
	pthread_mutex_unlock(&pl->lock);
	job_retry(j, d->delay_ms);
}

/* The transfer has ended: download_decide says what follows. */
static void job_finalize(struct job *j)
{
	const struct http_result *res = &j->req.res;
	struct job_outcome o = job_outcome_of(j);
	struct download_decision d = download_decide(&o);
	struct ip_error e = { 0 };
	log_debug("download: %s: transfer ended (%s): %s, %s", j->basename, http_outcome_name(res->outcome),
		  download_verdict_name(d.verdict), download_reason_name(d.reason));
	switch (d.reason) {
	case DOWNLOAD_VERIFIED:
		job_commit(j);
		return;
	case DOWNLOAD_CANCELLED:
		job_fail(j, NULL);
		return;
	case DOWNLOAD_DECODER_MEMORY:
		job_refetch_big(j);
		return;
	case DOWNLOAD_CONTENT:
		job_refetch_content(j);
		return;
	case DOWNLOAD_CONTENT_FINAL:
		job_fail_content(j, &o);
		return;
	case DOWNLOAD_LOCAL:
		job_fail(j, &j->err);
		return;
	case DOWNLOAD_RANGE_REFUSED:
	case DOWNLOAD_TRANSIENT:
		job_retry_after(j, &d);
		return;
	case DOWNLOAD_GAVE_UP:
		ip_fail(&e, -EIO, "fetching %s for %s/%s: %s (gave up after %u attempts); check the "
			"network and the cache", j->url, NIX_STORE_DIR, j->basename, res->message,
			j->attempt + 1);
		break;
	case DOWNLOAD_MISSING:
		job_refetch_missing(j);
		return;
	case DOWNLOAD_HTTP_FATAL:
		ip_fail(&e, -EIO, "fetching %s for %s/%s: %s", j->url, NIX_STORE_DIR, j->basename,
			res->message);
		break;
	}
	job_fail(j, &e);
}

/* ---- workers ---------------------------------------------------------- */

/* Feeds what the ring holds; returns when it is empty, the slice is used,
 * or the transfer ended (then the job is finalized). */
static void process(struct job *j)
{
	struct pipeline *pl = j->pl;
	size_t slice = 0;
	for (;;) {
		pthread_mutex_lock(&j->lock);
		size_t avail = j->fill;
		if (avail > j->ring_size - j->rpos)
			avail = j->ring_size - j->rpos;
		bool eof = j->eof;
		pthread_mutex_unlock(&j->lock);

		if (avail > 0) {
			if (!j->broken) {
				pthread_mutex_lock(&pl->lock);
				bool failed = pl->failed != 0;
				pthread_mutex_unlock(&pl->lock);
				if (failed || stage_feed(j, j->ring + j->rpos, avail) < 0) {
					/* stop the transfer; finalize when it has ended */
					j->broken = true;
					if (!j->err.msg[0] && failed)
						ip_fail(&j->err, -ECANCELED, "cancelled");
					pthread_mutex_lock(&j->lock);
					j->refuse = true;
					pthread_mutex_unlock(&j->lock);
					http_cancel(pl->http, &j->req);
				}
			}
			bool resume = false;
			pthread_mutex_lock(&j->lock);
			j->rpos = (j->rpos + avail) % j->ring_size;
			j->fill -= avail;
			if (j->paused && j->ring_size - j->fill >= j->ring_size / 2) {
				j->paused = false;
				resume = true;
			}
			pthread_mutex_unlock(&j->lock);
			if (resume)
				http_resume(pl->http, &j->req);
			__atomic_fetch_add(&pl->bytes_done, avail, __ATOMIC_RELAXED);
			slice += avail;
			if (slice >= WORKER_SLICE_BYTES) {
				/* back of the queue; still scheduled */
				pthread_mutex_lock(&pl->lock);
				queue_push(&pl->ready, j);
				pthread_cond_signal(&pl->work_cond);
				pthread_mutex_unlock(&pl->lock);
				return;
			}
			continue;
		}
		if (eof) {
			job_finalize(j);
			return;
		}
		pthread_mutex_lock(&j->lock);
		bool idle = j->fill == 0 && !j->eof;
		if (idle)
			j->scheduled = false;
		pthread_mutex_unlock(&j->lock);
		if (idle)
			return;
	}
}

static void *worker(void *arg)
{
	struct pipeline *pl = arg;
	for (;;) {
		pthread_mutex_lock(&pl->lock);
		while (!pl->ready.head && !pl->shutdown)
			pthread_cond_wait(&pl->work_cond, &pl->lock);
		struct job *j = queue_pop(&pl->ready);
		pthread_mutex_unlock(&pl->lock);
		if (!j)
			break;
		process(j);
		start_more(pl);
	}
	struct timespec cpu;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
	pthread_mutex_lock(&pl->lock);
	pl->worker_cpu += (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9;
	pthread_mutex_unlock(&pl->lock);
	return NULL;
}

/* ---- the main thread: commits, progress, the end ---------------------------- */

static void report_progress(struct pipeline *pl)
{
	if (!pl->env->progress)
		return;
	struct download_progress p = { 0 };
	pthread_mutex_lock(&pl->lock);
	p.paths_done = pl->stats.paths;
	pthread_mutex_unlock(&pl->lock);
	p.paths_total = pl->n_jobs;
	p.bytes_total = pl->bytes_total;
	p.bytes_done = __atomic_load_n(&pl->bytes_done, __ATOMIC_RELAXED);
	if (p.bytes_done > p.bytes_total)
		p.bytes_done = p.bytes_total;
	pl->env->progress(pl->env->progress_ctx, &p);
}

static void commit_batch(struct pipeline *pl, struct job *batch)
{
	struct ip_error e = { 0 };
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	const struct store *st = pl->env->resolve->store;
	int r = store_sync_batch(st, &e);
	size_t done = 0;
	for (struct job *j = batch, *next; j; j = next) {
		next = j->next;
		if (r == 0)
			r = store_commit(st, j->basename, &e);
		if (r < 0) {
			struct ip_error ce = { 0 };
			store_discard_temp(st, j->basename, &ce);
		}
		pthread_mutex_lock(&pl->lock);
		if (r == 0) {
			struct closure_path *p = &pl->c->paths[j->path];
			job_set_state_locked(j, JOB_DONE);
			p->present = true;
			/* the registration must describe what is on disk */
			if (j->alt_info) {
				p->nar_hash = j->alt_info->nar_hash;
				p->nar_size = j->alt_info->nar_size;
			}
			/* the registration needs no more of it: keep memory flat */
			if (j->info == p->narinfo)
				j->info = NULL;
			narinfo_free(p->narinfo);
			free(p->narinfo);
			p->narinfo = NULL;
			pl->stats.paths++;
			done++;
			pl->jobs[j->slot] = NULL;
		} else {
			job_set_state_locked(j, JOB_FAILED);
			pipeline_fail_locked(pl, &e);
		}
		pl->finished++;
		pthread_mutex_unlock(&pl->lock);
		if (r == 0)
			job_free(j);
	}
	pl->stats.syncs++;
	pl->stats.sync_seconds += seconds_since(&t0);
	log_debug("download: committed %zu paths in %.3f s", done, seconds_since(&t0));
}

static void cancel_all(struct pipeline *pl)
{
	for (size_t i = 0;; i++) {
		pthread_mutex_lock(&pl->lock);
		bool more = i < pl->n_started;
		struct job *j = more ? pl->jobs[i] : NULL;
		bool running = j && j->state == JOB_RUNNING;
		pthread_mutex_unlock(&pl->lock);
		if (!more)
			return;
		if (running) {
			pthread_mutex_lock(&j->lock);
			j->refuse = true;
			pthread_mutex_unlock(&j->lock);
			http_cancel(pl->http, &j->req);
		}
	}
}

static uint64_t wire_size(const struct narinfo *info)
{
	return info->file_size ? info->file_size : info->nar_size;
}

/* ---- the coordinator's side ------------------------------------------------ */

/* The public handle: the pipeline, opaque. */
struct download {
	struct pipeline pl;
};

int download_start(struct download_env *env, struct closure *c, struct wakeup *wakeup,
		   struct download **out, struct ip_error *err)
{
	struct download *dl = calloc(1, sizeof(*dl));
	*out = dl;
	if (!dl)
		return ip_fail(err, -ENOMEM, "out of memory");
	struct pipeline *pl = &dl->pl;
	pl->env = env;
	pl->c = c;
	pl->wakeup = wakeup;
	unsigned jobs = env->jobs ? env->jobs : 1;
	pl->max_decoders = env->max_decoders ? env->max_decoders : jobs + 1;
	pl->mem_budget = env->decoder_memory ? env->decoder_memory : DOWNLOAD_DEFAULT_DECODER_MEMORY;
	if (pl->max_decoders > pl->mem_budget / DOWNLOAD_DECODER_SHARE_MIN)
		pl->max_decoders = (unsigned)(pl->mem_budget / DOWNLOAD_DECODER_SHARE_MIN);
	if (pl->max_decoders == 0)
		pl->max_decoders = 1;
	/* small slots when the budget has room for them beside the common
	 * ones at the smallest share */
	uint64_t small_reserve = (uint64_t)jobs * DOWNLOAD_DECODER_SHARE_MIN;
	if (!env->max_decoders && pl->mem_budget > small_reserve &&
	    (pl->mem_budget - small_reserve) / DOWNLOAD_DECODER_SHARE_MIN >= pl->max_decoders)
		pl->max_small_decoders = jobs;
	else
		small_reserve = 0;
	pl->mem_share = (pl->mem_budget - small_reserve) / pl->max_decoders;
	unsigned conns = env->max_connections ? env->max_connections : HTTP_DEFAULT_CONNECTIONS;
	pl->max_transfers = env->max_transfers ? env->max_transfers
			    : conns < DOWNLOAD_MAX_TRANSFERS ? conns : DOWNLOAD_MAX_TRANSFERS;
	/* as much ring memory as 2 full rings per worker and 4 more: enough to
	 * keep every worker fed while other transfers wait on the network */
	pl->ring_budget[RING_LARGE] = (size_t)(2 * jobs + 4) * DOWNLOAD_RING_SIZE;
	/* and small NARs beside them, so that they are fetched while the
	 * large ones use the bandwidth, not one round trip after another at
	 * the end */
	pl->ring_budget[RING_SMALL] = DOWNLOAD_SMALL_RING_BUDGET;
	pl->rng = jitter_seed();
	pthread_mutex_init(&pl->lock, NULL);
	pthread_cond_init(&pl->work_cond, NULL);
	int pools = pool_init(&pl->idle_decoders, pl->max_decoders) |
		    pool_init(&pl->idle_small_decoders, pl->max_small_decoders ? pl->max_small_decoders : 1) |
		    pool_init(&pl->idle_sinks, pl->max_decoders) |
		    pool_init(&pl->idle_parsers, pl->max_decoders);
	pl->threads = calloc(jobs, sizeof(*pl->threads));
	if (pools < 0 || !pl->threads)
		return ip_fail(err, -ENOMEM, "out of memory");
	return 0;
}

/* The HTTP client and the workers, with the first path: a run that
 * fetches nothing starts no thread. */
static int start_threads(struct pipeline *pl, struct ip_error *err)
{
	struct download_env *env = pl->env;
	pl->http = env->resolve->http.get(env->resolve->http.ctx, err);
	if (!pl->http)
		return err->code ? err->code : -EIO;
	if (!env->max_attempts)
		env->max_attempts = http_client_max_attempts(pl->http);
	unsigned jobs = env->jobs ? env->jobs : 1;
	for (; pl->n_threads < jobs; pl->n_threads++) {
		int e = pthread_create(&pl->threads[pl->n_threads], NULL, worker, pl);
		if (e != 0)
			return ip_fail(err, -e, "starting a worker thread: %s", strerror(e));
	}
	pl->next_progress_ms = monotonic_ms() + (env->progress_interval_ms ? env->progress_interval_ms : 250);
	return 0;
}

static int grow(void **items, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 64;
	while (n < need)
		n *= 2;
	void *p = realloc(*items, n * size);
	if (!p)
		return -ENOMEM;
	*items = p;
	*cap = n;
	return 0;
}

int download_add(struct download *dl, size_t k)
{
	struct pipeline *pl = &dl->pl;
	const struct closure_path *p = &pl->c->paths[k];
	struct ip_error e = { 0 };
	int r = 0;
	if (!pl->http && !pl->failed && (r = start_threads(pl, &e)) < 0) {
		pthread_mutex_lock(&pl->lock);
		pipeline_fail_locked(pl, &e);
		pthread_mutex_unlock(&pl->lock);
		return r;
	}
	struct pending pe = {
		.path = k, .basename = p->basename, .info = p->narinfo, .sub = p->sub_index,
		.wire_size = wire_size(p->narinfo),
	};
	struct pending_heap *heap = ring_size_for(p->narinfo) == DOWNLOAD_RING_SIZE ? &pl->pending_large
									    : &pl->pending_small;
	pthread_mutex_lock(&pl->lock);
	if (pl->failed) {
		r = pl->failed;
	} else if (grow((void **)&pl->jobs, &pl->cap_jobs, pl->n_jobs + 1, sizeof(*pl->jobs)) < 0 ||
		   grow((void **)&heap->items, &heap->cap, heap->n + 1, sizeof(*heap->items)) < 0) {
		r = ip_fail(&e, -ENOMEM, "out of memory");
		pipeline_fail_locked(pl, &e);
	} else {
		pl->jobs[pl->n_jobs++] = NULL;
		pl->bytes_total += pe.wire_size;
		heap_push(heap, &pe);
		pl->n_pending++;
	}
	pthread_mutex_unlock(&pl->lock);
	if (r == 0)
		start_more(pl);
	return r;
}

void download_no_more(struct download *dl)
{
	struct pipeline *pl = &dl->pl;
	pthread_mutex_lock(&pl->lock);
	pl->no_more = true;
	pthread_mutex_unlock(&pl->lock);
}

void download_cancel(struct download *dl)
{
	struct pipeline *pl = &dl->pl;
	struct ip_error e = { 0 };
	ip_fail(&e, -ECANCELED, "cancelled");
	pthread_mutex_lock(&pl->lock);
	pipeline_fail_locked(pl, &e);
	pthread_mutex_unlock(&pl->lock);
}

static void other_answer(struct pipeline *pl, size_t k, struct narinfo *info, int sub)
{
	struct job **link = &pl->asking.head, *j, *prev = NULL;
	while ((j = *link) && j->path != k) {
		prev = j;
		link = &j->next;
	}
	if (j) {
		*link = j->next;
		if (pl->asking.tail == j)
			pl->asking.tail = prev;
		j->next = NULL;
	}
	pthread_mutex_lock(&pl->lock);
	bool failed = pl->failed != 0;
	pthread_mutex_unlock(&pl->lock);
	if (!j || failed) {
		if (info) {
			narinfo_free(info);
			free(info);
		}
		if (j)
			job_fail(j, NULL);
		return;
	}
	if (!info && j->if_none.msg[0]) {
		job_fail(j, &j->if_none);
		return;
	}
	if (info) {
		if (j->alt_info) {
			narinfo_free(j->alt_info);
			free(j->alt_info);
		}
		j->alt_info = info;
		j->info = info;
		j->sub = sub;
		struct ip_error e = { 0 };
		if (job_set_url(j, &e) < 0) {
			job_fail(j, &e);
			return;
		}
	}
	/* no other cache after a content error: the same one, once more */
	j->attempt = 0;
	pthread_mutex_lock(&pl->lock);
	job_set_state_locked(j, JOB_RUNNING);
	pthread_mutex_unlock(&pl->lock);
	job_retry(j, 0);
}

void download_other_answer(struct download *dl, size_t k, struct narinfo *info, int sub)
{
	other_answer(&dl->pl, k, info, sub);
}

unsigned download_step(struct download *dl)
{
	struct pipeline *pl = &dl->pl;
	struct download_env *env = pl->env;
	unsigned interval = env->progress_interval_ms ? env->progress_interval_ms : 250;
	pthread_mutex_lock(&pl->lock);
	struct job *batch = NULL, *ask = pl->to_ask.head;
	pl->to_ask.head = pl->to_ask.tail = NULL;
	uint64_t now = monotonic_ms();
	size_t n_commit = 0;
	for (struct job *j = pl->commit.head; j; j = j->next)
		n_commit++;
	bool nothing_else = pl->transfers == 0 && ((pl->no_more && pl->n_pending == 0) || pl->failed);
	if (pl->commit.head &&
	    (n_commit >= DOWNLOAD_COMMIT_BATCH_PATHS || !env->resolve->store->sync ||
	     now - pl->commit_oldest_ms >= DOWNLOAD_COMMIT_BATCH_MS || nothing_else)) {
		batch = pl->commit.head;
		pl->commit.head = pl->commit.tail = NULL;
	}
	bool failed = pl->failed != 0;
	pthread_mutex_unlock(&pl->lock);

	if (failed && !pl->cancelled) {
		cancel_all(pl);
		pl->cancelled = true;
	}
	while (ask) {
		struct job *j = ask;
		ask = j->next;
		queue_push(&pl->asking, j);
		if (failed || env->find_other(env->find_other_ctx, j->path, j->sub) < 0)
			other_answer(pl, j->path, NULL, -1);
	}
	if (failed)
		while (pl->asking.head)
			other_answer(pl, pl->asking.head->path, NULL, -1);
	if (batch) {
		commit_batch(pl, batch);
		start_more(pl);
	}
	now = monotonic_ms();
	if (pl->http && now >= pl->next_progress_ms) {
		report_progress(pl);
		pl->next_progress_ms = now + interval;
	}
	/* until the next progress report or the oldest commit is due */
	uint64_t wait = pl->next_progress_ms > now ? pl->next_progress_ms - now : interval;
	pthread_mutex_lock(&pl->lock);
	if (pl->commit.head) {
		uint64_t due = pl->commit_oldest_ms + DOWNLOAD_COMMIT_BATCH_MS;
		wait = due > now ? (due - now < wait ? due - now : wait) : 0;
	}
	pthread_mutex_unlock(&pl->lock);
	return (unsigned)wait;
}

bool download_finished(struct download *dl)
{
	struct pipeline *pl = &dl->pl;
	pthread_mutex_lock(&pl->lock);
	bool over = (pl->no_more || pl->failed) && pl->finished == pl->n_jobs && !pl->commit.head;
	pthread_mutex_unlock(&pl->lock);
	return over;
}

int download_end(struct download *dl, struct download_stats *stats, struct ip_error *err)
{
	memset(stats, 0, sizeof(*stats));
	if (!dl)
		return 0;
	struct pipeline *pl = &dl->pl;
	if (pl->http)
		report_progress(pl);
	pthread_mutex_lock(&pl->lock);
	pl->shutdown = true;
	pthread_cond_broadcast(&pl->work_cond);
	pthread_mutex_unlock(&pl->lock);
	for (unsigned i = 0; i < pl->n_threads; i++)
		pthread_join(pl->threads[i], NULL);
	int r = pl->failed;
	if (r && err)
		*err = pl->err;
	pl->stats.worker_cpu_seconds = pl->worker_cpu;
	*stats = pl->stats;
	for (size_t i = 0; pl->jobs && i < pl->n_started; i++)
		job_free(pl->jobs[i]);
	free(pl->jobs);
	free(pl->pending_large.items);
	free(pl->pending_small.items);
	pool_destroy(&pl->idle_decoders, free_decoder);
	pool_destroy(&pl->idle_small_decoders, free_decoder);
	pool_destroy(&pl->idle_sinks, free_sink);
	pool_destroy(&pl->idle_parsers, free_parser);
	free(pl->threads);
	pthread_cond_destroy(&pl->work_cond);
	pthread_mutex_destroy(&pl->lock);
	free(dl);
	return r;
}
