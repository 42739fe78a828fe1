/* Random numbers for retry jitter: they must differ between processes and
 * between machines, not be secret.  A fleet of identical instances booting
 * the same image at the same moment has the same PIDs and nearly the same
 * monotonic clock, so a seed made of those alone would make every instance
 * retry in step; the kernel's getrandom() is used when it is ready (early
 * in boot it may not be, and it must not block), mixed with both clocks. */
#ifndef IP_UTIL_JITTER_H
#define IP_UTIL_JITTER_H

#include <stdint.h>

/* A non-zero seed, different for every call, process and machine. */
uint64_t jitter_seed(void);
/* The next number of a xorshift64 sequence, in [0, 1).  *state != 0. */
double jitter_next(uint64_t *state);

#endif
