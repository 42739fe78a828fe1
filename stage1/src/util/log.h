/* Console logging.  Only the edges (commands, the boot flow) log at info and
 * above; library code logs at debug at most (see util/error.h). */
#ifndef IP_UTIL_LOG_H
#define IP_UTIL_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Prefix every line with seconds since start (useful on a serial console). */
void log_set_timestamps(int on);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A line that must reach the console whatever the level and carries no
 * "error:" tag, e.g. the boot mode's failure banner, whose exact form
 * ("initrd-provision: FAILED <phase>: ...") operators grep for. */
void log_banner(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
