// SPDX-License-Identifier: GPL-2.0
/* tc egress program of the dns family: finds DNS queries (UDP, or TCP for the
 * timeout action) to the server port whose name matches a pattern, then drops
 * them (timeout) or turns the query into the answer in place (REFUSED,
 * NXDOMAIN, SERVFAIL) and redirects it to the ingress of the same interface,
 * so the client gets the answer at once from the resolver's address.
 * Anything odd (compression pointers in the question, truncated names, more
 * than one question, IP options or fragments when answering) passes untouched. */
#include "match.bpf.h"
#include "dns.h"

#define VERDICT_NEXT -1
#define VERDICT_PASS 0          /* TC_ACT_OK / TCX_PASS */
#define LOOPBACK_IFINDEX 1      /* in every network namespace */
/* answer() failed after it began rewriting: the packet is neither query nor answer. */
#define ANSWER_BROKEN -100

/* Longest question read: a 255-octet name plus QTYPE and QCLASS. */
#define QUESTION_MAX (DNS_NAME_WIRE_MAX + 4)
#define MAX_LABELS 128
#define DNS_HEADER_LEN 12
#define SCRATCH_LEN 512
#define SCRATCH_MASK (SCRATCH_LEN - 1)

#define RCODE_SERVFAIL 2
#define RCODE_NXDOMAIN 3
#define RCODE_REFUSED 5

const volatile __u8 dns_action = DNS_ACTION_TIMEOUT;
const volatile __u16 dns_port = 53;
const volatile __u32 act_threshold = 0;  /* act if prandom < threshold */
const volatile bool act_always = true;
const volatile __u8 egress_drop_mode = DNS_DROP_STOLEN;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dns_counters);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DNS_MAX_PATTERNS);
	__type(key, struct dns_pattern_key);
	__type(value, struct dns_pattern);
} patterns SEC(".maps");

/* Too big for the 512-byte stack: one per CPU (tc programs do not migrate). */
struct scratch {
	__u8 name[SCRATCH_LEN];
	__u8 segment[SCRATCH_LEN];
	__u16 starts[MAX_LABELS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_space SEC(".maps");

struct dns_query {
	__u32 dns_offset;    /* of the DNS header, from skb->data */
	__u32 name_len;      /* wire length of QNAME with its final zero */
};

static __always_inline __u8 lower(__u8 c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* v (1..512) again, computed in a way the compiler cannot see through, so the
 * verifier gets both bounds on the very register a helper's size comes from. */
static __always_inline __u32 size_for_verifier(__u32 v)
{
	__u32 x = v - 1;
	asm volatile("%0 &= 0x1ff" : "+r"(x));
	return x + 1;
}

/* The loops over the name run as bpf_loop() callbacks (Linux 5.17): the
 * verifier checks each body once instead of every iteration of every path. */
struct walk_ctx {
	struct scratch *s;
	__u32 avail;     /* bytes of the question in s->name */
	__u32 pos;       /* next length octet */
	__u32 labels;
	int status;      /* 1: the final zero found; -1: malformed */
};

static long walk_label(__u32 i, void *data)
{
	struct walk_ctx *w = data;
	if (w->pos >= w->avail) {
		w->status = -1;
		return 1;
	}
	__u8 len = w->s->name[w->pos & SCRATCH_MASK];
	if (len == 0) {
		w->status = 1;
		return 1;
	}
	/* Compression pointers and extended label types have no place in a question. */
	if (len & 0xc0) {
		w->status = -1;
		return 1;
	}
	w->s->starts[i & (MAX_LABELS - 1)] = (__u16)w->pos;
	w->labels = i + 1;
	w->pos += len + 1;
	if (w->pos >= DNS_NAME_WIRE_MAX) {
		w->status = -1;
		return 1;
	}
	return 0;
}

/* 0 and *q filled when the packet is a standard query with one question whose
 * name (copied to s->name, label starts to s->starts) is well-formed. */
static __always_inline int read_query(struct __sk_buff *skb, const struct packet_info *pi, struct scratch *s,
				      struct dns_query *q, __u32 *n_labels)
{
	__u32 l4 = pi->l4_offset;
	__u32 dns_offset;
	if (pi->l4proto == IPPROTO_UDP) {
		dns_offset = l4 + sizeof(struct udphdr);
	} else {
		__u8 doff;
		if (bpf_skb_load_bytes(skb, l4 + 12, &doff, 1) < 0)
			return -1;
		__u32 tcp_len = (doff >> 4) * 4;
		if (tcp_len < sizeof(struct tcphdr))
			return -1;
		/* DNS over TCP: a two-byte length, then the message. */
		dns_offset = l4 + tcp_len + 2;
	}
	__u8 hdr[DNS_HEADER_LEN];
	if (dns_offset > 0xffff || bpf_skb_load_bytes(skb, dns_offset, hdr, sizeof(hdr)) < 0)
		return -1;
	/* QR = 0 and OPCODE = 0 (QUERY), QDCOUNT = 1. */
	if ((hdr[2] & 0xf8) != 0 || hdr[4] != 0 || hdr[5] != 1)
		return -1;

	__u32 name_offset = dns_offset + DNS_HEADER_LEN;
	if (skb->len <= name_offset)
		return -1;
	__u32 avail = skb->len - name_offset;
	if (avail > QUESTION_MAX)
		avail = QUESTION_MAX;
	if (avail < 5)
		return -1;
	if (bpf_skb_load_bytes(skb, name_offset, s->name, size_for_verifier(avail)) < 0)
		return -1;

	struct walk_ctx w = { .s = s, .avail = avail };
	bpf_loop(MAX_LABELS, walk_label, &w, 0);
	if (w.status != 1 || w.pos + 1 + 4 > avail)
		return -1;
	q->dns_offset = dns_offset;
	q->name_len = w.pos + 1;
	*n_labels = w.labels;
	return 0;
}

struct suffix_ctx {
	struct scratch *s;
	__u32 name_len;
	int k;           /* the label start looked for next, counting down */
	__u64 hash;
	bool found;
	__u32 hit_pos;
	struct dns_pattern_key hit_key;
};

/* Suffix hashes are computed from the end of the name; at each label start the
 * (hash, length) pair is looked up. */
static long hash_suffix(__u32 i, void *data)
{
	struct suffix_ctx *c = data;
	if (i >= c->name_len)
		return 1;
	__u32 p = c->name_len - 1 - i;
	c->hash = c->hash * DNS_HASH_MUL + lower(c->s->name[p & SCRATCH_MASK]);
	if (c->k < 0 || p != c->s->starts[c->k & (MAX_LABELS - 1)])
		return 0;
	c->k--;
	struct dns_pattern_key key = { .hash = c->hash, .len = c->name_len - p };
	struct dns_pattern *pat = bpf_map_lookup_elem(&patterns, &key);
	if (!pat)
		return 0;
	if ((p == 0 && (pat->flags & DNS_PATTERN_EXACT)) || (p > 0 && (pat->flags & DNS_PATTERN_SUBDOMAINS))) {
		c->found = true;
		c->hit_pos = p;
		c->hit_key = key;
		return 1;
	}
	return 0;
}

struct compare_ctx {
	struct scratch *s;
	struct dns_pattern *pat;
	__u32 pos;
	bool differs;
};

static long compare_byte(__u32 i, void *data)
{
	struct compare_ctx *c = data;
	if (i >= c->pat->len)
		return 1;
	if (lower(c->s->name[(c->pos + i) & SCRATCH_MASK]) != c->pat->wire[i & 0xff]) {
		c->differs = true;
		return 1;
	}
	return 0;
}

/* Does the name in s->name match a pattern? The first hash hit is compared
 * byte by byte (a hash collision makes the name not match). */
static __always_inline bool name_matches(struct scratch *s, __u32 name_len, __u32 n_labels)
{
	struct suffix_ctx c = { .s = s, .name_len = name_len, .k = (int)n_labels - 1 };
	bpf_loop(DNS_NAME_WIRE_MAX, hash_suffix, &c, 0);
	if (!c.found)
		return false;
	struct dns_pattern *pat = bpf_map_lookup_elem(&patterns, &c.hit_key);
	if (!pat || pat->len != name_len - c.hit_pos)
		return false;
	struct compare_ctx cmp = { .s = s, .pat = pat, .pos = c.hit_pos };
	bpf_loop(DNS_NAME_WIRE_MAX, compare_byte, &cmp, 0);
	return !cmp.differs;
}

static __always_inline __u16 csum_fold(__s64 sum)
{
	__u64 s = (__u64)sum & 0xffffffffull;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

struct pseudo_v4 {
	__be32 saddr, daddr;
	__u8 zero, proto;
	__be16 len;
};

struct pseudo_v6 {
	struct in6_addr saddr, daddr;
	__be32 len;
	__u8 zero[3];
	__u8 next;
};

static __always_inline __u8 rcode_of_action(void)
{
	if (dns_action == DNS_ACTION_REFUSE)
		return RCODE_REFUSED;
	if (dns_action == DNS_ACTION_NXDOMAIN)
		return RCODE_NXDOMAIN;
	return RCODE_SERVFAIL;
}

/* Header fields of the answer: QR = 1, OPCODE and RD kept, AA = TC = 0,
 * RA = RD, Z = AD = 0, CD kept; no answer, authority or additional records. */
static __always_inline void make_answer_header(__u8 *dns)
{
	__u8 rd = dns[2] & 0x01;
	dns[2] = 0x80 | (dns[2] & 0x79);
	dns[3] = (rd ? 0x80 : 0) | (dns[3] & 0x10) | rcode_of_action();
	dns[6] = dns[7] = dns[8] = dns[9] = dns[10] = dns[11] = 0;
}

static __always_inline void swap_macs(struct ethhdr *eth)
{
	__u8 tmp[ETH_ALEN];
	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

/* Rewrites the UDP query in place into the answer; returns the redirect
 * verdict, or VERDICT_NEXT when it cannot (the query then passes). */
static __always_inline int answer(struct __sk_buff *skb, const struct packet_info *pi, const struct dns_query *q,
				  struct scratch *s)
{
	bool v4 = pi->eth_proto == ETH_P_IP;
	__u32 l4 = sizeof(struct ethhdr) + (v4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr));
	/* IP options, IPv6 extension headers: leave such queries alone. */
	if (pi->l4_offset != l4)
		return VERDICT_NEXT;
	__u32 new_len = q->dns_offset + DNS_HEADER_LEN + q->name_len + 4;
	if (new_len != l4 + sizeof(struct udphdr) + DNS_HEADER_LEN + q->name_len + 4 || skb->len < new_len)
		return VERDICT_NEXT;
	if (v4) {
		__be16 frag;
		if (bpf_skb_load_bytes(skb, sizeof(struct ethhdr) + 6, &frag, 2) < 0 || (frag & bpf_htons(0x3fff)))
			return VERDICT_NEXT;
	}
	__u32 segment_len = new_len - l4;
	if (segment_len < sizeof(struct udphdr) + DNS_HEADER_LEN ||
	    segment_len > sizeof(struct udphdr) + DNS_HEADER_LEN + QUESTION_MAX)
		return VERDICT_NEXT;
	/* The additional section (EDNS OPT, ...) goes: the answer has the question only. */
	if (skb->len > new_len && bpf_skb_change_tail(skb, new_len, 0) < 0)
		return VERDICT_NEXT;
	if (bpf_skb_pull_data(skb, new_len) < 0)
		return VERDICT_NEXT;

	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct pseudo_v4 ph4 = {};
	struct pseudo_v6 ph6 = {};
	struct udphdr *udp;
	if (v4) {
		struct iphdr *ip = data + sizeof(*eth);
		udp = (void *)(ip + 1);
		if ((void *)(udp + 1) + DNS_HEADER_LEN > data_end)
			return VERDICT_NEXT;
		__be32 a = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = a;
		ip->tot_len = bpf_htons((__u16)(new_len - sizeof(*eth)));
		ip->check = 0;
		ip->check = csum_fold(bpf_csum_diff(NULL, 0, (__be32 *)ip, sizeof(*ip), 0));
		ph4.saddr = ip->saddr;
		ph4.daddr = ip->daddr;
		ph4.proto = IPPROTO_UDP;
		ph4.len = bpf_htons((__u16)segment_len);
	} else {
		struct ipv6hdr *ip6 = data + sizeof(*eth);
		udp = (void *)(ip6 + 1);
		if ((void *)(udp + 1) + DNS_HEADER_LEN > data_end)
			return VERDICT_NEXT;
		struct in6_addr a = ip6->saddr;
		ip6->saddr = ip6->daddr;
		ip6->daddr = a;
		ip6->payload_len = bpf_htons((__u16)segment_len);
		ph6.saddr = ip6->saddr;
		ph6.daddr = ip6->daddr;
		ph6.len = bpf_htonl(segment_len);
		ph6.next = IPPROTO_UDP;
	}
	swap_macs(eth);
	__be16 port = udp->source;
	udp->source = udp->dest;
	udp->dest = port;
	udp->len = bpf_htons((__u16)segment_len);
	udp->check = 0;
	make_answer_header((__u8 *)(udp + 1));

	/* A full UDP checksum (IPv6 needs one; IPv4 gets one too). The segment is
	 * copied out, zero-padded to a multiple of four for bpf_csum_diff. */
	__u32 seg = size_for_verifier(segment_len);
	if (bpf_skb_load_bytes(skb, l4, s->segment, seg) < 0)
		return ANSWER_BROKEN;
	s->segment[seg & SCRATCH_MASK] = 0;
	s->segment[(seg + 1) & SCRATCH_MASK] = 0;
	s->segment[(seg + 2) & SCRATCH_MASK] = 0;
	__u32 padded = (seg + 3) & 0x3fc;
	__s64 sum = v4 ? bpf_csum_diff(NULL, 0, (__be32 *)&ph4, sizeof(ph4), 0)
		       : bpf_csum_diff(NULL, 0, (__be32 *)&ph6, sizeof(ph6), 0);
	if (sum < 0)
		return ANSWER_BROKEN;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)s->segment, padded, (__wsum)sum);
	if (sum < 0)
		return ANSWER_BROKEN;
	__u16 check = csum_fold(sum);
	if (check == 0)
		check = 0xffff;
	if (bpf_skb_store_bytes(skb, l4 + 6, &check, sizeof(check), 0) < 0)
		return ANSWER_BROKEN;
	/* Loopback keeps the query's route, a local delivery, so the answer just goes
	 * on its way. Redirected to ingress it would lose it, and the new input route
	 * lookup refuses 127/8 sources (martian unless route_localnet). */
	if (skb->ifindex == LOOPBACK_IFINDEX)
		return VERDICT_PASS;
	return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
}

static __always_inline int drop(void)
{
	if (egress_drop_mode == DNS_DROP_REDIRECT_NOWHERE)
		return bpf_redirect(0, 0);
	return TC_ACT_STOLEN;
}

SEC("tc")
int dns_egress(struct __sk_buff *skb)
{
	struct packet_info pi = {};
	if (!match_packet(skb, true, &pi))
		return VERDICT_NEXT;
	if (!pi.has_ports || pi.dport != dns_port || (pi.l4proto != IPPROTO_UDP && pi.l4proto != IPPROTO_TCP))
		return VERDICT_NEXT;
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_space, &zero);
	struct dns_counters *c = bpf_map_lookup_elem(&stats, &zero);
	if (!s || !c)
		return VERDICT_NEXT;
	struct dns_query q;
	__u32 n_labels;
	if (read_query(skb, &pi, s, &q, &n_labels) < 0)
		return VERDICT_NEXT;
	c->seen++;
	if (!name_matches(s, q.name_len, n_labels))
		return VERDICT_NEXT;
	c->matched++;
	if (!act_always && bpf_get_prandom_u32() >= act_threshold) {
		c->passed++;
		return VERDICT_NEXT;
	}
	if (dns_action == DNS_ACTION_TIMEOUT) {
		c->dropped++;
		return drop();
	}
	/* An answer over TCP would need the connection's sequence numbers:
	 * TCP queries pass (docs/faults.md "dns"). */
	if (pi.l4proto != IPPROTO_UDP) {
		c->passed++;
		return VERDICT_NEXT;
	}
	int verdict = answer(skb, &pi, &q, s);
	if (verdict == VERDICT_NEXT) {
		c->passed++;
	} else if (verdict == ANSWER_BROKEN) {
		c->dropped++;
		verdict = drop();
	} else {
		c->answered++;
	}
	return verdict;
}

char LICENSE[] SEC("license") = "GPL";
