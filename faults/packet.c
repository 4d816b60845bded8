/* The packet family: kinds "packet-loss", "blackhole", "packet-duplicate" and
 * "packet-corrupt" (docs/faults.md): one BPF object, the action set at load. */
#include "faults/packet.h"

#include "common/log.h"

#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>

void packet_backend_describe(const struct fault_env *env, struct json_object *out)
{
	char reason[256];
	enum packet_backend backend;
	if (packet_backend_choose(env ? env->packet_backend : NULL, &backend, reason, sizeof(reason)) == 0)
		json_object_object_add(out, "backend", json_object_new_string(packet_backend_name(backend)));
}

static int parse_into(struct json_object *params, bool blackhole, enum packet_action action, void **spec,
		      struct fault_error *err)
{
	struct packet_spec *s;
	int r = action == PACKET_ACTION_DROP ? packet_spec_parse(params, blackhole, &s, err)
					     : packet_spec_parse_action(params, action, &s, err);
	if (r == 0)
		*spec = s;
	return r;
}

static int packet_loss_parse(struct json_object *params, void **spec, struct fault_error *err)
{
	return parse_into(params, false, PACKET_ACTION_DROP, spec, err);
}

static int blackhole_parse(struct json_object *params, void **spec, struct fault_error *err)
{
	return parse_into(params, true, PACKET_ACTION_DROP, spec, err);
}

static int packet_duplicate_parse(struct json_object *params, void **spec, struct fault_error *err)
{
	return parse_into(params, false, PACKET_ACTION_DUPLICATE, spec, err);
}

static int packet_corrupt_parse(struct json_object *params, void **spec, struct fault_error *err)
{
	return parse_into(params, false, PACKET_ACTION_CORRUPT, spec, err);
}

static void packet_spec_free(void *spec)
{
	free(spec);
}

static struct json_object *packet_spec_json(const void *spec)
{
	return packet_spec_to_json(spec);
}

struct packet_handle {
	enum packet_action action;
	struct packet_bpf *skel;
	struct packet_attach_set *attached;
};

static int handle_free(struct packet_handle *h)
{
	if (!h)
		return 0;
	int r = packet_attach_set_destroy(h->attached);
	if (h->skel)
		packet_prog_destroy(h->skel);
	free(h);
	return r;
}

static int packet_apply(const void *spec_v, const struct fault_env *env, void **handle_out,
			struct json_object *record, struct fault_error *err)
{
	const struct packet_spec *spec = spec_v;
	enum packet_backend backend;
	int r = packet_backend_for_env(env, &backend, err);
	if (r < 0)
		return r;
	struct packet_handle *h = calloc(1, sizeof(*h));
	if (!h) {
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	h->action = spec->action;
	struct fault_error load_err = { .key = "", .msg = "" };
	r = packet_prog_load(spec, env, backend, &h->skel, &load_err);
	if (r < 0) {
		packet_load_error_report(err, &load_err, r);
		handle_free(h);
		return r;
	}
	r = packet_attach_set_create(spec, backend, packet_prog_fd(h->skel, false), packet_prog_fd(h->skel, true),
				     &h->attached, record, err);
	if (r < 0) {
		handle_free(h);
		return r;
	}
	*handle_out = h;
	return 0;
}

static int packet_revert(void *handle)
{
	return handle_free(handle);
}

static int packet_stats(void *handle, struct json_object *out)
{
	struct packet_handle *h = handle;
	struct packet_counters c;
	int r = packet_prog_read_counters(h->skel, &c);
	if (r < 0)
		return r;
	json_object_object_add(out, "packets_matched", json_object_new_int64((int64_t)c.matched));
	if (h->action == PACKET_ACTION_DUPLICATE) {
		json_object_object_add(out, "packets_duplicated", json_object_new_int64((int64_t)c.duplicated));
	} else if (h->action == PACKET_ACTION_CORRUPT) {
		json_object_object_add(out, "packets_corrupted", json_object_new_int64((int64_t)c.corrupted));
		/* Corrupted packets no device would ever checksum (docs/faults.md). */
		json_object_object_add(out, "packets_dropped", json_object_new_int64((int64_t)c.dropped));
	} else {
		json_object_object_add(out, "packets_dropped", json_object_new_int64((int64_t)c.dropped));
	}
	json_object_object_add(out, "backend", json_object_new_string(packet_backend_name(packet_attach_set_backend(h->attached))));
	return 0;
}

static int packet_recover(struct json_object *record, const struct fault_env *env)
{
	(void)env;
	return packet_attach_set_recover(record);
}

static int packet_sweep(const struct fault_env *env)
{
	(void)env;
	int r = packet_tc_sweep();
	return r < 0 ? r : 0;
}

/* The four kinds differ in name, summary and parse() (the action) only. */
#define PACKET_KIND(sym, kname, sum, parse_fn)                                 \
	const struct fault_kind sym = {                                         \
		.name = kname,                                                  \
		.family = "packet",                                             \
		.summary = sum,                                                 \
		.probe = packet_backend_probe,                                  \
		.describe = packet_backend_describe,                            \
		.parse = parse_fn,                                              \
		.spec_free = packet_spec_free,                                  \
		.spec_to_json = packet_spec_json,                               \
		.apply = packet_apply,                                          \
		.revert = packet_revert,                                        \
		.stats = packet_stats,                                          \
		.recover = packet_recover,                                      \
	}

PACKET_KIND(packet_loss_kind, "packet-loss", "drop a random share of matched packets (eBPF on tc: tcx or clsact)",
	    packet_loss_parse);
PACKET_KIND(blackhole_kind, "blackhole", "drop every matched packet (eBPF on tc: tcx or clsact)", blackhole_parse);
PACKET_KIND(packet_duplicate_kind, "packet-duplicate",
	    "send a random share of matched packets twice (eBPF on tc: tcx or clsact)", packet_duplicate_parse);
PACKET_KIND(packet_corrupt_kind, "packet-corrupt",
	    "change payload bytes of a random share of matched packets (eBPF on tc: tcx or clsact)",
	    packet_corrupt_parse);

const struct fault_family packet_family = {
	.name = "packet",
	.sweep = packet_sweep,
};
