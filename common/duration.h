/* Durations as people write them: "250ms", "10s", "5m", "1h30m". A unit is mandatory. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Parses `text` into milliseconds. Returns 0, -EINVAL (malformed, missing unit,
 * fraction of a millisecond) or -ERANGE (overflow). */
int duration_parse(const char *text, uint64_t *out_ms);

/* Formats milliseconds compactly ("1m30s", "250ms", "0s") into buf; returns buf. */
char *duration_format(uint64_t ms, char *buf, size_t len);

/* A duration in microseconds: what duration_parse() reads, or whole microseconds
 * ("250us"). -EINVAL malformed, -ERANGE above max_us. */
int duration_parse_us(const char *text, uint64_t max_us, uint64_t *out_us);
