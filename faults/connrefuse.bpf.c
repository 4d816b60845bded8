// SPDX-License-Identifier: GPL-2.0
/* Kind "connection-refused": cgroup connect4/connect6 programs attached to the
 * scope's cgroup make connect() to matched destinations fail at once, before a
 * packet leaves. The settings are read-only globals written by user space
 * before load, so the verifier prunes what a fault does not use. */
#include <linux/bpf.h>
#include <linux/in.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "connrefuse_config.h"

#define CGROUP_VERDICT_REJECT 0
#define CGROUP_VERDICT_ALLOW 1

const volatile struct connrefuse_config cr_cfg = {};

/* Same key layout as faults/match.bpf.h: IPv4 as ::ffff:a.b.c.d, so an IPv4
 * prefix also matches an IPv6 socket connecting to the mapped address. */
struct lpm_key {
	__u32 prefixlen;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u8);
} dst_cidrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} refused SEC(".maps");

static __always_inline bool port_matches(__u16 port)
{
	if (cr_cfg.n_ports == 0)
		return true;
	for (__u32 i = 0; i < CONNREFUSE_MAX_PORT_RANGES; i++) {
		if (i >= cr_cfg.n_ports)
			break;
		if (port >= cr_cfg.port_first[i] && port <= cr_cfg.port_last[i])
			return true;
	}
	return false;
}

static __always_inline bool protocol_matches(__u32 protocol)
{
	return (protocol == IPPROTO_TCP && cr_cfg.tcp) || (protocol == IPPROTO_UDP && cr_cfg.udp);
}

static __always_inline int decide(struct bpf_sock_addr *ctx, struct lpm_key *dst)
{
	if (!protocol_matches(ctx->protocol))
		return CGROUP_VERDICT_ALLOW;
	/* user_port holds the port in network byte order in its low 16 bits. */
	if (!port_matches(bpf_ntohs((__u16)ctx->user_port)))
		return CGROUP_VERDICT_ALLOW;
	if (cr_cfg.match_dst && !bpf_map_lookup_elem(&dst_cidrs, dst))
		return CGROUP_VERDICT_ALLOW;

	__u32 zero = 0;
	__u64 *count = bpf_map_lookup_elem(&refused, &zero);
	if (count)
		(*count)++;
	/* Rejecting alone makes connect() fail with EPERM; the kernel keeps an
	 * error set here instead (Linux 5.18+). */
	if (cr_cfg.error)
		bpf_set_retval(-cr_cfg.error);
	return CGROUP_VERDICT_REJECT;
}

SEC("cgroup/connect4")
int connrefuse_connect4(struct bpf_sock_addr *ctx)
{
	struct lpm_key dst;
	__builtin_memset(&dst, 0, sizeof(dst));
	dst.prefixlen = 128;
	dst.addr[10] = 0xff;
	dst.addr[11] = 0xff;
	__u32 addr = ctx->user_ip4;
	__builtin_memcpy(&dst.addr[12], &addr, 4);
	return decide(ctx, &dst);
}

SEC("cgroup/connect6")
int connrefuse_connect6(struct bpf_sock_addr *ctx)
{
	struct lpm_key dst;
	dst.prefixlen = 128;
	for (int i = 0; i < 4; i++) {
		__u32 word = ctx->user_ip6[i];
		__builtin_memcpy(&dst.addr[i * 4], &word, 4);
	}
	return decide(ctx, &dst);
}

char LICENSE[] SEC("license") = "GPL";
