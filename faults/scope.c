/* Per-service scope (faults/scope.h). */
#include "faults/scope.h"

#include <errno.h>

int scope_parse(struct json_object *v, struct packet_scope *out, struct fault_error *err)
{
	(void)v;
	(void)out;
	fault_error_set(err, "scope", "per-service scope is not available in this build");
	return -EOPNOTSUPP;
}

struct json_object *scope_to_json(const struct packet_scope *s)
{
	(void)s;
	return json_object_new_object();
}

int scope_resolve(const struct packet_scope *s, uint64_t *cgroup_id, uint32_t *level, struct fault_error *err)
{
	(void)s;
	(void)err;
	*cgroup_id = 0;
	*level = 0;
	return 0;
}
