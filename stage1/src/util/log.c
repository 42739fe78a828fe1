#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum log_level current_level = LOG_INFO;
static int with_timestamps;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(enum log_level level) { current_level = level; }
enum log_level log_get_level(void) { return current_level; }
void log_set_timestamps(int on) { with_timestamps = on; }

__attribute__((format(printf, 2, 0)))
static void emit(const char *tag, const char *fmt, va_list ap)
{
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);

	/* One write per line, under a lock, so lines from worker threads never
	 * interleave on the console. */
	pthread_mutex_lock(&log_lock);
	if (with_timestamps) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		fprintf(stderr, "[%5ld.%03ld] ", (long)now.tv_sec, now.tv_nsec / 1000000);
	}
	fprintf(stderr, "initrd-provision: %s%s\n", tag, line);
	pthread_mutex_unlock(&log_lock);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level < current_level)
		return;
	static const char *const tags[] = { "debug: ", "", "warning: ", "error: " };
	va_list ap;
	va_start(ap, fmt);
	emit(tags[level], fmt, ap);
	va_end(ap);
}

void log_banner(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit("", fmt, ap);
	va_end(ap);
}
