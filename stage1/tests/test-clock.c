/* util/clock: the monotonic readings the code measures durations with.
 * Lower bounds only: a busy machine may stretch any wait. */
#include <time.h>

#include "test.h"
#include "util/clock.h"

static void readings_move_forward_together(void)
{
	uint64_t ms = monotonic_ms();
	double s = monotonic_seconds();
	CHECK(s * 1000.0 >= (double)ms);
	CHECK(monotonic_ms() >= ms);
}

static void seconds_since_counts_a_sleep(void)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(seconds_since(&t0) >= 0.0);
	struct timespec nap = { 0, 20 * 1000 * 1000 };
	nanosleep(&nap, NULL);
	CHECK(seconds_since(&t0) >= 0.02);
}

TEST_MAIN("clock",
	TEST_CASE(readings_move_forward_together),
	TEST_CASE(seconds_since_counts_a_sleep))
