/* The packet family: kinds "packet-loss" and "blackhole" (docs/faults.md). */
#include "faults/packet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static int packet_probe(char *reason, size_t len)
{
	enum packet_backend backend;
	return packet_backend_choose("auto", &backend, reason, len);
}

static int packet_loss_parse(struct json_object *params, void **spec, struct fault_error *err)
{
	struct packet_spec *s;
	int r = packet_spec_parse(params, false, &s, err);
	if (r == 0)
		*spec = s;
	return r;
}

static int blackhole_parse(struct json_object *params, void **spec, struct fault_error *err)
{
	struct packet_spec *s;
	int r = packet_spec_parse(params, true, &s, err);
	if (r == 0)
		*spec = s;
	return r;
}

static void packet_spec_free(void *spec)
{
	free(spec);
}

static struct json_object *packet_spec_json(const void *spec)
{
	return packet_spec_to_json(spec);
}

static int packet_apply(const void *spec, const struct fault_env *env, void **handle,
			struct json_object *record, struct fault_error *err)
{
	(void)spec; (void)env; (void)handle; (void)record;
	fault_error_set(err, "", "not implemented yet");
	return -ENOTSUP;
}

static int packet_revert(void *handle)
{
	(void)handle;
	return 0;
}

static int packet_stats(void *handle, struct json_object *out)
{
	(void)handle; (void)out;
	return -ENOTSUP;
}

static int packet_recover(struct json_object *record, const struct fault_env *env)
{
	(void)record; (void)env;
	return 0;
}

static int packet_sweep(const struct fault_env *env)
{
	(void)env;
	int r = packet_tc_sweep();
	return r < 0 ? r : 0;
}

const struct fault_kind packet_loss_kind = {
	.name = "packet-loss",
	.family = "packet",
	.summary = "drop a random share of matched packets (eBPF on tc: tcx or clsact)",
	.probe = packet_probe,
	.parse = packet_loss_parse,
	.spec_free = packet_spec_free,
	.spec_to_json = packet_spec_json,
	.apply = packet_apply,
	.revert = packet_revert,
	.stats = packet_stats,
	.recover = packet_recover,
};

const struct fault_kind blackhole_kind = {
	.name = "blackhole",
	.family = "packet",
	.summary = "drop every matched packet (eBPF on tc: tcx or clsact)",
	.probe = packet_probe,
	.parse = blackhole_parse,
	.spec_free = packet_spec_free,
	.spec_to_json = packet_spec_json,
	.apply = packet_apply,
	.revert = packet_revert,
	.stats = packet_stats,
	.recover = packet_recover,
};

const struct fault_family packet_family = {
	.name = "packet",
	.sweep = packet_sweep,
};
