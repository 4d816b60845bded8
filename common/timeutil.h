#pragma once
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC: for deadlines, leases and measured intervals. */
uint64_t mono_ms(void);
/* Nanoseconds on CLOCK_MONOTONIC. */
int64_t mono_ns(void);
/* CLOCK_MONOTONIC `ms` from now, as pthread_cond_timedwait() takes it (with a
 * condition variable whose clock is CLOCK_MONOTONIC). */
struct timespec mono_after_ms(uint64_t ms);
/* Milliseconds since the epoch: for what reports and the API show to people. */
uint64_t wall_ms(void);
/* "2026-11-25T08:39:23.123Z" */
char *wall_ms_format(uint64_t ms, char *buf, size_t len);
/* Sleeps ms milliseconds, resuming after signals. */
void sleep_ms(uint64_t ms);
