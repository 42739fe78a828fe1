#include "util/progress.h"

#include <stdio.h>

#define MIB (1024.0 * 1024.0)

static double rate(uint64_t bytes, double seconds)
{
	return seconds > 0.001 ? (double)bytes / MIB / seconds : 0.0;
}

void progress_format(char *out, size_t size, size_t done, size_t total, uint64_t bytes_done,
		     uint64_t bytes_total, double seconds)
{
	int width = snprintf(NULL, 0, "%zu", total);
	snprintf(out, size, "[%*zu/%zu paths]  %.1f/%.1f MiB  %.1f MiB/s", width, done, total,
		 (double)bytes_done / MIB, (double)bytes_total / MIB, rate(bytes_done, seconds));
}

void progress_format_summary(char *out, size_t size, size_t closure, size_t fetched,
			     size_t present, uint64_t download_bytes, uint64_t nar_bytes,
			     double seconds)
{
	snprintf(out, size,
		 "%zu paths (%zu fetched, %zu already present), %.1f MiB downloaded, %.1f MiB "
		 "unpacked in %.2f s (%.1f MiB/s)",
		 closure, fetched, present, (double)download_bytes / MIB, (double)nar_bytes / MIB,
		 seconds, rate(download_bytes, seconds));
}
