#include "common/log.h"

#include <bpf/libbpf.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level current_level = LOG_LVL_INFO;
static int with_timestamps;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(enum log_level level) { current_level = level; }
enum log_level log_get_level(void) { return current_level; }
void log_set_timestamps(int on) { with_timestamps = on; }

static const char *level_name(enum log_level level)
{
	switch (level) {
	case LOG_LVL_ERROR: return "error";
	case LOG_LVL_WARN: return "warning";
	case LOG_LVL_INFO: return "info";
	default: return "debug";
	}
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	/* The explicit NULL check also keeps gcc 12's -fsanitize=undefined build from
	 * warning "null format string" about the vfprintf below. */
	if (level > current_level || !fmt)
		return;
	char stamp[40] = "";
	if (with_timestamps) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(stamp + n, sizeof(stamp) - n, ".%03ldZ ", ts.tv_nsec / 1000000);
	}
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s%s: ", stamp, level_name(level));
	vfprintf(stderr, fmt, ap);
	size_t len = strlen(fmt);
	if (len == 0 || fmt[len - 1] != '\n')
		fputc('\n', stderr);
	pthread_mutex_unlock(&log_lock);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

int log_err(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERROR, fmt, ap);
	va_end(ap);
	return err;
}

static int libbpf_to_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf is chatty at info level (every map it creates); keep that for debugging. */
	enum log_level ours = level == LIBBPF_WARN ? LOG_LVL_WARN : LOG_LVL_DEBUG;
	log_vmsg(ours, fmt, ap);
	return 0;
}

void log_route_libbpf(void) { libbpf_set_print(libbpf_to_log); }
