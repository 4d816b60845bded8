#include "scheduler/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void diags_vadd(struct diags *d, const char *file, int line, const char *fmt, va_list ap)
{
	if (d->count == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct diag *items = realloc(d->items, cap * sizeof(*items));
		if (!items)
			return; /* out of memory: the problem is lost, validation still fails elsewhere */
		d->items = items;
		d->cap = cap;
	}
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	struct diag *it = &d->items[d->count++];
	it->file = file ? strdup(file) : NULL;
	it->line = line;
	it->msg = msg;
}

void diags_add(struct diags *d, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diags_vadd(d, file, line, fmt, ap);
	va_end(ap);
}

void diags_at(struct diags *d, const config_setting_t *where, const char *fallback_file,
	      const char *fmt, ...)
{
	const char *file = where ? config_setting_source_file(where) : NULL;
	int line = where ? (int)config_setting_source_line(where) : 0;
	va_list ap;
	va_start(ap, fmt);
	diags_vadd(d, file ? file : fallback_file, line, fmt, ap);
	va_end(ap);
}

void diags_print(FILE *out, const struct diags *d)
{
	for (size_t i = 0; i < d->count; i++) {
		const struct diag *it = &d->items[i];
		if (it->file && it->line > 0)
			fprintf(out, "%s:%d: %s\n", it->file, it->line, it->msg);
		else if (it->file)
			fprintf(out, "%s: %s\n", it->file, it->msg);
		else
			fprintf(out, "%s\n", it->msg);
	}
}

static int diag_cmp(const void *a, const void *b)
{
	const struct diag *x = a, *y = b;
	int c = strcmp(x->file ? x->file : "", y->file ? y->file : "");
	if (c)
		return c;
	return (x->line > y->line) - (x->line < y->line);
}

void diags_sort(struct diags *d)
{
	/* insertion sort: stable, and lists are short */
	for (size_t i = 1; i < d->count; i++) {
		struct diag tmp = d->items[i];
		size_t j = i;
		while (j > 0 && diag_cmp(&d->items[j - 1], &tmp) > 0) {
			d->items[j] = d->items[j - 1];
			j--;
		}
		d->items[j] = tmp;
	}
}

void diags_free(struct diags *d)
{
	for (size_t i = 0; i < d->count; i++) {
		free(d->items[i].file);
		free(d->items[i].msg);
	}
	free(d->items);
	memset(d, 0, sizeof(*d));
}
