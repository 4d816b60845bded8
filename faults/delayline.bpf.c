// SPDX-License-Identifier: GPL-2.0
/* tc programs of the delay-line backend (faults/delayline.c). On a real
 * interface: matched packets are redirected to the TAP device the agent reads
 * for that interface and direction. On a TAP: what the agent writes back is
 * marked and redirected to where it was going (egress of the interface, or its
 * ingress with BPF_F_INGRESS); the mark lets it pass the first program. */
#include "match.bpf.h"
#include "delayline_bpf.h"

#define VERDICT_NEXT -1         /* TC_ACT_UNSPEC / TCX_NEXT */
#define VERDICT_DROP 2          /* TC_ACT_SHOT / TCX_DROP */

const volatile __u32 line_mark = DELAYLINE_MARK_BASE;  /* this fault's mark */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DELAYLINE_MAX_LINKS);
	__type(key, __u32);                     /* real interface's ifindex */
	__type(value, struct delayline_divert);
} divert SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * DELAYLINE_MAX_LINKS);
	__type(key, __u32);                     /* TAP's ifindex */
	__type(value, struct delayline_return);
} giveback SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct delayline_counters);
} counters SEC(".maps");

static __always_inline struct delayline_counters *stats(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&counters, &zero);
}

static __always_inline int to_tap(struct __sk_buff *skb, bool egress)
{
	if (skb->mark == line_mark) {
		/* Back from our line: the host must not see the mark. */
		skb->mark = 0;
		return VERDICT_NEXT;
	}
	if ((skb->mark & DELAYLINE_MARK_MASK) == DELAYLINE_MARK_BASE)
		return VERDICT_NEXT;    /* back from a later program's line: seen already */
	struct packet_info pi = {};
	if (!match_packet(skb, egress, &pi))
		return VERDICT_NEXT;
	__u32 ifindex = skb->ifindex;
	struct delayline_divert *d = bpf_map_lookup_elem(&divert, &ifindex);
	if (!d)
		return VERDICT_NEXT;
	__u32 tap = egress ? d->tap_egress : d->tap_ingress;
	if (!tap)
		return VERDICT_NEXT;
	struct delayline_counters *c = stats();
	if (c)
		c->diverted++;
	return bpf_redirect(tap, 0);
}

SEC("tc")
int delayline_ingress(struct __sk_buff *skb)
{
	return to_tap(skb, false);
}

SEC("tc")
int delayline_egress(struct __sk_buff *skb)
{
	return to_tap(skb, true);
}

/* Ingress of a TAP: frames the agent wrote back. Anything without a way back
 * is dropped: a TAP carries nothing else. */
SEC("tc")
int delayline_tap(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct delayline_return *b = bpf_map_lookup_elem(&giveback, &ifindex);
	struct delayline_counters *c = stats();
	if (!b) {
		if (c)
			c->unroutable++;
		return VERDICT_DROP;
	}
	if (c)
		c->returned++;
	skb->mark = line_mark;
	return bpf_redirect(b->ifindex, b->ingress ? BPF_F_INGRESS : 0);
}

char LICENSE[] SEC("license") = "GPL";
