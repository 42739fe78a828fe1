/* The two time formats AWS writes.  Pure. */
#ifndef IP_AWS_AWS_TIME_H
#define IP_AWS_AWS_TIME_H

#include <stddef.h>
#include <time.h>

/* ISO-8601 in UTC, "YYYY-MM-DDTHH:MM:SSZ" (IMDS Expiration, S3 ServerTime),
 * optionally with fractional seconds, and "+HH:MM" / "-HH:MM" instead of
 * "Z".  Returns 0 or -EINVAL. */
int aws_time_parse_iso8601(const char *s, size_t len, time_t *out);

/* The SigV4 basic form "YYYYMMDDTHHMMSSZ" (x-amz-date, S3 RequestTime). */
int aws_time_parse_amz(const char *s, size_t len, time_t *out);

#endif
