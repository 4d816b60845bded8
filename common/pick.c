#include "common/pick.h"

#include <math.h>

uint64_t splitmix64_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, bound) without modulo bias, by rejection. */
static uint64_t bounded(uint64_t *state, uint64_t bound)
{
	uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
	uint64_t x;
	do
		x = splitmix64_next(state);
	while (x >= limit);
	return x % bound;
}

void pick_shuffle(size_t *order, size_t n, uint64_t seed)
{
	uint64_t state = seed;
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)bounded(&state, i);
		size_t tmp = order[i - 1];
		order[i - 1] = order[j];
		order[j] = tmp;
	}
}

size_t percent_count(double percent, size_t n)
{
	if (n == 0 || percent <= 0)
		return 0;
	/* the epsilon keeps 50% of 10 at 5, not 6, despite binary fractions */
	double exact = percent * (double)n / 100.0;
	size_t count = (size_t)ceil(exact - 1e-9);
	if (count < 1)
		count = 1;
	return count > n ? n : count;
}
