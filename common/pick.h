/* Seedable choices shared by the scheduler (which hosts) and the process faults
 * (which processes): the same seed names the same choice on every machine. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* splitmix64: small, seedable, and identical everywhere. */
uint64_t splitmix64_next(uint64_t *state);
/* Fisher–Yates over order[0..n) driven by splitmix64(seed). */
void pick_shuffle(size_t *order, size_t n, uint64_t seed);
/* How many items a percentage stands for: ceil(percent% of n), at least 1 when n > 0. */
size_t percent_count(double percent, size_t n);
