/* Builds one fault's BPF object from its spec: read-only settings, CIDR tries. */
#include "faults/packet.h"
#include "faults/packet.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Must match packet.bpf.c. */
#define PROTO_ICMP_ANY 1
#define EGRESS_DROP_STOLEN 1
#define EGRESS_DROP_REDIRECT_NOWHERE 2

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

static int fill_cidrs(struct bpf_map *map, const struct packet_cidr_list *list)
{
	uint8_t one = 1;
	for (int i = 0; i < list->n; i++) {
		struct lpm_key k;
		cidr_key(&list->items[i], &k);
		if (bpf_map__update_elem(map, &k, sizeof(k), &one, sizeof(one), BPF_ANY) < 0)
			return -errno;
	}
	return 0;
}

static void set_ports(const struct packet_port_list *list, uint16_t *first, uint16_t *last, uint32_t *n)
{
	for (int i = 0; i < list->n; i++) {
		first[i] = list->items[i].first;
		last[i] = list->items[i].last;
	}
	*n = (uint32_t)list->n;
}

int packet_prog_load(const struct packet_spec *spec, const struct fault_env *env, enum packet_backend backend,
		     struct packet_bpf **out)
{
	struct packet_bpf *skel = packet_bpf__open();
	if (!skel)
		return -errno ? -errno : -ENOMEM;

	struct packet_bpf__rodata *ro = skel->rodata;
	ro->drop_always = spec->blackhole || spec->probability >= 1.0;
	ro->drop_threshold = packet_probability_threshold(spec->blackhole ? 1.0 : spec->probability);
	switch (spec->protocol) {
	case PACKET_PROTO_TCP: ro->match_protocol = IPPROTO_TCP; break;
	case PACKET_PROTO_UDP: ro->match_protocol = IPPROTO_UDP; break;
	case PACKET_PROTO_ICMP: ro->match_protocol = PROTO_ICMP_ANY; break;
	default: ro->match_protocol = 0; break;
	}
	ro->match_src = spec->src.n > 0;
	ro->match_dst = spec->dst.n > 0;
	ro->match_peers = spec->peers.n > 0;
	set_ports(&spec->src_ports, ro->src_port_first, ro->src_port_last, &ro->n_src_ports);
	set_ports(&spec->dst_ports, ro->dst_port_first, ro->dst_port_last, &ro->n_dst_ports);
	int n_ctl = env ? env->n_control_ports : 0;
	if (n_ctl > FAULT_MAX_CONTROL_PORTS)
		n_ctl = FAULT_MAX_CONTROL_PORTS;
	for (int i = 0; i < n_ctl; i++)
		ro->control_ports[i] = env->control_ports[i];
	ro->n_control_ports = (uint32_t)n_ctl;
	ro->blackout = spec->blackout;
	ro->egress_drop_mode = backend == PACKET_BACKEND_TCX ? EGRESS_DROP_REDIRECT_NOWHERE : EGRESS_DROP_STOLEN;

	int r = 0;
	const struct packet_cidr_list *lists[] = { &spec->src, &spec->dst, &spec->peers };
	struct bpf_map *maps[] = { skel->maps.src_cidrs, skel->maps.dst_cidrs, skel->maps.peer_cidrs };
	for (int i = 0; i < 3 && r == 0; i++)
		if (lists[i]->n > 0 && bpf_map__set_max_entries(maps[i], (uint32_t)lists[i]->n) < 0)
			r = -errno;
	if (r == 0 && backend == PACKET_BACKEND_TCX) {
		if (bpf_program__set_expected_attach_type(skel->progs.packet_ingress, PACKET_BPF_TCX_INGRESS) < 0 ||
		    bpf_program__set_expected_attach_type(skel->progs.packet_egress, PACKET_BPF_TCX_EGRESS) < 0)
			r = -errno;
	}
	if (r == 0 && packet_bpf__load(skel) < 0)
		r = -errno;
	for (int i = 0; i < 3 && r == 0; i++)
		r = fill_cidrs(maps[i], lists[i]);
	if (r < 0) {
		packet_bpf__destroy(skel);
		return r;
	}
	*out = skel;
	return 0;
}

void packet_prog_destroy(struct packet_bpf *skel)
{
	packet_bpf__destroy(skel);
}

int packet_prog_fd(struct packet_bpf *skel, bool egress)
{
	return bpf_program__fd(egress ? skel->progs.packet_egress : skel->progs.packet_ingress);
}

int packet_prog_counters(struct packet_bpf *skel, uint64_t *matched, uint64_t *dropped)
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	struct { uint64_t matched, dropped; } *per_cpu = calloc((size_t)ncpu, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	uint32_t zero = 0;
	if (bpf_map__lookup_elem(skel->maps.stats, &zero, sizeof(zero), per_cpu,
				 (size_t)ncpu * sizeof(*per_cpu), 0) < 0) {
		int r = -errno;
		free(per_cpu);
		return r;
	}
	uint64_t m = 0, d = 0;
	for (int i = 0; i < ncpu; i++) {
		m += per_cpu[i].matched;
		d += per_cpu[i].dropped;
	}
	free(per_cpu);
	*matched = m;
	*dropped = d;
	return 0;
}
