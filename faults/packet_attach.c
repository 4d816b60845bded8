/* tc attachments of one fault's program pair on its interfaces, with either
 * backend, journaled so that a crash is recoverable (faults/packet.h). */
#include "faults/packet.h"

#include "common/log.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct packet_attachment {
	int ifindex;
	char ifname[IF_NAMESIZE];
	bool egress;
	int link_fd;            /* tcx: the link; -1 otherwise */
	bool created_clsact;    /* clsact: this attachment's ensure() created the qdisc */
};

struct packet_attach_set {
	enum packet_backend backend;
	int ingress_fd, egress_fd;
	uint32_t tc_handle;     /* clsact: the filter handle used on every hook */
	int n;
	struct packet_attachment *att;
};

/* The spec's interfaces, or every interface of the namespace but loopback. */
int packet_resolve_interfaces(const struct packet_spec *spec, struct packet_target **out, int *n_out,
			      struct fault_error *err)
{
	struct packet_target *t = NULL;
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
static int detach_all(struct packet_attach_set *h)
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

static void fill_record(const struct packet_attach_set *h, struct json_object *record)
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

static int attach_one(struct packet_attach_set *h, const struct packet_target *t, bool egress, bool *clsact_checked,
		      struct fault_error *err)
{
	struct packet_attachment *a = &h->att[h->n];
	memset(a, 0, sizeof(*a));
	a->ifindex = t->ifindex;
	a->egress = egress;
	a->link_fd = -1;
	snprintf(a->ifname, sizeof(a->ifname), "%s", t->name);
	int prog_fd = egress ? h->egress_fd : h->ingress_fd;
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



int packet_attach_set_destroy(struct packet_attach_set *s)
{
	if (!s)
		return 0;
	int r = detach_all(s);
	free(s->att);
	free(s);
	return r;
}

int packet_attach_set_create(const struct packet_spec *spec, enum packet_backend backend, int ingress_fd,
			     int egress_fd, struct packet_attach_set **out, struct json_object *record,
			     struct fault_error *err)
{
	struct packet_target *targets = NULL;
	int n_targets = 0;
	int r = packet_resolve_interfaces(spec, &targets, &n_targets, err);
	if (r < 0)
		return r;
	struct packet_attach_set *h = calloc(1, sizeof(*h));
	if (h)
		h->att = calloc((size_t)n_targets * 2, sizeof(*h->att));
	if (!h || !h->att) {
		free(h);
		free(targets);
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	h->backend = backend;
	h->ingress_fd = ingress_fd;
	h->egress_fd = egress_fd;
	if (backend == PACKET_BACKEND_CLSACT && (r = packet_tc_handle_alloc(&h->tc_handle)) < 0) {
		fault_error_set(err, "", "too many tc faults on this host");
		free(h->att);
		free(h);
		free(targets);
		return r;
	}
	for (int i = 0; i < n_targets && r == 0; i++) {
		bool clsact_checked = false;
		if (spec->direction & PACKET_DIR_INGRESS)
			r = attach_one(h, &targets[i], false, &clsact_checked, err);
		if (r == 0 && (spec->direction & PACKET_DIR_EGRESS))
			r = attach_one(h, &targets[i], true, &clsact_checked, err);
	}
	free(targets);
	if (r < 0) {
		packet_attach_set_destroy(h);
		return r;
	}
	fill_record(h, record);
	*out = h;
	return 0;
}

enum packet_backend packet_attach_set_backend(const struct packet_attach_set *s)
{
	return s->backend;
}

/* tcx links died with the process that held them; cls_bpf filters did not. */
int packet_attach_set_recover(struct json_object *record)
{
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

