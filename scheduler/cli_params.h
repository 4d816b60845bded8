/* Building fault params from `--param key=value` arguments: values are typed the way
 * the kind's parse() expects, learned by retrying after each complaint. */
#pragma once
#include <json-c/json.h>
#include <stddef.h>

#include "faults/fault.h"

/* `base` (may be NULL) is the --params-json object; `assignments` are "key=value"
 * strings (keys may be dotted: match.dst=10.0.0.0/8). On success *out is the params
 * object that kind->parse accepted. On failure returns -EINVAL with err filled. */
int cli_params_build(const struct fault_kind *kind, struct json_object *base, char *const *assignments,
		     size_t n, struct json_object **out, struct fault_error *err);
