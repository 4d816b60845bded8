/* Builds one fault's BPF object from its spec: read-only settings, CIDR tries. */
#include "faults/packet.h"
#include "faults/match_config.h"
#include "faults/packet.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Must match packet.bpf.c. */
#define EGRESS_DROP_STOLEN 1
#define EGRESS_DROP_REDIRECT_NOWHERE 2

int packet_prog_load(const struct packet_spec *spec, const struct fault_env *env, enum packet_backend backend,
		     struct packet_bpf **out, struct fault_error *err)
{
	struct packet_bpf *skel = packet_bpf__open();
	if (!skel)
		return -errno ? -errno : -ENOMEM;

	struct packet_bpf__rodata *ro = skel->rodata;
	ro->drop_always = spec->blackhole || spec->probability >= 1.0;
	ro->drop_threshold = packet_probability_threshold(spec->blackhole ? 1.0 : spec->probability);
	ro->egress_drop_mode = backend == PACKET_BACKEND_TCX ? EGRESS_DROP_REDIRECT_NOWHERE : EGRESS_DROP_STOLEN;

	int r = packet_match_config_fill(spec, env, &ro->match_cfg, err);
	if (r == 0)
		r = packet_match_maps_size(spec, skel->maps.src_cidrs, skel->maps.dst_cidrs, skel->maps.peer_cidrs);
	if (r == 0 && backend == PACKET_BACKEND_TCX) {
		if (bpf_program__set_expected_attach_type(skel->progs.packet_ingress, PACKET_BPF_TCX_INGRESS) < 0 ||
		    bpf_program__set_expected_attach_type(skel->progs.packet_egress, PACKET_BPF_TCX_EGRESS) < 0)
			r = -errno;
	}
	if (r == 0 && packet_bpf__load(skel) < 0)
		r = -errno;
	if (r == 0)
		r = packet_match_maps_fill(spec, skel->maps.src_cidrs, skel->maps.dst_cidrs, skel->maps.peer_cidrs);
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
