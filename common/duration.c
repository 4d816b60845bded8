#include "common/duration.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct unit { const char *suffix; uint64_t ms; };

/* Longest suffixes first so "ms" is not read as "m" followed by garbage. */
static const struct unit units[] = {
	{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
};

int duration_parse(const char *text, uint64_t *out_ms)
{
	if (!text || !*text)
		return -EINVAL;
	uint64_t total = 0;
	const char *p = text;
	while (*p) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		uint64_t whole = 0;
		while (isdigit((unsigned char)*p)) {
			if (whole > (UINT64_MAX - 9) / 10)
				return -ERANGE;
			whole = whole * 10 + (uint64_t)(*p++ - '0');
		}
		uint64_t frac_num = 0, frac_den = 1;
		if (*p == '.') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			while (isdigit((unsigned char)*p)) {
				if (frac_den >= 1000000000ULL)
					return -EINVAL;
				frac_num = frac_num * 10 + (uint64_t)(*p++ - '0');
				frac_den *= 10;
			}
		}
		const struct unit *u = NULL;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t n = strlen(units[i].suffix);
			if (strncmp(p, units[i].suffix, n) == 0 && !isalpha((unsigned char)p[n])) {
				u = &units[i];
				p += n;
				break;
			}
		}
		if (!u)
			return -EINVAL;
		if (whole > UINT64_MAX / u->ms)
			return -ERANGE;
		uint64_t part = whole * u->ms;
		if (frac_num) {
			if ((frac_num * u->ms) % frac_den)
				return -EINVAL;
			part += frac_num * u->ms / frac_den;
		}
		if (total > UINT64_MAX - part)
			return -ERANGE;
		total += part;
	}
	*out_ms = total;
	return 0;
}

char *duration_format(uint64_t ms, char *buf, size_t len)
{
	if (ms == 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	size_t used = 0;
	buf[0] = '\0';
	for (int i = (int)(sizeof(units) / sizeof(units[0])) - 1; i >= 0; i--) {
		uint64_t count = ms / units[i].ms;
		if (!count)
			continue;
		ms -= count * units[i].ms;
		int n = snprintf(buf + used, used < len ? len - used : 0, "%llu%s",
				 (unsigned long long)count, units[i].suffix);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}

int duration_parse_us(const char *text, uint64_t max_us, uint64_t *out_us)
{
	if (!text)
		return -EINVAL;
	uint64_t us = 0;
	int r = -EINVAL;
	size_t n = strlen(text);
	if (n > 2 && strcmp(text + n - 2, "us") == 0) {
		char *end;
		errno = 0;
		unsigned long long x = strtoull(text, &end, 10);
		if (isdigit((unsigned char)text[0]) && end == text + n - 2 && errno == 0) {
			us = x;
			r = 0;
		}
	} else {
		uint64_t ms;
		r = duration_parse(text, &ms);
		if (r == 0 && ms > max_us / 1000)
			r = -ERANGE;
		us = ms * 1000;
	}
	if (r == 0 && us > max_us)
		r = -ERANGE;
	if (r == 0)
		*out_us = us;
	return r;
}
