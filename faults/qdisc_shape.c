/* The "netem" backend of the shaping kinds: netem (delay, jitter, reorder) or
 * tbf (bandwidth) as the root qdisc of whole interfaces, through libnl-route.
 *
 * Egress: our qdisc replaces the interface's root qdisc, but only a default one
 * the kernel attached itself (handle 0: noqueue, pfifo_fast, mq, fq_codel, ...):
 * deleting ours makes the kernel attach its default again, so revert restores
 * the host exactly. A root qdisc someone configured is never replaced.
 * Ingress: packets arriving on the interface are redirected (clsact ingress,
 * u32 "match everything" + mirred) to an IFB device of ours whose root qdisc
 * shapes them; the IFB hands them back to the interface's receive path.
 *
 * Everything this backend leaves in the kernel carries a marker, so that
 * sweep() finds it after a crash without a record: root qdiscs with handle
 * major QDISC_SHAPE_MAJOR_BASE, IFB devices named "ckifb...", and clsact
 * ingress u32 filters at priority QDISC_SHAPE_FILTER_PRIO. */
#include "faults/qdisc_shape.h"
#include "common/netlink.h"
#include "common/log.h"
#include "faults/packet.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <linux/pkt_sched.h>
#include <linux/tc_act/tc_mirred.h>
#include <math.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/action.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef TC_H_CLSACT
#define TC_H_CLSACT TC_H_INGRESS
#endif
#ifndef TC_H_MIN_INGRESS
#define TC_H_MIN_INGRESS 0xFFF2U
#endif

#define QDISC_SHAPE_HANDLE (QDISC_SHAPE_MAJOR_BASE << 16)
/* Below tc's automatic priorities (49152 and down) so that a host filter that
 * ends classification does not hide packets from the redirect, above the
 * packet family's priority 1 so that its faults see packets first. */
#define QDISC_SHAPE_FILTER_PRIO 0x0c4a
#define QDISC_SHAPE_MAX_TARGETS 64
/* netem queues packets, not bytes; enough for 100 ms at a few Gbit/s. */
#define NETEM_LIMIT_PACKETS 50000
/* netem's distribution tables: values in units of sigma / 8192. */
#define NETEM_DIST_SCALE 8192
#define NETEM_DIST_SIZE 4096

enum qdisc_backend { QB_NETEM = 1, QB_TBF };

struct qdisc_target {
	char dev[IF_NAMESIZE];
	int ifindex;
	bool ingress;
	char ifb[IF_NAMESIZE];     /* ingress: the IFB device that holds our qdisc */
	int ifb_index;
	bool clsact_created;
	char replaced[32];         /* egress: kind of the default root qdisc ours replaced */
	bool applied;
};

struct qdisc_shape {
	enum qdisc_backend backend;
	int n;
	struct qdisc_target t[QDISC_SHAPE_MAX_TARGETS];
	struct qdisc_shape *next_live;
};

/* Faults of this process that are applied: sweep() leaves their objects alone. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct qdisc_shape *live_faults;

static const char *backend_name(enum qdisc_backend b)
{
	return b == QB_TBF ? "tbf" : "netem";
}

static enum qdisc_backend backend_for(const struct shape_spec *spec)
{
	return spec->kind == SHAPE_BANDWIDTH ? QB_TBF : QB_NETEM;
}

/* libnl reports its own error codes; the fault interface speaks errno. */
static int nl_to_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case 0: return 0;
	case NLE_EXIST: return -EEXIST;
	case NLE_OBJ_NOTFOUND: return -ENOENT;
	case NLE_NODEV: return -ENODEV;
	case NLE_PERM: return -EPERM;
	case NLE_NOMEM: return -ENOMEM;
	case NLE_INVAL: return -EINVAL;
	case NLE_RANGE: return -ERANGE;
	case NLE_BUSY: return -EBUSY;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_AGAIN: return -EAGAIN;
	case NLE_MISSING_ATTR: return -EINVAL;
	default: return -EIO;
	}
}

/* ---- the qdisc objects ---- */

/* Standard normal quantiles, as netem's "normal" table: entry i is the
 * quantile at (i + 0.5) / size, in sigma / NETEM_DIST_SCALE, found by bisection
 * on erfc. Built here rather than read from iproute2's normal.dist, whose path
 * differs between distributions (and which libnl does not find on Debian). */
static void normal_table(int16_t *table, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		double p = ((double)i + 0.5) / (double)size;
		double lo = -8.0, hi = 8.0;
		for (int it = 0; it < 60; it++) {
			double mid = (lo + hi) / 2;
			double cdf = 0.5 * erfc(-mid / sqrt(2.0));
			if (cdf < p)
				lo = mid;
			else
				hi = mid;
		}
		double v = round((lo + hi) / 2 * NETEM_DIST_SCALE);
		if (v > INT16_MAX)
			v = INT16_MAX;
		if (v < INT16_MIN)
			v = INT16_MIN;
		table[i] = (int16_t)v;
	}
}

/* netem takes probabilities as fractions of 2^32 - 1; libnl passes them as int. */
static int netem_probability(double p)
{
	if (p <= 0)
		return 0;
	if (p >= 1)
		return (int)UINT32_MAX;
	return (int)(uint32_t)(p * (double)UINT32_MAX);
}

static int tbf_rate_bytes(const struct shape_spec *spec, int *out)
{
	uint64_t bytes = spec->rate_bps / 8;
	if (bytes == 0 || bytes > INT_MAX)
		return -ERANGE;
	*out = (int)bytes;
	return 0;
}

static uint32_t tbf_burst(const struct shape_spec *spec, int rate_bytes)
{
	if (spec->burst_bytes)
		return spec->burst_bytes;
	/* 10 ms worth of the rate, at least a few full-size frames. */
	uint32_t b = (uint32_t)(rate_bytes / 100);
	return b < 16 * 1024 ? 16 * 1024 : b;
}

static uint32_t tbf_queue(const struct shape_spec *spec, int rate_bytes)
{
	if (spec->queue_bytes)
		return spec->queue_bytes;
	uint32_t q = (uint32_t)(rate_bytes / 10); /* 100 ms */
	return q < 64 * 1024 ? 64 * 1024 : q;
}

int qdisc_shape_build(const struct shape_spec *spec, int ifindex, uint32_t handle, struct rtnl_qdisc **out)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	if (!q)
		return -ENOMEM;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), handle);
	int r = 0;
	if (backend_for(spec) == QB_TBF) {
		int rate;
		r = tbf_rate_bytes(spec, &rate);
		if (r == 0)
			r = nl_to_errno(rtnl_tc_set_kind(TC_CAST(q), "tbf"));
		if (r == 0) {
			rtnl_qdisc_tbf_set_limit(q, (int)tbf_queue(spec, rate));
			rtnl_qdisc_tbf_set_rate(q, rate, (int)tbf_burst(spec, rate), 0);
		}
	} else {
		if (spec->latency_us > INT_MAX / 2 || spec->jitter_us > INT_MAX / 2)
			r = -ERANGE;
		if (r == 0)
			r = nl_to_errno(rtnl_tc_set_kind(TC_CAST(q), "netem"));
		if (r == 0) {
			rtnl_netem_set_limit(q, NETEM_LIMIT_PACKETS);
			rtnl_netem_set_delay(q, (int)spec->latency_us);
			if (spec->jitter_us > 0) {
				rtnl_netem_set_jitter(q, (int)spec->jitter_us);
				/* libnl refuses a correlation or a table without jitter. */
				if (spec->correlation > 0)
					rtnl_netem_set_delay_correlation(q, netem_probability(spec->correlation));
				if (spec->distribution == SHAPE_DIST_NORMAL) {
					int16_t table[NETEM_DIST_SIZE];
					normal_table(table, NETEM_DIST_SIZE);
					r = nl_to_errno(rtnl_netem_set_delay_distribution_data(q, table, NETEM_DIST_SIZE));
				}
			}
			if (r == 0 && spec->reorder_share > 0)
				rtnl_netem_set_reorder_probability(q, netem_probability(spec->reorder_share));
		}
	}
	if (r < 0) {
		rtnl_qdisc_put(q);
		return r;
	}
	*out = q;
	return 0;
}

static bool netem_keeps_order(const struct shape_spec *spec)
{
	return backend_for(spec) == QB_NETEM && spec->jitter_us > 0 && spec->reorder_share == 0;
}

/* The request that makes `q` the root qdisc (replacing a default one).
 * Two things are fixed up for netem, whose options are a struct followed by
 * attributes, all inside TCA_OPTIONS (which must span the rest of the message):
 *  - libnl 3.7 counts those attributes twice in nlmsg_len (the message would
 *    claim bytes past its buffer as soon as there is a correlation or a table);
 *  - netem with jitter reorders packets (its queue is sorted by send time);
 *    with a rate set it sends each packet no earlier than the one before, so
 *    it gets a rate far above any link's (~34 Gbit/s) unless reordering was
 *    asked for. libnl 3.7 has no setter for TCA_NETEM_RATE: it is appended. */
int qdisc_shape_request(const struct shape_spec *spec, struct rtnl_qdisc *q, struct nl_msg **out)
{
	struct nl_msg *msg = NULL;
	int r = rtnl_qdisc_build_add_request(q, NLM_F_CREATE | NLM_F_REPLACE, &msg);
	if (r < 0)
		return nl_to_errno(r);
	if (backend_for(spec) != QB_NETEM) {
		*out = msg;
		return 0;
	}
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *opts = nlmsg_find_attr(nlh, sizeof(struct tcmsg), TCA_OPTIONS);
	if (!opts) {
		nlmsg_free(msg);
		return -EINVAL;
	}
	/* The attribute may move when the buffer grows: keep its offset. */
	size_t off = (size_t)((char *)opts - (char *)nlh);
	size_t end = off + (size_t)NLA_ALIGN(opts->nla_len);
	if (end > nlmsg_get_max_size(msg)) {
		nlmsg_free(msg);
		return -EINVAL;
	}
	nlh->nlmsg_len = (uint32_t)end;
	if (netem_keeps_order(spec)) {
		const struct tc_netem_rate rate = { .rate = UINT32_MAX };
		/* libnl sized the buffer to fit a distribution table exactly. */
		if (nlmsg_expand(msg, nlmsg_get_max_size(msg) + (size_t)nla_total_size(sizeof(rate))) < 0 ||
		    nla_put(msg, TCA_NETEM_RATE, sizeof(rate), &rate) < 0) {
			nlmsg_free(msg);
			return -ENOMEM;
		}
		nlh = nlmsg_hdr(msg);
		opts = (struct nlattr *)((char *)nlh + off);
		opts->nla_len = (uint16_t)(nlh->nlmsg_len - off);
	}
	*out = msg;
	return 0;
}

static int send_qdisc(struct nl_sock *sk, const struct shape_spec *spec, struct rtnl_qdisc *q)
{
	struct nl_msg *msg = NULL;
	int r = qdisc_shape_request(spec, q, &msg);
	if (r < 0)
		return r;
	r = nl_send_auto_complete(sk, msg);
	nlmsg_free(msg);
	if (r < 0)
		return nl_to_errno(r);
	return nl_to_errno(nl_wait_for_ack(sk));
}


/* ---- probes (cached, in a throwaway network namespace) ---- */

enum probe_what { PROBE_NETEM, PROBE_TBF, PROBE_INGRESS, PROBE_COUNT };

struct probe_cache {
	bool done;
	int result;
	char reason[200];
};
static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static struct probe_cache probe_caches[PROBE_COUNT];

static int add_ifb(struct nl_sock *sk, const char *name, const char *alias, int *ifindex);
static int add_redirect(struct nl_sock *sk, int ifindex, int ifb_index);
static int delete_link(struct nl_sock *sk, const char *name);

/* Runs in the child: exit codes are read by probe_child_result(). */
static int probe_child(enum probe_what what)
{
	if (unshare(CLONE_NEWNET) < 0)
		return 10;
	struct nl_sock *sk = netlink_route_socket();
	if (!sk)
		return 11;
	struct shape_spec spec = { .kind = what == PROBE_TBF ? SHAPE_BANDWIDTH : SHAPE_DELAY,
				   .latency_us = 1000, .jitter_us = 100, .distribution = SHAPE_DIST_NORMAL,
				   .rate_bps = 8000000 };
	if (what == PROBE_INGRESS) {
		int ifb;
		if (add_ifb(sk, "ckifbprobe", "chaoskit:probe", &ifb) < 0)
			return 20;
		/* libbpf rather than packet_clsact_ensure(): its lock may have been
		 * held by another thread of the parent at fork time. */
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = 1, .attach_point = BPF_TC_INGRESS);
		if (bpf_tc_hook_create(&hook) < 0)
			return 21;
		int r = add_redirect(sk, 1, ifb);
		if (r == -ENOENT || r == -EOPNOTSUPP)
			return 22;
		return r < 0 ? 23 : 0;
	}
	struct rtnl_qdisc *q;
	if (qdisc_shape_build(&spec, 1, QDISC_SHAPE_HANDLE, &q) < 0)
		return 12;
	int r = send_qdisc(sk, &spec, q);
	rtnl_qdisc_put(q);
	if (r == -ENOENT || r == -EOPNOTSUPP)
		return 13;
	return r < 0 ? 14 : 0;
}

static int run_probe(enum probe_what what, char *reason, size_t len)
{
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		snprintf(reason, len, "fork: %s", strerror(e));
		return -e;
	}
	if (pid == 0)
		_exit(probe_child(what));
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			int e = errno;
			snprintf(reason, len, "waitpid: %s", strerror(e));
			return -e;
		}
	}
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 99;
	const char *qkind = what == PROBE_TBF ? "tbf" : "netem";
	switch (code) {
	case 0: return 0;
	case 10: snprintf(reason, len, "cannot create a network namespace to probe qdiscs (needs CAP_SYS_ADMIN)"); break;
	case 11: snprintf(reason, len, "no rtnetlink socket"); break;
	case 13:
		snprintf(reason, len, "kernel lacks sch_%s (CONFIG_NET_SCH_%s%s)", qkind,
			 what == PROBE_TBF ? "TBF" : "NETEM",
			 what == PROBE_TBF ? "" : "; RHEL: kernel-modules-extra");
		break;
	case 14: snprintf(reason, len, "adding a %s qdisc failed (needs CAP_NET_ADMIN)", qkind); break;
	case 20: snprintf(reason, len, "kernel lacks IFB devices (CONFIG_IFB), needed to shape ingress"); break;
	case 21: snprintf(reason, len, "kernel lacks the clsact qdisc (CONFIG_NET_SCH_INGRESS), needed to shape ingress"); break;
	case 22: snprintf(reason, len, "kernel lacks cls_u32 or act_mirred, needed to shape ingress"); break;
	default: snprintf(reason, len, "%s probe failed (status %d)", what == PROBE_INGRESS ? "ingress" : qkind, code); break;
	}
	return -EOPNOTSUPP;
}

static int cached_probe(enum probe_what what, char *reason, size_t len)
{
	pthread_mutex_lock(&probe_lock);
	struct probe_cache *c = &probe_caches[what];
	if (!c->done) {
		c->reason[0] = '\0';
		c->result = run_probe(what, c->reason, sizeof(c->reason));
		c->done = true;
	}
	int r = c->result;
	if (r < 0 && reason && len)
		snprintf(reason, len, "%s", c->reason);
	pthread_mutex_unlock(&probe_lock);
	return r;
}

static bool matches_everything(const struct packet_spec *m)
{
	return m->protocol == PACKET_PROTO_ANY && m->src.n == 0 && m->dst.n == 0 && m->peers.n == 0 &&
	       m->src_ports.n == 0 && m->dst_ports.n == 0 && packet_scope_is_host(&m->scope);
}

int qdisc_shape_probe(const struct shape_spec *spec, char *reason, size_t len)
{
	if (!matches_everything(&spec->match)) {
		snprintf(reason, len, "netem backend shapes whole interfaces; this fault matches packets");
		return -EOPNOTSUPP;
	}
	if (spec->kind == SHAPE_BANDWIDTH) {
		int rate;
		if (tbf_rate_bytes(spec, &rate) < 0) {
			snprintf(reason, len, "tbf through libnl takes rates from 8 bit/s up to 17 gbit");
			return -ERANGE;
		}
	}
	int r = cached_probe(spec->kind == SHAPE_BANDWIDTH ? PROBE_TBF : PROBE_NETEM, reason, len);
	if (r < 0)
		return r;
	if (spec->match.direction & PACKET_DIR_INGRESS)
		return cached_probe(PROBE_INGRESS, reason, len);
	return 0;
}

/* ---- kernel objects ---- */

struct root_qdisc {
	bool found;
	char kind[32];
	uint32_t handle;
};

static int root_qdisc_of(struct nl_sock *sk, int ifindex, struct root_qdisc *out)
{
	struct nl_cache *cache = NULL;
	int r = rtnl_qdisc_alloc_cache(sk, &cache);
	if (r < 0)
		return nl_to_errno(r);
	memset(out, 0, sizeof(*out));
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_tc *tc = TC_CAST(o);
		if (rtnl_tc_get_ifindex(tc) != ifindex || rtnl_tc_get_parent(tc) != TC_H_ROOT)
			continue;
		const char *kind = rtnl_tc_get_kind(tc);
		out->found = true;
		snprintf(out->kind, sizeof(out->kind), "%s", kind ? kind : "?");
		out->handle = rtnl_tc_get_handle(tc);
		break;
	}
	nl_cache_free(cache);
	return 0;
}

static bool is_our_handle(uint32_t handle)
{
	uint32_t major = TC_H_MAJ(handle) >> 16;
	return major >= QDISC_SHAPE_MAJOR_BASE && major < QDISC_SHAPE_MAJOR_BASE + QDISC_SHAPE_MAJOR_SLOTS;
}

/* A root qdisc the kernel attached by itself (noqueue, pfifo_fast, mq,
 * net.core.default_qdisc) has handle 0; one added through netlink always gets
 * a handle (the kernel allocates one when asked for 0), so anything else was
 * configured by someone and is not ours to replace. */
static int check_root_replaceable(struct nl_sock *sk, const char *dev, int ifindex, char *replaced, size_t rlen,
				  struct fault_error *err)
{
	struct root_qdisc root;
	int r = root_qdisc_of(sk, ifindex, &root);
	if (r < 0) {
		fault_error_set(err, "", "listing the qdiscs of %s: %s", dev, strerror(-r));
		return r;
	}
	if (!root.found) {
		snprintf(replaced, rlen, "none");
		return 0;
	}
	if (is_our_handle(root.handle)) {
		fault_error_set(err, "", "%s is already shaped by another chaoskit fault (root qdisc %s %x:)", dev,
				root.kind, TC_H_MAJ(root.handle) >> 16);
		return -EBUSY;
	}
	if (TC_H_MAJ(root.handle) != 0) {
		fault_error_set(err, "",
				"%s has a configured root qdisc (%s %x:); the netem backend does not replace it: "
				"remove it or use backend \"delay-line\"",
				dev, root.kind, TC_H_MAJ(root.handle) >> 16);
		return -EBUSY;
	}
	snprintf(replaced, rlen, "%s", root.kind);
	return 0;
}

static int delete_root_qdisc(struct nl_sock *sk, int ifindex)
{
	struct root_qdisc root;
	int r = root_qdisc_of(sk, ifindex, &root);
	if (r < 0)
		return r;
	if (!root.found || !is_our_handle(root.handle))
		return 0; /* gone already (device deleted, earlier recover) */
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	if (!q)
		return -ENOMEM;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), root.handle);
	r = nl_to_errno(rtnl_qdisc_delete(sk, q));
	rtnl_qdisc_put(q);
	return r == -ENOENT || r == -ENODEV ? 0 : r;
}

static int add_ifb(struct nl_sock *sk, const char *name, const char *alias, int *ifindex)
{
	struct rtnl_link *link = rtnl_link_alloc();
	if (!link)
		return -ENOMEM;
	rtnl_link_set_name(link, name);
	int r = nl_to_errno(rtnl_link_set_type(link, "ifb"));
	if (r == 0) {
		rtnl_link_set_flags(link, IFF_UP);
		r = nl_to_errno(rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL));
	}
	rtnl_link_put(link);
	if (r < 0)
		return r;
	int idx = (int)if_nametoindex(name);
	if (idx == 0)
		return -ENODEV;
	/* The kernel takes an alias on change only, not on creation. */
	struct rtnl_link *orig = NULL, *change = rtnl_link_alloc();
	r = change ? nl_to_errno(rtnl_link_get_kernel(sk, idx, NULL, &orig)) : -ENOMEM;
	if (r == 0) {
		rtnl_link_set_ifalias(change, alias);
		r = nl_to_errno(rtnl_link_change(sk, orig, change, 0));
	}
	if (orig)
		rtnl_link_put(orig);
	if (change)
		rtnl_link_put(change);
	if (r < 0) {
		delete_link(sk, name);
		return r;
	}
	*ifindex = idx;
	return 0;
}

static int delete_link(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *link = rtnl_link_alloc();
	if (!link)
		return -ENOMEM;
	rtnl_link_set_name(link, name);
	int r = nl_to_errno(rtnl_link_delete(sk, link));
	rtnl_link_put(link);
	return r == -ENODEV || r == -ENOENT ? 0 : r;
}

/* Every packet arriving on `ifindex` goes to the IFB's egress (and through its
 * root qdisc), then back into `ifindex`'s receive path. */
static int add_redirect(struct nl_sock *sk, int ifindex, int ifb_index)
{
	struct rtnl_cls *cls = rtnl_cls_alloc();
	struct rtnl_act *act = rtnl_act_alloc();
	int r = -ENOMEM;
	if (!cls || !act)
		goto out;
	rtnl_tc_set_ifindex(TC_CAST(cls), ifindex);
	rtnl_tc_set_parent(TC_CAST(cls), TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS));
	rtnl_cls_set_prio(cls, QDISC_SHAPE_FILTER_PRIO);
	rtnl_cls_set_protocol(cls, ETH_P_ALL);
	r = nl_to_errno(rtnl_tc_set_kind(TC_CAST(cls), "u32"));
	if (r < 0)
		goto out;
	r = nl_to_errno(rtnl_u32_add_key_uint32(cls, 0, 0, 0, 0));
	if (r == 0)
		r = nl_to_errno(rtnl_u32_set_cls_terminal(cls));
	if (r == 0)
		r = nl_to_errno(rtnl_tc_set_kind(TC_CAST(act), "mirred"));
	if (r == 0)
		r = nl_to_errno(rtnl_mirred_set_action(act, TCA_EGRESS_REDIR));
	if (r == 0)
		r = nl_to_errno(rtnl_mirred_set_policy(act, TC_ACT_STOLEN));
	if (r == 0)
		r = nl_to_errno(rtnl_mirred_set_ifindex(act, (uint32_t)ifb_index));
	if (r == 0)
		r = nl_to_errno(rtnl_u32_add_action(cls, act));
	if (r == 0)
		r = nl_to_errno(rtnl_cls_add(sk, cls, NLM_F_CREATE | NLM_F_EXCL));
out:
	if (act)
		rtnl_act_put(act);
	if (cls)
		rtnl_cls_put(cls);
	return r;
}

struct redirect_walk {
	bool found;
};

static void redirect_walk_cb(struct nl_object *obj, void *arg)
{
	struct redirect_walk *w = arg;
	struct rtnl_cls *cls = (struct rtnl_cls *)obj;
	const char *kind = rtnl_tc_get_kind(TC_CAST(cls));
	if (rtnl_cls_get_prio(cls) == QDISC_SHAPE_FILTER_PRIO && kind && strcmp(kind, "u32") == 0)
		w->found = true;
}

static bool has_redirect(struct nl_sock *sk, int ifindex)
{
	struct nl_cache *cache = NULL;
	if (rtnl_cls_alloc_cache(sk, ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), &cache) < 0)
		return false; /* no clsact */
	struct redirect_walk w = { 0 };
	nl_cache_foreach(cache, redirect_walk_cb, &w);
	nl_cache_free(cache);
	return w.found;
}

/* Removes the whole filter priority: only this backend uses it. */
static int delete_redirect(struct nl_sock *sk, int ifindex)
{
	if (!has_redirect(sk, ifindex))
		return 0;
	struct rtnl_cls *cls = rtnl_cls_alloc();
	if (!cls)
		return -ENOMEM;
	rtnl_tc_set_ifindex(TC_CAST(cls), ifindex);
	rtnl_tc_set_parent(TC_CAST(cls), TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS));
	rtnl_cls_set_prio(cls, QDISC_SHAPE_FILTER_PRIO);
	rtnl_cls_set_protocol(cls, ETH_P_ALL);
	int r = nl_to_errno(rtnl_tc_set_kind(TC_CAST(cls), "u32"));
	if (r == 0)
		r = nl_to_errno(rtnl_cls_delete(sk, cls, 0));
	rtnl_cls_put(cls);
	return r == -ENOENT || r == -ENODEV ? 0 : r;
}

static bool has_clsact(struct nl_sock *sk, int ifindex)
{
	struct nl_cache *cache = NULL;
	if (rtnl_qdisc_alloc_cache(sk, &cache) < 0)
		return false;
	bool found = false;
	for (struct nl_object *o = nl_cache_get_first(cache); o && !found; o = nl_cache_get_next(o)) {
		const char *kind = rtnl_tc_get_kind(TC_CAST(o));
		found = rtnl_tc_get_ifindex(TC_CAST(o)) == ifindex && kind && strcmp(kind, "clsact") == 0;
	}
	nl_cache_free(cache);
	return found;
}

/* From an IFB's alias "chaoskit:ID:DEV:clsact": the interface whose clsact the
 * fault created. Returns its index, 0 if the alias names none. */
static int ifb_created_clsact_on(struct nl_sock *sk, const char *ifb)
{
	struct rtnl_link *link = NULL;
	if (rtnl_link_get_kernel(sk, 0, ifb, &link) < 0)
		return 0;
	char alias[128] = "";
	const char *a = rtnl_link_get_ifalias(link);
	snprintf(alias, sizeof(alias), "%s", a ? a : "");
	rtnl_link_put(link);
	char *fields[5] = { 0 };
	int n = 0;
	for (char *save = NULL, *f = strtok_r(alias, ":", &save); f && n < 5; f = strtok_r(NULL, ":", &save))
		fields[n++] = f;
	if (n != 4 || strcmp(fields[0], "chaoskit") != 0 || strcmp(fields[3], "clsact") != 0)
		return 0;
	return (int)if_nametoindex(fields[2]);
}

/* "ckifb" + 8 hex digits of a hash of the fault id and the interface. */
static void ifb_name(const char *fault_id, int ifindex, char *out, size_t len)
{
	uint32_t h = 2166136261u;
	for (const char *c = fault_id ? fault_id : ""; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	h = (h ^ (uint32_t)ifindex) * 16777619u;
	snprintf(out, len, QDISC_SHAPE_IFB_PREFIX "%08x", h);
}

/* Undoes one target; keeps going on errors and returns the first. The order
 * matters: the redirect goes before the IFB it points to (a mirred action
 * whose device vanished drops every packet). */
static int undo_target(struct nl_sock *sk, const struct qdisc_target *t)
{
	int first = 0, r;
	if (t->ingress) {
		r = delete_redirect(sk, t->ifindex);
		if (r < 0) {
			log_warn("qdisc-shape: removing the ingress redirect of %s: %s", t->dev, strerror(-r));
			first = first ? first : r;
		}
		if (t->ifb[0]) {
			r = delete_link(sk, t->ifb);
			if (r < 0) {
				log_warn("qdisc-shape: deleting %s: %s", t->ifb, strerror(-r));
				first = first ? first : r;
			}
		}
		if (r == 0 && first == 0)
			packet_clsact_release(t->ifindex, t->clsact_created);
	} else {
		r = delete_root_qdisc(sk, t->ifindex);
		if (r < 0) {
			log_warn("qdisc-shape: removing the root qdisc of %s: %s", t->dev, strerror(-r));
			first = first ? first : r;
		}
	}
	return first;
}

static int apply_target(struct nl_sock *sk, const struct shape_spec *spec, const struct fault_env *env,
			struct qdisc_target *t, struct fault_error *err)
{
	struct rtnl_qdisc *q = NULL;
	int r;
	if (!t->ingress) {
		r = check_root_replaceable(sk, t->dev, t->ifindex, t->replaced, sizeof(t->replaced), err);
		if (r < 0)
			return r;
		r = qdisc_shape_build(spec, t->ifindex, QDISC_SHAPE_HANDLE, &q);
		if (r == 0) {
			r = send_qdisc(sk, spec, q);
			rtnl_qdisc_put(q);
		}
		if (r < 0)
			fault_error_set(err, "", "adding a %s root qdisc to %s: %s", backend_name(backend_for(spec)),
					t->dev, strerror(-r));
		return r;
	}
	ifb_name(env ? env->fault_id : NULL, t->ifindex, t->ifb, sizeof(t->ifb));
	/* The alias says whether this fault is about to create clsact on the
	 * interface, so that sweep() can remove it too when no record survived. */
	char alias[96];
	snprintf(alias, sizeof(alias), "chaoskit:%s:%s%s", env && env->fault_id ? env->fault_id : "", t->dev,
		 has_clsact(sk, t->ifindex) ? "" : ":clsact");
	r = add_ifb(sk, t->ifb, alias, &t->ifb_index);
	if (r < 0) {
		fault_error_set(err, "", "creating IFB device %s for ingress of %s: %s", t->ifb, t->dev, strerror(-r));
		t->ifb[0] = '\0';
		return r;
	}
	r = qdisc_shape_build(spec, t->ifb_index, QDISC_SHAPE_HANDLE, &q);
	if (r == 0) {
		r = send_qdisc(sk, spec, q);
		rtnl_qdisc_put(q);
	}
	if (r < 0) {
		fault_error_set(err, "", "adding a %s qdisc to %s: %s", backend_name(backend_for(spec)), t->ifb,
				strerror(-r));
		goto fail;
	}
	r = packet_clsact_ensure(t->ifindex, &t->clsact_created);
	if (r < 0) {
		fault_error_set(err, "", "adding clsact to %s: %s", t->dev, strerror(-r));
		goto fail;
	}
	if (has_redirect(sk, t->ifindex)) {
		fault_error_set(err, "", "ingress of %s is already shaped by another chaoskit fault", t->dev);
		r = -EBUSY;
		goto fail;
	}
	r = add_redirect(sk, t->ifindex, t->ifb_index);
	if (r < 0) {
		fault_error_set(err, "", "redirecting ingress of %s to %s: %s", t->dev, t->ifb, strerror(-r));
		goto fail;
	}
	return 0;
fail:
	delete_link(sk, t->ifb);
	packet_clsact_release(t->ifindex, t->clsact_created);
	t->ifb[0] = '\0';
	return r;
}

/* Without `interfaces`: every interface but lo and chaoskit's own devices
 * (IFBs "ckifb...", delay-line TAPs "ckd...": all named "ck..."). */
static bool skipped_by_default(const char *name)
{
	return strcmp(name, "lo") == 0 || strncmp(name, "ck", 2) == 0;
}

static int add_targets_for(struct qdisc_shape *q, const struct shape_spec *spec, const char *dev, int ifindex,
			   struct fault_error *err)
{
	for (int dir = 0; dir < 2; dir++) {
		bool ingress = dir == 1;
		if (!(spec->match.direction & (ingress ? PACKET_DIR_INGRESS : PACKET_DIR_EGRESS)))
			continue;
		if (q->n >= QDISC_SHAPE_MAX_TARGETS) {
			fault_error_set(err, "interfaces", "too many interfaces for the netem backend (max %d)",
					QDISC_SHAPE_MAX_TARGETS / 2);
			return -E2BIG;
		}
		struct qdisc_target *t = &q->t[q->n++];
		memset(t, 0, sizeof(*t));
		snprintf(t->dev, sizeof(t->dev), "%s", dev);
		t->ifindex = ifindex;
		t->ingress = ingress;
	}
	return 0;
}

static int resolve_targets(struct qdisc_shape *q, const struct shape_spec *spec, struct fault_error *err)
{
	if (spec->match.n_interfaces > 0) {
		for (int i = 0; i < spec->match.n_interfaces; i++) {
			const char *dev = spec->match.interfaces[i];
			int idx = (int)if_nametoindex(dev);
			if (idx == 0) {
				fault_error_set(err, "interfaces", "no interface %s", dev);
				return -ENODEV;
			}
			int r = add_targets_for(q, spec, dev, idx, err);
			if (r < 0)
				return r;
		}
		return 0;
	}
	struct if_nameindex *ifs = if_nameindex();
	if (!ifs) {
		int e = errno;
		fault_error_set(err, "", "listing interfaces: %s", strerror(e));
		return -e;
	}
	int r = 0;
	for (struct if_nameindex *i = ifs; i->if_index && r == 0; i++)
		if (!skipped_by_default(i->if_name))
			r = add_targets_for(q, spec, i->if_name, (int)i->if_index, err);
	if_freenameindex(ifs);
	if (r == 0 && q->n == 0) {
		fault_error_set(err, "interfaces", "no interface to shape (lo is only shaped when named)");
		r = -ENODEV;
	}
	return r;
}

static struct json_object *record_of(const struct qdisc_shape *q)
{
	struct json_object *targets = json_object_new_array();
	for (int i = 0; i < q->n; i++) {
		const struct qdisc_target *t = &q->t[i];
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "dev", json_object_new_string(t->dev));
		json_object_object_add(o, "ifindex", json_object_new_int(t->ifindex));
		json_object_object_add(o, "direction", json_object_new_string(t->ingress ? "ingress" : "egress"));
		if (t->ingress) {
			json_object_object_add(o, "ifb", json_object_new_string(t->ifb));
			json_object_object_add(o, "clsact_created", json_object_new_boolean(t->clsact_created));
		} else {
			json_object_object_add(o, "replaced", json_object_new_string(t->replaced));
		}
		json_object_array_add(targets, o);
	}
	return targets;
}

static void live_add(struct qdisc_shape *q)
{
	pthread_mutex_lock(&live_lock);
	q->next_live = live_faults;
	live_faults = q;
	pthread_mutex_unlock(&live_lock);
}

static void live_remove(struct qdisc_shape *q)
{
	pthread_mutex_lock(&live_lock);
	for (struct qdisc_shape **p = &live_faults; *p; p = &(*p)->next_live) {
		if (*p == q) {
			*p = q->next_live;
			break;
		}
	}
	pthread_mutex_unlock(&live_lock);
}

int qdisc_shape_apply(const struct shape_spec *spec, const struct fault_env *env, struct qdisc_shape **out,
		      struct json_object *record, struct fault_error *err)
{
	char reason[200] = "";
	int r = qdisc_shape_probe(spec, reason, sizeof(reason));
	if (r < 0) {
		fault_error_set(err, "backend", "%s", reason);
		return r;
	}
	struct qdisc_shape *q = calloc(1, sizeof(*q));
	if (!q) {
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	q->backend = backend_for(spec);
	r = resolve_targets(q, spec, err);
	if (r < 0) {
		free(q);
		return r;
	}
	struct nl_sock *sk = netlink_route_socket();
	if (!sk) {
		free(q);
		fault_error_set(err, "", "no rtnetlink socket");
		return -EIO;
	}
	/* Egress targets first: their refusal (a configured root qdisc) costs nothing to undo. */
	for (int pass = 0; pass < 2 && r == 0; pass++) {
		for (int i = 0; i < q->n && r == 0; i++) {
			if (q->t[i].ingress != (pass == 1))
				continue;
			r = apply_target(sk, spec, env, &q->t[i], err);
			q->t[i].applied = r == 0;
		}
	}
	if (r < 0) {
		/* apply_target() cleaned up after itself; the earlier ones are undone here. */
		for (int i = 0; i < q->n; i++)
			if (q->t[i].applied)
				undo_target(sk, &q->t[i]);
		nl_socket_free(sk);
		free(q);
		return r;
	}
	nl_socket_free(sk);
	json_object_object_add(record, "backend", json_object_new_string(backend_name(q->backend)));
	json_object_object_add(record, "targets", record_of(q));
	live_add(q);
	log_info("qdisc-shape: %s applied to %d target(s)", backend_name(q->backend), q->n);
	*out = q;
	return 0;
}

int qdisc_shape_revert(struct qdisc_shape *q)
{
	if (!q)
		return 0;
	live_remove(q);
	struct nl_sock *sk = netlink_route_socket();
	int first = sk ? 0 : -EIO;
	for (int i = q->n - 1; sk && i >= 0; i--) {
		int r = undo_target(sk, &q->t[i]);
		if (r < 0 && !first)
			first = r;
	}
	if (sk)
		nl_socket_free(sk);
	free(q);
	return first;
}

struct stats_sum {
	const struct qdisc_shape *q;
	uint64_t packets, bytes, drops, overlimits, backlog;
	int found;
};

static void stats_cb(struct nl_object *obj, void *arg)
{
	struct stats_sum *s = arg;
	struct rtnl_tc *tc = TC_CAST(obj);
	if (rtnl_tc_get_parent(tc) != TC_H_ROOT || rtnl_tc_get_handle(tc) != QDISC_SHAPE_HANDLE)
		return;
	int idx = rtnl_tc_get_ifindex(tc);
	bool ours = false;
	for (int i = 0; i < s->q->n && !ours; i++)
		ours = (s->q->t[i].ingress ? s->q->t[i].ifb_index : s->q->t[i].ifindex) == idx;
	if (!ours)
		return;
	s->found++;
	s->packets += rtnl_tc_get_stat(tc, RTNL_TC_PACKETS);
	s->bytes += rtnl_tc_get_stat(tc, RTNL_TC_BYTES);
	s->drops += rtnl_tc_get_stat(tc, RTNL_TC_DROPS);
	s->overlimits += rtnl_tc_get_stat(tc, RTNL_TC_OVERLIMITS);
	s->backlog += rtnl_tc_get_stat(tc, RTNL_TC_BACKLOG);
}

int qdisc_shape_stats(struct qdisc_shape *q, struct json_object *out)
{
	struct nl_sock *sk = netlink_route_socket();
	if (!sk)
		return -EIO;
	struct nl_cache *cache = NULL;
	int r = nl_to_errno(rtnl_qdisc_alloc_cache(sk, &cache));
	nl_socket_free(sk);
	if (r < 0)
		return r;
	struct stats_sum s = { .q = q };
	nl_cache_foreach(cache, stats_cb, &s);
	nl_cache_free(cache);
	json_object_object_add(out, "backend", json_object_new_string(backend_name(q->backend)));
	/* Stays when a caller renames "backend" (the shape kinds call both qdiscs "netem"). */
	json_object_object_add(out, "qdisc", json_object_new_string(backend_name(q->backend)));
	json_object_object_add(out, "packets", json_object_new_int64((int64_t)s.packets));
	json_object_object_add(out, "bytes", json_object_new_int64((int64_t)s.bytes));
	json_object_object_add(out, "drops", json_object_new_int64((int64_t)s.drops));
	json_object_object_add(out, "overlimits", json_object_new_int64((int64_t)s.overlimits));
	json_object_object_add(out, "backlog", json_object_new_int64((int64_t)s.backlog));
	json_object_object_add(out, "qdiscs", json_object_new_int(s.found));
	return 0;
}

int qdisc_shape_recover(struct json_object *record)
{
	struct json_object *targets = NULL;
	if (!record || !json_object_object_get_ex(record, "targets", &targets) ||
	    !json_object_is_type(targets, json_type_array))
		return 0; /* crash before anything was journaled: sweep() finds it */
	struct nl_sock *sk = netlink_route_socket();
	if (!sk)
		return -EIO;
	int first = 0;
	for (int i = (int)json_object_array_length(targets) - 1; i >= 0; i--) {
		struct json_object *o = json_object_array_get_idx(targets, (size_t)i), *v;
		struct qdisc_target t = { 0 };
		if (json_object_object_get_ex(o, "dev", &v))
			snprintf(t.dev, sizeof(t.dev), "%s", json_object_get_string(v));
		if (json_object_object_get_ex(o, "direction", &v))
			t.ingress = strcmp(json_object_get_string(v), "ingress") == 0;
		if (json_object_object_get_ex(o, "ifb", &v))
			snprintf(t.ifb, sizeof(t.ifb), "%s", json_object_get_string(v));
		if (json_object_object_get_ex(o, "clsact_created", &v))
			t.clsact_created = json_object_get_boolean(v);
		/* The name is what identifies the device; the index is checked against it. */
		t.ifindex = (int)if_nametoindex(t.dev);
		if (json_object_object_get_ex(o, "ifindex", &v) && t.ifindex != json_object_get_int(v))
			t.ifindex = 0;
		if (t.ifb[0] && strncmp(t.ifb, QDISC_SHAPE_IFB_PREFIX, strlen(QDISC_SHAPE_IFB_PREFIX)) != 0)
			t.ifb[0] = '\0'; /* never delete a device that is not ours */
		if (t.ifindex == 0) {
			/* The interface is gone, and our objects on it with it; the IFB is not. */
			if (t.ifb[0]) {
				int r = delete_link(sk, t.ifb);
				if (r < 0 && !first)
					first = r;
			}
			continue;
		}
		int r = undo_target(sk, &t);
		if (r < 0 && !first)
			first = r;
	}
	nl_socket_free(sk);
	return first;
}

static bool live_uses(int ifindex, const char *ifb)
{
	bool used = false;
	pthread_mutex_lock(&live_lock);
	for (struct qdisc_shape *q = live_faults; q && !used; q = q->next_live)
		for (int i = 0; i < q->n && !used; i++)
			used = ifb ? strcmp(q->t[i].ifb, ifb) == 0
				   : (q->t[i].ifindex == ifindex || q->t[i].ifb_index == ifindex);
	pthread_mutex_unlock(&live_lock);
	return used;
}

int qdisc_shape_sweep(void)
{
	struct if_nameindex *ifs = if_nameindex();
	if (!ifs)
		return -errno;
	struct nl_sock *sk = netlink_route_socket();
	if (!sk) {
		if_freenameindex(ifs);
		return -EIO;
	}
	int removed = 0, first = 0, r;
	int clsact_of_ours[QDISC_SHAPE_MAX_TARGETS], n_clsact = 0;
	for (struct if_nameindex *i = ifs; i->if_index; i++) {
		if (strncmp(i->if_name, QDISC_SHAPE_IFB_PREFIX, strlen(QDISC_SHAPE_IFB_PREFIX)) != 0 ||
		    live_uses(0, i->if_name))
			continue;
		int idx = ifb_created_clsact_on(sk, i->if_name);
		if (idx > 0 && n_clsact < QDISC_SHAPE_MAX_TARGETS)
			clsact_of_ours[n_clsact++] = idx;
	}
	/* Redirects first, then the IFBs they point to, then clsact qdiscs that
	 * a fault created (if empty now), then root qdiscs. */
	for (struct if_nameindex *i = ifs; i->if_index; i++) {
		if (live_uses((int)i->if_index, NULL) || !has_redirect(sk, (int)i->if_index))
			continue;
		r = delete_redirect(sk, (int)i->if_index);
		if (r == 0) {
			removed++;
			log_info("qdisc-shape: swept leftover ingress redirect on %s", i->if_name);
		} else if (!first) {
			first = r;
		}
	}
	for (struct if_nameindex *i = ifs; i->if_index; i++) {
		if (strncmp(i->if_name, QDISC_SHAPE_IFB_PREFIX, strlen(QDISC_SHAPE_IFB_PREFIX)) != 0 ||
		    live_uses(0, i->if_name))
			continue;
		r = delete_link(sk, i->if_name);
		if (r == 0) {
			removed++;
			log_info("qdisc-shape: swept leftover IFB %s", i->if_name);
		} else if (!first) {
			first = r;
		}
	}
	for (int i = 0; i < n_clsact; i++)
		packet_clsact_release(clsact_of_ours[i], true);
	for (struct if_nameindex *i = ifs; i->if_index; i++) {
		struct root_qdisc root;
		if (live_uses((int)i->if_index, NULL) || root_qdisc_of(sk, (int)i->if_index, &root) < 0 ||
		    !root.found || !is_our_handle(root.handle))
			continue;
		r = delete_root_qdisc(sk, (int)i->if_index);
		if (r == 0) {
			removed++;
			log_info("qdisc-shape: swept leftover %s root qdisc on %s", root.kind, i->if_name);
		} else if (!first) {
			first = r;
		}
	}
	nl_socket_free(sk);
	if_freenameindex(ifs);
	return first ? first : removed;
}
