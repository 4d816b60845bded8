/* Parameter validation of packet-loss and blackhole (docs/faults.md). */
#include "faults/packet.h"
#include "faults/registry.h"

#include <errno.h>
#include <setjmp.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/faults/params_check.h"

static void test_bad_params(void **state)
{
	(void)state;
	const char *loss = "packet-loss";
	fault_expect_parse_error(loss, NULL, "probability", "required");
	fault_expect_parse_error(loss, "{}", "probability", "required");
	fault_expect_parse_error(loss, "[]", "", "object");
	fault_expect_parse_error(loss, "{\"probability\": 0}", "probability", "(0, 1]");
	fault_expect_parse_error(loss, "{\"probability\": 1.5}", "probability", "(0, 1]");
	fault_expect_parse_error(loss, "{\"probability\": -0.1}", "probability", "(0, 1]");
	fault_expect_parse_error(loss, "{\"probability\": \"0.3\"}", "probability", "number");
	fault_expect_parse_error(loss, "{\"probability\": true}", "probability", "number");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"direction\": \"up\"}", "direction", "ingress");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"direction\": 1}", "direction", "ingress");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"colour\": 1}", "colour", "unknown parameter");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"blackout\": \"yes\"}", "blackout", "true or false");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"interfaces\": \"eth0\"}", "interfaces", "list");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"interfaces\": []}", "interfaces", "empty");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"interfaces\": [\"eth0\", 3]}", "interfaces[1]", "interface name");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"interfaces\": [\"a-very-long-interface-name\"]}",
		     "interfaces[0]", "interface name");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"interfaces\": [\"eth0\", \"eth0\"]}", "interfaces[1]", "twice");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"match\": []}", "match", "object");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"match\": {\"proto\": \"tcp\"}}", "match.proto",
		     "unknown parameter");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"match\": {\"protocol\": \"sctp\"}}", "match.protocol", "tcp");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"match\": {\"dst\": [\"10.0.0.0/8\", \"10.0.0.1/8\"]}}",
		     "match.dst[1]", "host bits");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"match\": {\"src\": [\"10.0.0.300\"]}}", "match.src[0]",
		     "not an address");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"match\": {\"src\": [\"10.0.0.0/33\"]}}", "match.src[0]",
		     "not an address");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"match\": {\"peers\": [\"fd00::1/64\"]}}", "match.peers[0]",
		     "host bits");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"match\": {\"peers\": [42]}}", "match.peers[0]", "CIDR");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"match\": {\"dst\": \"10.0.0.0/8\"}}", "match.dst", "list");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"match\": {\"dst_ports\": [\"80\"]}}", "match.dst_ports",
		     "tcp\" or \"udp");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"match\": {\"protocol\": \"icmp\", \"src_ports\": [\"80\"]}}",
		     "match.src_ports", "tcp\" or \"udp");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"match\": {\"protocol\": \"tcp\", \"dst_ports\": [\"90-80\"]}}",
		     "match.dst_ports[0]", "N-M");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"match\": {\"protocol\": \"tcp\", \"dst_ports\": [\"80\", \"0\"]}}",
		     "match.dst_ports[1]", "N-M");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"match\": {\"protocol\": \"udp\", \"dst_ports\": [\"70000\"]}}",
		     "match.dst_ports[0]", "N-M");
	fault_expect_parse_error(loss, "{\"probability\": 0.3, \"match\": {\"protocol\": \"udp\", \"dst_ports\": "
		     "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]}}", "match.dst_ports", "at most 8");

	const char *bh = "blackhole";
	fault_expect_parse_error(bh, "{\"probability\": 0.5}", "probability", "packet-loss");
	fault_expect_parse_error(bh, "{\"match\": {\"src\": [\"::1/200\"]}}", "match.src[0]", "not an address");
	fault_expect_parse_error(bh, "{\"direction\": \"both\", \"x\": 1}", "x", "unknown parameter");
}

static struct packet_spec *parse_ok(const char *kind, const char *json)
{
	void *spec = NULL;
	struct fault_error err;
	int r = fault_parse_text(kind, json, &spec, &err);
	if (r < 0)
		fail_msg("%s %s rejected: [%s] %s", kind, json, err.key, err.msg);
	return spec;
}

static void test_defaults(void **state)
{
	(void)state;
	struct packet_spec *s = parse_ok("blackhole", NULL);
	assert_true(s->blackhole);
	assert_true(s->probability == 1.0);
	assert_int_equal(s->direction, PACKET_DIR_BOTH);
	assert_int_equal(s->protocol, PACKET_PROTO_ANY);
	assert_int_equal(s->n_interfaces, 0);
	assert_false(s->blackout);
	free(s);

	s = parse_ok("packet-loss", "{\"probability\": 1, \"direction\": \"egress\", \"interfaces\": [\"eth0\"],"
		     "\"match\": {\"protocol\": \"udp\", \"dst_ports\": [\"53\", 1000], \"peers\": "
		     "[\"10.1.0.0/16\", \"fd00::/8\", \"192.0.2.7\"]}, \"blackout\": true}");
	assert_true(s->probability == 1.0);
	assert_int_equal(s->direction, PACKET_DIR_EGRESS);
	assert_int_equal(s->n_interfaces, 1);
	assert_string_equal(s->interfaces[0], "eth0");
	assert_int_equal(s->protocol, PACKET_PROTO_UDP);
	assert_int_equal(s->dst_ports.n, 2);
	assert_int_equal(s->dst_ports.items[1].first, 1000);
	assert_int_equal(s->peers.n, 3);
	assert_int_equal(s->peers.items[1].family, AF_INET6);
	assert_int_equal(s->peers.items[2].prefix_len, 32);
	assert_true(s->blackout);
	free(s);
}

static void roundtrip(const char *kind_name, const char *json)
{
	const struct fault_kind *kind = fault_kind_find(kind_name);
	struct packet_spec *a = parse_ok(kind_name, json);
	struct json_object *ja = kind->spec_to_json(a);
	assert_non_null(ja);
	const char *text_a = json_object_to_json_string_ext(ja, JSON_C_TO_STRING_PLAIN);
	struct packet_spec *b = parse_ok(kind_name, text_a);
	/* Specs are calloc'ed and filled field by field, so equal specs compare equal bytewise. */
	if (memcmp(a, b, sizeof(*a)) != 0)
		fail_msg("%s: round trip through %s changed the spec", json, text_a);
	struct json_object *jb = kind->spec_to_json(b);
	assert_string_equal(text_a, json_object_to_json_string_ext(jb, JSON_C_TO_STRING_PLAIN));
	json_object_put(ja);
	json_object_put(jb);
	kind->spec_free(a);
	kind->spec_free(b);
}

static void test_roundtrip(void **state)
{
	(void)state;
	roundtrip("blackhole", "{}");
	roundtrip("packet-loss", "{\"probability\": 0.3}");
	roundtrip("packet-loss", "{\"probability\": 0.123456789}");
	roundtrip("packet-loss", "{\"probability\": 1e-9, \"direction\": \"ingress\"}");
	roundtrip("blackhole", "{\"direction\": \"egress\", \"interfaces\": [\"eth0\", \"veth1\"], \"blackout\": true,"
		  "\"match\": {\"protocol\": \"tcp\", \"src\": [\"10.0.0.0/8\", \"fd77::/64\"], \"dst\": [\"0.0.0.0/0\"],"
		  "\"peers\": [\"::/0\", \"192.0.2.1\"], \"src_ports\": [\"1-1024\"], \"dst_ports\": [\"80\", \"443\","
		  "\"8000-8999\"]}}");
	roundtrip("packet-loss", "{\"probability\": 0.5, \"match\": {\"protocol\": \"icmp\"}}");
}

static void test_spec_json_defaults(void **state)
{
	(void)state;
	const struct fault_kind *kind = fault_kind_find("blackhole");
	struct packet_spec *s = parse_ok("blackhole", "{}");
	struct json_object *j = kind->spec_to_json(s);
	assert_string_equal(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN),
			    "{\"direction\":\"both\",\"match\":{\"protocol\":\"any\"},\"blackout\":false}");
	json_object_put(j);
	kind->spec_free(s);
}

static void test_duplicate_and_corrupt(void **state)
{
	(void)state;
	const char *dup = "packet-duplicate", *cor = "packet-corrupt";
	fault_expect_parse_error(dup, "{}", "probability", "required");
	fault_expect_parse_error(dup, "{\"probability\": 0}", "probability", "(0, 1]");
	fault_expect_parse_error(dup, "{\"probability\": 0.3, \"bytes\": 2}", "bytes", "unknown parameter");
	fault_expect_parse_error(dup, "{\"probability\": 0.3, \"direction\": \"up\"}", "direction", "ingress");
	fault_expect_parse_error(cor, "{\"bytes\": 2}", "probability", "required");
	fault_expect_parse_error(cor, "{\"probability\": 0.3, \"bytes\": 0}", "bytes", "1 to 16");
	fault_expect_parse_error(cor, "{\"probability\": 0.3, \"bytes\": 17}", "bytes", "1 to 16");
	fault_expect_parse_error(cor, "{\"probability\": 0.3, \"bytes\": \"2\"}", "bytes", "1 to 16");
	fault_expect_parse_error(cor, "{\"probability\": 0.3, \"bytes\": 1.5}", "bytes", "1 to 16");
	fault_expect_parse_error(cor, "{\"probability\": 0.3, \"fix_checksum\": 1}", "fix_checksum", "true or false");
	fault_expect_parse_error(cor, "{\"probability\": 0.3, \"colour\": 1}", "colour", "bytes, fix_checksum");

	struct packet_spec *s = parse_ok(cor, "{\"probability\": 0.25}");
	assert_int_equal(s->action, PACKET_ACTION_CORRUPT);
	assert_int_equal(s->corrupt_bytes, 1);
	assert_false(s->fix_checksum);
	assert_int_equal(s->direction, PACKET_DIR_BOTH);
	free(s);
	s = parse_ok(dup, "{\"probability\": 1, \"direction\": \"egress\"}");
	assert_int_equal(s->action, PACKET_ACTION_DUPLICATE);
	assert_int_equal(s->direction, PACKET_DIR_EGRESS);
	free(s);
	s = parse_ok("packet-loss", "{\"probability\": 0.5}");
	assert_int_equal(s->action, PACKET_ACTION_DROP);
	free(s);

	roundtrip(dup, "{\"probability\": 0.3, \"match\": {\"protocol\": \"udp\", \"dst_ports\": [\"53\"]}}");
	roundtrip(cor, "{\"probability\": 0.3}");
	roundtrip(cor, "{\"probability\": 1, \"bytes\": 16, \"fix_checksum\": true, \"direction\": \"ingress\"}");
	const struct fault_kind *kind = fault_kind_find(cor);
	s = parse_ok(cor, "{\"probability\": 0.5}");
	struct json_object *j = kind->spec_to_json(s);
	assert_string_equal(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN),
			    "{\"probability\":0.5,\"bytes\":1,\"fix_checksum\":false,\"direction\":\"both\","
			    "\"match\":{\"protocol\":\"any\"},\"blackout\":false}");
	json_object_put(j);
	kind->spec_free(s);
}

static void test_threshold(void **state)
{
	(void)state;
	assert_int_equal(packet_probability_threshold(1.0), UINT32_MAX);
	assert_int_equal(packet_probability_threshold(0.5), 1u << 31);
	assert_int_equal(packet_probability_threshold(1e-12), 1);
	assert_in_range(packet_probability_threshold(0.3), 1288490188u - 1, 1288490189u + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_spec_json_defaults),
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_duplicate_and_corrupt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
