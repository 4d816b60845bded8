/* Builds one fault's BPF object from its spec: read-only settings, CIDR tries. */
#include "faults/packet.h"
#include "faults/match_config.h"
#include "faults/packet.skel.h"
#include "faults/scope_variant.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Must match packet.bpf.c. */
#define EGRESS_DROP_STOLEN 1
#define EGRESS_DROP_REDIRECT_NOWHERE 2
#define ACTION_DROP 0
#define ACTION_DUPLICATE 1
#define ACTION_CORRUPT 2

/* A duplicate fault's clones carry its tag in tc_index; two faults of this
 * process never share one (0x8000..0xffff, so never 0). */
static uint16_t next_clone_tag(void)
{
	static atomic_uint seq;
	unsigned n = atomic_fetch_add(&seq, 1) + (unsigned)getpid() * 7919u;
	return (uint16_t)(0x8000u | (n & 0x7fffu));
}

/* True when the device behind `name` has a bus (a NIC, virtio): it computes
 * the checksum of a CHECKSUM_PARTIAL packet it transmits. veth, bridges, tun
 * and other software devices report no bus and never compute it. Asked with
 * ethtool on a socket, so it answers for the current network namespace. */
static bool device_computes_checksums(int sock, const char *name)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&info;
	if (ioctl(sock, SIOCETHTOOL, &ifr) < 0)
		return false;
	const char *bus = info.bus_info;
	return bus[0] && strcmp(bus, "N/A") != 0 && strcmp(bus, "tap") != 0;
}

/* packet-corrupt without fix_checksum needs to know on which interfaces a
 * CHECKSUM_PARTIAL packet gets a (wrong) checksum computed after tc. */
static int hw_csum_targets(const struct packet_spec *spec, int **out, int *n_out, struct fault_error *err)
{
	*out = NULL;
	*n_out = 0;
	if (spec->action != PACKET_ACTION_CORRUPT || spec->fix_checksum)
		return 0;
	struct packet_target *t = NULL;
	int n = 0;
	int r = packet_resolve_interfaces(spec, &t, &n, err);
	if (r < 0)
		return r;
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		r = -errno;
		free(t);
		return r;
	}
	int *ifindexes = calloc((size_t)n + 1, sizeof(*ifindexes));
	if (!ifindexes) {
		close(sock);
		free(t);
		return -ENOMEM;
	}
	int count = 0;
	for (int i = 0; i < n; i++)
		if (device_computes_checksums(sock, t[i].name))
			ifindexes[count++] = t[i].ifindex;
	close(sock);
	free(t);
	*out = ifindexes;
	*n_out = count;
	return 0;
}

int packet_prog_load(const struct packet_spec *spec, const struct fault_env *env, enum packet_backend backend,
		     struct packet_bpf **out, struct fault_error *err)
{
	struct packet_bpf *skel = packet_scope_is_host(&spec->scope)
		? packet_bpf__open()
		: packet_bpf_open_scoped(sizeof(struct packet_bpf), sizeof(struct packet_bpf__rodata));
	if (!skel)
		return errno ? -errno : -ENOMEM;

	struct packet_bpf__rodata *ro = skel->rodata;
	ro->drop_always = spec->blackhole || spec->probability >= 1.0;
	ro->drop_threshold = packet_probability_threshold(spec->blackhole ? 1.0 : spec->probability);
	ro->egress_drop_mode = backend == PACKET_BACKEND_TCX ? EGRESS_DROP_REDIRECT_NOWHERE : EGRESS_DROP_STOLEN;
	ro->action = spec->action == PACKET_ACTION_DUPLICATE ? ACTION_DUPLICATE
		     : spec->action == PACKET_ACTION_CORRUPT ? ACTION_CORRUPT : ACTION_DROP;
	ro->clone_tag = next_clone_tag();
	ro->corrupt_bytes = (uint8_t)(spec->corrupt_bytes > 0 ? spec->corrupt_bytes : 1);
	ro->fix_checksum = spec->fix_checksum;

	int *hw_ifindexes = NULL, n_hw = 0;
	int r = packet_match_config_fill(spec, env, &ro->match_cfg, err);
	if (r == 0)
		r = packet_match_maps_size(spec, skel->maps.src_cidrs, skel->maps.dst_cidrs, skel->maps.peer_cidrs);
	if (r == 0)
		r = hw_csum_targets(spec, &hw_ifindexes, &n_hw, err);
	if (r == 0 && n_hw > 1 && bpf_map__set_max_entries(skel->maps.hw_csum_ifindexes, (uint32_t)n_hw) < 0)
		r = -errno;
	/* The verifier costs ~2.5 ms per program: a one-direction fault loads only its own. */
	if (r == 0 && (bpf_program__set_autoload(skel->progs.packet_ingress, spec->direction & PACKET_DIR_INGRESS) < 0 ||
		       bpf_program__set_autoload(skel->progs.packet_egress, spec->direction & PACKET_DIR_EGRESS) < 0))
		r = -errno;
	if (r == 0 && backend == PACKET_BACKEND_TCX) {
		if (bpf_program__set_expected_attach_type(skel->progs.packet_ingress, PACKET_BPF_TCX_INGRESS) < 0 ||
		    bpf_program__set_expected_attach_type(skel->progs.packet_egress, PACKET_BPF_TCX_EGRESS) < 0)
			r = -errno;
	}
	if (r == 0 && packet_bpf__load(skel) < 0)
		r = -errno;
	if (r == 0)
		r = packet_match_maps_fill(spec, skel->maps.src_cidrs, skel->maps.dst_cidrs, skel->maps.peer_cidrs);
	for (int i = 0; r == 0 && i < n_hw; i++) {
		uint32_t key = (uint32_t)hw_ifindexes[i];
		uint8_t one = 1;
		if (bpf_map__update_elem(skel->maps.hw_csum_ifindexes, &key, sizeof(key), &one, sizeof(one), 0) < 0)
			r = -errno;
	}
	free(hw_ifindexes);
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
	struct packet_counters c;
	int r = packet_prog_read_counters(skel, &c);
	if (r < 0)
		return r;
	*matched = c.matched;
	*dropped = c.dropped;
	return 0;
}

int packet_percpu_counters_sum(const struct bpf_map *map, uint64_t *sum, size_t n)
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	uint64_t *per_cpu = calloc((size_t)ncpu * n, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	uint32_t zero = 0;
	if (bpf_map__lookup_elem(map, &zero, sizeof(zero), per_cpu, (size_t)ncpu * n * sizeof(*per_cpu), 0) < 0) {
		int r = -errno;
		free(per_cpu);
		return r;
	}
	memset(sum, 0, n * sizeof(*sum));
	for (int cpu = 0; cpu < ncpu; cpu++)
		for (size_t i = 0; i < n; i++)
			sum[i] += per_cpu[(size_t)cpu * n + i];
	free(per_cpu);
	return 0;
}

int packet_prog_read_counters(struct packet_bpf *skel, struct packet_counters *out)
{
	uint64_t sum[4];
	_Static_assert(sizeof(struct packet_counters) == sizeof(sum), "packet_counters is four u64 counters");
	int r = packet_percpu_counters_sum(skel->maps.stats, sum, 4);
	if (r == 0)
		memcpy(out, sum, sizeof(*out));
	return r;
}
