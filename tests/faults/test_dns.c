/* The dns kind without a network: parameters, name patterns in wire format,
 * and the tc program run with BPF_PROG_TEST_RUN on crafted query frames
 * (answers are checked field by field, checksums included). The BPF part
 * needs root and is skipped without it. */
#include "faults/dns.h"
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

#include "params_check.h"

#define NEXT -1          /* TC_ACT_UNSPEC / TCX_NEXT: passes untouched */
#define STOLEN 4         /* clsact drop */
#define REDIRECT 7       /* the tcx drop (redirect to no device) */
/* BPF_PROG_TEST_RUN runs the program on the namespace's loopback device, where
 * an answer goes on as it is (TC_ACT_OK); on other devices it is redirected to
 * their ingress, which the integration tests (dns-answers.sh) cover. */
#define ANSWERED 0
#define RESOLVER_PORT 53

static bool have_root;

/* ---- parameters ---- */

static void *parse_ok(const char *json)
{
	void *spec = NULL;
	struct fault_error err;
	int r = fault_parse_text("dns", json, &spec, &err);
	if (r < 0)
		fail_msg("%s rejected: [%s] %s", json, err.key, err.msg);
	return spec;
}

static void test_params_defaults_and_round_trip(void **state)
{
	(void)state;
	struct dns_spec *s = parse_ok("{\"names\": [\"DB.Internal.\", \"*.Example.com\"]}");
	assert_int_equal(s->n_names, 2);
	assert_string_equal(s->names[0].text, "db.internal");
	assert_false(s->names[0].subdomains);
	assert_string_equal(s->names[1].text, "*.example.com");
	assert_true(s->names[1].subdomains);
	assert_int_equal(s->action, DNS_ACTION_TIMEOUT);
	assert_true(s->probability == 1.0);
	assert_int_equal(s->port, 53);
	assert_int_equal(s->match.direction, PACKET_DIR_EGRESS);

	struct json_object *j = dns_spec_to_json(s);
	const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
	assert_non_null(strstr(text, "\"names\":[\"db.internal\",\"*.example.com\"]"));
	assert_non_null(strstr(text, "\"action\":\"timeout\""));
	assert_non_null(strstr(text, "\"port\":53"));
	assert_non_null(strstr(text, "\"direction\":\"egress\""));
	/* The JSON form parses back to the same spec. */
	struct dns_spec *again = parse_ok(text);
	assert_int_equal(again->n_names, 2);
	assert_string_equal(again->names[1].text, "*.example.com");
	free(again);
	json_object_put(j);
	free(s);

	s = parse_ok("{\"names\": [\"a.b\"], \"action\": \"servfail\", \"probability\": 0.25, \"port\": \"5353\", "
		     "\"interfaces\": [\"lo\"], \"match\": {\"dst\": [\"127.0.0.53\"], \"protocol\": \"udp\"}}");
	assert_int_equal(s->action, DNS_ACTION_SERVFAIL);
	assert_true(s->probability == 0.25);
	assert_int_equal(s->port, 5353);
	assert_int_equal(s->match.n_interfaces, 1);
	assert_int_equal(s->match.dst.n, 1);
	assert_int_equal(s->match.protocol, PACKET_PROTO_UDP);
	free(s);
}

static void test_params_errors(void **state)
{
	(void)state;
	fault_expect_parse_error("dns", "{}", "names", "is required");
	fault_expect_parse_error("dns", "{\"names\": []}", "names", "1 to 16");
	fault_expect_parse_error("dns", "{\"names\": \"x.com\"}", "names", "must be a list");
	fault_expect_parse_error("dns", "{\"names\": [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\","
					"\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]}", "names", "1 to 16");
	fault_expect_parse_error("dns", "{\"names\": [\"ok.com\", 7]}", "names[1]", "must be a string");
	fault_expect_parse_error("dns", "{\"names\": [\"a..b\"]}", "names[0]", "empty label");
	fault_expect_parse_error("dns", "{\"names\": [\"*\"]}", "names[0]", "'*' is not allowed");
	fault_expect_parse_error("dns", "{\"names\": [\"a.*.com\"]}", "names[0]", "'*' is not allowed");
	fault_expect_parse_error("dns", "{\"names\": [\"*.\"]}", "names[0]", "names no domain");
	fault_expect_parse_error("dns", "{\"names\": [\"\"]}", "names[0]", "names no domain");
	fault_expect_parse_error("dns", "{\"names\": [\"-a.com\"]}", "names[0]", "begin or end with '-'");
	fault_expect_parse_error("dns", "{\"names\": [\"a b.com\"]}", "names[0]", "' ' is not allowed");
	fault_expect_parse_error("dns", "{\"names\": [\"x.com\", \"X.com.\"]}", "names[1]", "listed twice");
	char long_label[200];
	snprintf(long_label, sizeof(long_label), "{\"names\": [\"%064d.com\"]}", 0);
	fault_expect_parse_error("dns", long_label, "names[0]", "longer than 63");
	fault_expect_parse_error("dns", "{\"names\": [\"x.com\"], \"action\": \"drop\"}", "action", "\"timeout\"");
	fault_expect_parse_error("dns", "{\"names\": [\"x.com\"], \"probability\": 0}", "probability", "(0, 1]");
	fault_expect_parse_error("dns", "{\"names\": [\"x.com\"], \"probability\": 1.5}", "probability", "(0, 1]");
	fault_expect_parse_error("dns", "{\"names\": [\"x.com\"], \"port\": 0}", "port", "1..65535");
	fault_expect_parse_error("dns", "{\"names\": [\"x.com\"], \"port\": \"53x\"}", "port", "1..65535");
	fault_expect_parse_error("dns", "{\"names\": [\"x.com\"], \"direction\": \"ingress\"}", "direction", "egress");
	fault_expect_parse_error("dns", "{\"names\": [\"x.com\"], \"blackout\": true}", "blackout", "no meaning");
	fault_expect_parse_error("dns", "{\"names\": [\"x.com\"], \"match\": {\"protocol\": \"udp\", \"dst_ports\": [\"53\"]}}",
				 "match.dst_ports", "`port`");
	fault_expect_parse_error("dns", "{\"names\": [\"x.com\"], \"match\": {\"protocol\": \"icmp\"}}", "match.protocol",
				 "\"udp\", \"tcp\"");
	fault_expect_parse_error("dns", "{\"names\": [\"x.com\"], \"match\": {\"dst\": [\"10.0.0.1/8\"]}}", "match.dst[0]",
				 "host bits");
	fault_expect_parse_error("dns", "{\"names\": [\"x.com\"], \"nme\": 1}", "nme", "unknown parameter");
}

static void test_pattern_encoding(void **state)
{
	(void)state;
	struct dns_name_pattern p;
	char why[200];
	assert_int_equal(dns_pattern_parse("Db.Internal", &p, why, sizeof(why)), 0);
	assert_int_equal(p.wire_len, 13);
	assert_memory_equal(p.wire, "\x02" "db" "\x08" "internal" "\x00", 13);
	assert_int_equal(dns_pattern_parse("*.example.com.", &p, why, sizeof(why)), 0);
	assert_true(p.subdomains);
	assert_int_equal(p.wire_len, 13);
	assert_memory_equal(p.wire, "\x07" "example" "\x03" "com" "\x00", 13);
	assert_int_equal(dns_pattern_parse("_sip._tcp.x-y.org", &p, why, sizeof(why)), 0);
	assert_memory_equal(p.wire, "\x04_sip\x04_tcp\x03x-y\x03org\x00", 20);

	/* 255 octets on the wire is the most a name may have: 4 labels of 63 = 4*64+1 = 257 is too much. */
	char name[300];
	memset(name, 'a', sizeof(name));
	for (int i = 63; i < 300; i += 64)
		name[i] = '.';
	name[63 * 3 + 3 + 61] = '\0'; /* 63.63.63.61: 64*3 + 62 + 1 = 255 */
	assert_int_equal(dns_pattern_parse(name, &p, why, sizeof(why)), 0);
	assert_int_equal(p.wire_len, 255);
	name[63 * 3 + 3 + 61] = 'a';
	name[63 * 3 + 3 + 62] = '\0';
	assert_int_equal(dns_pattern_parse(name, &p, why, sizeof(why)), -EINVAL);
	if (!strstr(why, "longer than a DNS name"))
		fail_msg("%s", why);

	/* The hash runs from the last byte to the first: h = h * MUL + byte. */
	const uint8_t w[] = { 1, 'a', 0 };
	uint64_t h = 0;
	h = h * DNS_HASH_MUL + 0;
	h = h * DNS_HASH_MUL + 'a';
	h = h * DNS_HASH_MUL + 1;
	assert_true(dns_wire_hash(w, 3) == h);
}

/* ---- the BPF program ---- */

struct frame {
	uint8_t pad[2];
	uint8_t buf[640];
	uint32_t len;
} __attribute__((aligned(4)));

struct query {
	bool v6, tcp;
	const char *src, *dst;
	uint16_t sport, dport;
	const char *name;
	uint16_t flags;          /* header flags (RD = 0x0100) */
	uint16_t qdcount;
	bool edns;               /* an OPT record in the additional section */
	const uint8_t *raw_name; /* instead of `name`: these bytes as QNAME */
	size_t raw_len;
	uint32_t cut;            /* drop this many bytes from the end */
};

#define UDP_HLEN 8
#define TCP_HLEN 20

static size_t encode_name(const char *name, uint8_t *out)
{
	size_t w = 0;
	const char *p = name;
	while (*p) {
		size_t n = strcspn(p, ".");
		out[w++] = (uint8_t)n;
		memcpy(out + w, p, n);
		w += n;
		p += n;
		if (*p == '.')
			p++;
	}
	out[w++] = 0;
	return w;
}

static struct frame build(const struct query *q)
{
	struct frame f;
	memset(&f, 0, sizeof(f));
	struct ethhdr *e = (struct ethhdr *)f.buf;
	memcpy(e->h_dest, "\x02\x00\x00\x00\x00\x02", ETH_ALEN);
	memcpy(e->h_source, "\x02\x00\x00\x00\x00\x01", ETH_ALEN);
	e->h_proto = htons(q->v6 ? ETH_P_IPV6 : ETH_P_IP);
	size_t l3 = sizeof(*e);
	size_t l4 = l3 + (q->v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr));
	size_t dns = l4 + (q->tcp ? TCP_HLEN + 2 : UDP_HLEN);
	uint8_t *d = f.buf + dns;
	uint16_t flags = htons(q->flags), qd = htons(q->qdcount ? q->qdcount : 1), ar = htons(q->edns ? 1 : 0);
	memcpy(d, "\xbe\xef", 2);
	memcpy(d + 2, &flags, 2);
	memcpy(d + 4, &qd, 2);
	memcpy(d + 10, &ar, 2);
	size_t w = 12;
	if (q->raw_name) {
		memcpy(d + w, q->raw_name, q->raw_len);
		w += q->raw_len;
	} else {
		w += encode_name(q->name, d + w);
	}
	memcpy(d + w, "\x00\x01\x00\x01", 4); /* A, IN */
	w += 4;
	if (q->edns) {
		memcpy(d + w, "\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00", 11);
		w += 11;
	}
	size_t total = dns + w - q->cut;
	f.len = (uint32_t)total;
	uint8_t *l4p = f.buf + l4;
	uint16_t ports[2] = { htons(q->sport), htons(q->dport) };
	memcpy(l4p, ports, 4);
	if (q->tcp) {
		l4p[12] = 5 << 4;
		l4p[13] = 0x18; /* PSH ACK */
		uint16_t dns_len = htons((uint16_t)w);
		memcpy(l4p + TCP_HLEN, &dns_len, 2);
	} else {
		uint16_t ulen = htons((uint16_t)(total - l4));
		memcpy(l4p + 4, &ulen, 2);
	}
	if (q->v6) {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(f.buf + l3);
		ip6->version = 6;
		ip6->nexthdr = q->tcp ? IPPROTO_TCP : IPPROTO_UDP;
		ip6->hop_limit = 64;
		ip6->payload_len = htons((uint16_t)(total - l4));
		assert_int_equal(inet_pton(AF_INET6, q->src, &ip6->saddr), 1);
		assert_int_equal(inet_pton(AF_INET6, q->dst, &ip6->daddr), 1);
	} else {
		struct iphdr *ip = (struct iphdr *)(f.buf + l3);
		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = q->tcp ? IPPROTO_TCP : IPPROTO_UDP;
		ip->tot_len = htons((uint16_t)(total - l3));
		assert_int_equal(inet_pton(AF_INET, q->src, &ip->saddr), 1);
		assert_int_equal(inet_pton(AF_INET, q->dst, &ip->daddr), 1);
	}
	return f;
}

static struct query udp4(const char *name)
{
	return (struct query){ .src = "10.0.0.1", .dst = "10.0.0.53", .sport = 40000, .dport = RESOLVER_PORT,
			       .name = name, .flags = 0x0100 };
}

static struct query udp6(const char *name)
{
	return (struct query){ .v6 = true, .src = "fd00::1", .dst = "fd00::53", .sport = 40001,
			       .dport = RESOLVER_PORT, .name = name, .flags = 0x0100 };
}

static struct dns_bpf *load(const char *json, enum packet_backend backend)
{
	struct dns_spec *spec = parse_ok(json);
	struct fault_env env = { .fault_id = "f-test", .state_dir = "/tmp", .packet_backend = "auto" };
	struct dns_bpf *skel = NULL;
	int r = dns_prog_load(spec, &env, backend, &skel, NULL);
	free(spec);
	if (r < 0)
		fail_msg("loading the program for %s: %s", json, strerror(-r));
	return skel;
}

struct result {
	int verdict;
	uint8_t out[640];
	uint32_t out_len;
};

static struct result run(struct dns_bpf *skel, const struct frame *f)
{
	struct result res;
	memset(&res, 0, sizeof(res));
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->buf, .data_size_in = f->len, .data_out = res.out,
		    .data_size_out = sizeof(res.out), .repeat = 1);
	if (bpf_prog_test_run_opts(dns_prog_fd(skel), &opts) < 0)
		fail_msg("BPF_PROG_TEST_RUN: %s", strerror(errno));
	res.verdict = (int)opts.retval;
	res.out_len = opts.data_size_out;
	return res;
}

/* The frame went through unchanged. */
static void expect_untouched(struct dns_bpf *skel, const struct query *q)
{
	struct frame f = build(q);
	struct result r = run(skel, &f);
	if (r.verdict != NEXT)
		fail_msg("%s: verdict %d, expected the query to pass", q->name ? q->name : "(raw)", r.verdict);
	assert_int_equal(r.out_len, f.len);
	assert_memory_equal(r.out, f.buf, f.len);
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The query was answered with `rcode`: every header field of the answer. */
static void expect_answer(struct dns_bpf *skel, const struct query *q, uint8_t rcode)
{
	struct frame f = build(q);
	struct result r = run(skel, &f);
	if (r.verdict != ANSWERED)
		fail_msg("%s: verdict %d, expected an answer", q->name, r.verdict);
	size_t l3 = sizeof(struct ethhdr);
	size_t l4 = l3 + (q->v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr));
	size_t dns = l4 + UDP_HLEN;
	uint8_t qname[300];
	size_t qname_len = encode_name(q->name, qname);
	uint32_t expect_len = (uint32_t)(dns + 12 + qname_len + 4);
	assert_int_equal(r.out_len, expect_len);
	const uint8_t *in = f.buf, *out = r.out;
	/* MACs, addresses and ports swapped. */
	assert_memory_equal(out, in + 6, 6);
	assert_memory_equal(out + 6, in, 6);
	size_t alen = q->v6 ? 16 : 4, aoff = l3 + (q->v6 ? 8 : 12);
	assert_memory_equal(out + aoff, in + aoff + alen, alen);
	assert_memory_equal(out + aoff + alen, in + aoff, alen);
	assert_memory_equal(out + l4, in + l4 + 2, 2);
	assert_memory_equal(out + l4 + 2, in + l4, 2);
	uint32_t seg_len = expect_len - (uint32_t)l4;
	assert_int_equal(out[l4 + 4] << 8 | out[l4 + 5], seg_len);
	if (q->v6) {
		assert_int_equal(out[l3 + 4] << 8 | out[l3 + 5], seg_len);
	} else {
		assert_int_equal(out[l3 + 2] << 8 | out[l3 + 3], expect_len - l3);
		assert_int_equal(fold(sum16(out + l3, 20, 0)), 0xffff);
	}
	/* UDP checksum over the pseudo-header and the segment. */
	uint32_t sum = sum16(out + aoff, 2 * alen, 0) + IPPROTO_UDP + seg_len;
	sum = sum16(out + l4, seg_len, sum);
	assert_int_equal(fold(sum), 0xffff);
	assert_int_not_equal(out[l4 + 6] << 8 | out[l4 + 7], 0);
	/* DNS header: same id, QR, RD kept and RA = RD, the rcode, one question, nothing else. */
	const uint8_t *d = out + dns;
	assert_memory_equal(d, "\xbe\xef", 2);
	bool rd = q->flags & 0x0100;
	assert_int_equal(d[2], 0x80 | (rd ? 1 : 0));
	assert_int_equal(d[3], (rd ? 0x80 : 0) | rcode);
	assert_memory_equal(d + 4, "\x00\x01\x00\x00\x00\x00\x00\x00", 8);
	/* The question as asked (same case: resolvers check 0x20 randomisation). */
	assert_memory_equal(d + 12, in + dns + 12, qname_len + 4);
}

#define MATCHING "{\"names\": [\"db.internal\", \"*.example.com\"], \"action\": \"nxdomain\"}"

static void test_names_match(void **state)
{
	(void)state;
	if (!have_root)
		skip();
	struct dns_bpf *skel = load(MATCHING, PACKET_BACKEND_TCX);
	struct query q = udp4("db.internal");
	expect_answer(skel, &q, 3);
	q = udp4("DB.InTernal");
	expect_answer(skel, &q, 3);
	q = udp4("www.example.com");
	expect_answer(skel, &q, 3);
	q = udp4("a.b.c.Example.COM");
	expect_answer(skel, &q, 3);
	q = udp4("www.example.com");
	q.flags = 0; /* RD clear: RA clear */
	expect_answer(skel, &q, 3);
	q = udp4("www.example.com");
	q.edns = true; /* the OPT record is cut off */
	expect_answer(skel, &q, 3);
	q = udp6("mail.example.com");
	expect_answer(skel, &q, 3);
	q = udp6("db.internal");
	q.edns = true;
	expect_answer(skel, &q, 3);

	const char *others[] = { "x.db.internal", "db.internal.x", "internal", "example.com", "badexample.com",
				 "www.example.co", "www.example.com.evil", "db.interna", "www.exampl3.com" };
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		q = udp4(others[i]);
		expect_untouched(skel, &q);
		q = udp6(others[i]);
		expect_untouched(skel, &q);
	}
	struct dns_counters c;
	assert_int_equal(dns_prog_counters(skel, &c), 0);
	assert_int_equal(c.seen, 8 + 18);
	assert_int_equal(c.matched, 8);
	assert_int_equal(c.answered, 8);
	assert_int_equal(c.dropped, 0);
	assert_int_equal(c.passed, 0);
	dns_prog_destroy(skel);
}

static void test_odd_packets_pass(void **state)
{
	(void)state;
	if (!have_root)
		skip();
	struct dns_bpf *skel = load(MATCHING, PACKET_BACKEND_TCX);
	struct query q = udp4("www.example.com");
	q.dport = 5353;
	expect_untouched(skel, &q);
	q = udp4("www.example.com");
	q.flags = 0x8180; /* a response */
	expect_untouched(skel, &q);
	q = udp4("www.example.com");
	q.flags = 0x2800; /* opcode UPDATE */
	expect_untouched(skel, &q);
	q = udp4("www.example.com");
	q.qdcount = 2;
	expect_untouched(skel, &q);
	q = udp4("www.example.com");
	q.cut = 6; /* name cut short */
	expect_untouched(skel, &q);
	q = udp4("www.example.com");
	q.cut = 2; /* QCLASS missing */
	expect_untouched(skel, &q);
	/* A compression pointer into the header (www + pointer to offset 12). */
	static const uint8_t compressed[] = { 3, 'w', 'w', 'w', 0xc0, 0x0c };
	q = udp4(NULL);
	q.raw_name = compressed;
	q.raw_len = sizeof(compressed);
	expect_untouched(skel, &q);
	/* No terminating zero within 255 octets. */
	uint8_t endless[300];
	for (size_t i = 0; i < sizeof(endless); i += 10) {
		endless[i] = 9;
		memcpy(endless + i + 1, "example00", 9);
	}
	q = udp4(NULL);
	q.raw_name = endless;
	q.raw_len = 290;
	expect_untouched(skel, &q);
	/* An extended label type (0x40). */
	static const uint8_t extended[] = { 0x41, 'x', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0 };
	q = udp4(NULL);
	q.raw_name = extended;
	q.raw_len = sizeof(extended);
	expect_untouched(skel, &q);
	/* TCP queries are not answered in place (they pass) but are counted. */
	q = udp4("www.example.com");
	q.tcp = true;
	expect_untouched(skel, &q);
	struct dns_counters c;
	assert_int_equal(dns_prog_counters(skel, &c), 0);
	assert_int_equal(c.matched, 1);
	assert_int_equal(c.passed, 1);
	assert_int_equal(c.answered, 0);
	dns_prog_destroy(skel);
}

static void test_longest_name(void **state)
{
	(void)state;
	if (!have_root)
		skip();
	/* 63.63.63.61 = 255 octets on the wire. */
	char name[260];
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	memcpy(name + 192, "b", 1);
	char json[400];
	snprintf(json, sizeof(json), "{\"names\": [\"*.%s\"], \"action\": \"refuse\"}", name + 64);
	struct dns_bpf *skel = load(json, PACKET_BACKEND_TCX);
	struct query q = udp4(name);
	expect_answer(skel, &q, 5);
	q = udp6(name);
	expect_answer(skel, &q, 5);
	dns_prog_destroy(skel);

	snprintf(json, sizeof(json), "{\"names\": [\"%s\"], \"action\": \"servfail\"}", name);
	skel = load(json, PACKET_BACKEND_CLSACT);
	q = udp4(name);
	expect_answer(skel, &q, 2);
	dns_prog_destroy(skel);
}

static void test_timeout_drops(void **state)
{
	(void)state;
	if (!have_root)
		skip();
	struct dns_bpf *skel = load("{\"names\": [\"*.example.com\"]}", PACKET_BACKEND_CLSACT);
	struct query q = udp4("www.example.com");
	struct frame f = build(&q);
	assert_int_equal(run(skel, &f).verdict, STOLEN);
	q = udp6("www.example.com");
	f = build(&q);
	assert_int_equal(run(skel, &f).verdict, STOLEN);
	q.tcp = true;
	f = build(&q);
	assert_int_equal(run(skel, &f).verdict, STOLEN);
	q = udp4("www.example.org");
	expect_untouched(skel, &q);
	dns_prog_destroy(skel);

	/* tcx drops by redirecting to no device: the frame itself is not changed. */
	skel = load("{\"names\": [\"*.example.com\"], \"match\": {\"protocol\": \"udp\"}}", PACKET_BACKEND_TCX);
	q = udp4("www.example.com");
	f = build(&q);
	struct result r = run(skel, &f);
	assert_int_equal(r.verdict, REDIRECT);
	assert_memory_equal(r.out, f.buf, f.len);
	q.tcp = true; /* match.protocol udp: TCP is not matched */
	expect_untouched(skel, &q);
	struct dns_counters c;
	assert_int_equal(dns_prog_counters(skel, &c), 0);
	assert_int_equal(c.seen, 1);
	assert_int_equal(c.dropped, 1);
	dns_prog_destroy(skel);
}

static void test_match_keys_and_port(void **state)
{
	(void)state;
	if (!have_root)
		skip();
	struct dns_bpf *skel = load("{\"names\": [\"db.internal\"], \"action\": \"refuse\", \"port\": 5353, "
				    "\"match\": {\"dst\": [\"10.0.0.53\", \"fd00::53\"]}}",
				    PACKET_BACKEND_TCX);
	struct query q = udp4("db.internal");
	q.dport = 5353;
	expect_answer(skel, &q, 5);
	q = udp6("db.internal");
	q.dport = 5353;
	expect_answer(skel, &q, 5);
	q = udp4("db.internal");
	expect_untouched(skel, &q); /* port 53 */
	q = udp4("db.internal");
	q.dport = 5353;
	q.dst = "10.0.0.54";
	expect_untouched(skel, &q);
	dns_prog_destroy(skel);
}

static void test_probability(void **state)
{
	(void)state;
	if (!have_root)
		skip();
	struct dns_bpf *skel = load("{\"names\": [\"*.example.com\"], \"probability\": 0.3}", PACKET_BACKEND_CLSACT);
	struct query q = udp4("www.example.com");
	struct frame f = build(&q);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.buf, .data_size_in = f.len, .repeat = 4000);
	assert_int_equal(bpf_prog_test_run_opts(dns_prog_fd(skel), &opts), 0);
	struct dns_counters c;
	assert_int_equal(dns_prog_counters(skel, &c), 0);
	assert_int_equal(c.matched, 4000);
	assert_int_equal(c.dropped + c.passed, 4000);
	/* Binomial(4000, 0.3): mean 1200, sigma 29; 1050..1350 is over 5 sigma. */
	assert_in_range(c.dropped, 1050, 1350);
	dns_prog_destroy(skel);
}

int main(void)
{
	have_root = geteuid() == 0;
	if (!have_root)
		printf("# not root: the BPF tests are skipped\n");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params_defaults_and_round_trip),
		cmocka_unit_test(test_params_errors),
		cmocka_unit_test(test_pattern_encoding),
		cmocka_unit_test(test_names_match),
		cmocka_unit_test(test_odd_packets_pass),
		cmocka_unit_test(test_longest_name),
		cmocka_unit_test(test_timeout_drops),
		cmocka_unit_test(test_match_keys_and_port),
		cmocka_unit_test(test_probability),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
