/* The monotonic clock, in the units the code measures in.  Durations and
 * deadlines use it: the wall clock can step at boot (NTP, an RTC read
 * late). */
#ifndef IP_UTIL_CLOCK_H
#define IP_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

uint64_t monotonic_ms(void);
double monotonic_seconds(void);
/* Seconds from t0 (a CLOCK_MONOTONIC reading) to now. */
double seconds_since(const struct timespec *t0);

#endif
