/* The packet-matching settings shared by every tc program of the network
 * faults (packet loss, delay line, duplication, corruption, DNS). One layout
 * for the BPF side (a read-only global `match_cfg` in faults/match.bpf.h) and
 * for user space (faults/packet_match.c fills it from a packet_spec), so every
 * program matches exactly the same way. Only fixed-width kernel types: this
 * header is compiled by clang -target bpf and by the host compiler. */
#pragma once
#include <linux/types.h>

#define MATCH_MAX_PORT_RANGES 8
#define MATCH_MAX_CONTROL_PORTS 4

#define MATCH_PROTO_ANY 0
#define MATCH_PROTO_ICMP_ANY 1  /* ICMP or ICMPv6; otherwise an IPPROTO_* number */

struct match_config {
	__u8 protocol;          /* MATCH_PROTO_ANY, MATCH_PROTO_ICMP_ANY, IPPROTO_TCP, IPPROTO_UDP */
	__u8 match_src;         /* booleans: the CIDR trie of that name must hold the address */
	__u8 match_dst;
	__u8 match_peers;
	__u8 blackout;          /* no control-path exemption (agent port, ARP, ND) */
	__u8 pad[3];
	__u32 n_src_ports;
	__u32 n_dst_ports;
	__u32 n_control_ports;
	/* Port ranges as parallel arrays of first and last ports (host byte order). */
	__u16 src_port_first[MATCH_MAX_PORT_RANGES];
	__u16 src_port_last[MATCH_MAX_PORT_RANGES];
	__u16 dst_port_first[MATCH_MAX_PORT_RANGES];
	__u16 dst_port_last[MATCH_MAX_PORT_RANGES];
	__u16 control_ports[MATCH_MAX_CONTROL_PORTS];
	/* Per-service scope (faults/scope.h): only packets of sockets in this
	 * cgroup v2 (or below it) match. 0 = every process of the host. */
	__u64 cgroup_id;
	__u32 cgroup_level;     /* depth of that cgroup in the v2 hierarchy (root = 0) */
	__u32 pad2;
};
