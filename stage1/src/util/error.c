#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ip_fail(struct ip_error *err, int code, const char *fmt, ...)
{
	if (!err || err->msg[0])
		return code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->code = code;
	return code;
}

int ip_fail_ctx(struct ip_error *err, int code, const char *fmt, ...)
{
	if (!err)
		return code;
	char prefix[IP_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	char combined[2 * IP_ERROR_MSG_MAX + 2];
	snprintf(combined, sizeof(combined), "%s: %s", prefix,
		 err->msg[0] ? err->msg : strerror(-code));
	/* Long messages are cut at the buffer size; the prefix comes first. */
	memcpy(err->msg, combined, sizeof(err->msg) - 1);
	err->msg[sizeof(err->msg) - 1] = '\0';
	err->code = code;
	return code;
}

void ip_error_clear(struct ip_error *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}

const char *ip_error_str(const struct ip_error *err)
{
	if (err->msg[0])
		return err->msg;
	if (err->code < 0)
		return strerror(-err->code);
	return "unknown error";
}
