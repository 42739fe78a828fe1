/* One error convention for the whole program.
 *
 * Every fallible function returns 0 (or a non-negative count) on success and
 * a negative errno on failure.  When the caller wants to know *why* in words,
 * it passes a `struct ip_error`; the callee fills it with one line that names
 * what failed and where.  Library code never prints above debug level and
 * never exits: `main` turns the error into the one-line console message.
 */
#ifndef IP_UTIL_ERROR_H
#define IP_UTIL_ERROR_H

#include <errno.h>
#include <stddef.h>

#define IP_ERROR_MSG_MAX 512

struct ip_error {
	int code;                     /* negative errno, 0 when unset */
	char msg[IP_ERROR_MSG_MAX];   /* one line, no trailing newline */
};

/* Records `code` and the formatted message in `err` (if non-NULL) and returns
 * `code`, so callers can write `return ip_fail(err, -EINVAL, "...")`.
 * A message already set is kept: the innermost failure is the most precise. */
int ip_fail(struct ip_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like ip_fail, but replaces an existing message, prefixing it as context:
 * "<fmt>: <previous message>". */
int ip_fail_ctx(struct ip_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

void ip_error_clear(struct ip_error *err);

/* The message, or strerror(-code) when no message was recorded. */
const char *ip_error_str(const struct ip_error *err);

#endif
