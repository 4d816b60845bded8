#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/netaddr.h"

static void parses_ipv4_and_ipv6_prefixes(void **state)
{
	(void)state;
	struct cidr c;
	char buf[64];
	assert_int_equal(cidr_parse("10.0.0.0/8", &c), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix_len, 8);
	assert_string_equal(cidr_format(&c, buf, sizeof(buf)), "10.0.0.0/8");

	assert_int_equal(cidr_parse("192.168.1.7", &c), 0);
	assert_int_equal(c.prefix_len, 32);

	assert_int_equal(cidr_parse("fd77::/64", &c), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.prefix_len, 64);
	assert_string_equal(cidr_format(&c, buf, sizeof(buf)), "fd77::/64");

	assert_int_equal(cidr_parse("::1", &c), 0);
	assert_int_equal(c.prefix_len, 128);
	assert_int_equal(cidr_parse("0.0.0.0/0", &c), 0);
	assert_int_equal(c.prefix_len, 0);
}

static void rejects_bad_prefixes(void **state)
{
	(void)state;
	const char *bad[] = { "", "10.0.0.0/33", "10.0.0.1/8", "10.0.0/8", "fd77::1/64", "fd77::/129",
			      "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x", "host.example", "300.1.1.1",
			      "10.0.0.0/08x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cidr c = { .prefix_len = 99 };
		assert_int_equal(cidr_parse(bad[i], &c), -EINVAL);
		assert_int_equal(c.prefix_len, 99);
	}
}

static void parses_port_ranges(void **state)
{
	(void)state;
	struct port_range r;
	assert_int_equal(port_range_parse("80", &r), 0);
	assert_int_equal(r.first, 80);
	assert_int_equal(r.last, 80);
	assert_int_equal(port_range_parse("1000-2000", &r), 0);
	assert_int_equal(r.first, 1000);
	assert_int_equal(r.last, 2000);
	const char *bad[] = { "", "0", "65536", "2000-1000", "80-", "-80", "a", "1-2-3", "80 " };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(port_range_parse(bad[i], &r), -EINVAL);
}

static void splits_host_and_port(void **state)
{
	(void)state;
	char host[64];
	uint16_t port = 0;
	assert_int_equal(host_port_split("10.77.0.11:7070", host, sizeof(host), &port), 0);
	assert_string_equal(host, "10.77.0.11");
	assert_int_equal(port, 7070);
	assert_int_equal(host_port_split("[fd77::11]:8080", host, sizeof(host), &port), 0);
	assert_string_equal(host, "fd77::11");
	assert_int_equal(port, 8080);
	const char *bad[] = { "10.0.0.1", "fd77::1:80", ":80", "[fd77::1]80", "h:0", "h:99999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(host_port_split(bad[i], host, sizeof(host), &port), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_ipv4_and_ipv6_prefixes),
		cmocka_unit_test(rejects_bad_prefixes),
		cmocka_unit_test(parses_port_ranges),
		cmocka_unit_test(splits_host_and_port),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
