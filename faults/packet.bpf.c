// SPDX-License-Identifier: GPL-2.0
/* tc programs of the packet family: drop a random share of the matched packets.
 * One object per fault; the ingress and egress programs share its maps. The
 * settings are read-only globals written by user space before load, so the
 * verifier prunes every branch a fault does not use. Matching: match.bpf.h. */
#include "match.bpf.h"

/* What a drop on egress returns (see docs/faults.md "Backends and kernels"). */
#define EGRESS_DROP_SHOT 0      /* sender's sendmsg sees ENOBUFS: not like real loss */
#define EGRESS_DROP_STOLEN 1    /* cls_bpf: silent */
#define EGRESS_DROP_REDIRECT_NOWHERE 2  /* tcx: redirect to ifindex 0, freed silently */

/* Verdicts understood by both cls_bpf (direct action) and tcx. */
#define VERDICT_NEXT -1         /* TC_ACT_UNSPEC / TCX_NEXT: not ours, let others decide */
#define VERDICT_DROP 2          /* TC_ACT_SHOT / TCX_DROP */

const volatile __u32 drop_threshold = 0;        /* drop if prandom < threshold */
const volatile bool drop_always = false;
const volatile __u8 egress_drop_mode = EGRESS_DROP_SHOT;

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
	struct packet_info pi = {};
	if (!match_packet(skb, egress, &pi))
		return VERDICT_NEXT;

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
