#include "tests/agent/fake_kind.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fake_counters fake;

void fake_reset(void) { memset(&fake, 0, sizeof(fake)); }

struct fake_spec { int level; };

/* Not fault_error_set(): that lives in faults/registry.c, which unit tests do not link. */
static void set_error(struct fault_error *err, const char *key, const char *msg)
{
	snprintf(err->key, sizeof(err->key), "%s", key);
	snprintf(err->msg, sizeof(err->msg), "%s", msg);
}
struct fake_handle { int level; };

static int fake_probe(char *reason, size_t len)
{
	if (fake.fail_probe) {
		snprintf(reason, len, "fake kernel lacks it");
		return fake.fail_probe;
	}
	return 0;
}

/* params: {"level": integer 1..10} (default 1); anything else is an error. */
static int fake_parse(struct json_object *params, void **out, struct fault_error *err)
{
	struct fake_spec *s = calloc(1, sizeof(*s));
	s->level = 1;
	if (params) {
		json_object_object_foreach(params, key, val) {
			if (strcmp(key, "level") != 0) {
				set_error(err, key, "unknown parameter");
				free(s);
				return -EINVAL;
			}
			if (!json_object_is_type(val, json_type_int) || json_object_get_int(val) < 1 ||
			    json_object_get_int(val) > 10) {
				set_error(err, "level", "must be an integer 1..10");
				free(s);
				return -EINVAL;
			}
			s->level = json_object_get_int(val);
		}
	}
	*out = s;
	return 0;
}

static void fake_spec_free(void *spec) { free(spec); }

static struct json_object *fake_spec_to_json(const void *spec)
{
	const struct fake_spec *s = spec;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "level", json_object_new_int(s->level));
	return o;
}

static int fake_apply(const void *spec, const struct fault_env *env, void **handle, struct json_object *record,
		      struct fault_error *err)
{
	if (fake.fail_apply) {
		int r = fake.fail_apply;
		fake.fail_apply = 0;
		set_error(err, "", "fake apply failure");
		return r;
	}
	struct fake_handle *h = calloc(1, sizeof(*h));
	h->level = ((const struct fake_spec *)spec)->level;
	json_object_object_add(record, "fake_object", json_object_new_string(env->fault_id));
	fake.applied++;
	*handle = h;
	return 0;
}

static int fake_revert(void *handle)
{
	free(handle);
	fake.reverted++;
	return 0;
}

static int fake_stats(void *handle, struct json_object *out)
{
	const struct fake_handle *h = handle;
	json_object_object_add(out, "ticks", json_object_new_int(h->level * 10));
	return 0;
}

static int fake_recover(struct json_object *record, const struct fault_env *env)
{
	(void)record;
	snprintf(fake.last_recover_id, sizeof(fake.last_recover_id), "%s", env->fault_id);
	fake.recovered++;
	return 0;
}

static int fake_sweep(const struct fault_env *env)
{
	(void)env;
	fake.swept++;
	return 0;
}

const struct fault_kind fake_kind = {
	.name = "fake", .family = "fake", .summary = "test kind",
	.probe = fake_probe, .parse = fake_parse, .spec_free = fake_spec_free, .spec_to_json = fake_spec_to_json,
	.apply = fake_apply, .revert = fake_revert, .stats = fake_stats, .recover = fake_recover,
};
const struct fault_family fake_family = { .name = "fake", .sweep = fake_sweep };
