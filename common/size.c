#include "common/size.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *suffix;
	uint64_t factor;
} units[] = {
	{ "", 1 }, { "B", 1 },
	{ "K", 1ULL << 10 }, { "KiB", 1ULL << 10 }, { "k", 1ULL << 10 }, { "kB", 1000ULL }, { "KB", 1000ULL },
	{ "M", 1ULL << 20 }, { "MiB", 1ULL << 20 }, { "MB", 1000000ULL },
	{ "G", 1ULL << 30 }, { "GiB", 1ULL << 30 }, { "GB", 1000000000ULL },
	{ "T", 1ULL << 40 }, { "TiB", 1ULL << 40 }, { "TB", 1000000000000ULL },
};

static const char digits[] = "0123456789";

int size_parse(const char *text, enum size_syntax syntax, uint64_t *out)
{
	if (!text)
		return -EINVAL;
	bool lenient = syntax == SIZE_LENIENT;
	while (lenient && isspace((unsigned char)*text))
		text++;
	/* digits and one optional fraction only: strtoull/strtod alone would take "+1",
	 * "0x10", "1e3", "inf" */
	if (!isdigit((unsigned char)*text))
		return -EINVAL;
	size_t number = strspn(text, digits);
	if (lenient && text[number] == '.')
		number += 1 + strspn(text + number + 1, digits);
	const char *unit = text + number;
	while (lenient && isspace((unsigned char)*unit))
		unit++;
	errno = 0;
	unsigned long long whole = strtoull(text, NULL, 10);
	if (!lenient && errno == ERANGE)
		return -ERANGE;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(unit, units[i].suffix) != 0)
			continue;
		if (!lenient) {
			if (whole > UINT64_MAX / units[i].factor)
				return -ERANGE;
			*out = whole * units[i].factor;
			return 0;
		}
		errno = 0;
		double value = strtod(text, NULL);
		if (errno)
			return -EINVAL;
		double bytes = value * (double)units[i].factor;
		if (bytes >= 18446744073709551615.0)
			return -ERANGE;
		if (units[i].factor == 1 && value != floor(value))
			return -EINVAL; /* "1.5" bytes */
		*out = (uint64_t)bytes;
		return 0;
	}
	return -EINVAL;
}
