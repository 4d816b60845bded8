#include "scheduler/cli_params.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum shape { AS_TYPED, AS_STRING, AS_LIST_TYPED, AS_LIST_STRING };

struct assignment {
	char *key;
	char *value;
	enum shape shape;
};

static struct json_object *scalar(const char *text, bool typed)
{
	if (typed) {
		if (strcmp(text, "true") == 0)
			return json_object_new_boolean(1);
		if (strcmp(text, "false") == 0)
			return json_object_new_boolean(0);
		char *end;
		long long i = strtoll(text, &end, 10);
		if (*text && !*end)
			return json_object_new_int64(i);
		double d = strtod(text, &end);
		if (*text && !*end)
			return json_object_new_double_s(d, text); /* keeps "0.3" as written */
	}
	return json_object_new_string(text);
}

static struct json_object *value_for(const struct assignment *a)
{
	bool list = a->shape == AS_LIST_TYPED || a->shape == AS_LIST_STRING ||
		    (a->shape == AS_TYPED && strchr(a->value, ','));
	bool typed = a->shape == AS_TYPED || a->shape == AS_LIST_TYPED;
	if (!list)
		return scalar(a->value, typed);
	struct json_object *arr = json_object_new_array();
	char *copy = strdup(a->value);
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		json_object_array_add(arr, scalar(tok, typed));
	}
	free(copy);
	return arr;
}

/* Sets obj[a][b][c] for key "a.b.c", creating the intermediate objects. */
static int set_path(struct json_object *root, const char *key, struct json_object *value)
{
	char *copy = strdup(key);
	if (!copy) {
		json_object_put(value);
		return -ENOMEM;
	}
	struct json_object *cur = root;
	char *part = copy;
	for (;;) {
		char *dot = strchr(part, '.');
		if (!dot)
			break;
		*dot = '\0';
		struct json_object *next = NULL;
		if (!json_object_object_get_ex(cur, part, &next) || !json_object_is_type(next, json_type_object)) {
			next = json_object_new_object();
			json_object_object_add(cur, part, next);
		}
		cur = next;
		part = dot + 1;
	}
	json_object_object_add(cur, part, value);
	free(copy);
	return 0;
}

/* "match.dst[2]" names the assignment "match.dst". */
static struct assignment *assignment_for(struct assignment *as, size_t n, const char *err_key)
{
	size_t len = strcspn(err_key, "[");
	for (size_t i = 0; i < n; i++)
		if (strlen(as[i].key) == len && strncmp(as[i].key, err_key, len) == 0)
			return &as[i];
	return NULL;
}

int cli_params_build(const struct fault_kind *kind, struct json_object *base, char *const *assignments,
		     size_t n, struct json_object **out, struct fault_error *err)
{
	struct assignment *as = calloc(n + 1, sizeof(*as));
	if (!as)
		return -ENOMEM;
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(assignments[i], '=');
		if (!eq || eq == assignments[i]) {
			fault_error_set(err, "", "--param %s: expected KEY=VALUE", assignments[i]);
			r = -EINVAL;
			goto out;
		}
		as[i].key = strndup(assignments[i], (size_t)(eq - assignments[i]));
		as[i].value = strdup(eq + 1);
	}
	/* Each round builds the params and asks the kind; a complaint about a key we
	 * typed ourselves moves that key one step along typed -> string -> list. */
	for (int round = 0; round < 16; round++) {
		struct json_object *params = base ? NULL : json_object_new_object();
		if (base && json_object_deep_copy(base, &params, NULL) != 0) {
			r = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			set_path(params, as[i].key, value_for(&as[i]));
		void *spec = NULL;
		struct fault_error e = { 0 };
		r = kind->parse(params, &spec, &e);
		if (r == 0) {
			if (kind->spec_free)
				kind->spec_free(spec);
			*out = params;
			goto out;
		}
		json_object_put(params);
		struct assignment *a = e.key[0] ? assignment_for(as, n, e.key) : NULL;
		if (!a || a->shape == AS_LIST_STRING) {
			*err = e;
			r = -EINVAL;
			goto out;
		}
		a->shape++;
	}
	fault_error_set(err, "", "the params could not be typed");
	r = -EINVAL;
out:
	for (size_t i = 0; i < n; i++) {
		free(as[i].key);
		free(as[i].value);
	}
	free(as);
	return r;
}
