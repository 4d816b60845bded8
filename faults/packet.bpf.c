// SPDX-License-Identifier: GPL-2.0
/* tc programs of the packet family: drop, duplicate or corrupt a random share
 * of the matched packets. One object per fault; the ingress and egress
 * programs share its maps. The settings are read-only globals written by user
 * space before load, so the verifier prunes every branch a fault does not use.
 * Matching: match.bpf.h. Duplication and corruption: docs/faults.md. */
#include "match.bpf.h"

/* Must match faults/packet_prog.c. */
#define ACTION_DROP 0
#define ACTION_DUPLICATE 1
#define ACTION_CORRUPT 2

/* What a drop on egress returns (see docs/faults.md "Backends and kernels"). */
#define EGRESS_DROP_SHOT 0      /* sender's sendmsg sees ENOBUFS: not like real loss */
#define EGRESS_DROP_STOLEN 1    /* cls_bpf: silent */
#define EGRESS_DROP_REDIRECT_NOWHERE 2  /* tcx: redirect to ifindex 0, freed silently */

/* Verdicts understood by both cls_bpf (direct action) and tcx. */
#define VERDICT_NEXT -1         /* TC_ACT_UNSPEC / TCX_NEXT: not ours, let others decide */
#define VERDICT_DROP 2          /* TC_ACT_SHOT / TCX_DROP */

#define CORRUPT_MAX_BYTES 16

const volatile __u8 action = ACTION_DROP;
const volatile __u32 drop_threshold = 0;        /* act if prandom < threshold */
const volatile bool drop_always = false;
const volatile __u8 egress_drop_mode = EGRESS_DROP_SHOT;
/* Duplication: the clone carries this skb->tc_index until this fault's own
 * program sees it again (unique per loaded fault, never 0). */
const volatile __u16 clone_tag = 0;
/* Corruption. */
const volatile __u8 corrupt_bytes = 1;
const volatile bool fix_checksum = false;

struct counters {
	__u64 matched;
	__u64 dropped;
	__u64 duplicated;
	__u64 corrupted;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} stats SEC(".maps");

/* Interfaces whose device computes a CHECKSUM_PARTIAL packet's checksum on
 * transmit (physical NICs): ifindex -> 1. Filled by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8);
} hw_csum_ifindexes SEC(".maps");

static __always_inline int egress_drop(void)
{
	if (egress_drop_mode == EGRESS_DROP_STOLEN)
		return TC_ACT_STOLEN;
	if (egress_drop_mode == EGRESS_DROP_REDIRECT_NOWHERE)
		return bpf_redirect(0, 0);
	return VERDICT_DROP;
}

static __always_inline int drop(bool egress)
{
	return egress ? egress_drop() : VERDICT_DROP;
}

/* The clone re-enters the hook it was sent to (synchronously on egress, via
 * the backlog on ingress). It carries a tag in tc_index so that it is not
 * duplicated again: this fault's program clears its own tag and lets the clone
 * pass; any other tag (another fault's clone, or a host that uses tc_index)
 * passes untouched, so no chain of faults can clone a packet forever. */
static __always_inline bool duplicate(struct __sk_buff *skb, bool egress)
{
	__u32 saved = skb->tc_index;
	skb->tc_index = clone_tag;
	long r = bpf_clone_redirect(skb, skb->ifindex, egress ? 0 : BPF_F_INGRESS);
	skb->tc_index = saved;
	return r == 0;
}

/* Where an L4 segment and its payload are, from the IP header (not skb->len,
 * which includes Ethernet padding on received frames). */
struct segment {
	__u32 l4_end;           /* offset just past the IP payload */
	__u32 payload;          /* offset of the first payload byte */
	__u32 csum;             /* offset of the L4 checksum field */
	bool csum_pseudo;       /* the checksum covers a pseudo header */
	bool udp;
};

static __always_inline bool find_segment(struct __sk_buff *skb, const struct packet_info *pi, struct segment *s)
{
	__u32 l4 = pi->l4_offset;
	if (pi->eth_proto == ETH_P_IP) {
		__be16 tot_len;
		if (bpf_skb_load_bytes(skb, pi->l3_offset + 2, &tot_len, sizeof(tot_len)) < 0)
			return false;
		s->l4_end = pi->l3_offset + bpf_ntohs(tot_len);
	} else {
		__be16 payload_len;
		if (bpf_skb_load_bytes(skb, pi->l3_offset + 4, &payload_len, sizeof(payload_len)) < 0)
			return false;
		s->l4_end = pi->l3_offset + sizeof(struct ipv6hdr) + bpf_ntohs(payload_len);
	}
	if (s->l4_end > skb->len)
		s->l4_end = skb->len;
	s->udp = false;
	s->csum_pseudo = true;
	if (pi->l4proto == IPPROTO_TCP) {
		__u8 doff;
		if (bpf_skb_load_bytes(skb, l4 + 12, &doff, 1) < 0)
			return false;
		s->payload = l4 + (doff >> 4) * 4;
		s->csum = l4 + 16;
	} else if (pi->l4proto == IPPROTO_UDP) {
		s->payload = l4 + 8;
		s->csum = l4 + 6;
		s->udp = true;
	} else if (pi->l4proto == IPPROTO_ICMP || pi->l4proto == IPPROTO_ICMPV6) {
		s->payload = l4 + 8;
		s->csum = l4 + 2;
		s->csum_pseudo = pi->l4proto == IPPROTO_ICMPV6;
	} else {
		return false;
	}
	return s->payload < s->l4_end;
}

/* A CHECKSUM_PARTIAL packet (sent by this host through a device that offloads
 * checksums, e.g. veth) carries only the pseudo-header sum in its checksum
 * field; the rest is added after tc, or never (a local receiver trusts it).
 * tc programs cannot read ip_summed: compare the field with that sum. A full
 * checksum equals it by chance for 1 packet in 65535. */
static __always_inline bool looks_partial(struct __sk_buff *skb, const struct packet_info *pi,
					  const struct segment *s)
{
	if (!s->csum_pseudo)
		return false;
	__u16 field;
	if (bpf_skb_load_bytes(skb, s->csum, &field, sizeof(field)) < 0)
		return false;
	__u32 len = bpf_htonl(s->l4_end - pi->l4_offset);
	__u32 proto = bpf_htonl(pi->l4proto);
	__s64 sum;
	if (pi->eth_proto == ETH_P_IP) {
		__u32 addrs[2];
		__builtin_memcpy(&addrs[0], &pi->src.addr[12], 4);
		__builtin_memcpy(&addrs[1], &pi->dst.addr[12], 4);
		sum = bpf_csum_diff(NULL, 0, addrs, sizeof(addrs), 0);
	} else {
		__u32 addrs[8];
		__builtin_memcpy(&addrs[0], pi->src.addr, 16);
		__builtin_memcpy(&addrs[4], pi->dst.addr, 16);
		sum = bpf_csum_diff(NULL, 0, addrs, sizeof(addrs), 0);
	}
	if (sum < 0)
		return false;
	__u32 rest[2] = { len, proto };
	sum = bpf_csum_diff(NULL, 0, rest, sizeof(rest), (__u32)sum);
	if (sum < 0)
		return false;
	__u32 folded = (__u32)sum;
	folded = (folded & 0xffff) + (folded >> 16);
	folded = (folded & 0xffff) + (folded >> 16);
	return (__u16)folded == field;
}

/* Changes corrupt_bytes payload bytes (one at a random place in each of that
 * many equal slices of the payload, so no byte is hit twice), each XORed with
 * a random non-zero value. Returns the change of the one's complement sum
 * over the segment (never 0 mod 0xffff), or -1 if nothing could be written. */
static __always_inline __s64 corrupt_payload(struct __sk_buff *skb, const struct packet_info *pi,
					     const struct segment *s)
{
	__u32 payload_len = s->l4_end - s->payload;
	__u32 n = corrupt_bytes;
	if (n > payload_len)
		n = payload_len;
	if (n == 0 || n > CORRUPT_MAX_BYTES)
		return -1;
	__u32 slice = payload_len / n;
	__u32 delta = 0;
	for (__u32 i = 0; i < CORRUPT_MAX_BYTES; i++) {
		if (i >= n)
			break;
		__u32 off = s->payload + i * slice + bpf_get_prandom_u32() % slice;
		/* The checksum adds 16-bit words counted from the L4 header. */
		__u32 word = pi->l4_offset + ((off - pi->l4_offset) & ~1u);
		__u32 word_len = word + 2 <= s->l4_end ? 2 : 1;
		__u8 old[4] = {}, new[4] = {};
		if (word_len == 2) {
			if (bpf_skb_load_bytes(skb, word, old, 2) < 0)
				return -1;
		} else if (bpf_skb_load_bytes(skb, word, old, 1) < 0) {
			return -1;
		}
		__builtin_memcpy(new, old, 4);
		__u8 flip = (__u8)(bpf_get_prandom_u32() % 255 + 1);
		__u32 at = off - word;
		if (at > 1)
			return -1;
		new[at] ^= flip;
		__s64 d = bpf_csum_diff((__be32 *)old, 4, (__be32 *)new, 4, delta);
		if (d < 0)
			return -1;
		__u32 folded = ((__u32)d & 0xffff) + ((__u32)d >> 16);
		folded = (folded & 0xffff) + (folded >> 16);
		if (i + 1 == n && (folded == 0 || folded == 0xffff)) {
			/* Two changes that cancel in the sum would pass any checksum:
			 * change the last byte differently (any other value breaks the tie). */
			new[at] = old[at] ^ (flip == 1 ? 3 : (flip ^ 1));
			d = bpf_csum_diff((__be32 *)old, 4, (__be32 *)new, 4, delta);
			if (d < 0)
				return -1;
		}
		delta = (__u32)d;
		if (bpf_skb_store_bytes(skb, off, &new[at], 1, BPF_F_RECOMPUTE_CSUM) < 0)
			return -1;
	}
	return delta;
}

/* Returns the verdict. */
static __always_inline int corrupt(struct __sk_buff *skb, bool egress, const struct packet_info *pi,
				   struct counters *c)
{
	struct segment s;
	if (!(pi->has_ports || pi->has_icmp_type) || !find_segment(skb, pi, &s))
		return VERDICT_NEXT;    /* no payload: nothing to corrupt */
	bool partial = !fix_checksum && looks_partial(skb, pi, &s);
	__s64 delta = corrupt_payload(skb, pi, &s);
	if (delta < 0)
		return VERDICT_NEXT;
	if (c)
		c->corrupted++;
	__u64 mangled = s.udp ? BPF_F_MARK_MANGLED_0 : 0;
	if (fix_checksum) {
		/* The checksum then matches the new bytes (for CHECKSUM_PARTIAL
		 * this is a no-op: the device computes it over the new bytes). */
		bpf_l4_csum_replace(skb, s.csum, 0, (__u32)delta, mangled);
		return VERDICT_NEXT;
	}
	if (!partial) {
		/* The field still holds the old checksum: wrong for the new bytes.
		 * A receiving NIC that already verified it said "unnecessary". */
		bpf_csum_level(skb, BPF_CSUM_LEVEL_RESET);
		return VERDICT_NEXT;
	}
	__u32 ifindex = skb->ifindex;
	if (egress && bpf_map_lookup_elem(&hw_csum_ifindexes, &ifindex)) {
		/* Skew the pseudo-header sum: the NIC writes a wrong checksum. */
		bpf_l4_csum_replace(skb, s.csum, 0, (__u32)delta, BPF_F_PSEUDO_HDR | mangled);
		return VERDICT_NEXT;
	}
	/* No device will ever compute this checksum and the local receiver
	 * trusts it: discard the packet as that receiver would. */
	if (c)
		c->dropped++;
	return drop(egress);
}

static __always_inline int decide(struct __sk_buff *skb, bool egress)
{
	if (action == ACTION_DUPLICATE && skb->tc_index != 0) {
		if (skb->tc_index == clone_tag)
			skb->tc_index = 0;
		return VERDICT_NEXT;
	}
	struct packet_info pi = {};
	if (!match_packet(skb, egress, &pi))
		return VERDICT_NEXT;

	__u32 zero = 0;
	struct counters *c = bpf_map_lookup_elem(&stats, &zero);
	if (c)
		c->matched++;
	if (!drop_always && bpf_get_prandom_u32() >= drop_threshold)
		return VERDICT_NEXT;
	if (action == ACTION_DUPLICATE) {
		if (duplicate(skb, egress) && c)
			c->duplicated++;
		return VERDICT_NEXT;
	}
	if (action == ACTION_CORRUPT)
		return corrupt(skb, egress, &pi, c);
	if (c)
		c->dropped++;
	return drop(egress);
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
