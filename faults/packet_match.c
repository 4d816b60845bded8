/* Fills the shared match settings (faults/match_config.h) and CIDR tries of any
 * BPF object that includes faults/match.bpf.h from a packet_spec. */
#include "faults/packet.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

struct lpm_key {
	uint32_t prefixlen;
	uint8_t addr[16];
};

static void cidr_key(const struct cidr *c, struct lpm_key *k)
{
	memset(k, 0, sizeof(*k));
	if (c->family == AF_INET) {
		k->addr[10] = 0xff;
		k->addr[11] = 0xff;
		memcpy(&k->addr[12], c->addr, 4);
		k->prefixlen = 96u + c->prefix_len;
	} else {
		memcpy(k->addr, c->addr, 16);
		k->prefixlen = c->prefix_len;
	}
}

static void set_ports(const struct packet_port_list *list, __u16 *first, __u16 *last, __u32 *n)
{
	for (int i = 0; i < list->n; i++) {
		first[i] = list->items[i].first;
		last[i] = list->items[i].last;
	}
	*n = (__u32)list->n;
}

int packet_match_config_fill(const struct packet_spec *spec, const struct fault_env *env,
			     struct match_config *cfg, struct fault_error *err)
{
	struct match_config c;
	memset(&c, 0, sizeof(c));
	switch (spec->protocol) {
	case PACKET_PROTO_TCP: c.protocol = IPPROTO_TCP; break;
	case PACKET_PROTO_UDP: c.protocol = IPPROTO_UDP; break;
	case PACKET_PROTO_ICMP: c.protocol = MATCH_PROTO_ICMP_ANY; break;
	default: c.protocol = MATCH_PROTO_ANY; break;
	}
	c.match_src = spec->src.n > 0;
	c.match_dst = spec->dst.n > 0;
	c.match_peers = spec->peers.n > 0;
	c.blackout = spec->blackout;
	set_ports(&spec->src_ports, c.src_port_first, c.src_port_last, &c.n_src_ports);
	set_ports(&spec->dst_ports, c.dst_port_first, c.dst_port_last, &c.n_dst_ports);
	int n_ctl = env ? env->n_control_ports : 0;
	if (n_ctl > MATCH_MAX_CONTROL_PORTS)
		n_ctl = MATCH_MAX_CONTROL_PORTS;
	for (int i = 0; i < n_ctl; i++)
		c.control_ports[i] = env->control_ports[i];
	c.n_control_ports = (__u32)n_ctl;
	if (!packet_scope_is_host(&spec->scope)) {
		uint64_t id;
		uint32_t level;
		int r = scope_resolve(&spec->scope, &id, &level, err);
		if (r < 0)
			return r;
		c.cgroup_id = id;
		c.cgroup_level = level;
	}
	*cfg = c;
	return 0;
}

int packet_match_maps_size(const struct packet_spec *spec, struct bpf_map *src, struct bpf_map *dst,
			   struct bpf_map *peers)
{
	const struct packet_cidr_list *lists[] = { &spec->src, &spec->dst, &spec->peers };
	struct bpf_map *maps[] = { src, dst, peers };
	for (int i = 0; i < 3; i++)
		if (lists[i]->n > 0 && bpf_map__set_max_entries(maps[i], (uint32_t)lists[i]->n) < 0)
			return -errno;
	return 0;
}

int packet_match_maps_fill(const struct packet_spec *spec, struct bpf_map *src, struct bpf_map *dst,
			   struct bpf_map *peers)
{
	const struct packet_cidr_list *lists[] = { &spec->src, &spec->dst, &spec->peers };
	struct bpf_map *maps[] = { src, dst, peers };
	uint8_t one = 1;
	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < lists[i]->n; j++) {
			struct lpm_key k;
			cidr_key(&lists[i]->items[j], &k);
			if (bpf_map__update_elem(maps[i], &k, sizeof(k), &one, sizeof(one), BPF_ANY) < 0)
				return -errno;
		}
	}
	return 0;
}
