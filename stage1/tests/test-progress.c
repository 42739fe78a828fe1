/* Progress and summary lines. */
#include "test.h"
#include "util/progress.h"

static void lines(void)
{
	char buf[200];
	progress_format(buf, sizeof(buf), 12, 601, 50 * 1048576ull, 1290 * 1048576ull, 2.0);
	CHECK_STR(buf, "[ 12/601 paths]  50.0/1290.0 MiB  25.0 MiB/s");
	progress_format(buf, sizeof(buf), 0, 5, 0, 0, 0.0);
	CHECK_STR(buf, "[0/5 paths]  0.0/0.0 MiB  0.0 MiB/s");
	progress_format_summary(buf, sizeof(buf), 601, 600, 1, 400 * 1048576ull, 1290 * 1048576ull,
				3.2);
	CHECK_STR(buf, "601 paths (600 fetched, 1 already present), 400.0 MiB downloaded, "
		       "1290.0 MiB unpacked in 3.20 s (125.0 MiB/s)");
}

TEST_MAIN("progress", TEST_CASE(lines))
