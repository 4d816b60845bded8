/* Kind "connection-refused" (family "cgroup", docs/faults.md): connect() from
 * the processes of one cgroup to matched destinations fails at once. cgroup
 * connect4/connect6 programs attached with BPF links: the kernel detaches them
 * when the last fd of the link closes, so a dead agent leaves nothing behind. */
#include "faults/packet.h"
#include "faults/connrefuse_config.h"
#include "faults/connrefuse.skel.h"

#include "common/log.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct connrefuse_spec {
	struct packet_spec match;   /* protocol, dst, dst_ports and scope are used */
	int error;                  /* errno connect() returns */
	bool allow_root_cgroup;
};

static const struct {
	const char *name;
	int value;
} errors[] = {
	{ "ECONNREFUSED", ECONNREFUSED },
	{ "EPERM", EPERM },
	{ "EACCES", EACCES },
	{ "ENETUNREACH", ENETUNREACH },
	{ "EHOSTUNREACH", EHOSTUNREACH },
	{ "ETIMEDOUT", ETIMEDOUT },
};

static const char *error_name(int value)
{
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].value == value)
			return errors[i].name;
	return "?";
}

static int connrefuse_probe(char *reason, size_t len)
{
	char mount[PATH_MAX];
	int r = scope_cgroup2_mount(mount, sizeof(mount));
	if (r < 0)
		snprintf(reason, len, "no cgroup v2 hierarchy is mounted (cgroup BPF programs attach there)");
	return r;
}

static int check_match(const struct packet_spec *m, struct fault_error *err)
{
	if (m->protocol != PACKET_PROTO_TCP && m->protocol != PACKET_PROTO_UDP && m->protocol != PACKET_PROTO_ANY) {
		fault_error_set(err, "match.protocol", "must be \"tcp\" (default), \"udp\" or \"any\"");
		return -EINVAL;
	}
	const char *unsupported = m->src.n ? "match.src" : m->peers.n ? "match.peers" :
				  m->src_ports.n ? "match.src_ports" : NULL;
	if (unsupported) {
		fault_error_set(err, unsupported, "is not known at connect(); connection-refused matches "
			       "match.dst, match.dst_ports and match.protocol");
		return -EINVAL;
	}
	if (m->dst_ports.n > CONNREFUSE_MAX_PORT_RANGES) {
		fault_error_set(err, "match.dst_ports", "at most %d ranges", CONNREFUSE_MAX_PORT_RANGES);
		return -EINVAL;
	}
	return 0;
}

static int connrefuse_parse(struct json_object *params, void **spec_out, struct fault_error *err)
{
	void *allocated;
	int r = fault_spec_alloc(params, sizeof(struct connrefuse_spec), &allocated, err);
	if (r < 0)
		return r;
	struct connrefuse_spec *spec = allocated;
	packet_match_defaults(&spec->match);
	spec->match.protocol = PACKET_PROTO_TCP;
	spec->error = ECONNREFUSED;
	if (params) {
		json_object_object_foreach(params, key, v) {
			if (strcmp(key, "match") == 0 || strcmp(key, "scope") == 0) {
				r = packet_match_parse_key(key, v, &spec->match, err);
				if (r > 0)  /* 1: a matching key, parsed */
					r = 0;
			} else if (strcmp(key, "allow_root_cgroup") == 0) {
				if (!json_object_is_type(v, json_type_boolean)) {
					fault_error_set(err, key, "must be true or false");
					r = -EINVAL;
				} else {
					spec->allow_root_cgroup = json_object_get_boolean(v);
				}
			} else if (strcmp(key, "errno") == 0) {
				const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
				r = -EINVAL;
				for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
					if (strcmp(s, errors[i].name) == 0) {
						spec->error = errors[i].value;
						r = 0;
					}
				}
				if (r < 0)
					fault_error_set(err, key, "must be one of ECONNREFUSED, EPERM, EACCES, "
						       "ENETUNREACH, EHOSTUNREACH, ETIMEDOUT");
			} else {
				fault_error_set(err, key, "unknown parameter (known: match, scope, errno, "
					       "allow_root_cgroup)");
				r = -EINVAL;
			}
			if (r < 0)
				break;
		}
	}
	if (r == 0)
		r = check_match(&spec->match, err);
	if (r == 0 && packet_scope_is_host(&spec->match.scope)) {
		fault_error_set(err, "scope", "is required: { cgroup = \"system.slice/x.service\" } or "
			       "{ unit = \"x.service\" } (the processes whose connects fail)");
		r = -EINVAL;
	}
	if (r < 0) {
		free(spec);
		return r;
	}
	*spec_out = spec;
	return 0;
}

static void connrefuse_spec_free(void *spec)
{
	free(spec);
}

static struct json_object *connrefuse_spec_to_json(const void *spec_v)
{
	const struct connrefuse_spec *spec = spec_v;
	struct json_object *all = json_object_new_object();
	if (!all)
		return NULL;
	packet_match_to_json(&spec->match, all);
	struct json_object *o = json_object_new_object();
	if (!o) {
		json_object_put(all);
		return NULL;
	}
	/* Only the keys this kind takes (packet_match_to_json adds direction and blackout too). */
	const char *keep[] = { "match", "scope" };
	for (size_t i = 0; i < 2; i++) {
		struct json_object *v;
		if (json_object_object_get_ex(all, keep[i], &v))
			json_object_object_add(o, keep[i], json_object_get(v));
	}
	json_object_put(all);
	json_object_object_add(o, "errno", json_object_new_string(error_name(spec->error)));
	json_object_object_add(o, "allow_root_cgroup", json_object_new_boolean(spec->allow_root_cgroup));
	return o;
}

struct connrefuse_handle {
	struct connrefuse_bpf *skel;
	struct bpf_link *link4, *link6;
	char cgroup[PATH_MAX];
};

static void handle_free(struct connrefuse_handle *h)
{
	if (!h)
		return;
	bpf_link__destroy(h->link6);
	bpf_link__destroy(h->link4);
	connrefuse_bpf__destroy(h->skel);
	free(h);
}

static void fill_config(const struct connrefuse_spec *spec, struct connrefuse_config *c)
{
	memset(c, 0, sizeof(*c));
	c->tcp = spec->match.protocol != PACKET_PROTO_UDP;
	c->udp = spec->match.protocol != PACKET_PROTO_TCP;
	c->match_dst = spec->match.dst.n > 0;
	/* EPERM is what a rejecting program gives anyway: no helper needed then. */
	c->error = spec->error == EPERM ? 0 : spec->error;
	for (int i = 0; i < spec->match.dst_ports.n; i++) {
		c->port_first[i] = spec->match.dst_ports.items[i].first;
		c->port_last[i] = spec->match.dst_ports.items[i].last;
	}
	c->n_ports = (__u32)spec->match.dst_ports.n;
}

/* Opens, configures, loads and fills the programs (not attached). */
static int load_programs(const struct connrefuse_spec *spec, struct connrefuse_bpf **out, struct fault_error *err)
{
	struct connrefuse_bpf *skel = connrefuse_bpf__open();
	if (!skel) {
		int r = errno ? -errno : -ENOMEM;
		fault_error_set(err, "", "cannot open the BPF object: %s", strerror(-r));
		return r;
	}
	fill_config(spec, &skel->rodata->cr_cfg);
	int r = packet_match_maps_size(&spec->match, skel->maps.dst_cidrs, skel->maps.dst_cidrs,
				       skel->maps.dst_cidrs);
	if (r == 0 && connrefuse_bpf__load(skel) < 0) {
		r = -errno;
		if (spec->error != EPERM)
			fault_error_set(err, "errno", "cannot load the connect programs (%s); errno %s needs "
				       "bpf_set_retval (Linux 5.18+), errno = \"EPERM\" does not", strerror(-r),
				       error_name(spec->error));
		else
			fault_error_set(err, "", "cannot load the connect programs: %s", strerror(-r));
	}
	if (r == 0)
		r = packet_match_maps_fill(&spec->match, skel->maps.dst_cidrs, skel->maps.dst_cidrs,
					   skel->maps.dst_cidrs);
	if (r < 0) {
		if (!err || !err->msg[0])
			fault_error_set(err, "", "cannot set up the BPF maps: %s", strerror(-r));
		connrefuse_bpf__destroy(skel);
		return r;
	}
	*out = skel;
	return 0;
}

static int connrefuse_apply(const void *spec_v, const struct fault_env *env, void **handle_out,
			    struct json_object *record, struct fault_error *err)
{
	(void)env;
	const struct connrefuse_spec *spec = spec_v;
	struct connrefuse_handle *h = calloc(1, sizeof(*h));
	if (!h) {
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	char mount[PATH_MAX];
	uint64_t id = 0;
	uint32_t level = 0;
	int r = scope_resolve_path(&spec->match.scope, h->cgroup, sizeof(h->cgroup), err);
	if (r == 0) {
		r = scope_cgroup2_mount(mount, sizeof(mount));
		if (r == 0)
			r = scope_cgroup_id(mount, h->cgroup, &id, &level);
		if (r < 0)
			fault_error_set(err, "scope", "%s is not a cgroup v2 directory: %s", h->cgroup, strerror(-r));
	}
	if (r == 0 && level == 0 && !spec->allow_root_cgroup) {
		fault_error_set(err, "scope", "%s is the root cgroup: every process of the host would be "
			       "affected; set allow_root_cgroup = true if that is meant", h->cgroup);
		r = -EINVAL;
	}
	if (r == 0)
		r = load_programs(spec, &h->skel, err);
	int cgroup_fd = -1;
	if (r == 0) {
		cgroup_fd = open(h->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cgroup_fd < 0) {
			r = -errno;
			fault_error_set(err, "scope", "cannot open %s: %s", h->cgroup, strerror(-r));
		}
	}
	if (r == 0) {
		/* bpf_link_create underneath: multi-attach, detached on the last close. */
		h->link4 = bpf_program__attach_cgroup(h->skel->progs.connrefuse_connect4, cgroup_fd);
		if (!h->link4)
			r = -errno;
		if (r == 0) {
			h->link6 = bpf_program__attach_cgroup(h->skel->progs.connrefuse_connect6, cgroup_fd);
			if (!h->link6)
				r = -errno;
		}
		if (r < 0)
			fault_error_set(err, "", "cannot attach to %s: %s", h->cgroup, strerror(-r));
	}
	if (cgroup_fd >= 0)
		close(cgroup_fd);
	if (r < 0) {
		handle_free(h);
		return r;
	}
	/* Nothing to recover after a crash (links die with the agent); recorded for listings. */
	json_object_object_add(record, "cgroup", json_object_new_string(h->cgroup));
	json_object_object_add(record, "cgroup_id", json_object_new_int64((int64_t)id));
	*handle_out = h;
	return 0;
}

static int connrefuse_revert(void *handle)
{
	handle_free(handle);
	return 0;
}

static int connrefuse_stats(void *handle, struct json_object *out)
{
	struct connrefuse_handle *h = handle;
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	uint64_t *per_cpu = calloc((size_t)ncpu, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	uint32_t zero = 0;
	int r = 0;
	if (bpf_map__lookup_elem(h->skel->maps.refused, &zero, sizeof(zero), per_cpu,
				 (size_t)ncpu * sizeof(*per_cpu), 0) < 0)
		r = -errno;
	uint64_t total = 0;
	for (int i = 0; r == 0 && i < ncpu; i++)
		total += per_cpu[i];
	free(per_cpu);
	if (r < 0)
		return r;
	json_object_object_add(out, "backend", json_object_new_string("cgroup-bpf"));
	json_object_object_add(out, "cgroup", json_object_new_string(h->cgroup));
	json_object_object_add(out, "connections_refused", json_object_new_int64((int64_t)total));
	return 0;
}

static int connrefuse_recover(struct json_object *record, const struct fault_env *env)
{
	(void)record;
	(void)env;
	return 0;
}

static int cgroup_sweep(const struct fault_env *env)
{
	(void)env;
	return 0;
}

const struct fault_kind connection_refused_kind = {
	.name = "connection-refused",
	.family = "cgroup",
	.summary = "connect() from one cgroup to matched destinations fails at once (cgroup BPF)",
	.probe = connrefuse_probe,
	.parse = connrefuse_parse,
	.spec_free = connrefuse_spec_free,
	.spec_to_json = connrefuse_spec_to_json,
	.apply = connrefuse_apply,
	.revert = connrefuse_revert,
	.stats = connrefuse_stats,
	.recover = connrefuse_recover,
};

/* Every object of this family is a BPF link, which the kernel removes with the
 * agent: nothing to sweep. */
const struct fault_family cgroup_family = {
	.name = "cgroup",
	.sweep = cgroup_sweep,
};
