/* The netem / tbf backend without a kernel (this one has no sch_netem): the
 * qdisc objects built from a shape spec, read back through libnl's getters, and
 * the netlink request apply() would send, parsed the way sch_netem parses it.
 * Also the probe's refusals that need no kernel. Unprivileged. */
#include "faults/qdisc_shape.h"

#include <errno.h>
#include <linux/pkt_sched.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static struct shape_spec delay_spec(uint64_t latency_us, uint64_t jitter_us)
{
	struct shape_spec s = { .kind = SHAPE_DELAY, .latency_us = latency_us, .jitter_us = jitter_us,
				.distribution = SHAPE_DIST_UNIFORM };
	packet_match_defaults(&s.match);
	return s;
}

static uint32_t scaled(double p)
{
	return (uint32_t)(p * (double)UINT32_MAX);
}

/* The netem options of a request: the fixed struct, then attributes, all inside
 * TCA_OPTIONS, which must end where the message ends. */
struct netem_request {
	struct tc_netem_qopt qopt;
	struct nlattr *tb[TCA_NETEM_MAX + 1];
	struct nl_msg *msg;
};

static void parse_netem_request(const struct shape_spec *spec, struct rtnl_qdisc *q, struct netem_request *out)
{
	memset(out, 0, sizeof(*out));
	assert_int_equal(qdisc_shape_request(spec, q, &out->msg), 0);
	struct nlmsghdr *nlh = nlmsg_hdr(out->msg);
	assert_true(nlh->nlmsg_len <= nlmsg_get_max_size(out->msg));
	struct nlattr *opts = nlmsg_find_attr(nlh, sizeof(struct tcmsg), TCA_OPTIONS);
	assert_non_null(opts);
	size_t off = (size_t)((char *)opts - (char *)nlh);
	assert_int_equal(nlh->nlmsg_len, off + NLA_ALIGN(opts->nla_len));
	assert_true((size_t)nla_len(opts) >= sizeof(struct tc_netem_qopt));
	memcpy(&out->qopt, nla_data(opts), sizeof(out->qopt));
	int nested = nla_len(opts) - NLA_ALIGN((int)sizeof(struct tc_netem_qopt));
	struct nlattr *head = (struct nlattr *)((char *)nla_data(opts) + NLA_ALIGN(sizeof(struct tc_netem_qopt)));
	assert_int_equal(nla_parse(out->tb, TCA_NETEM_MAX, head, nested, NULL), 0);
	struct nlattr *kind = nlmsg_find_attr(nlh, sizeof(struct tcmsg), TCA_KIND);
	assert_non_null(kind);
	assert_string_equal(nla_get_string(kind), "netem");
}

static void test_netem_delay_normal_correlated(void **state)
{
	(void)state;
	struct shape_spec spec = delay_spec(50000, 10000);
	spec.distribution = SHAPE_DIST_NORMAL;
	spec.correlation = 0.25;
	struct rtnl_qdisc *q = NULL;
	assert_int_equal(qdisc_shape_build(&spec, 7, 0xc4a00000u, &q), 0);
	assert_string_equal(rtnl_tc_get_kind(TC_CAST(q)), "netem");
	assert_int_equal(rtnl_tc_get_ifindex(TC_CAST(q)), 7);
	assert_int_equal(rtnl_tc_get_handle(TC_CAST(q)), 0xc4a00000u);
	assert_int_equal(rtnl_tc_get_parent(TC_CAST(q)), TC_H_ROOT);
	/* microseconds -> psched ticks -> microseconds */
	assert_true(abs(rtnl_netem_get_delay(q) - 50000) <= 1);
	assert_true(abs(rtnl_netem_get_jitter(q) - 10000) <= 1);
	assert_int_equal((uint32_t)rtnl_netem_get_delay_correlation(q), scaled(0.25));
	assert_true(rtnl_netem_get_reorder_probability(q) < 0); /* not set */

	int16_t *table = NULL;
	assert_int_equal(rtnl_netem_get_delay_distribution_size(q), 4096);
	assert_int_equal(rtnl_netem_get_delay_distribution(q, &table), 0);
	for (int i = 1; i < 4096; i++)
		assert_true(table[i] >= table[i - 1]);
	for (int i = 0; i < 2048; i++)
		assert_true(abs(table[i] + table[4095 - i]) <= 1); /* symmetric */
	assert_true(abs(table[2048]) <= 4);                    /* median 0 */
	/* Phi(1) = 0.8413: one standard deviation is 8192 in netem's units */
	assert_true(abs(table[(int)(0.8413 * 4096)] - 8192) < 40);
	assert_true(table[0] < -3 * 8192 && table[0] > -4 * 8192);

	struct netem_request req;
	parse_netem_request(&spec, q, &req);
	assert_true(req.qopt.latency > 0);
	assert_true(req.qopt.jitter > 0);
	assert_true(req.qopt.limit >= 10000);
	assert_int_equal(req.qopt.loss, 0);
	assert_int_equal(req.qopt.duplicate, 0);
	assert_non_null(req.tb[TCA_NETEM_CORR]);
	struct tc_netem_corr corr;
	memcpy(&corr, nla_data(req.tb[TCA_NETEM_CORR]), sizeof(corr));
	assert_int_equal(corr.delay_corr, scaled(0.25));
	assert_non_null(req.tb[TCA_NETEM_DELAY_DIST]);
	assert_int_equal(nla_len(req.tb[TCA_NETEM_DELAY_DIST]), 4096 * 2);
	/* jitter without reordering asked for: a rate keeps the order */
	assert_non_null(req.tb[TCA_NETEM_RATE]);
	struct tc_netem_rate rate;
	memcpy(&rate, nla_data(req.tb[TCA_NETEM_RATE]), sizeof(rate));
	assert_int_equal(rate.rate, UINT32_MAX);
	assert_null(req.tb[TCA_NETEM_REORDER]);
	nlmsg_free(req.msg);
	rtnl_qdisc_put(q);
}

static void test_netem_reorder(void **state)
{
	(void)state;
	struct shape_spec spec = delay_spec(10000, 2000);
	spec.kind = SHAPE_REORDER;
	spec.reorder_share = 0.3;
	struct rtnl_qdisc *q = NULL;
	assert_int_equal(qdisc_shape_build(&spec, 3, 0xc4a00000u, &q), 0);
	assert_int_equal((uint32_t)rtnl_netem_get_reorder_probability(q), scaled(0.3));
	struct netem_request req;
	parse_netem_request(&spec, q, &req);
	assert_non_null(req.tb[TCA_NETEM_REORDER]);
	struct tc_netem_reorder ro;
	memcpy(&ro, nla_data(req.tb[TCA_NETEM_REORDER]), sizeof(ro));
	assert_int_equal(ro.probability, scaled(0.3));
	assert_int_equal(req.qopt.gap, 1); /* every packet may be the one sent at once */
	assert_null(req.tb[TCA_NETEM_RATE]); /* reordering was asked for */
	assert_null(req.tb[TCA_NETEM_DELAY_DIST]); /* uniform */
	nlmsg_free(req.msg);
	rtnl_qdisc_put(q);

	/* a share of 1 must not wrap around */
	spec.reorder_share = 1.0;
	assert_int_equal(qdisc_shape_build(&spec, 3, 0xc4a00000u, &q), 0);
	assert_int_equal((uint32_t)rtnl_netem_get_reorder_probability(q), UINT32_MAX);
	rtnl_qdisc_put(q);
}

static void test_netem_plain_delay(void **state)
{
	(void)state;
	/* no jitter: correlation and distribution mean nothing and are left out */
	struct shape_spec spec = delay_spec(100000, 0);
	spec.distribution = SHAPE_DIST_NORMAL;
	spec.correlation = 0.5;
	struct rtnl_qdisc *q = NULL;
	assert_int_equal(qdisc_shape_build(&spec, 3, 0xc4a00000u, &q), 0);
	assert_true(abs(rtnl_netem_get_delay(q) - 100000) <= 1);
	struct netem_request req;
	parse_netem_request(&spec, q, &req);
	assert_int_equal(req.qopt.jitter, 0);
	assert_null(req.tb[TCA_NETEM_CORR]);
	assert_null(req.tb[TCA_NETEM_DELAY_DIST]);
	assert_null(req.tb[TCA_NETEM_RATE]); /* a constant delay keeps the order by itself */
	nlmsg_free(req.msg);
	rtnl_qdisc_put(q);
}

static void test_tbf(void **state)
{
	(void)state;
	struct shape_spec spec = { .kind = SHAPE_BANDWIDTH, .rate_bps = 8000000 };
	packet_match_defaults(&spec.match);
	struct rtnl_qdisc *q = NULL;
	assert_int_equal(qdisc_shape_build(&spec, 4, 0xc4a00000u, &q), 0);
	assert_string_equal(rtnl_tc_get_kind(TC_CAST(q)), "tbf");
	assert_int_equal(rtnl_qdisc_tbf_get_rate(q), 1000000);
	assert_int_equal(rtnl_qdisc_tbf_get_rate_bucket(q), 16 * 1024); /* at least 16 KiB */
	assert_int_equal(rtnl_qdisc_tbf_get_limit(q), 100000);          /* 100 ms of the rate */
	rtnl_qdisc_put(q);

	spec.burst_bytes = 32 * 1024;
	spec.queue_bytes = 64 * 1024;
	spec.rate_bps = 100000000;
	assert_int_equal(qdisc_shape_build(&spec, 4, 0xc4a00000u, &q), 0);
	assert_int_equal(rtnl_qdisc_tbf_get_rate(q), 12500000);
	assert_int_equal(rtnl_qdisc_tbf_get_rate_bucket(q), 32 * 1024);
	assert_int_equal(rtnl_qdisc_tbf_get_limit(q), 64 * 1024);
	struct nl_msg *msg = NULL;
	assert_int_equal(qdisc_shape_request(&spec, q, &msg), 0);
	assert_non_null(nlmsg_find_attr(nlmsg_hdr(msg), sizeof(struct tcmsg), TCA_OPTIONS));
	nlmsg_free(msg);
	rtnl_qdisc_put(q);

	spec.rate_bps = 20000000000ull; /* beyond libnl's int bytes/s */
	assert_int_equal(qdisc_shape_build(&spec, 4, 0xc4a00000u, &q), -ERANGE);
	char reason[200] = "";
	assert_int_equal(qdisc_shape_probe(&spec, reason, sizeof(reason)), -ERANGE);
	assert_non_null(strstr(reason, "17 gbit"));
}

static void expect_match_refused(struct shape_spec *spec)
{
	char reason[200] = "";
	assert_int_equal(qdisc_shape_probe(spec, reason, sizeof(reason)), -EOPNOTSUPP);
	assert_string_equal(reason, "netem backend shapes whole interfaces; this fault matches packets");
}

static void test_probe_refuses_matching(void **state)
{
	(void)state;
	struct shape_spec spec = delay_spec(1000, 0);
	spec.match.protocol = PACKET_PROTO_TCP;
	expect_match_refused(&spec);

	spec = delay_spec(1000, 0);
	spec.match.dst.n = 1;
	expect_match_refused(&spec);

	spec = delay_spec(1000, 0);
	spec.match.peers.n = 1;
	expect_match_refused(&spec);

	spec = delay_spec(1000, 0);
	spec.match.dst_ports.n = 1;
	expect_match_refused(&spec);

	spec = delay_spec(1000, 0);
	snprintf(spec.match.scope.unit, sizeof(spec.match.scope.unit), "web.service");
	expect_match_refused(&spec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netem_delay_normal_correlated),
		cmocka_unit_test(test_netem_reorder),
		cmocka_unit_test(test_netem_plain_delay),
		cmocka_unit_test(test_tbf),
		cmocka_unit_test(test_probe_refuses_matching),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
