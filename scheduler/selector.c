#include "scheduler/selector.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cursor {
	const char *text;
	size_t pos;
	char *err;
	size_t err_len;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct cursor *c, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->err_len, "selector \"%s\", column %zu: %s", c->text, c->pos + 1, msg);
	return -EINVAL;
}

static void skip_space(struct cursor *c)
{
	while (isspace((unsigned char)c->text[c->pos]))
		c->pos++;
}

static bool is_word_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_' || ch == '-' || ch == '.' || ch == '/' ||
	       ch == ':' || ch == '*';
}

/* A bare word or a quoted string ("..." or '...', backslash escapes the next char). */
static int read_token(struct cursor *c, const char *what, char **out)
{
	skip_space(c);
	char ch = c->text[c->pos];
	if (ch == '"' || ch == '\'') {
		char quote = ch;
		size_t start = ++c->pos;
		char *buf = malloc(strlen(c->text) + 1);
		if (!buf)
			return -ENOMEM;
		size_t n = 0;
		while (c->text[c->pos] && c->text[c->pos] != quote) {
			if (c->text[c->pos] == '\\' && c->text[c->pos + 1])
				c->pos++;
			buf[n++] = c->text[c->pos++];
		}
		if (c->text[c->pos] != quote) {
			free(buf);
			c->pos = start - 1;
			return fail(c, "unterminated quote in %s", what);
		}
		c->pos++;
		buf[n] = '\0';
		*out = buf;
		return 0;
	}
	size_t start = c->pos;
	while (is_word_char(c->text[c->pos]))
		c->pos++;
	if (c->pos == start)
		return ch ? fail(c, "expected %s, found '%c'", what, ch) : fail(c, "expected %s", what);
	*out = strndup(c->text + start, c->pos - start);
	return *out ? 0 : -ENOMEM;
}

static int push_value(struct selector_clause *cl, char *value)
{
	char **values = realloc(cl->values, (cl->n_values + 1) * sizeof(*values));
	if (!values) {
		free(value);
		return -ENOMEM;
	}
	cl->values = values;
	cl->values[cl->n_values++] = value;
	return 0;
}

static void clause_free(struct selector_clause *cl)
{
	free(cl->key);
	for (size_t i = 0; i < cl->n_values; i++)
		free(cl->values[i]);
	free(cl->values);
}

static int read_list(struct cursor *c, struct selector_clause *cl)
{
	skip_space(c);
	if (c->text[c->pos] != '[')
		return fail(c, "expected '[' after '%s'", cl->op == SEL_IN ? "in" : "notin");
	c->pos++;
	skip_space(c);
	if (c->text[c->pos] == ']')
		return fail(c, "empty list");
	for (;;) {
		char *value;
		int r = read_token(c, "a value", &value);
		if (r)
			return r;
		r = push_value(cl, value);
		if (r)
			return r;
		skip_space(c);
		if (c->text[c->pos] == ',') {
			c->pos++;
			continue;
		}
		if (c->text[c->pos] == ']') {
			c->pos++;
			return 0;
		}
		return c->text[c->pos] ? fail(c, "expected ',' or ']' in list") : fail(c, "missing ']'");
	}
}

static int read_clause(struct cursor *c, struct selector_clause *cl)
{
	int r = read_token(c, "a label name", &cl->key);
	if (r)
		return r;
	skip_space(c);
	const char *p = c->text + c->pos;
	if (strncmp(p, "!=", 2) == 0) {
		cl->op = SEL_NE;
		c->pos += 2;
	} else if (strncmp(p, "==", 2) == 0) {
		cl->op = SEL_EQ;
		c->pos += 2;
	} else if (*p == '=') {
		cl->op = SEL_EQ;
		c->pos += 1;
	} else if (strncmp(p, "notin", 5) == 0 && !is_word_char(p[5])) {
		cl->op = SEL_NOTIN;
		c->pos += 5;
	} else if (strncmp(p, "in", 2) == 0 && !is_word_char(p[2])) {
		cl->op = SEL_IN;
		c->pos += 2;
	} else {
		return fail(c, "expected '=', '!=', 'in' or 'notin' after label '%s'", cl->key);
	}
	if (cl->op == SEL_IN || cl->op == SEL_NOTIN)
		return read_list(c, cl);
	char *value;
	r = read_token(c, "a value", &value);
	if (r)
		return r;
	return push_value(cl, value);
}

int selector_parse(const char *text, struct selector *out, char *err, size_t err_len)
{
	struct cursor c = { .text = text ? text : "", .err = err, .err_len = err_len };
	struct selector sel = { 0 };
	int r = 0;

	skip_space(&c);
	if (c.text[c.pos] == '*') {
		c.pos++;
		skip_space(&c);
		if (c.text[c.pos])
			return fail(&c, "nothing may follow '*'");
		sel.all = true;
		*out = sel;
		return 0;
	}
	if (!c.text[c.pos])
		return fail(&c, "empty selector (write \"*\" to select every host)");
	for (;;) {
		struct selector_clause cl = { 0 };
		r = read_clause(&c, &cl);
		if (r) {
			clause_free(&cl);
			goto fail;
		}
		struct selector_clause *grown = realloc(sel.clauses, (sel.n_clauses + 1) * sizeof(*grown));
		if (!grown) {
			clause_free(&cl);
			r = -ENOMEM;
			goto fail;
		}
		sel.clauses = grown;
		sel.clauses[sel.n_clauses++] = cl;
		skip_space(&c);
		if (!c.text[c.pos])
			break;
		if (c.text[c.pos] != ',') {
			r = fail(&c, "expected ',' between clauses, found '%c'", c.text[c.pos]);
			goto fail;
		}
		c.pos++;
	}
	*out = sel;
	return 0;
fail:
	selector_free(&sel);
	return r;
}

void selector_free(struct selector *sel)
{
	for (size_t i = 0; i < sel->n_clauses; i++)
		clause_free(&sel->clauses[i]);
	free(sel->clauses);
	memset(sel, 0, sizeof(*sel));
}

static const char *label_get(const struct label_set *labels, const char *key)
{
	for (size_t i = 0; i < labels->count; i++)
		if (strcmp(labels->keys[i], key) == 0)
			return labels->values[i];
	return NULL;
}

static bool value_in(const struct selector_clause *cl, const char *value)
{
	for (size_t i = 0; value && i < cl->n_values; i++)
		if (strcmp(cl->values[i], value) == 0)
			return true;
	return false;
}

bool selector_matches(const struct selector *sel, const struct label_set *labels)
{
	if (sel->all)
		return true;
	for (size_t i = 0; i < sel->n_clauses; i++) {
		const struct selector_clause *cl = &sel->clauses[i];
		/* A host without the label is "not equal" and "not in": it lacks the value. */
		bool in = value_in(cl, label_get(labels, cl->key));
		bool holds = (cl->op == SEL_EQ || cl->op == SEL_IN) ? in : !in;
		if (!holds)
			return false;
	}
	return true;
}

static bool needs_quotes(const char *s)
{
	if (!*s)
		return true;
	for (; *s; s++)
		if (!is_word_char(*s) || *s == '*')
			return true;
	return false;
}

static void append(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);
	if (!*buf)
		return;
	if (*len + n + 1 > *cap) {
		size_t cap2 = (*len + n + 1) * 2;
		char *grown = realloc(*buf, cap2);
		if (!grown) {
			free(*buf);
			*buf = NULL;
			return;
		}
		*buf = grown;
		*cap = cap2;
	}
	memcpy(*buf + *len, s, n + 1);
	*len += n;
}

static void append_value(char **buf, size_t *len, size_t *cap, const char *v)
{
	if (!needs_quotes(v)) {
		append(buf, len, cap, v);
		return;
	}
	append(buf, len, cap, "\"");
	for (const char *p = v; *p; p++) {
		char one[3] = { 0 };
		if (*p == '"' || *p == '\\') {
			one[0] = '\\';
			one[1] = *p;
		} else {
			one[0] = *p;
		}
		append(buf, len, cap, one);
	}
	append(buf, len, cap, "\"");
}

char *selector_format(const struct selector *sel)
{
	size_t len = 0, cap = 64;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	buf[0] = '\0';
	if (sel->all) {
		append(&buf, &len, &cap, "*");
		return buf;
	}
	static const char *const ops[] = { " = ", " != ", " in ", " notin " };
	for (size_t i = 0; i < sel->n_clauses; i++) {
		const struct selector_clause *cl = &sel->clauses[i];
		if (i)
			append(&buf, &len, &cap, ", ");
		append_value(&buf, &len, &cap, cl->key);
		append(&buf, &len, &cap, ops[cl->op]);
		bool list = cl->op == SEL_IN || cl->op == SEL_NOTIN;
		if (list)
			append(&buf, &len, &cap, "[");
		for (size_t j = 0; j < cl->n_values; j++) {
			if (j)
				append(&buf, &len, &cap, ", ");
			append_value(&buf, &len, &cap, cl->values[j]);
		}
		if (list)
			append(&buf, &len, &cap, "]");
	}
	return buf;
}

int select_hosts(const char *const *names, size_t n, size_t want, uint64_t seed, size_t *order)
{
	if (want > n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	/* insertion sort by name: the shuffle must not depend on inventory order */
	for (size_t i = 1; i < n; i++) {
		size_t v = order[i], j = i;
		while (j > 0 && strcmp(names[order[j - 1]], names[v]) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = v;
	}
	pick_shuffle(order, n, seed);
	return 0;
}
