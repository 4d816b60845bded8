/* Per-packet cost of an attached packet fault whose match does not hit the
 * traffic, measured in the kernel with BPF_PROG_TEST_RUN (bpf_prog_test_run_opts
 * with `repeat`): the fault's real tc program (faults/packet.bpf.c, loaded and
 * configured exactly as the agent does) against a minimal tc program that only
 * returns "next" (what any tc hook costs at all). Rounds interleave the programs
 * so background load spreads evenly; the medians and the differences are printed.
 * Needs root (loading BPF). Not a test: no pass/fail, just figures. */
#include "faults/match_config.h"
#include "faults/packet.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 101
#define FRAME_LEN 1514   /* a full-size TCP segment on a 1500-byte MTU, as in the throughput run */

struct frame {
	unsigned char buf[FRAME_LEN];
	unsigned int len;
};

/* An iperf3-like data segment 10.99.0.1:40000 -> 10.99.0.2:5201 (or fd99::1 -> fd99::2). */
static struct frame tcp_frame(bool ipv6)
{
	struct frame f = { .len = FRAME_LEN };
	struct ethhdr *eth = (struct ethhdr *)f.buf;
	memset(eth->h_dest, 0x02, ETH_ALEN);
	memset(eth->h_source, 0x04, ETH_ALEN);
	size_t l3 = sizeof(*eth), l4;
	if (ipv6) {
		eth->h_proto = htons(ETH_P_IPV6);
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(f.buf + l3);
		ip6->version = 6;
		ip6->payload_len = htons((uint16_t)(FRAME_LEN - l3 - sizeof(*ip6)));
		ip6->nexthdr = IPPROTO_TCP;
		ip6->hop_limit = 64;
		inet_pton(AF_INET6, "fd99::1", &ip6->saddr);
		inet_pton(AF_INET6, "fd99::2", &ip6->daddr);
		l4 = l3 + sizeof(*ip6);
	} else {
		eth->h_proto = htons(ETH_P_IP);
		struct iphdr *ip = (struct iphdr *)(f.buf + l3);
		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons((uint16_t)(FRAME_LEN - l3));
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		inet_pton(AF_INET, "10.99.0.1", &ip->saddr);
		inet_pton(AF_INET, "10.99.0.2", &ip->daddr);
		l4 = l3 + sizeof(*ip);
	}
	struct tcphdr *tcp = (struct tcphdr *)(f.buf + l4);
	tcp->source = htons(40000);
	tcp->dest = htons(5201);
	tcp->doff = 5;
	tcp->ack = 1;
	tcp->psh = 1;
	tcp->window = htons(502);
	return f;
}

/* The cheapest tc program there is: r0 = -1 (TC_ACT_UNSPEC / TCX_NEXT); exit. */
static int empty_prog_load(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = -1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "ck_bench_empty", "GPL", insns, 2, NULL);
	return fd < 0 ? -errno : fd;
}

struct program {
	const char *label;
	const char *params;      /* packet-loss params; NULL for the empty program */
	bool egress;
	int fd;
	struct packet_bpf *skel;
	double ns[MAX_ROUNDS];
	double load_ms;          /* open + configure + verify + load, as an apply pays it */
};

static int fault_prog_load(struct program *p, struct fault_error *err)
{
	struct json_object *params = json_tokener_parse(p->params);
	if (!params)
		return -EINVAL;
	struct packet_spec *spec = NULL;
	int r = packet_spec_parse(params, false, &spec, err);
	json_object_put(params);
	if (r < 0)
		return r;
	/* An agent with a TLS port: the control-port exemption is part of the cost. */
	struct fault_env env = { .fault_id = "bench", .state_dir = "/tmp", .packet_backend = "clsact",
				 .control_ports = { 7070 }, .n_control_ports = 1 };
	r = packet_prog_load(spec, &env, PACKET_BACKEND_CLSACT, &p->skel, err);
	free(spec);
	if (r < 0)
		return r;
	p->fd = packet_prog_fd(p->skel, p->egress);
	return 0;
}

/* Average ns per run of `repeat` runs; verifies the program let the packet pass. */
static int run_once(int fd, const struct frame *f, unsigned repeat, double *ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->buf, .data_size_in = f->len, .repeat = (int)repeat);
	if (bpf_prog_test_run_opts(fd, &opts) < 0)
		return -errno;
	if ((int)opts.retval != -1) {
		fprintf(stderr, "program returned %d, expected -1 (not matched)\n", (int)opts.retval);
		return -EPROTO;
	}
	*ns = opts.duration;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double s[MAX_ROUNDS];
	memcpy(s, v, (size_t)n * sizeof(*v));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: net-overhead [--rounds N (odd, <= %d, default 9)] [--repeat N (default 1000000)] [--ipv6]\n",
		MAX_ROUNDS);
}

int main(int argc, char **argv)
{
	int rounds = 9;
	unsigned repeat = 1000000;
	bool ipv6 = false;
	static const struct option opts[] = {
		{ "rounds", required_argument, NULL, 'r' },
		{ "repeat", required_argument, NULL, 'n' },
		{ "ipv6", no_argument, NULL, '6' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': rounds = atoi(optarg); break;
		case 'n': repeat = (unsigned)strtoul(optarg, NULL, 10); break;
		case '6': ipv6 = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || repeat < 1) {
		usage(stderr);
		return 2;
	}
	libbpf_set_print(NULL);

	struct program progs[] = {
		{ .label = "empty tc program (baseline)", .egress = false },
		{ .label = "packet-loss ingress, match.src 192.0.2.0/24",
		  .params = "{\"probability\": 0.5, \"direction\": \"ingress\", \"match\": {\"src\": [\"192.0.2.0/24\", \"2001:db8::/32\"]}}",
		  .egress = false },
		{ .label = "packet-loss egress, match.dst 192.0.2.0/24",
		  .params = "{\"probability\": 0.5, \"direction\": \"egress\", \"match\": {\"dst\": [\"192.0.2.0/24\", \"2001:db8::/32\"]}}",
		  .egress = true },
		{ .label = "packet-loss ingress, udp dst_ports 53",
		  .params = "{\"probability\": 0.5, \"direction\": \"ingress\", \"match\": {\"protocol\": \"udp\", \"dst_ports\": [\"53\"]}}",
		  .egress = false },
		{ .label = "packet-loss ingress, tcp dst_ports 5432 + src",
		  .params = "{\"probability\": 0.5, \"direction\": \"ingress\", \"match\": {\"protocol\": \"tcp\", \"dst_ports\": [\"5432\"], \"src\": [\"10.0.0.0/8\"]}}",
		  .egress = false },
	};
	const int n_progs = (int)(sizeof(progs) / sizeof(progs[0]));
	int rc = 1;

	for (int i = 0; i < n_progs; i++) {
		struct fault_error err = { 0 };
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int r = progs[i].params ? fault_prog_load(&progs[i], &err) : (progs[i].fd = empty_prog_load());
		clock_gettime(CLOCK_MONOTONIC, &t1);
		progs[i].load_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		if (r < 0) {
			fprintf(stderr, "net-overhead: loading \"%s\": %s %s\n", progs[i].label, strerror(-r), err.msg);
			goto out;
		}
	}

	const struct frame f = tcp_frame(ipv6);
	/* Warm-up: caches, branch predictors, CPU frequency. */
	for (int i = 0; i < n_progs; i++) {
		double ignored;
		if (run_once(progs[i].fd, &f, repeat / 10 + 1, &ignored) < 0)
			goto out;
	}
	for (int round = 0; round < rounds; round++)
		for (int k = 0; k < n_progs; k++) {
			/* Rotate the order each round so no program always runs first. */
			struct program *p = &progs[(k + round) % n_progs];
			int r = run_once(p->fd, &f, repeat, &p->ns[round]);
			if (r < 0) {
				fprintf(stderr, "net-overhead: test run of \"%s\": %s\n", p->label, strerror(-r));
				goto out;
			}
		}

	printf("BPF_PROG_TEST_RUN, %s TCP frame of %u bytes that no fault matches; %d rounds x %u runs\n",
	       ipv6 ? "IPv6" : "IPv4", f.len, rounds, repeat);
	printf("%-48s %10s %10s %10s %12s %9s\n", "program", "p50 ns", "min ns", "max ns", "vs empty", "load ms");
	double base = median(progs[0].ns, rounds);
	for (int i = 0; i < n_progs; i++) {
		double m = median(progs[i].ns, rounds), lo = progs[i].ns[0], hi = progs[i].ns[0];
		for (int r = 1; r < rounds; r++) {
			lo = progs[i].ns[r] < lo ? progs[i].ns[r] : lo;
			hi = progs[i].ns[r] > hi ? progs[i].ns[r] : hi;
		}
		if (i == 0)
			printf("%-48s %10.1f %10.1f %10.1f %12s %9.2f\n", progs[i].label, m, lo, hi, "-", progs[i].load_ms);
		else
			printf("%-48s %10.1f %10.1f %10.1f %+9.1f ns %9.2f\n", progs[i].label, m, lo, hi, m - base,
			       progs[i].load_ms);
	}
	rc = 0;
out:
	for (int i = 0; i < n_progs; i++) {
		if (progs[i].skel)
			packet_prog_destroy(progs[i].skel);
		else if (progs[i].fd > 0)
			close(progs[i].fd);
	}
	return rc;
}
