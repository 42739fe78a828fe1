#include "util/wakeup.h"

#include <time.h>

void wakeup_init(struct wakeup *w)
{
	pthread_condattr_t attr;
	pthread_mutex_init(&w->lock, NULL);
	/* the monotonic clock: a clock step at boot (NTP, the RTC read late)
	 * must not stretch or skip a wait */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &attr);
	pthread_condattr_destroy(&attr);
	w->posts = 0;
}

void wakeup_destroy(struct wakeup *w)
{
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

uint64_t wakeup_seen(struct wakeup *w)
{
	pthread_mutex_lock(&w->lock);
	uint64_t n = w->posts;
	pthread_mutex_unlock(&w->lock);
	return n;
}

void wakeup_post(struct wakeup *w)
{
	pthread_mutex_lock(&w->lock);
	w->posts++;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void wakeup_wait(struct wakeup *w, uint64_t seen, unsigned timeout_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->lock);
	while (w->posts == seen) {
		if (pthread_cond_timedwait(&w->cond, &w->lock, &until) != 0)
			break;
	}
	pthread_mutex_unlock(&w->lock);
}
