/* The packet family: kinds "packet-loss" and "blackhole" (docs/faults.md). */
#include "faults/packet.h"

#include "common/log.h"

#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>
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

struct packet_attachment {
	int ifindex;
	char ifname[IF_NAMESIZE];
	bool egress;
	int link_fd;            /* tcx: the link; -1 otherwise */
	bool created_clsact;    /* clsact: this attachment's ensure() created the qdisc */
};

struct packet_handle {
	struct packet_bpf *skel;
	enum packet_backend backend;
	uint32_t tc_handle;     /* clsact: the filter handle used on every hook */
	int n;
	struct packet_attachment *att;
};

struct target_if {
	int ifindex;
	char name[IF_NAMESIZE];
};

/* The spec's interfaces, or every interface of the namespace but loopback. */
static int resolve_interfaces(const struct packet_spec *spec, struct target_if **out, int *n_out,
			      struct fault_error *err)
{
	struct target_if *t = NULL;
	int n = 0;
	if (spec->n_interfaces > 0) {
		t = calloc((size_t)spec->n_interfaces, sizeof(*t));
		if (!t)
			return -ENOMEM;
		for (int i = 0; i < spec->n_interfaces; i++) {
			unsigned idx = if_nametoindex(spec->interfaces[i]);
			if (idx == 0) {
				char key[32];
				snprintf(key, sizeof(key), "interfaces[%d]", i);
				fault_error_set(err, key, "no interface \"%s\" on this host", spec->interfaces[i]);
				free(t);
				return -ENODEV;
			}
			t[n].ifindex = (int)idx;
			snprintf(t[n].name, IF_NAMESIZE, "%s", spec->interfaces[i]);
			n++;
		}
	} else {
		struct if_nameindex *ifs = if_nameindex();
		if (!ifs) {
			int r = -errno;
			fault_error_set(err, "interfaces", "cannot list interfaces: %s", strerror(-r));
			return r;
		}
		size_t count = 0;
		for (struct if_nameindex *i = ifs; i->if_index; i++)
			count++;
		t = calloc(count ? count : 1, sizeof(*t));
		if (!t) {
			if_freenameindex(ifs);
			return -ENOMEM;
		}
		for (struct if_nameindex *i = ifs; i->if_index; i++) {
			if (strcmp(i->if_name, "lo") == 0)
				continue;
			t[n].ifindex = (int)i->if_index;
			snprintf(t[n].name, IF_NAMESIZE, "%s", i->if_name);
			n++;
		}
		if_freenameindex(ifs);
		if (n == 0) {
			free(t);
			fault_error_set(err, "interfaces", "this host has no interface but lo");
			return -ENODEV;
		}
	}
	*out = t;
	*n_out = n;
	return 0;
}

/* Returns the first error; removes as much as it can in every case. */
static int detach_all(struct packet_handle *h)
{
	int first_err = 0;
	for (int i = h->n - 1; i >= 0; i--) {
		struct packet_attachment *a = &h->att[i];
		if (h->backend == PACKET_BACKEND_TCX) {
			if (a->link_fd >= 0)
				close(a->link_fd);
			a->link_fd = -1;
		} else {
			int r = packet_clsact_detach(a->ifindex, a->egress, h->tc_handle);
			if (r < 0) {
				log_warn("packet: removing filter %x from %s: %s", h->tc_handle, a->ifname, strerror(-r));
				if (!first_err)
					first_err = r;
			}
		}
	}
	if (h->backend == PACKET_BACKEND_CLSACT) {
		/* Also when this fault did not create the qdisc: the fault that did may
		 * have left before us and handed the removal on. */
		for (int i = 0; i < h->n; i++)
			if (i == 0 || h->att[i].ifindex != h->att[i - 1].ifindex)
				packet_clsact_release(h->att[i].ifindex, h->att[i].created_clsact);
		packet_tc_handle_free(h->tc_handle);
	}
	h->n = 0;
	return first_err;
}

static int handle_free(struct packet_handle *h)
{
	if (!h)
		return 0;
	int r = detach_all(h);
	if (h->skel)
		packet_prog_destroy(h->skel);
	free(h->att);
	free(h);
	return r;
}

static void fill_record(const struct packet_handle *h, struct json_object *record)
{
	if (!record)
		return;
	json_object_object_add(record, "backend", json_object_new_string(packet_backend_name(h->backend)));
	if (h->backend == PACKET_BACKEND_CLSACT) {
		json_object_object_add(record, "priority", json_object_new_int(PACKET_TC_PRIORITY));
		json_object_object_add(record, "handle", json_object_new_int64(h->tc_handle));
	}
	struct json_object *arr = json_object_new_array();
	for (int i = 0; arr && i < h->n; i++) {
		const struct packet_attachment *a = &h->att[i];
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "ifindex", json_object_new_int(a->ifindex));
		json_object_object_add(o, "ifname", json_object_new_string(a->ifname));
		json_object_object_add(o, "hook", json_object_new_string(a->egress ? "egress" : "ingress"));
		if (h->backend == PACKET_BACKEND_CLSACT)
			json_object_object_add(o, "created_clsact", json_object_new_boolean(a->created_clsact));
		json_object_array_add(arr, o);
	}
	json_object_object_add(record, "attachments", arr);
}

static int attach_one(struct packet_handle *h, const struct target_if *t, bool egress, bool *clsact_checked,
		      struct fault_error *err)
{
	struct packet_attachment *a = &h->att[h->n];
	memset(a, 0, sizeof(*a));
	a->ifindex = t->ifindex;
	a->egress = egress;
	a->link_fd = -1;
	snprintf(a->ifname, sizeof(a->ifname), "%s", t->name);
	int prog_fd = packet_prog_fd(h->skel, egress);
	int r;
	if (h->backend == PACKET_BACKEND_TCX) {
		r = packet_tcx_attach(prog_fd, t->ifindex, egress);
		if (r >= 0) {
			a->link_fd = r;
			r = 0;
		}
	} else {
		if (!*clsact_checked) {
			r = packet_clsact_ensure(t->ifindex, &a->created_clsact);
			if (r < 0) {
				fault_error_set(err, "interfaces", "cannot add clsact to %s: %s", t->name, strerror(-r));
				return r;
			}
			*clsact_checked = true;
		}
		r = packet_clsact_attach(prog_fd, t->ifindex, egress, h->tc_handle);
		if (r < 0 && a->created_clsact) {
			/* Counted as an attachment so detach_all() releases the qdisc. */
			h->n++;
			packet_clsact_detach(t->ifindex, egress, h->tc_handle);
		}
	}
	if (r < 0) {
		fault_error_set(err, "interfaces", "cannot attach to %s %s (%s): %s", t->name,
				egress ? "egress" : "ingress", packet_backend_name(h->backend), strerror(-r));
		return r;
	}
	h->n++;
	return 0;
}

static int packet_apply(const void *spec_v, const struct fault_env *env, void **handle_out,
			struct json_object *record, struct fault_error *err)
{
	const struct packet_spec *spec = spec_v;
	char reason[256];
	enum packet_backend backend;
	int r = packet_backend_choose(env ? env->packet_backend : NULL, &backend, reason, sizeof(reason));
	if (r < 0) {
		fault_error_set(err, "", "%s", reason);
		return r;
	}
	struct target_if *targets = NULL;
	int n_targets = 0;
	r = resolve_interfaces(spec, &targets, &n_targets, err);
	if (r < 0)
		return r;

	struct packet_handle *h = calloc(1, sizeof(*h));
	if (h)
		h->att = calloc((size_t)n_targets * 2, sizeof(*h->att));
	if (!h || !h->att) {
		free(h);
		free(targets);
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	h->backend = backend;
	if (backend == PACKET_BACKEND_CLSACT && (r = packet_tc_handle_alloc(&h->tc_handle)) < 0) {
		fault_error_set(err, "", "too many packet faults on this host");
		goto fail;
	}
	struct fault_error load_err = { .key = "", .msg = "" };
	r = packet_prog_load(spec, env, backend, &h->skel, &load_err);
	if (r < 0) {
		if (load_err.msg[0])
			fault_error_set(err, load_err.key, "%s", load_err.msg);
		else
			fault_error_set(err, "", "cannot load the BPF program: %s", strerror(-r));
		goto fail;
	}
	for (int i = 0; i < n_targets; i++) {
		bool clsact_checked = false;
		if (spec->direction & PACKET_DIR_INGRESS) {
			r = attach_one(h, &targets[i], false, &clsact_checked, err);
			if (r < 0)
				goto fail;
		}
		if (spec->direction & PACKET_DIR_EGRESS) {
			r = attach_one(h, &targets[i], true, &clsact_checked, err);
			if (r < 0)
				goto fail;
		}
	}
	free(targets);
	fill_record(h, record);
	*handle_out = h;
	return 0;
fail:
	free(targets);
	handle_free(h);
	return r;
}

static int packet_revert(void *handle)
{
	return handle_free(handle);
}

static int packet_stats(void *handle, struct json_object *out)
{
	struct packet_handle *h = handle;
	uint64_t matched, dropped;
	int r = packet_prog_counters(h->skel, &matched, &dropped);
	if (r < 0)
		return r;
	json_object_object_add(out, "packets_matched", json_object_new_int64((int64_t)matched));
	json_object_object_add(out, "packets_dropped", json_object_new_int64((int64_t)dropped));
	json_object_object_add(out, "backend", json_object_new_string(packet_backend_name(h->backend)));
	return 0;
}

/* tcx links died with the process that held them; cls_bpf filters did not. */
static int packet_recover(struct json_object *record, const struct fault_env *env)
{
	(void)env;
	struct json_object *v;
	if (!record || !json_object_object_get_ex(record, "backend", &v) ||
	    strcmp(json_object_get_string(v), "clsact") != 0)
		return 0;
	if (!json_object_object_get_ex(record, "handle", &v))
		return 0;
	int64_t handle = json_object_get_int64(v);
	if (handle < PACKET_TC_HANDLE_BASE || handle >= PACKET_TC_HANDLE_BASE + PACKET_TC_HANDLE_SLOTS)
		return -EINVAL;
	struct json_object *arr;
	if (!json_object_object_get_ex(record, "attachments", &arr) || !json_object_is_type(arr, json_type_array))
		return 0;
	int first_err = 0;
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(arr, i), *f;
		if (!json_object_object_get_ex(a, "ifindex", &f))
			continue;
		int ifindex = json_object_get_int(f);
		bool egress = json_object_object_get_ex(a, "hook", &f) && strcmp(json_object_get_string(f), "egress") == 0;
		int r = packet_clsact_detach(ifindex, egress, (uint32_t)handle);
		if (r < 0 && !first_err)
			first_err = r;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(arr, i), *f;
		if (json_object_object_get_ex(a, "created_clsact", &f) && json_object_get_boolean(f) &&
		    json_object_object_get_ex(a, "ifindex", &f))
			packet_clsact_release(json_object_get_int(f), true);
	}
	return first_err;
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
