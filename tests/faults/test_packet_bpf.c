/* The packet family's BPF program without a network: load it configured from a
 * spec and run it on crafted frames with BPF_PROG_TEST_RUN. Needs root. */
#include "faults/packet.h"
#include "faults/registry.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define NEXT -1          /* TC_ACT_UNSPEC / TCX_NEXT */
#define DROP 2           /* TC_ACT_SHOT / TCX_DROP */
#define STOLEN 4         /* TC_ACT_STOLEN: clsact egress drop */
#define REDIRECT 7       /* TC_ACT_REDIRECT: tcx egress drop (to ifindex 0) */
#define CONTROL_PORT 7070

/* Two bytes of padding in a 4-aligned struct put the IP header after the 14-byte
 * Ethernet header on a 4-byte boundary, as the kernel's NET_IP_ALIGN does; UBSan
 * rejects the header stores otherwise. */
struct frame {
	uint8_t pad[2];
	uint8_t buf[128];
	uint32_t len;
} __attribute__((aligned(4)));

static void eth(struct frame *f, uint16_t proto)
{
	memset(f, 0, sizeof(*f));
	struct ethhdr *e = (struct ethhdr *)f->buf;
	memcpy(e->h_dest, "\x02\x00\x00\x00\x00\x02", ETH_ALEN);
	memcpy(e->h_source, "\x02\x00\x00\x00\x00\x01", ETH_ALEN);
	e->h_proto = htons(proto);
	f->len = 96;
}

/* For ICMP/ICMPv6, `sport` is the message type. */
static void put_l4(uint8_t *l4, uint8_t proto, uint16_t sport, uint16_t dport)
{
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		uint16_t p[2] = { htons(sport), htons(dport) };
		memcpy(l4, p, sizeof(p));
		if (proto == IPPROTO_TCP)
			l4[12] = 5 << 4;
	} else {
		l4[0] = (uint8_t)sport;
	}
}

static struct frame v4(const char *src, const char *dst, uint8_t proto, uint16_t sport, uint16_t dport,
		       uint16_t frag_off)
{
	struct frame f;
	eth(&f, ETH_P_IP);
	struct iphdr *ip = (struct iphdr *)(f.buf + sizeof(struct ethhdr));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = proto;
	ip->tot_len = htons((uint16_t)(f.len - sizeof(struct ethhdr)));
	ip->frag_off = htons(frag_off);
	assert_int_equal(inet_pton(AF_INET, src, &ip->saddr), 1);
	assert_int_equal(inet_pton(AF_INET, dst, &ip->daddr), 1);
	put_l4((uint8_t *)(ip + 1), proto, sport, dport);
	return f;
}

static struct frame v6(const char *src, const char *dst, uint8_t proto, uint16_t sport, uint16_t dport)
{
	struct frame f;
	eth(&f, ETH_P_IPV6);
	struct ipv6hdr *ip6 = (struct ipv6hdr *)(f.buf + sizeof(struct ethhdr));
	ip6->version = 6;
	ip6->nexthdr = proto;
	ip6->hop_limit = 64;
	ip6->payload_len = htons((uint16_t)(f.len - sizeof(struct ethhdr) - sizeof(*ip6)));
	assert_int_equal(inet_pton(AF_INET6, src, &ip6->saddr), 1);
	assert_int_equal(inet_pton(AF_INET6, dst, &ip6->daddr), 1);
	put_l4((uint8_t *)(ip6 + 1), proto, sport, dport);
	return f;
}

static struct frame arp(void)
{
	struct frame f;
	eth(&f, ETH_P_ARP);
	return f;
}

struct loaded {
	struct packet_bpf *skel;
	enum packet_backend backend;
};

static struct loaded load(const char *kind, const char *json, enum packet_backend backend)
{
	const struct fault_kind *k = fault_kind_find(kind);
	struct json_object *params = json_tokener_parse(json);
	assert_non_null(params);
	void *spec = NULL;
	struct fault_error err;
	int r = k->parse(params, &spec, &err);
	json_object_put(params);
	if (r < 0)
		fail_msg("%s rejected: [%s] %s", json, err.key, err.msg);
	struct fault_env env = { .fault_id = "f-test", .state_dir = "/tmp", .packet_backend = "auto",
				 .control_ports = { CONTROL_PORT }, .n_control_ports = 1 };
	struct loaded l = { .backend = backend };
	r = packet_prog_load(spec, &env, backend, &l.skel, NULL);
	k->spec_free(spec);
	if (r < 0)
		fail_msg("loading the program for %s: %s", json, strerror(-r));
	return l;
}

static int run(struct loaded *l, bool egress, struct frame f)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.buf, .data_size_in = f.len, .repeat = 1);
	int r = bpf_prog_test_run_opts(packet_prog_fd(l->skel, egress), &opts);
	if (r < 0)
		fail_msg("BPF_PROG_TEST_RUN: %s", strerror(errno));
	return (int)opts.retval;
}

static int egress_drop(const struct loaded *l)
{
	return l->backend == PACKET_BACKEND_TCX ? REDIRECT : STOLEN;
}

#define IN false
#define OUT true

static void test_blackhole_everything(void **state)
{
	(void)state;
	enum packet_backend backends[] = { PACKET_BACKEND_TCX, PACKET_BACKEND_CLSACT };
	for (int b = 0; b < 2; b++) {
		struct loaded l = load("blackhole", "{}", backends[b]);
		int ed = egress_drop(&l);
		assert_int_equal(run(&l, IN, v4("10.0.0.1", "10.0.0.2", IPPROTO_UDP, 1000, 53, 0)), DROP);
		assert_int_equal(run(&l, OUT, v4("10.0.0.1", "10.0.0.2", IPPROTO_UDP, 1000, 53, 0)), ed);
		assert_int_equal(run(&l, OUT, v6("fd00::1", "fd00::2", IPPROTO_TCP, 40000, 80)), ed);
		assert_int_equal(run(&l, IN, v6("fd00::1", "fd00::2", IPPROTO_ICMPV6, 128, 0)), DROP);
		/* Never dropped without blackout: ARP, neighbour discovery, the agent's API port. */
		assert_int_equal(run(&l, IN, arp()), NEXT);
		assert_int_equal(run(&l, OUT, arp()), NEXT);
		for (int type = 133; type <= 137; type++) {
			assert_int_equal(run(&l, IN, v6("fe80::1", "ff02::1", IPPROTO_ICMPV6, (uint16_t)type, 0)), NEXT);
			assert_int_equal(run(&l, OUT, v6("fe80::1", "ff02::1", IPPROTO_ICMPV6, (uint16_t)type, 0)), NEXT);
		}
		assert_int_equal(run(&l, IN, v6("fe80::1", "ff02::1", IPPROTO_ICMPV6, 138, 0)), DROP);
		assert_int_equal(run(&l, IN, v4("10.0.0.9", "10.0.0.1", IPPROTO_TCP, 50000, CONTROL_PORT, 0)), NEXT);
		assert_int_equal(run(&l, OUT, v4("10.0.0.1", "10.0.0.9", IPPROTO_TCP, CONTROL_PORT, 50000, 0)), NEXT);
		assert_int_equal(run(&l, IN, v6("fd00::9", "fd00::1", IPPROTO_TCP, 50000, CONTROL_PORT)), NEXT);
		/* The exemption is for the agent's side of the connection only. */
		assert_int_equal(run(&l, OUT, v4("10.0.0.1", "10.0.0.9", IPPROTO_TCP, 50000, CONTROL_PORT, 0)), ed);
		assert_int_equal(run(&l, IN, v4("10.0.0.9", "10.0.0.1", IPPROTO_UDP, 50000, CONTROL_PORT, 0)), DROP);
		packet_prog_destroy(l.skel);
	}
}

static void test_blackout(void **state)
{
	(void)state;
	struct loaded l = load("blackhole", "{\"blackout\": true}", PACKET_BACKEND_TCX);
	assert_int_equal(run(&l, IN, arp()), DROP);
	assert_int_equal(run(&l, OUT, arp()), REDIRECT);
	assert_int_equal(run(&l, IN, v6("fe80::1", "ff02::1", IPPROTO_ICMPV6, 135, 0)), DROP);
	assert_int_equal(run(&l, IN, v4("10.0.0.9", "10.0.0.1", IPPROTO_TCP, 50000, CONTROL_PORT, 0)), DROP);
	assert_int_equal(run(&l, OUT, v4("10.0.0.1", "10.0.0.9", IPPROTO_TCP, CONTROL_PORT, 50000, 0)), REDIRECT);
	packet_prog_destroy(l.skel);

	/* A blackout limited to addresses cannot tell whose ARP frame it is: ARP passes. */
	l = load("blackhole", "{\"blackout\": true, \"match\": {\"peers\": [\"10.0.0.0/8\"]}}", PACKET_BACKEND_TCX);
	assert_int_equal(run(&l, IN, arp()), NEXT);
	assert_int_equal(run(&l, IN, v4("10.0.0.9", "10.0.0.1", IPPROTO_TCP, 50000, CONTROL_PORT, 0)), DROP);
	packet_prog_destroy(l.skel);
}

static void test_cidrs(void **state)
{
	(void)state;
	struct loaded l = load("blackhole", "{\"match\": {\"src\": [\"10.1.0.0/16\", \"fd00::/8\", \"192.0.2.7\"]}}",
			       PACKET_BACKEND_TCX);
	assert_int_equal(run(&l, IN, v4("10.1.2.3", "10.9.9.9", IPPROTO_UDP, 1, 2, 0)), DROP);
	assert_int_equal(run(&l, IN, v4("10.2.0.1", "10.9.9.9", IPPROTO_UDP, 1, 2, 0)), NEXT);
	assert_int_equal(run(&l, IN, v4("192.0.2.7", "10.9.9.9", IPPROTO_UDP, 1, 2, 0)), DROP);
	assert_int_equal(run(&l, IN, v4("192.0.2.8", "10.9.9.9", IPPROTO_UDP, 1, 2, 0)), NEXT);
	assert_int_equal(run(&l, IN, v6("fd12::1", "2001:db8::1", IPPROTO_UDP, 1, 2)), DROP);
	assert_int_equal(run(&l, IN, v6("2001:db8::1", "fd12::1", IPPROTO_UDP, 1, 2)), NEXT);
	/* An IPv4 prefix never matches IPv6 packets and the other way round. */
	assert_int_equal(run(&l, IN, v6("::ffff:10.9.0.1", "fd12::1", IPPROTO_UDP, 1, 2)), NEXT);
	packet_prog_destroy(l.skel);

	l = load("blackhole", "{\"match\": {\"dst\": [\"10.1.0.0/16\"], \"src\": [\"10.2.0.0/16\"]}}",
		 PACKET_BACKEND_TCX);
	assert_int_equal(run(&l, OUT, v4("10.2.0.1", "10.1.0.1", IPPROTO_TCP, 1, 2, 0)), REDIRECT);
	assert_int_equal(run(&l, OUT, v4("10.1.0.1", "10.2.0.1", IPPROTO_TCP, 1, 2, 0)), NEXT);
	assert_int_equal(run(&l, OUT, v4("10.3.0.1", "10.1.0.1", IPPROTO_TCP, 1, 2, 0)), NEXT);
	packet_prog_destroy(l.skel);

	/* peers: the source on ingress, the destination on egress. */
	l = load("blackhole", "{\"match\": {\"peers\": [\"10.9.0.0/24\", \"fd09::/64\"]}}", PACKET_BACKEND_CLSACT);
	assert_int_equal(run(&l, IN, v4("10.9.0.5", "10.0.0.1", IPPROTO_UDP, 1, 2, 0)), DROP);
	assert_int_equal(run(&l, IN, v4("10.0.0.1", "10.9.0.5", IPPROTO_UDP, 1, 2, 0)), NEXT);
	assert_int_equal(run(&l, OUT, v4("10.0.0.1", "10.9.0.5", IPPROTO_UDP, 1, 2, 0)), STOLEN);
	assert_int_equal(run(&l, OUT, v4("10.9.0.5", "10.0.0.1", IPPROTO_UDP, 1, 2, 0)), NEXT);
	assert_int_equal(run(&l, OUT, v6("fd00::1", "fd09::5", IPPROTO_UDP, 1, 2)), STOLEN);
	assert_int_equal(run(&l, IN, v6("fd09::5", "fd00::1", IPPROTO_UDP, 1, 2)), DROP);
	assert_int_equal(run(&l, IN, v6("fd09:0:0:1::5", "fd00::1", IPPROTO_UDP, 1, 2)), NEXT);
	packet_prog_destroy(l.skel);
}

static void test_protocols_and_ports(void **state)
{
	(void)state;
	struct loaded l = load("blackhole", "{\"match\": {\"protocol\": \"tcp\", \"dst_ports\": [\"80\", \"8000-8999\"]}}",
			       PACKET_BACKEND_TCX);
	assert_int_equal(run(&l, IN, v4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, 40000, 80, 0)), DROP);
	assert_int_equal(run(&l, IN, v4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, 40000, 8080, 0)), DROP);
	assert_int_equal(run(&l, IN, v4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, 40000, 8999, 0)), DROP);
	assert_int_equal(run(&l, IN, v4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, 40000, 9000, 0)), NEXT);
	assert_int_equal(run(&l, IN, v4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, 80, 81, 0)), NEXT);
	assert_int_equal(run(&l, IN, v4("10.0.0.1", "10.0.0.2", IPPROTO_UDP, 40000, 80, 0)), NEXT);
	assert_int_equal(run(&l, IN, v6("fd00::1", "fd00::2", IPPROTO_TCP, 40000, 8500)), DROP);
	/* First fragment (more-fragments set, offset 0) carries the ports; later ones do not. */
	assert_int_equal(run(&l, IN, v4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, 40000, 80, 0x2000)), DROP);
	assert_int_equal(run(&l, IN, v4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, 40000, 80, 0x0010)), NEXT);
	packet_prog_destroy(l.skel);

	l = load("blackhole", "{\"match\": {\"protocol\": \"udp\", \"src_ports\": [\"5000-5001\"]}}", PACKET_BACKEND_TCX);
	assert_int_equal(run(&l, OUT, v4("10.0.0.1", "10.0.0.2", IPPROTO_UDP, 5001, 9, 0)), REDIRECT);
	assert_int_equal(run(&l, OUT, v4("10.0.0.1", "10.0.0.2", IPPROTO_UDP, 5002, 9, 0)), NEXT);
	assert_int_equal(run(&l, OUT, v4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, 5000, 9, 0)), NEXT);
	packet_prog_destroy(l.skel);

	l = load("blackhole", "{\"match\": {\"protocol\": \"icmp\"}}", PACKET_BACKEND_TCX);
	assert_int_equal(run(&l, IN, v4("10.0.0.1", "10.0.0.2", IPPROTO_ICMP, 8, 0, 0)), DROP);
	assert_int_equal(run(&l, IN, v6("fd00::1", "fd00::2", IPPROTO_ICMPV6, 128, 0)), DROP);
	assert_int_equal(run(&l, IN, v4("10.0.0.1", "10.0.0.2", IPPROTO_UDP, 8, 0, 0)), NEXT);
	assert_int_equal(run(&l, IN, v6("fd00::1", "fd00::2", IPPROTO_TCP, 1, 2)), NEXT);
	packet_prog_destroy(l.skel);
}

static void run_repeat(struct loaded *l, struct frame f, uint32_t times)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.buf, .data_size_in = f.len, .repeat = times);
	assert_int_equal(bpf_prog_test_run_opts(packet_prog_fd(l->skel, false), &opts), 0);
}

static void test_probability_and_counters(void **state)
{
	(void)state;
	struct frame udp = v4("10.0.0.1", "10.0.0.2", IPPROTO_UDP, 1000, 2000, 0);
	uint64_t matched, dropped;

	struct loaded l = load("packet-loss", "{\"probability\": 1e-9}", PACKET_BACKEND_TCX);
	run_repeat(&l, udp, 2000);
	run_repeat(&l, arp(), 100); /* not matched: not counted */
	assert_int_equal(packet_prog_counters(l.skel, &matched, &dropped), 0);
	assert_int_equal(matched, 2000);
	assert_int_equal(dropped, 0);
	packet_prog_destroy(l.skel);

	l = load("packet-loss", "{\"probability\": 1}", PACKET_BACKEND_TCX);
	run_repeat(&l, udp, 2000);
	assert_int_equal(packet_prog_counters(l.skel, &matched, &dropped), 0);
	assert_int_equal(matched, 2000);
	assert_int_equal(dropped, 2000);
	packet_prog_destroy(l.skel);

	/* 4000 trials at p = 0.3: mean 1200, sigma 29; 1050..1350 is more than 5 sigma. */
	l = load("packet-loss", "{\"probability\": 0.3}", PACKET_BACKEND_TCX);
	run_repeat(&l, udp, 4000);
	assert_int_equal(packet_prog_counters(l.skel, &matched, &dropped), 0);
	assert_int_equal(matched, 4000);
	assert_in_range(dropped, 1050, 1350);
	packet_prog_destroy(l.skel);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("SKIP: needs root to load BPF programs\n");
		return 77;
	}
	struct loaded l = { 0 };
	struct fault_env env = { .fault_id = "f-probe", .state_dir = "/tmp" };
	struct packet_spec spec = { .blackhole = true, .probability = 1.0, .direction = PACKET_DIR_BOTH };
	int r = packet_prog_load(&spec, &env, PACKET_BACKEND_CLSACT, &l.skel, NULL);
	if (r < 0) {
		printf("SKIP: cannot load the tc BPF program: %s\n", strerror(-r));
		return 77;
	}
	packet_prog_destroy(l.skel);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blackhole_everything),
		cmocka_unit_test(test_blackout),
		cmocka_unit_test(test_cidrs),
		cmocka_unit_test(test_protocols_and_ports),
		cmocka_unit_test(test_probability_and_counters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
