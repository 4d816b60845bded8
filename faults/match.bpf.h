// SPDX-License-Identifier: GPL-2.0
/* Packet matching shared by every tc program of the network faults: parses
 * Ethernet/IPv4/IPv6 + TCP/UDP/ICMP and applies the fault's match settings
 * (faults/match_config.h) and the control-path exemption. Include it once per
 * BPF object; it defines the read-only `match_cfg` and the three CIDR tries
 * that user space fills (faults/packet_match.c). */
#pragma once
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/icmpv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "match_config.h"

#define MAX_IPV6_EXT_HEADERS 4
/* ICMPv6 neighbour discovery: router solicitation .. redirect (RFC 4861). */
#define NDISC_FIRST_TYPE 133
#define NDISC_LAST_TYPE 137

const volatile struct match_config match_cfg = {};

/* Addresses are keyed as 16 bytes: IPv4 as ::ffff:a.b.c.d (prefix + 96). */
struct lpm_key {
	__u32 prefixlen;
	__u8 addr[16];
};

#define CIDR_MAP(name)                                   \
	struct {                                         \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);     \
		__uint(max_entries, 1);                  \
		__uint(map_flags, BPF_F_NO_PREALLOC);    \
		__type(key, struct lpm_key);             \
		__type(value, __u8);                     \
	} name SEC(".maps")

CIDR_MAP(src_cidrs);
CIDR_MAP(dst_cidrs);
CIDR_MAP(peer_cidrs);

struct packet_info {
	struct lpm_key src, dst;
	__u16 eth_proto;        /* host byte order: ETH_P_IP, ETH_P_IPV6, ETH_P_ARP */
	__u8 l4proto;
	bool has_ports;
	__u16 sport, dport;     /* host byte order */
	__u8 icmp_type;
	bool has_icmp_type;
	__u32 l3_offset;        /* from skb->data */
	__u32 l4_offset;        /* valid when has_ports or has_icmp_type */
};

static __always_inline bool in_ranges(__u16 port, const volatile __u16 *first, const volatile __u16 *last,
					      __u32 n)
{
	for (__u32 i = 0; i < MATCH_MAX_PORT_RANGES; i++) {
		if (i >= n)
			break;
		if (port >= first[i] && port <= last[i])
			return true;
	}
	return false;
}

static __always_inline bool is_control_port(__u16 port)
{
	for (__u32 i = 0; i < MATCH_MAX_CONTROL_PORTS; i++) {
		if (i >= match_cfg.n_control_ports)
			break;
		if (match_cfg.control_ports[i] == port)
			return true;
	}
	return false;
}

static __always_inline void v4_key(struct lpm_key *k, __u32 addr)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->prefixlen = 128;
	k->addr[10] = 0xff;
	k->addr[11] = 0xff;
	__builtin_memcpy(&k->addr[12], &addr, 4);
}

static __always_inline int parse_l4(void *data, void *l4, void *data_end, struct packet_info *pi)
{
	if (pi->l4proto == IPPROTO_TCP || pi->l4proto == IPPROTO_UDP) {
		/* Both headers start with the two ports. */
		__be16 *ports = l4;
		if ((void *)(ports + 2) > data_end)
			return -1;
		pi->sport = bpf_ntohs(ports[0]);
		pi->dport = bpf_ntohs(ports[1]);
		pi->has_ports = true;
		pi->l4_offset = (__u32)(l4 - data);
	} else if (pi->l4proto == IPPROTO_ICMP || pi->l4proto == IPPROTO_ICMPV6) {
		__u8 *type = l4;
		if ((void *)(type + 1) > data_end)
			return -1;
		pi->icmp_type = *type;
		pi->has_icmp_type = true;
		pi->l4_offset = (__u32)(l4 - data);
	}
	return 0;
}

static __always_inline int parse_ipv4(struct __sk_buff *skb, struct packet_info *pi)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	if ((void *)(ip + 1) > data_end)
		return -1;
	__u32 ihl = ip->ihl * 4;
	if (ihl < sizeof(*ip))
		return -1;
	pi->l3_offset = sizeof(struct ethhdr);
	v4_key(&pi->src, ip->saddr);
	v4_key(&pi->dst, ip->daddr);
	pi->l4proto = ip->protocol;
	/* Only the first fragment carries the transport header. */
	if (ip->frag_off & bpf_htons(0x1fff))
		return 0;
	return parse_l4(data, (void *)ip + ihl, data_end, pi);
}

static __always_inline int parse_ipv6(struct __sk_buff *skb, struct packet_info *pi)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);
	if ((void *)(ip6 + 1) > data_end)
		return -1;
	pi->l3_offset = sizeof(struct ethhdr);
	pi->src.prefixlen = 128;
	pi->dst.prefixlen = 128;
	__builtin_memcpy(pi->src.addr, &ip6->saddr, 16);
	__builtin_memcpy(pi->dst.addr, &ip6->daddr, 16);

	__u8 next = ip6->nexthdr;
	void *cursor = ip6 + 1;
	for (int i = 0; i < MAX_IPV6_EXT_HEADERS; i++) {
		if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS) {
			__u8 *ext = cursor;
			if ((void *)(ext + 2) > data_end)
				return -1;
			next = ext[0];
			cursor += (ext[1] + 1) * 8;
		} else if (next == IPPROTO_FRAGMENT) {
			__u8 *frag = cursor;
			if ((void *)(frag + 8) > data_end)
				return -1;
			next = frag[0];
			cursor += 8;
			if ((frag[2] << 8 | frag[3]) & 0xfff8) {
				pi->l4proto = next;
				return 0;
			}
		} else {
			break;
		}
	}
	pi->l4proto = next;
	return parse_l4(data, cursor, data_end, pi);
}

static __always_inline bool cidr_match(void *map, struct lpm_key *key)
{
	return bpf_map_lookup_elem(map, key) != NULL;
}

#include "scope.bpf.h"

/* True when the packet is one the fault acts on; *pi is filled as far as the
 * packet could be parsed. ARP matches only an unfiltered blackout. */
static __always_inline bool match_packet(struct __sk_buff *skb, bool egress, struct packet_info *pi)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return false;

	__u16 proto = bpf_ntohs(eth->h_proto);
	pi->eth_proto = proto;
	bool filters_on_ip = match_cfg.match_src || match_cfg.match_dst || match_cfg.match_peers ||
			     match_cfg.protocol != MATCH_PROTO_ANY || match_cfg.cgroup_id != 0;
	if (proto == ETH_P_ARP) {
		/* The neighbour table keeps the control path alive; an ARP frame has
		 * no address a filter could match, so only an unfiltered blackout takes it. */
		return match_cfg.blackout && !filters_on_ip;
	} else if (proto == ETH_P_IP) {
		if (parse_ipv4(skb, pi) < 0)
			return false;
	} else if (proto == ETH_P_IPV6) {
		if (parse_ipv6(skb, pi) < 0)
			return false;
	} else {
		return false;
	}

	if (!match_cfg.blackout) {
		if (pi->l4proto == IPPROTO_ICMPV6 && pi->has_icmp_type &&
		    pi->icmp_type >= NDISC_FIRST_TYPE && pi->icmp_type <= NDISC_LAST_TYPE)
			return false;
		if (pi->l4proto == IPPROTO_TCP && pi->has_ports && is_control_port(egress ? pi->sport : pi->dport))
			return false;
	}
	if (match_cfg.protocol == MATCH_PROTO_ICMP_ANY) {
		if (pi->l4proto != IPPROTO_ICMP && pi->l4proto != IPPROTO_ICMPV6)
			return false;
	} else if (match_cfg.protocol != MATCH_PROTO_ANY && pi->l4proto != match_cfg.protocol) {
		return false;
	}
	if (match_cfg.n_src_ports &&
	    !(pi->has_ports && in_ranges(pi->sport, match_cfg.src_port_first, match_cfg.src_port_last,
					 match_cfg.n_src_ports)))
		return false;
	if (match_cfg.n_dst_ports &&
	    !(pi->has_ports && in_ranges(pi->dport, match_cfg.dst_port_first, match_cfg.dst_port_last,
					 match_cfg.n_dst_ports)))
		return false;
	if (match_cfg.match_src && !cidr_match(&src_cidrs, &pi->src))
		return false;
	if (match_cfg.match_dst && !cidr_match(&dst_cidrs, &pi->dst))
		return false;
	if (match_cfg.match_peers && !cidr_match(&peer_cidrs, egress ? &pi->dst : &pi->src))
		return false;
	if (match_cfg.cgroup_id != 0 && !scope_matches(skb, egress, pi))
		return false;
	return true;
}
