// SPDX-License-Identifier: GPL-2.0
/* tc programs of the packet family: drop a random share of the matched packets.
 * One object per fault; the ingress and egress programs share its maps. The
 * settings are read-only globals written by user space before load, so the
 * verifier prunes every branch a fault does not use. */
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

#define MAX_PORT_RANGES 8
#define MAX_CONTROL_PORTS 4
#define MAX_IPV6_EXT_HEADERS 4
/* ICMPv6 neighbour discovery: router solicitation .. redirect (RFC 4861). */
#define NDISC_FIRST_TYPE 133
#define NDISC_LAST_TYPE 137

/* What a drop on egress returns (see docs/faults.md "Backends and kernels"). */
#define EGRESS_DROP_SHOT 0      /* sender's sendmsg sees ENOBUFS: not like real loss */
#define EGRESS_DROP_STOLEN 1    /* cls_bpf: silent */
#define EGRESS_DROP_REDIRECT_NOWHERE 2  /* tcx: redirect to ifindex 0, freed silently */

/* Verdicts understood by both cls_bpf (direct action) and tcx. */
#define VERDICT_NEXT -1         /* TC_ACT_UNSPEC / TCX_NEXT: not ours, let others decide */
#define VERDICT_DROP 2          /* TC_ACT_SHOT / TCX_DROP */

#define PROTO_ANY 0
#define PROTO_ICMP_ANY 1        /* ICMP or ICMPv6 */

const volatile __u32 drop_threshold = 0;        /* drop if prandom < threshold */
const volatile bool drop_always = false;
const volatile __u8 match_protocol = PROTO_ANY; /* PROTO_ANY, PROTO_ICMP_ANY, IPPROTO_TCP, IPPROTO_UDP */
const volatile bool match_src = false;
const volatile bool match_dst = false;
const volatile bool match_peers = false;
const volatile __u32 n_src_ports = 0;
const volatile __u32 n_dst_ports = 0;
/* Port ranges as parallel arrays of first and last ports (host byte order). */
const volatile __u16 src_port_first[MAX_PORT_RANGES] = {};
const volatile __u16 src_port_last[MAX_PORT_RANGES] = {};
const volatile __u16 dst_port_first[MAX_PORT_RANGES] = {};
const volatile __u16 dst_port_last[MAX_PORT_RANGES] = {};
const volatile __u32 n_control_ports = 0;
const volatile __u16 control_ports[MAX_CONTROL_PORTS] = {};
const volatile bool blackout = false;
const volatile __u8 egress_drop_mode = EGRESS_DROP_SHOT;

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

struct counters {
	__u64 matched;
	__u64 dropped;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} stats SEC(".maps");

struct packet_info {
	struct lpm_key src, dst;
	__u8 l4proto;
	bool has_ports;
	__u16 sport, dport;     /* host byte order */
	__u8 icmp_type;
	bool has_icmp_type;
};

static __always_inline bool in_ranges(__u16 port, const volatile __u16 *first, const volatile __u16 *last,
					      __u32 n)
{
	for (__u32 i = 0; i < MAX_PORT_RANGES; i++) {
		if (i >= n)
			break;
		if (port >= first[i] && port <= last[i])
			return true;
	}
	return false;
}

static __always_inline bool is_control_port(__u16 port)
{
	for (__u32 i = 0; i < MAX_CONTROL_PORTS; i++) {
		if (i >= n_control_ports)
			break;
		if (control_ports[i] == port)
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

static __always_inline int parse_l4(void *l4, void *data_end, struct packet_info *pi)
{
	if (pi->l4proto == IPPROTO_TCP || pi->l4proto == IPPROTO_UDP) {
		/* Both headers start with the two ports. */
		__be16 *ports = l4;
		if ((void *)(ports + 2) > data_end)
			return -1;
		pi->sport = bpf_ntohs(ports[0]);
		pi->dport = bpf_ntohs(ports[1]);
		pi->has_ports = true;
	} else if (pi->l4proto == IPPROTO_ICMP || pi->l4proto == IPPROTO_ICMPV6) {
		__u8 *type = l4;
		if ((void *)(type + 1) > data_end)
			return -1;
		pi->icmp_type = *type;
		pi->has_icmp_type = true;
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
	v4_key(&pi->src, ip->saddr);
	v4_key(&pi->dst, ip->daddr);
	pi->l4proto = ip->protocol;
	/* Only the first fragment carries the transport header. */
	if (ip->frag_off & bpf_htons(0x1fff))
		return 0;
	return parse_l4((void *)ip + ihl, data_end, pi);
}

static __always_inline int parse_ipv6(struct __sk_buff *skb, struct packet_info *pi)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);
	if ((void *)(ip6 + 1) > data_end)
		return -1;
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
	return parse_l4(cursor, data_end, pi);
}

static __always_inline bool cidr_match(void *map, struct lpm_key *key)
{
	return bpf_map_lookup_elem(map, key) != NULL;
}

static __always_inline int egress_drop(void)
{
	if (egress_drop_mode == EGRESS_DROP_STOLEN)
		return TC_ACT_STOLEN;
	if (egress_drop_mode == EGRESS_DROP_REDIRECT_NOWHERE)
		return bpf_redirect(0, 0);
	return VERDICT_DROP;
}

static __always_inline int decide(struct __sk_buff *skb, bool egress)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return VERDICT_NEXT;

	struct packet_info pi = {};
	__u16 proto = bpf_ntohs(eth->h_proto);
	bool filters_on_ip = match_src || match_dst || match_peers || match_protocol != PROTO_ANY;
	if (proto == ETH_P_ARP) {
		/* The neighbour table keeps the control path alive; an ARP frame has
		 * no address a filter could match, so only an unfiltered blackout takes it. */
		if (!blackout || filters_on_ip)
			return VERDICT_NEXT;
	} else if (proto == ETH_P_IP) {
		if (parse_ipv4(skb, &pi) < 0)
			return VERDICT_NEXT;
	} else if (proto == ETH_P_IPV6) {
		if (parse_ipv6(skb, &pi) < 0)
			return VERDICT_NEXT;
	} else {
		return VERDICT_NEXT;
	}

	if (proto != ETH_P_ARP) {
		if (!blackout) {
			if (pi.l4proto == IPPROTO_ICMPV6 && pi.has_icmp_type &&
			    pi.icmp_type >= NDISC_FIRST_TYPE && pi.icmp_type <= NDISC_LAST_TYPE)
				return VERDICT_NEXT;
			if (pi.l4proto == IPPROTO_TCP && pi.has_ports &&
			    is_control_port(egress ? pi.sport : pi.dport))
				return VERDICT_NEXT;
		}
		if (match_protocol == PROTO_ICMP_ANY) {
			if (pi.l4proto != IPPROTO_ICMP && pi.l4proto != IPPROTO_ICMPV6)
				return VERDICT_NEXT;
		} else if (match_protocol != PROTO_ANY && pi.l4proto != match_protocol) {
			return VERDICT_NEXT;
		}
		if (n_src_ports && !(pi.has_ports && in_ranges(pi.sport, src_port_first, src_port_last, n_src_ports)))
			return VERDICT_NEXT;
		if (n_dst_ports && !(pi.has_ports && in_ranges(pi.dport, dst_port_first, dst_port_last, n_dst_ports)))
			return VERDICT_NEXT;
		if (match_src && !cidr_match(&src_cidrs, &pi.src))
			return VERDICT_NEXT;
		if (match_dst && !cidr_match(&dst_cidrs, &pi.dst))
			return VERDICT_NEXT;
		if (match_peers && !cidr_match(&peer_cidrs, egress ? &pi.dst : &pi.src))
			return VERDICT_NEXT;
	}

	__u32 zero = 0;
	struct counters *c = bpf_map_lookup_elem(&stats, &zero);
	if (c)
		c->matched++;
	if (!drop_always && bpf_get_prandom_u32() >= drop_threshold)
		return VERDICT_NEXT;
	if (c)
		c->dropped++;
	return egress ? egress_drop() : VERDICT_DROP;
}

SEC("tc")
int packet_ingress(struct __sk_buff *skb)
{
	return decide(skb, false);
}

SEC("tc")
int packet_egress(struct __sk_buff *skb)
{
	return decide(skb, true);
}

char LICENSE[] SEC("license") = "GPL";
