/* A list of problems found in input files, each with the file and line it lies on,
 * so `chaos validate` can report every problem at once instead of the first. */
#pragma once
#include <libconfig.h>
#include <stddef.h>
#include <stdio.h>

struct diag {
	char *file;   /* may be NULL when the problem is not in a file (command line) */
	int line;     /* 0 when unknown */
	char *msg;
};

struct diags {
	struct diag *items;
	size_t count, cap;
};

__attribute__((format(printf, 4, 5)))
void diags_add(struct diags *d, const char *file, int line, const char *fmt, ...);
/* Reports a problem at the file:line libconfig recorded for `where`; `fallback_file`
 * is used when libconfig knows no file for it (settings built in memory). */
__attribute__((format(printf, 4, 5)))
void diags_at(struct diags *d, const config_setting_t *where, const char *fallback_file,
	      const char *fmt, ...);
void diags_print(FILE *out, const struct diags *d);
void diags_free(struct diags *d);
/* Orders by file then line, keeping the discovery order for equal positions. */
void diags_sort(struct diags *d);
