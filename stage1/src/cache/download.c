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
#include "cache/nar_stream.h"
#include "cache/origin.h"
#include "nix/nar.h"
#include "nix/store_path.h"
#include "store/disk_sink.h"
#include "util/jitter.h"
#include "util/log.h"

/* A worker hands a transfer back to the queue after this many bytes, so
 * one fast NAR cannot starve the others. */
#define WORKER_SLICE_BYTES (4u * 1024 * 1024)

enum job_state {
	JOB_PENDING,      /* not started */
	JOB_RUNNING,      /* transfer (or a retry of it) under way */
	JOB_VERIFIED,     /* whole under its temporary name, waiting for the commit */
	JOB_DONE,         /* renamed into place */
	JOB_FAILED,       /* gave up (the run fails) or cancelled */
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
	enum job_state state;              /* under pl->lock */

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

struct pipeline {
	struct download_env *env;
	struct closure *c;
	struct http_client *http;
	struct job **jobs;                 /* by start order; allocated when started,
					    * freed (main thread) once committed */
	size_t n_jobs;
	size_t *start_order;               /* closure indices, largest first */
	size_t next_start;

	pthread_mutex_t lock;
	pthread_cond_t work_cond, main_cond;
	struct queue ready, slot_wait, commit;
	unsigned transfers, decoders;      /* running / holding a decoder */
	unsigned max_transfers, max_decoders;
	uint64_t mem_budget, mem_share;    /* decoder memory: all of it / one slot's */
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
	size_t ring_bytes, ring_budget;    /* rings of the running transfers / their bound */
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
	struct pool idle_decoders, idle_sinks, idle_parsers;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

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
	pl->ring_bytes -= size;
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

/* First fatal error wins (lock held). */
static void pipeline_fail_locked(struct pipeline *pl, const struct ip_error *e)
{
	if (pl->failed)
		return;
	pl->failed = e->code ? e->code : -EIO;
	pl->err = *e;
	/* jobs never started are over too */
	pl->finished += pl->n_jobs - pl->next_start;
	pl->next_start = pl->n_jobs;
	/* jobs waiting for a decoder need none to be cleaned up */
	struct job *j;
	while ((j = queue_pop(&pl->slot_wait)) != NULL)
		queue_push(&pl->ready, j);
	pthread_cond_broadcast(&pl->work_cond);
	pthread_cond_broadcast(&pl->main_cond);
}

/* Whether `j` can have a decoder slot now (lock held): a free slot and its
 * memory within the budget; a big stream also needs to be the only one. */
static bool slot_fits_locked(struct pipeline *pl, const struct job *j)
{
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
	}
}

/* Puts a job that has work (data or the end of its transfer) on the ready
 * queue, giving it a decoder slot first.  Slots go in arrival order: a big
 * stream at the head of slot_wait is not overtaken. */
static void schedule(struct pipeline *pl, struct job *j)
{
	pthread_mutex_lock(&pl->lock);
	if (j->has_slot || pl->failed) {
		queue_push(&pl->ready, j);
	} else if (!pl->slot_wait.head && slot_fits_locked(pl, j)) {
		take_slot_locked(pl, j);
		queue_push(&pl->ready, j);
	} else {
		queue_push(&pl->slot_wait, j);
	}
	pthread_cond_signal(&pl->work_cond);
	pthread_mutex_unlock(&pl->lock);
}

static void release_slot_locked(struct pipeline *pl, struct job *j)
{
	if (!j->has_slot)
		return;
	j->has_slot = false;
	pl->decoders--;
	pl->mem_held -= j->mem_grant;
	if (j->slot_big)
		pl->big_active = false;
	j->slot_big = false;
	j->mem_grant = 0;
	while (pl->slot_wait.head && slot_fits_locked(pl, pl->slot_wait.head)) {
		struct job *w = queue_pop(&pl->slot_wait);
		take_slot_locked(pl, w);
		queue_push(&pl->ready, w);
		pthread_cond_signal(&pl->work_cond);
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

static struct job *job_new(struct pipeline *pl, size_t slot, size_t path, size_t ring_size)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	struct closure_path *p = &pl->c->paths[path];
	j->pl = pl;
	j->slot = slot;
	j->path = path;
	j->basename = p->basename;
	j->info = p->narinfo;
	j->sub = p->sub_index;
	j->req.ops = &job_ops;
	j->req.ctx = j;
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

/* Starts pending jobs while a connection is free and their rings fit in
 * the budget (the first transfer always starts).  Lock not held. */
static void start_more(struct pipeline *pl)
{
	for (;;) {
		size_t slot = 0, path = 0, ring = 0;
		bool go = false;
		pthread_mutex_lock(&pl->lock);
		if (!pl->failed && pl->transfers < pl->max_transfers && pl->next_start < pl->n_jobs) {
			path = pl->start_order[pl->next_start];
			ring = ring_size_for(pl->c->paths[path].narinfo);
			go = pl->transfers == 0 || pl->ring_bytes + ring <= pl->ring_budget;
		}
		if (go) {
			slot = pl->next_start++;
			pl->transfers++;
			pl->ring_bytes += ring;
		}
		pthread_mutex_unlock(&pl->lock);
		if (!go)
			return;
		struct ip_error e = { 0 };
		struct job *j = job_new(pl, slot, path, ring);
		int r = j ? job_set_url(j, &e) : ip_fail(&e, -ENOMEM, "out of memory");
		pthread_mutex_lock(&pl->lock);
		if (j) {
			j->state = r < 0 ? JOB_FAILED : JOB_RUNNING;
			pl->jobs[slot] = j;
			j->mem_need = pl->learned_need[j->info->compression];
		} else {
			pl->ring_bytes -= ring;
		}
		if (r < 0) {
			pipeline_fail_locked(pl, &e);
			pl->transfers--;
			pl->finished++;
			pthread_cond_broadcast(&pl->main_cond);
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
static void stage_close(struct job *j)
{
	struct pipeline *pl = j->pl;
	j->req.range_start = 0;
	/* a big stream's decoder is not kept: its memory goes back at once */
	if (j->dec && (j->mem_need || !pool_put(pl, &pl->idle_decoders, j->dec)))
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
	struct decompressor *d = j->mem_need ? NULL : pool_get(pl, &pl->idle_decoders);
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

static bool same_references(const struct narinfo *a, const struct closure_path *p)
{
	if (a->n_references != p->n_refs)
		return false;
	for (size_t i = 0; i < a->n_references; i++) {
		bool found = false;
		for (size_t k = 0; k < p->n_refs && !found; k++)
			found = strcmp(a->references[i], p->ref_names[k]) == 0;
		if (!found)
			return false;
	}
	return true;
}

/* After a content error or a missing NAR: the next substituter that has
 * the path (with the same references), or -ENOENT. */
static int switch_substituter(struct job *j)
{
	struct download_env *env = j->pl->env;
	struct closure_path *p = &j->pl->c->paths[j->path];
	for (int s = j->sub + 1; (size_t)s < env->resolve->n_subs; s++) {
		struct narinfo *info = NULL;
		struct ip_error e = { 0 };
		if (closure_fetch_narinfo(env->resolve, s, j->basename, &info, &e) < 0) {
			log_debug("download: %s: not taken from %s: %s", j->basename,
				  env->resolve->subs[s].url, ip_error_str(&e));
			continue;
		}
		if (!same_references(info, p)) {
			narinfo_free(info);
			free(info);
			continue;
		}
		if (j->alt_info) {
			narinfo_free(j->alt_info);
			free(j->alt_info);
		}
		j->alt_info = info;
		j->info = info;
		j->sub = s;
		/* the registration must describe what is on disk */
		p->nar_hash = info->nar_hash;
		p->nar_size = info->nar_size;
		return 0;
	}
	return -ENOENT;
}

static void job_end_locked(struct pipeline *pl, struct job *j, enum job_state state)
{
	j->state = state;
	release_slot_locked(pl, j);
	pl->transfers--;
	if (state == JOB_VERIFIED) {
		if (!pl->commit.head)
			pl->commit_oldest_ms = now_ms();
		queue_push(&pl->commit, j);
	} else {
		pl->finished++;
	}
	pthread_cond_broadcast(&pl->main_cond);
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

static void job_finalize(struct job *j)
{
	struct pipeline *pl = j->pl;
	struct download_env *env = pl->env;
	const struct http_result *res = &j->req.res;
	struct ip_error e = { 0 };

	pthread_mutex_lock(&pl->lock);
	bool failed = pl->failed != 0;
	pthread_mutex_unlock(&pl->lock);
	if (failed) {
		job_fail(j, NULL);
		return;
	}

	int r = 0;
	if (!j->broken && res->outcome == HTTP_OK) {
		r = stage_finish(j);
		if (r == 0) {
			stage_close(j);
			job_free_transfer(j);
			pthread_mutex_lock(&pl->lock);
			pl->stats.file_bytes += j->file_bytes;
			pl->stats.nar_bytes += j->nar_bytes;
			env->resolve->stats[j->sub].nars++;
			env->resolve->stats[j->sub].nar_bytes += j->file_bytes;
			job_end_locked(pl, j, JOB_VERIFIED);
			pthread_mutex_unlock(&pl->lock);
			return;
		}
		j->broken = true;
	}

	if (j->broken && j->err.code == -E2BIG) {
		job_refetch_big(j);
		return;
	}
	if (j->broken) {
		/* a content error is worth one more download; anything else
		 * (disk full, permissions) is not */
		if (j->err.code != -EBADMSG && j->err.code != -ENOTSUP) {
			job_fail(j, &j->err);
			return;
		}
		if (j->err.code == -ENOTSUP || ++j->content_failures >= 2) {
			struct ip_error fe = j->err;
			if (j->content_failures >= 2) {
				size_t used = strlen(fe.msg);
				if (strcmp(j->first_url, j->url) == 0)
					snprintf(fe.msg + used, sizeof(fe.msg) - used,
						 " (the same on a second download)");
				else
					snprintf(fe.msg + used, sizeof(fe.msg) - used,
						 " (and the first download, from %s, failed too)", j->first_url);
			}
			job_fail(j, &fe);
			return;
		}
		log_debug("download: %s: %s; fetching it again", j->basename, j->err.msg);
		if (env->resolve->warn) {
			char line[IP_ERROR_MSG_MAX + 32];
			snprintf(line, sizeof(line), "%s; fetching it again", j->err.msg);
			env->resolve->warn(env->resolve->warn_ctx, line);
		}
		stage_close(j);
		if ((r = store_discard_temp(env->resolve->store, j->basename, &e)) < 0) {
			job_fail(j, &e);
			return;
		}
		ip_error_clear(&j->err);
		j->broken = false;
		if (switch_substituter(j) == 0 && (r = job_set_url(j, &e)) < 0) {
			job_fail(j, &e);
			return;
		}
		j->attempt = 0;
		pthread_mutex_lock(&pl->lock);
		pl->stats.content_retries++;
		pthread_mutex_unlock(&pl->lock);
		job_retry(j, 0);
		return;
	}

	/* A resumed transfer the server would not resume: from byte 0. */
	if (j->req.range_start > 0 && (res->curl_code == CURLE_RANGE_ERROR || res->status == 416)) {
		log_debug("download: %s: Range from byte %" PRIu64 " refused (%s); from byte 0", j->url,
			  j->req.range_start, res->message);
		stage_close(j);
		if ((r = store_discard_temp(env->resolve->store, j->basename, &e)) < 0) {
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

	/* The transfer itself failed.  What arrived was fed through the
	 * decoder, the hash and the NAR parser to disk, so a retry asks for the
	 * rest (Range) and the stage goes on where it stands; file:// reads
	 * (no cut to recover from) and failures before any byte start over. */
	pthread_mutex_lock(&pl->lock);
	bool ranges = j->sub >= 64 || !(pl->range_ignored & (1ull << j->sub));
	pthread_mutex_unlock(&pl->lock);
	bool resume = ranges && res->outcome == HTTP_TRANSIENT && j->stage_open && j->file_bytes > 0 &&
		      strncmp(j->url, "file://", 7) != 0;
	if (!resume) {
		stage_close(j);
		if ((r = store_discard_temp(env->resolve->store, j->basename, &e)) < 0) {
			job_fail(j, &e);
			return;
		}
	}
	j->attempt++;
	if (res->outcome == HTTP_TRANSIENT) {
		long delay = http_retry_delay_ms(res, j->attempt, env->max_attempts, next_jitter(pl));
		if (delay >= 0) {
			log_debug("download: %s: %s; attempt %u in %ld ms%s", j->url, res->message,
				  j->attempt + 1, delay, resume ? ", resuming" : "");
			if (resume)
				j->req.range_start = j->file_bytes;
			pthread_mutex_lock(&pl->lock);
			pl->stats.retries++;
			pl->stats.resumes += resume;
			if (j->attempt + 1 > pl->stats.most_attempts)
				pl->stats.most_attempts = j->attempt + 1;
			pthread_mutex_unlock(&pl->lock);
			job_retry(j, (unsigned)delay);
			return;
		}
		ip_fail(&e, -EIO, "fetching %s for %s/%s: %s (gave up after %u attempts); check the "
			"network and the cache", j->url, NIX_STORE_DIR, j->basename, res->message,
			j->attempt);
	} else if (res->outcome == HTTP_NOT_FOUND) {
		char url[320];
		snprintf(url, sizeof(url), "%s", j->url);
		if (switch_substituter(j) == 0 && job_set_url(j, &e) == 0) {
			j->attempt = 0;
			job_retry(j, 0);
			return;
		}
		ip_fail(&e, -ENOENT, "the NAR of %s/%s is missing: %s answered %s although its narinfo "
			"lists it", NIX_STORE_DIR, j->basename, url, res->message);
	} else {
		ip_fail(&e, -EIO, "fetching %s for %s/%s: %s", j->url, NIX_STORE_DIR, j->basename,
			res->message);
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
			j->state = JOB_DONE;
			p->present = true;
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
			j->state = JOB_FAILED;
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
	for (size_t i = 0; i < pl->n_jobs; i++) {
		pthread_mutex_lock(&pl->lock);
		struct job *j = pl->jobs[i];
		bool running = j && j->state == JOB_RUNNING;
		pthread_mutex_unlock(&pl->lock);
		if (running) {
			pthread_mutex_lock(&j->lock);
			j->refuse = true;
			pthread_mutex_unlock(&j->lock);
			http_cancel(pl->http, &j->req);
		}
	}
}

static const struct closure *order_closure;
static uint64_t wire_size(const struct narinfo *info)
{
	return info->file_size ? info->file_size : info->nar_size;
}
static int by_size_desc(const void *a, const void *b)
{
	const struct closure_path *pa = &order_closure->paths[*(const size_t *)a];
	const struct closure_path *pb = &order_closure->paths[*(const size_t *)b];
	uint64_t sa = wire_size(pa->narinfo), sb = wire_size(pb->narinfo);
	return sa < sb ? 1 : sa > sb ? -1 : strcmp(pa->basename, pb->basename);
}

int download_paths(struct download_env *env, struct closure *c, const size_t *todo, size_t n,
		   struct download_stats *stats, struct ip_error *err)
{
	struct pipeline pl = { .env = env, .c = c, .n_jobs = n };
	pthread_t *threads = NULL;
	unsigned n_threads = 0;
	int r = 0;
	memset(stats, 0, sizeof(*stats));
	if (n == 0)
		return 0;

	pl.http = env->resolve->http.get(env->resolve->http.ctx, err);
	if (!pl.http)
		return err && err->code ? err->code : -EIO;
	unsigned jobs = env->jobs ? env->jobs : 1;
	pl.max_decoders = env->max_decoders ? env->max_decoders : jobs + 1;
	pl.mem_budget = env->decoder_memory ? env->decoder_memory : DOWNLOAD_DEFAULT_DECODER_MEMORY;
	if (pl.max_decoders > pl.mem_budget / DOWNLOAD_DECODER_SHARE_MIN)
		pl.max_decoders = (unsigned)(pl.mem_budget / DOWNLOAD_DECODER_SHARE_MIN);
	if (pl.max_decoders == 0)
		pl.max_decoders = 1;
	pl.mem_share = pl.mem_budget / pl.max_decoders;
	unsigned conns = env->max_connections ? env->max_connections : HTTP_DEFAULT_CONNECTIONS;
	pl.max_transfers = env->max_transfers ? env->max_transfers
			   : conns < DOWNLOAD_MAX_TRANSFERS ? conns : DOWNLOAD_MAX_TRANSFERS;
	/* as much ring memory as 2 full rings per worker and 4 more: enough to
	 * keep every worker fed while other transfers wait on the network */
	pl.ring_budget = (size_t)(2 * jobs + 4) * DOWNLOAD_RING_SIZE;
	if (!env->max_attempts)
		env->max_attempts = http_client_max_attempts(pl.http);
	pl.rng = jitter_seed();

	pthread_mutex_init(&pl.lock, NULL);
	pthread_cond_init(&pl.work_cond, NULL);
	pthread_cond_init(&pl.main_cond, NULL);
	pl.jobs = calloc(n, sizeof(*pl.jobs));  /* pointers only: jobs come and go */
	pl.start_order = malloc(n * sizeof(*pl.start_order));
	int pools = pool_init(&pl.idle_decoders, pl.max_decoders) |
		    pool_init(&pl.idle_sinks, pl.max_decoders) |
		    pool_init(&pl.idle_parsers, pl.max_decoders);
	threads = calloc(jobs, sizeof(*threads));
	if (!pl.jobs || !pl.start_order || pools < 0 || !threads) {
		r = ip_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	memcpy(pl.start_order, todo, n * sizeof(*pl.start_order));
	for (size_t i = 0; i < n; i++)
		pl.bytes_total += wire_size(c->paths[todo[i]].narinfo);
	/* largest first: the long transfers start early, the small ones fill in */
	static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&order_lock);
	order_closure = c;
	qsort(pl.start_order, n, sizeof(*pl.start_order), by_size_desc);
	pthread_mutex_unlock(&order_lock);

	for (; n_threads < jobs; n_threads++) {
		int e = pthread_create(&threads[n_threads], NULL, worker, &pl);
		if (e != 0) {
			r = ip_fail(err, -e, "starting a worker thread: %s", strerror(e));
			break;
		}
	}
	if (r == 0) {
		start_more(&pl);
		unsigned interval = env->progress_interval_ms ? env->progress_interval_ms : 250;
		uint64_t next_progress = now_ms() + interval;
		bool cancelled = false;
		for (;;) {
			pthread_mutex_lock(&pl.lock);
			bool all_ended = pl.finished == pl.n_jobs;
			struct job *batch = NULL;
			uint64_t now = now_ms();
			size_t n_commit = 0;
			for (struct job *j = pl.commit.head; j; j = j->next)
				n_commit++;
			bool nothing_else = pl.transfers == 0 && (pl.next_start >= pl.n_jobs || pl.failed);
			if (pl.commit.head &&
			    (n_commit >= DOWNLOAD_COMMIT_BATCH_PATHS || !env->resolve->store->sync ||
			     now - pl.commit_oldest_ms >= DOWNLOAD_COMMIT_BATCH_MS || nothing_else)) {
				batch = pl.commit.head;
				pl.commit.head = pl.commit.tail = NULL;
			}
			bool failed = pl.failed != 0;
			if (!batch && !all_ended && !(failed && !cancelled)) {
				struct timespec until;
				clock_gettime(CLOCK_REALTIME, &until);
				uint64_t wait = interval;
				if (pl.commit.head) {
					uint64_t due = pl.commit_oldest_ms + DOWNLOAD_COMMIT_BATCH_MS;
					wait = due > now ? (due - now < wait ? due - now : wait) : 0;
				}
				until.tv_nsec += (long)(wait % 1000) * 1000000;
				until.tv_sec += (time_t)(wait / 1000) + until.tv_nsec / 1000000000;
				until.tv_nsec %= 1000000000;
				pthread_cond_timedwait(&pl.main_cond, &pl.lock, &until);
			}
			pthread_mutex_unlock(&pl.lock);

			if (failed && !cancelled) {
				cancel_all(&pl);
				cancelled = true;
			}
			if (batch) {
				commit_batch(&pl, batch);
				start_more(&pl);
			}
			if (now_ms() >= next_progress) {
				report_progress(&pl);
				next_progress = now_ms() + interval;
			}
			if (all_ended && !batch)
				break;
		}
		report_progress(&pl);
	}

	pthread_mutex_lock(&pl.lock);
	pl.shutdown = true;
	pthread_cond_broadcast(&pl.work_cond);
	pthread_mutex_unlock(&pl.lock);
	for (unsigned i = 0; i < n_threads; i++)
		pthread_join(threads[i], NULL);
	if (r == 0 && pl.failed) {
		if (err)
			*err = pl.err;
		r = pl.failed;
	}
	pl.stats.worker_cpu_seconds = pl.worker_cpu;
	*stats = pl.stats;
out:
	for (size_t i = 0; pl.jobs && i < n; i++)
		job_free(pl.jobs[i]);
	free(pl.jobs);
	free(pl.start_order);
	pool_destroy(&pl.idle_decoders, free_decoder);
	pool_destroy(&pl.idle_sinks, free_sink);
	pool_destroy(&pl.idle_parsers, free_parser);
	free(threads);
	pthread_cond_destroy(&pl.work_cond);
	pthread_cond_destroy(&pl.main_cond);
	pthread_mutex_destroy(&pl.lock);
	return r;
}
