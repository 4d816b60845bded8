/* Tiny logging module shared by chaos-agent and chaos.
 * Every log_* call that reports a failure returns the negative errno it was given,
 * so callers can log and return in one step: `return log_err(-r, "x: ...");`. */
#pragma once
#include <stdarg.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Prefix every line with a wall-clock timestamp (agent daemon mode). */
void log_set_timestamps(int on);
/* Route libbpf's own messages into this log (debug level for its chatter). */
void log_route_libbpf(void);

__attribute__((format(printf, 2, 3)))
void log_msg(enum log_level level, const char *fmt, ...);
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

/* Logs at error level and returns `err` (expected negative errno). */
__attribute__((format(printf, 2, 3)))
int log_err(int err, const char *fmt, ...);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
