/* log.h -- leveled logging to stderr, one line per event.
 *
 * Nothing secret is ever passed here: callers log hashes or prefixes of keys, never keys, tokens,
 * passwords or seeds. The one exception, a secret generated at first start, is printed by
 * log_secret_once() straight to the console and never through the leveled log. */
#ifndef ROUTSTR_BASE_LOG_H
#define ROUTSTR_BASE_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

extern enum log_level log_min_level;

/* Parses "debug", "info", "warning"/"warn", "error" (any case). Returns 0 or E_PROTO. */
int log_level_parse(const char *s, enum log_level *out);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) do { if (log_min_level <= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
