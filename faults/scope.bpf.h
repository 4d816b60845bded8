// SPDX-License-Identifier: GPL-2.0
/* Per-service scope of the tc programs: does this packet belong to a socket of
 * the fault's cgroup (match_cfg.cgroup_id, or a cgroup below it)? Included by
 * faults/match.bpf.h after the packet is parsed; only called when a scope is set. */
#pragma once

static __always_inline bool scope_matches(struct __sk_buff *skb, bool egress, struct packet_info *pi)
{
	(void)pi;
	if (egress)
		return bpf_skb_ancestor_cgroup_id(skb, match_cfg.cgroup_level) == match_cfg.cgroup_id;
	/* Ingress: the owning socket is not known yet at tc ingress. */
	return false;
}
