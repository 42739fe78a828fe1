/* Progress and summary lines of a download (pure formatting; the command
 * decides where and how often they are printed). */
#ifndef IP_UTIL_PROGRESS_H
#define IP_UTIL_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

/* "[ 12/601 paths]  123.4/1290.0 MiB  98.7 MiB/s" */
void progress_format(char *out, size_t size, size_t done, size_t total, uint64_t bytes_done,
		     uint64_t bytes_total, double seconds);

/* "601 paths (600 fetched, 1 already present), 400.1 MiB downloaded,
 *  1290.3 MiB unpacked in 3.21 s (124.6 MiB/s)" */
void progress_format_summary(char *out, size_t size, size_t closure, size_t fetched,
			     size_t present, uint64_t download_bytes, uint64_t nar_bytes,
			     double seconds);

#endif
