/* One thread sleeps until another has news for it.
 *
 * The fetch's coordinating thread serves two sources at once, the closure
 * resolver (narinfo answers) and the download pipeline (verified paths to
 * commit, lookups to make): both post here, and the coordinator waits here
 * instead of on either's own condition.  A sequence number, read before
 * the sources are looked at, makes a post between that look and the wait
 * wake the wait at once (no lost wake-up). */
#ifndef IP_UTIL_WAKEUP_H
#define IP_UTIL_WAKEUP_H

#include <pthread.h>
#include <stdint.h>

struct wakeup {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t posts;
};

void wakeup_init(struct wakeup *w);
void wakeup_destroy(struct wakeup *w);
/* How many posts so far: the value to give wakeup_wait after looking. */
uint64_t wakeup_seen(struct wakeup *w);
/* Any thread. */
void wakeup_post(struct wakeup *w);
/* Returns once a post beyond `seen` has come, or after timeout_ms. */
void wakeup_wait(struct wakeup *w, uint64_t seen, unsigned timeout_ms);

#endif
