// SPDX-License-Identifier: GPL-2.0
/* Per-service scope of the tc programs: does this packet belong to a socket of
 * the fault's cgroup (match_cfg.cgroup_id, or a cgroup below it)? Included by
 * faults/match.bpf.h after the packet is parsed; only called when a scope is set.
 *
 * Egress: the packet still carries its socket (skb->sk; the kernel maps a TCP
 * request socket to its listener). Ingress at tc comes before the socket
 * lookup of the stack, so the program looks the socket up itself from the
 * packet's TCP/UDP tuple, in the namespace of the receiving device. Packets
 * without a local TCP/UDP socket (ICMP, a port nobody listens on, TIME_WAIT)
 * belong to no service and never match a scoped fault on ingress. */
#pragma once
/* Only the scoped build of an object (-DCHAOSKIT_SCOPE, faults/meson.build) has the ingress
 * side: it needs the kernel's BTF at load. The plain build is loaded for faults without a
 * scope and never calls scope_matches(). */
#ifdef CHAOSKIT_SCOPE
#include <bpf/bpf_core_read.h>

/* tc programs may not call bpf_sk_ancestor_cgroup_id(), so the ingress side
 * reads the socket's cgroup v2 itself: a read-only cast of the looked-up socket
 * (kfunc, Linux 6.2+) and CO-RE field accesses, relocated against the running
 * kernel's BTF (the ___ck suffix keeps these apart from any other definition). */
struct kernfs_node___ck {
	__u64 id;
} __attribute__((preserve_access_index));
struct cgroup___ck;
struct cgroup_subsys_state___ck {
	struct cgroup___ck *cgroup;
	struct cgroup_subsys_state___ck *parent;
} __attribute__((preserve_access_index));
struct cgroup___ck {
	struct cgroup_subsys_state___ck self;
	int level;
	struct kernfs_node___ck *kn;
} __attribute__((preserve_access_index));
struct sock_cgroup_data___ck {
	struct cgroup___ck *cgroup;
} __attribute__((preserve_access_index));
struct sock___ck {
	struct sock_cgroup_data___ck sk_cgrp_data;
} __attribute__((preserve_access_index));

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/* Deeper cgroups than this below the scope's cgroup do not match on ingress. */
#define SCOPE_MAX_DEPTH_BELOW 32

static __always_inline bool scope_sock_matches(struct bpf_sock *bsk)
{
	struct sock___ck *sk = bpf_rdonly_cast(bsk, bpf_core_type_id_kernel(struct sock___ck));
	struct cgroup___ck *cg = sk->sk_cgrp_data.cgroup;
	if (!cg)
		return false;
	int level = cg->level;
	int target = (int)match_cfg.cgroup_level;
	for (int i = 0; i < SCOPE_MAX_DEPTH_BELOW; i++) {
		if (level <= target || !cg)
			break;
		struct cgroup_subsys_state___ck *parent = cg->self.parent;
		cg = parent ? parent->cgroup : 0;
		level--;
	}
	if (!cg || level != target)
		return false;
	struct kernfs_node___ck *kn = cg->kn;
	return kn && kn->id == match_cfg.cgroup_id;
}

#endif

static __always_inline bool scope_matches(struct __sk_buff *skb, bool egress, struct packet_info *pi)
{
	if (egress)
		return bpf_skb_ancestor_cgroup_id(skb, (int)match_cfg.cgroup_level) == match_cfg.cgroup_id;
	if (!pi->has_ports || (pi->l4proto != IPPROTO_TCP && pi->l4proto != IPPROTO_UDP))
		return false;

#ifndef CHAOSKIT_SCOPE
	return false;
#else
	/* The tuple as the packet carries it: source is the remote end. */
	struct bpf_sock_tuple tuple;
	__builtin_memset(&tuple, 0, sizeof(tuple));
	__u32 size;
	if (pi->eth_proto == ETH_P_IP) {
		__builtin_memcpy(&tuple.ipv4.saddr, &pi->src.addr[12], 4);
		__builtin_memcpy(&tuple.ipv4.daddr, &pi->dst.addr[12], 4);
		tuple.ipv4.sport = bpf_htons(pi->sport);
		tuple.ipv4.dport = bpf_htons(pi->dport);
		size = sizeof(tuple.ipv4);
	} else {
		__builtin_memcpy(tuple.ipv6.saddr, pi->src.addr, 16);
		__builtin_memcpy(tuple.ipv6.daddr, pi->dst.addr, 16);
		tuple.ipv6.sport = bpf_htons(pi->sport);
		tuple.ipv6.dport = bpf_htons(pi->dport);
		size = sizeof(tuple.ipv6);
	}
	struct bpf_sock *sk;
	if (pi->l4proto == IPPROTO_TCP)
		sk = bpf_sk_lookup_tcp(skb, &tuple, size, BPF_F_CURRENT_NETNS, 0);
	else
		sk = bpf_sk_lookup_udp(skb, &tuple, size, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return false;
	bool in_scope = scope_sock_matches(sk);
	bpf_sk_release(sk);
	return in_scope;
#endif
}
