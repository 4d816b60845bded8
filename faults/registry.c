#include "faults/registry.h"

#include "common/duration.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct fault_kind packet_loss_kind;
extern const struct fault_kind blackhole_kind;
extern const struct fault_kind packet_duplicate_kind, packet_corrupt_kind;
extern const struct fault_kind host_outage_kind;
extern const struct fault_kind delay_kind, reorder_kind, bandwidth_kind;
extern const struct fault_kind connection_refused_kind;
extern const struct fault_kind link_down_kind, link_flap_kind;
extern const struct fault_kind dns_kind;
extern const struct fault_kind cpu_stress_kind, memory_stress_kind;
extern const struct fault_kind crash_point_kind;
extern const struct fault_kind disk_fill_kind, io_throttle_kind;
extern const struct fault_kind process_kill_kind, process_pause_kind;
extern const struct fault_family dns_family;
extern const struct fault_family packet_family;
extern const struct fault_family process_family;
extern const struct fault_family shape_family;
extern const struct fault_family cgroup_family;
extern const struct fault_family link_family;
extern const struct fault_family stress_family;
extern const struct fault_family crashpoint_family;
extern const struct fault_family disk_family;
extern const struct fault_family freezer_family;
extern const struct fault_kind io_fault_kind;
extern const struct fault_family io_family;

static const struct fault_kind *const kinds[] = {
	&packet_loss_kind,
	&blackhole_kind,
	&packet_duplicate_kind, &packet_corrupt_kind,
	&host_outage_kind,
	&delay_kind, &reorder_kind, &bandwidth_kind,
	&connection_refused_kind,
	&link_down_kind, &link_flap_kind,
	&dns_kind,
	&cpu_stress_kind, &memory_stress_kind,
	&crash_point_kind,
	&disk_fill_kind, &io_throttle_kind,
	&process_kill_kind, &process_pause_kind,
	&io_fault_kind,
	NULL,
};

static const struct fault_family *const families[] = {
	&packet_family,
	&dns_family,
	&process_family,
	&shape_family,
	&cgroup_family,
	&link_family,
	&stress_family,
	&crashpoint_family,
	&disk_family,
	&freezer_family,
	&io_family,
	NULL,
};

const struct fault_kind *const *fault_kinds(void) { return kinds; }
const struct fault_family *const *fault_families(void) { return families; }

const struct fault_kind *fault_kind_find(const char *name)
{
	for (size_t i = 0; name && kinds[i]; i++)
		if (strcmp(kinds[i]->name, name) == 0)
			return kinds[i];
	return NULL;
}

void fault_error_set(struct fault_error *err, const char *key, const char *fmt, ...)
{
	if (!err)
		return;
	snprintf(err->key, sizeof(err->key), "%s", key ? key : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

int fault_spec_alloc(struct json_object *params, size_t size, void **out, struct fault_error *err)
{
	if (params && !json_object_is_type(params, json_type_object)) {
		fault_error_set(err, "", "params must be an object");
		return -EINVAL;
	}
	void *spec = calloc(1, size);
	if (!spec) {
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	*out = spec;
	return 0;
}

int fault_duration_param(struct json_object *v, const char *key, const char *example, uint64_t min_ms,
			 uint64_t max_ms, uint64_t *ms, struct fault_error *err)
{
	const char *text = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	uint64_t value;
	if (!text || duration_parse(text, &value) < 0) {
		fault_error_set(err, key, "must be a duration such as \"%s\" or \"500ms\"", example);
		return -EINVAL;
	}
	if (value < min_ms || value > max_ms) {
		char low[32], high[32];
		fault_error_set(err, key, "must be between %s and %s", duration_format(min_ms, low, sizeof(low)),
				duration_format(max_ms, high, sizeof(high)));
		return -EINVAL;
	}
	*ms = value;
	return 0;
}
