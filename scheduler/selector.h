/* Label selectors ("role = web, dc != dc2, rack in [r1, r2]") and the deterministic
 * choice of N hosts among those a selector matches. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/pick.h"

enum selector_op { SEL_EQ, SEL_NE, SEL_IN, SEL_NOTIN };

struct selector_clause {
	char *key;
	enum selector_op op;
	char **values;
	size_t n_values;
};

struct selector {
	bool all;                        /* "*" */
	struct selector_clause *clauses; /* every clause must hold */
	size_t n_clauses;
};

/* A host's labels as parallel key/value arrays. */
struct label_set {
	const char *const *keys;
	const char *const *values;
	size_t count;
};

/* Parses `text`. On failure returns -EINVAL and writes a message naming the column. */
int selector_parse(const char *text, struct selector *out, char *err, size_t err_len);
void selector_free(struct selector *sel);
bool selector_matches(const struct selector *sel, const struct label_set *labels);
/* Canonical text form, for plans and reports. Returns a malloc'd string. */
char *selector_format(const struct selector *sel);


/* Chooses `want` of the `n` candidates: `names` sorted by name, shuffled with a
 * Fisher–Yates driven by splitmix64(seed), first `want` taken. `order` (n entries) is
 * filled with candidate indices; the first `want` are the choice. want > n is -EINVAL. */
int select_hosts(const char *const *names, size_t n, size_t want, uint64_t seed, size_t *order);
