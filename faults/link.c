/* Kinds "link-down" and "link-flap" (docs/faults.md): interfaces set administratively
 * down for the fault's duration, or cycled down/up by a thread the handle owns.
 *
 * Taking a link down makes the kernel delete every route through it and (with
 * keep_addr_on_down=0) its IPv6 addresses; bringing it up recreates only what the
 * kernel derives itself. So before the first down we snapshot the link's addresses
 * and routes as the kernel's own RTM_NEWADDR/RTM_NEWROUTE messages and, after each
 * up, replay the ones that are missing (NLM_F_EXCL: what exists is left alone).
 * The snapshot is the journal record, written to state_dir/links/<id>.json as well
 * before anything changes, and the link's IFLA_IFALIAS carries "chaoskit:<id>"
 * while the fault lasts: recover() and sweep() work from another process. */
#include "faults/fault.h"

#include "common/statefile.h"
#include "common/netlink.h"
#include "common/duration.h"
#include "common/log.h"
#include "common/timeutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_addr.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LINK_MAX_INTERFACES 32
#define LINK_MIN_PHASE_MS 100
#define LINK_MAX_PHASE_MS (3600ULL * 1000)
#define LINK_DEFAULT_PHASE_MS 2000
#define LINK_MARKER "chaoskit:"
/* Gateway routes may need a connected route the kernel is still recreating:
 * routes that fail are retried in passes until this much time has gone by. */
#define LINK_RESTORE_RETRY_MS 2000
#define LINK_RESTORE_PASS_MS 50

struct link_spec {
	bool flap;
	int n;
	char names[LINK_MAX_INTERFACES][IFNAMSIZ];
	uint64_t down_ms, up_ms;
};

struct link_handle {
	bool flap;
	uint64_t down_ms, up_ms;
	char marker[64];
	char fault_id[40];
	char state_dir[PATH_MAX];
	struct json_object *interfaces; /* the snapshot: the record's "interfaces" */

	pthread_t thread;
	bool thread_running;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;              /* under lock */
	bool down;              /* under lock: the interfaces' state as we last set it */
	uint64_t transitions;   /* under lock */
};

/* --- errors ------------------------------------------------------------------ */

/* libnl folds kernel errnos into its own codes; this undoes the folding for the
 * ones callers act on. */
static int nle_to_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case 0: return 0;
	case NLE_EXIST: return -EEXIST;
	case NLE_NODEV: return -ENODEV;
	case NLE_OBJ_NOTFOUND: return -ENOENT;
	case NLE_NOADDR: return -EADDRNOTAVAIL;
	case NLE_PERM: return -EPERM;
	case NLE_NOACCESS: return -EACCES;
	case NLE_INVAL: return -EINVAL;
	case NLE_NOMEM: return -ENOMEM;
	case NLE_BUSY: return -EBUSY;
	case NLE_RANGE: return -ERANGE;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT: return -EAFNOSUPPORT;
	default: return -EIO;
	}
}

/* --- parse ------------------------------------------------------------------- */

static bool interface_name_valid(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len >= IFNAMSIZ || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (const char *c = name; *c; c++)
		if (*c == '/' || *c == ':' || *c == ' ' || *c == '\t' || *c == '\n' || *c == '\r')
			return false;
	return true;
}

static int parse_interfaces(struct json_object *v, struct link_spec *spec, struct fault_error *err)
{
	if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0) {
		fault_error_set(err, "interfaces", "must be a non-empty list of interface names, e.g. [\"eth1\"]");
		return -EINVAL;
	}
	size_t n = json_object_array_length(v);
	if (n > LINK_MAX_INTERFACES) {
		fault_error_set(err, "interfaces", "has %zu entries, at most %d are allowed", n, LINK_MAX_INTERFACES);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char key[32];
		snprintf(key, sizeof(key), "interfaces[%zu]", i);
		struct json_object *item = json_object_array_get_idx(v, i);
		const char *name = json_object_is_type(item, json_type_string) ? json_object_get_string(item) : NULL;
		if (!name || !interface_name_valid(name)) {
			fault_error_set(err, key, "must be an interface name (1-%d characters, no '/', ':' or spaces)",
					IFNAMSIZ - 1);
			return -EINVAL;
		}
		if (strcmp(name, "lo") == 0) {
			fault_error_set(err, key, "the loopback interface cannot be taken down");
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(spec->names[j], name) == 0) {
				fault_error_set(err, key, "\"%s\" is listed twice", name);
				return -EINVAL;
			}
		}
		snprintf(spec->names[i], IFNAMSIZ, "%s", name);
	}
	spec->n = (int)n;
	return 0;
}

static int link_parse_common(struct json_object *params, bool flap, void **spec_out, struct fault_error *err)
{
	void *allocated;
	int r = fault_spec_alloc(params, sizeof(struct link_spec), &allocated, err);
	if (r < 0)
		return r;
	struct link_spec *spec = allocated;
	spec->flap = flap;
	spec->down_ms = spec->up_ms = LINK_DEFAULT_PHASE_MS;
	if (params) {
		json_object_object_foreach(params, key, v) {
			if (strcmp(key, "interfaces") == 0)
				r = parse_interfaces(v, spec, err);
			else if (flap && strcmp(key, "down") == 0)
				r = fault_duration_param(v, key, "2s", LINK_MIN_PHASE_MS, LINK_MAX_PHASE_MS,
							 &spec->down_ms, err);
			else if (flap && strcmp(key, "up") == 0)
				r = fault_duration_param(v, key, "2s", LINK_MIN_PHASE_MS, LINK_MAX_PHASE_MS,
							 &spec->up_ms, err);
			else {
				fault_error_set(err, key, "unknown parameter (known: %s)",
						flap ? "interfaces, down, up" : "interfaces");
				r = -EINVAL;
			}
			if (r < 0)
				break;
		}
	}
	if (r == 0 && spec->n == 0) {
		fault_error_set(err, "interfaces", "is required: name the interfaces to take down, e.g. [\"eth1\"]");
		r = -EINVAL;
	}
	if (r < 0) {
		free(spec);
		return r;
	}
	*spec_out = spec;
	return 0;
}

static int link_down_parse(struct json_object *params, void **spec, struct fault_error *err)
{
	return link_parse_common(params, false, spec, err);
}

static int link_flap_parse(struct json_object *params, void **spec, struct fault_error *err)
{
	return link_parse_common(params, true, spec, err);
}

static void link_spec_free(void *spec) { free(spec); }

static struct json_object *link_spec_to_json(const void *spec_v)
{
	const struct link_spec *spec = spec_v;
	struct json_object *o = json_object_new_object();
	struct json_object *names = json_object_new_array();
	for (int i = 0; i < spec->n; i++)
		json_object_array_add(names, json_object_new_string(spec->names[i]));
	json_object_object_add(o, "interfaces", names);
	if (spec->flap) {
		char buf[32];
		json_object_object_add(o, "down", json_object_new_string(duration_format(spec->down_ms, buf, sizeof(buf))));
		json_object_object_add(o, "up", json_object_new_string(duration_format(spec->up_ms, buf, sizeof(buf))));
	}
	return o;
}

/* --- raw netlink: dumps and replays --------------------------------------------- */

struct msg_list {
	struct nlmsghdr **msgs;
	size_t n, cap;
	int error;
};

static void msg_list_clear(struct msg_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->msgs[i]);
	free(l->msgs);
	memset(l, 0, sizeof(*l));
}

static int collect_msg(struct nl_msg *msg, void *arg)
{
	struct msg_list *l = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct nlmsghdr **grown = realloc(l->msgs, cap * sizeof(*grown));
		if (!grown) {
			l->error = -ENOMEM;
			return NL_STOP;
		}
		l->msgs = grown;
		l->cap = cap;
	}
	struct nlmsghdr *copy = malloc(nlh->nlmsg_len);
	if (!copy) {
		l->error = -ENOMEM;
		return NL_STOP;
	}
	memcpy(copy, nlh, nlh->nlmsg_len);
	l->msgs[l->n++] = copy;
	return NL_OK;
}

/* A private copy of the socket's callbacks (nl_socket_get_cb takes a reference). */
static struct nl_cb *socket_cb_clone(struct nl_sock *sk)
{
	struct nl_cb *own = nl_socket_get_cb(sk);
	struct nl_cb *cb = own ? nl_cb_clone(own) : NULL;
	nl_cb_put(own);
	return cb;
}

/* Every message of a dump of `type` for `family`; the request header is a zeroed
 * struct of `hdr_len` bytes whose first byte is the family (true of rtgenmsg,
 * ifaddrmsg, rtmsg and nhmsg). A dump interrupted by a concurrent change is redone. */
static int rtnl_dump_raw(struct nl_sock *sk, int type, int family, size_t hdr_len, struct msg_list *out)
{
	unsigned char hdr[32] = { 0 };
	hdr[0] = (unsigned char)family;
	for (int attempt = 0; attempt < 5; attempt++) {
		struct msg_list l = { 0 };
		int r = nl_send_simple(sk, type, NLM_F_DUMP, hdr, hdr_len);
		if (r < 0)
			return nle_to_errno(r);
		struct nl_cb *cb = socket_cb_clone(sk);
		if (!cb)
			return -ENOMEM;
		nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, collect_msg, &l);
		r = nl_recvmsgs(sk, cb);
		nl_cb_put(cb);
		if (r == -NLE_DUMP_INTR) {
			msg_list_clear(&l);
			continue;
		}
		if (r < 0 || l.error < 0) {
			int e = l.error < 0 ? l.error : nle_to_errno(r);
			msg_list_clear(&l);
			return e;
		}
		*out = l;
		return 0;
	}
	return -EAGAIN;
}

static int on_nlerr(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	(void)who;
	*(int *)arg = e->error;
	return NL_STOP;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	(void)msg;
	*(int *)arg = 0;
	return NL_STOP;
}

/* Sends a saved RTM_NEW* message again as a create-if-absent request. Returns the
 * kernel's own errno (-EEXIST when the object is there). */
static int rtnl_replay_raw(struct nl_sock *sk, const struct nlmsghdr *saved)
{
	if (saved->nlmsg_len < NLMSG_HDRLEN)
		return -EINVAL;
	struct nl_msg *msg = nlmsg_alloc_simple(saved->nlmsg_type, NLM_F_CREATE | NLM_F_EXCL);
	if (!msg)
		return -ENOMEM;
	int r = nlmsg_append(msg, NLMSG_DATA(saved), saved->nlmsg_len - NLMSG_HDRLEN, 0);
	if (r < 0) {
		nlmsg_free(msg);
		return nle_to_errno(r);
	}
	r = nl_send_auto(sk, msg);
	nlmsg_free(msg);
	if (r < 0)
		return nle_to_errno(r);
	int result = 1; /* no answer seen yet */
	struct nl_cb *cb = socket_cb_clone(sk);
	if (!cb)
		return -ENOMEM;
	nl_cb_err(cb, NL_CB_CUSTOM, on_nlerr, &result);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, &result);
	r = nl_recvmsgs(sk, cb);
	nl_cb_put(cb);
	if (result == 1)
		return r < 0 ? nle_to_errno(r) : -EIO;
	return result;
}

static char *hex_encode(const void *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *out = malloc(len * 2 + 1);
	if (!out)
		return NULL;
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[len * 2] = 0;
	return out;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A saved message back from the record; NULL if it is not a plausible one. */
static struct nlmsghdr *nlmsg_from_hex(const char *text)
{
	size_t len = text ? strlen(text) : 0;
	if (len % 2 || len / 2 < NLMSG_HDRLEN || len / 2 > 65536)
		return NULL;
	unsigned char *out = malloc(len / 2);
	if (!out)
		return NULL;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	struct nlmsghdr *nlh = (struct nlmsghdr *)out;
	if (nlh->nlmsg_len != len / 2 || (nlh->nlmsg_type != RTM_NEWADDR && nlh->nlmsg_type != RTM_NEWROUTE)) {
		free(out);
		return NULL;
	}
	return nlh;
}

/* --- snapshot ------------------------------------------------------------------ */

static void format_addr(int family, const struct nlattr *a, char *buf, size_t len)
{
	if (a && family == AF_INET && nla_len(a) == 4)
		inet_ntop(AF_INET, nla_data(a), buf, (socklen_t)len);
	else if (a && family == AF_INET6 && nla_len(a) == 16)
		inet_ntop(AF_INET6, nla_data(a), buf, (socklen_t)len);
	else
		snprintf(buf, len, "?");
}

static struct json_object *saved_entry(const char *what, const struct nlmsghdr *nlh, bool kernel)
{
	char *hex = hex_encode(nlh, nlh->nlmsg_len);
	if (!hex)
		return NULL;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, kernel ? "kernel_route" : (nlh->nlmsg_type == RTM_NEWADDR ? "address" : "route"),
			       json_object_new_string(what));
	json_object_object_add(o, "nlmsg", json_object_new_string(hex));
	free(hex);
	return o;
}

static int snapshot_addresses(struct nl_sock *sk, int ifindex, struct json_object *out)
{
	struct msg_list l = { 0 };
	int r = rtnl_dump_raw(sk, RTM_GETADDR, AF_UNSPEC, sizeof(struct ifaddrmsg), &l);
	if (r < 0)
		return r;
	for (size_t i = 0; i < l.n && r == 0; i++) {
		struct nlmsghdr *nlh = l.msgs[i];
		if (nlh->nlmsg_type != RTM_NEWADDR || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifaddrmsg)))
			continue;
		struct ifaddrmsg *ifa = NLMSG_DATA(nlh);
		if ((int)ifa->ifa_index != ifindex || (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
			continue;
		struct nlattr *tb[IFA_MAX + 1];
		if (nlmsg_parse(nlh, sizeof(*ifa), tb, IFA_MAX, NULL) < 0)
			continue;
		/* The kernel regenerates its link-local address itself when the link
		 * comes back; replaying it could race that and leave a duplicate owner. */
		if (tb[IFA_PROTO] && nla_get_u8(tb[IFA_PROTO]) == IFAPROT_KERNEL_LL)
			continue;
		char addr[INET6_ADDRSTRLEN], what[INET6_ADDRSTRLEN + 8];
		format_addr(ifa->ifa_family, tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS], addr, sizeof(addr));
		snprintf(what, sizeof(what), "%s/%u", addr, ifa->ifa_prefixlen);
		struct json_object *e = saved_entry(what, nlh, false);
		if (!e)
			r = -ENOMEM;
		else
			json_object_array_add(out, e);
	}
	msg_list_clear(&l);
	return r;
}

static bool route_uses_link(struct nlattr **tb, int ifindex)
{
	if (tb[RTA_OIF] && (int)nla_get_u32(tb[RTA_OIF]) == ifindex)
		return true;
	if (!tb[RTA_MULTIPATH])
		return false;
	struct rtnexthop *nh = nla_data(tb[RTA_MULTIPATH]);
	int left = nla_len(tb[RTA_MULTIPATH]);
	while (left >= (int)sizeof(*nh) && nh->rtnh_len >= sizeof(*nh) && nh->rtnh_len <= left) {
		if (nh->rtnh_ifindex == ifindex)
			return true;
		left -= RTNH_ALIGN(nh->rtnh_len);
		nh = RTNH_NEXT(nh);
	}
	return false;
}

static void describe_route(const struct rtmsg *rtm, struct nlattr **tb, char *buf, size_t len)
{
	char dst[INET6_ADDRSTRLEN] = "default", gw[INET6_ADDRSTRLEN] = "";
	if (tb[RTA_DST])
		format_addr(rtm->rtm_family, tb[RTA_DST], dst, sizeof(dst));
	if (tb[RTA_GATEWAY])
		format_addr(rtm->rtm_family, tb[RTA_GATEWAY], gw, sizeof(gw));
	uint32_t table = tb[RTA_TABLE] ? nla_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	char prefix[8] = "";
	if (tb[RTA_DST])
		snprintf(prefix, sizeof(prefix), "/%u", rtm->rtm_dst_len);
	snprintf(buf, len, "%s%s%s%s%s table %u type %u proto %u%s", rtm->rtm_family == AF_INET6 ? "inet6 " : "",
		 dst, prefix, *gw ? " via " : "", gw, table, rtm->rtm_type, rtm->rtm_protocol,
		 tb[RTA_MULTIPATH] ? " multipath" : "");
}

static int snapshot_routes(struct nl_sock *sk, int ifindex, struct json_object *out)
{
	static const int families[] = { AF_INET, AF_INET6 };
	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
		struct msg_list l = { 0 };
		int r = rtnl_dump_raw(sk, RTM_GETROUTE, families[f], sizeof(struct rtmsg), &l);
		if (r == -EAFNOSUPPORT && families[f] == AF_INET6)
			continue;
		if (r < 0)
			return r;
		for (size_t i = 0; i < l.n && r == 0; i++) {
			struct nlmsghdr *nlh = l.msgs[i];
			if (nlh->nlmsg_type != RTM_NEWROUTE || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
				continue;
			struct rtmsg *rtm = NLMSG_DATA(nlh);
			if (rtm->rtm_flags & RTM_F_CLONED)
				continue;
			struct nlattr *tb[RTA_MAX + 1];
			if (nlmsg_parse(nlh, sizeof(*rtm), tb, RTA_MAX, NULL) < 0 || !route_uses_link(tb, ifindex))
				continue;
			char what[160];
			describe_route(rtm, tb, what, sizeof(what));
			/* proto kernel routes (connected, local, broadcast, fe80::/64, ff00::/8)
			 * belong to the kernel, which recreates them with the link and the
			 * addresses; kept in the record for people, never replayed. */
			struct json_object *e = saved_entry(what, nlh, rtm->rtm_protocol == RTPROT_KERNEL);
			if (!e)
				r = -ENOMEM;
			else
				json_object_array_add(out, e);
		}
		msg_list_clear(&l);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Nexthop objects through the link are flushed by the kernel when it goes down
 * and so are the routes using them; replaying those is not done (yet): refuse. */
static int nexthop_object_on(struct nl_sock *sk, int ifindex, uint32_t *id)
{
	struct msg_list l = { 0 };
	int r = rtnl_dump_raw(sk, RTM_GETNEXTHOP, AF_UNSPEC, sizeof(struct nhmsg), &l);
	if (r < 0)
		return 0; /* a kernel without nexthop objects has none on the link */
	int found = 0;
	for (size_t i = 0; i < l.n && !found; i++) {
		struct nlmsghdr *nlh = l.msgs[i];
		if (nlh->nlmsg_type != RTM_NEWNEXTHOP || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nhmsg)))
			continue;
		struct nlattr *tb[NHA_MAX + 1];
		if (nlmsg_parse(nlh, sizeof(struct nhmsg), tb, NHA_MAX, NULL) < 0)
			continue;
		if (tb[NHA_OIF] && (int)nla_get_u32(tb[NHA_OIF]) == ifindex) {
			*id = tb[NHA_ID] ? nla_get_u32(tb[NHA_ID]) : 0;
			found = 1;
		}
	}
	msg_list_clear(&l);
	return found;
}

/* --- link state ---------------------------------------------------------------- */

static int link_get(struct nl_sock *sk, int ifindex, const char *name, struct rtnl_link **out)
{
	int r = rtnl_link_get_kernel(sk, ifindex, name, out);
	return r < 0 ? nle_to_errno(r) : 0;
}

static int link_set(struct nl_sock *sk, int ifindex, int up /* -1 keep */, const char *alias /* NULL keep */)
{
	struct rtnl_link *orig = NULL;
	int r = link_get(sk, ifindex, NULL, &orig);
	if (r < 0)
		return r;
	struct rtnl_link *change = rtnl_link_alloc();
	if (!change) {
		rtnl_link_put(orig);
		return -ENOMEM;
	}
	if (up == 1)
		rtnl_link_set_flags(change, IFF_UP);
	else if (up == 0)
		rtnl_link_unset_flags(change, IFF_UP);
	if (alias)
		rtnl_link_set_ifalias(change, alias);
	r = nle_to_errno(rtnl_link_change(sk, orig, change, 0));
	rtnl_link_put(change);
	rtnl_link_put(orig);
	return r;
}

static const char *json_str(struct json_object *o, const char *key)
{
	struct json_object *v = json_object_object_get(o, key);
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int json_int(struct json_object *o, const char *key)
{
	struct json_object *v = json_object_object_get(o, key);
	return json_object_is_type(v, json_type_int) ? json_object_get_int(v) : 0;
}

/* Replays what is missing of one saved list. Returns the number still failing. */
static int replay_pass(struct nl_sock *sk, struct json_object *list, const char *ifname, bool *done,
		       bool log_failures, int *first_error)
{
	int failing = 0;
	size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
	for (size_t i = 0; i < n; i++) {
		if (done[i])
			continue;
		struct json_object *e = json_object_array_get_idx(list, i);
		if (json_object_object_get(e, "kernel_route")) {
			done[i] = true;
			continue;
		}
		const char *what = json_str(e, "address") ? json_str(e, "address") : json_str(e, "route");
		struct nlmsghdr *nlh = nlmsg_from_hex(json_str(e, "nlmsg"));
		if (!nlh) {
			log_warn("link %s: saved entry \"%s\" is unreadable; skipped", ifname, what ? what : "?");
			done[i] = true;
			continue;
		}
		int r = rtnl_replay_raw(sk, nlh);
		free(nlh);
		if (r == 0 || r == -EEXIST) {
			if (r == 0)
				log_debug("link %s: restored %s", ifname, what ? what : "?");
			done[i] = true;
			continue;
		}
		failing++;
		if (log_failures) {
			log_warn("link %s: cannot restore %s: %s", ifname, what ? what : "?", strerror(-r));
			if (*first_error == 0)
				*first_error = r;
		}
	}
	return failing;
}

static int replay_list(struct nl_sock *sk, struct json_object *list, const char *ifname)
{
	size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
	if (n == 0)
		return 0;
	bool *done = calloc(n, sizeof(*done));
	if (!done)
		return -ENOMEM;
	int first_error = 0;
	uint64_t give_up = mono_ms() + LINK_RESTORE_RETRY_MS;
	for (;;) {
		bool last = mono_ms() >= give_up;
		if (replay_pass(sk, list, ifname, done, last, &first_error) == 0 || last)
			break;
		sleep_ms(LINK_RESTORE_PASS_MS);
	}
	free(done);
	return first_error;
}

/* Brings one saved interface back: up, addresses, routes, and (restore_alias) the
 * alias it had. Acts only while the link still carries `marker`: a link that lost
 * it was restored already (idempotent recovery) or is no longer the one we took
 * down (its ifindex reused). A link that is gone has nothing left to restore. */
static int restore_interface(struct nl_sock *sk, struct json_object *iface, const char *marker, bool restore_alias)
{
	const char *name = json_str(iface, "name");
	int ifindex = json_int(iface, "ifindex");
	if (!name || ifindex <= 0)
		return -EINVAL;
	struct rtnl_link *link = NULL;
	int r = link_get(sk, ifindex, NULL, &link);
	if (r == -ENODEV || r == -ENOENT) {
		log_warn("link %s (ifindex %d) is gone; nothing to restore", name, ifindex);
		return 0;
	}
	if (r < 0)
		return log_err(r, "link %s: cannot read its state: %s", name, strerror(-r));
	const char *alias = rtnl_link_get_ifalias(link);
	bool ours = alias && strcmp(alias, marker) == 0;
	bool up = rtnl_link_get_flags(link) & IFF_UP;
	rtnl_link_put(link);
	if (!ours)
		return 0;
	int first = 0;
	if (!up) {
		r = link_set(sk, ifindex, 1, NULL);
		if (r < 0)
			return log_err(r, "link %s: cannot set it up: %s", name, strerror(-r));
	}
	r = replay_list(sk, json_object_object_get(iface, "addresses"), name);
	first = first ? first : r;
	r = replay_list(sk, json_object_object_get(iface, "routes"), name);
	first = first ? first : r;
	if (restore_alias) {
		const char *saved = json_str(iface, "alias");
		/* An empty alias removes it: the link reads as it did before. */
		r = link_set(sk, ifindex, -1, saved ? saved : "");
		if (r < 0) {
			log_warn("link %s: cannot restore its alias: %s", name, strerror(-r));
			first = first ? first : r;
		}
	}
	return first;
}

static int restore_all(struct nl_sock *sk, struct json_object *interfaces, const char *marker, bool restore_alias)
{
	int first = 0;
	size_t n = json_object_is_type(interfaces, json_type_array) ? json_object_array_length(interfaces) : 0;
	for (size_t i = 0; i < n; i++) {
		int r = restore_interface(sk, json_object_array_get_idx(interfaces, i), marker, restore_alias);
		first = first ? first : r;
	}
	return first;
}

static int take_down_all(struct nl_sock *sk, struct json_object *interfaces)
{
	size_t n = json_object_array_length(interfaces);
	for (size_t i = 0; i < n; i++) {
		struct json_object *iface = json_object_array_get_idx(interfaces, i);
		int r = link_set(sk, json_int(iface, "ifindex"), 0, NULL);
		if (r < 0)
			return log_err(r, "link %s: cannot set it down: %s", json_str(iface, "name"), strerror(-r));
	}
	return 0;
}

/* --- state file ----------------------------------------------------------------- */

static int state_path(const char *state_dir, const char *fault_id, char *buf, size_t len)
{
	return state_file_path(state_dir, "links", fault_id, buf, len);
}

/* The record, durable before the first change, for a crash before the agent
 * journals it: sweep() then restores routes and addresses too. */
static int state_write(const char *state_dir, const char *fault_id, struct json_object *record)
{
	const char *text = json_object_to_json_string_ext(record, JSON_C_TO_STRING_PLAIN);
	return text ? state_file_write(state_dir, "links", fault_id, text) : -ENOMEM;
}

static void state_remove(const char *state_dir, const char *fault_id)
{
	char path[PATH_MAX];
	if (!state_dir || !fault_id || !*fault_id)
		return;
	if (state_path(state_dir, fault_id, path, sizeof(path)) == 0 && unlink(path) < 0 && errno != ENOENT)
		log_warn("link: cannot remove %s: %s", path, strerror(errno));
}

static struct json_object *state_read(const char *state_dir, const char *fault_id)
{
	char path[PATH_MAX];
	if (!state_dir || !fault_id || !*fault_id || state_path(state_dir, fault_id, path, sizeof(path)) < 0 ||
	    access(path, F_OK) < 0)
		return NULL;
	return json_object_from_file(path);
}

/* --- apply / revert ---------------------------------------------------------- */

static int link_probe(char *reason, size_t len)
{
	struct nl_sock *sk = netlink_route_socket();
	if (!sk) {
		snprintf(reason, len, "cannot open a NETLINK_ROUTE socket");
		return -EPROTONOSUPPORT;
	}
	nl_socket_free(sk);
	return 0;
}

static void handle_free(struct link_handle *h)
{
	if (!h)
		return;
	json_object_put(h->interfaces);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->wake);
	free(h);
}

/* Waits `ms` or until stop; returns true when asked to stop. Called under lock. */
static bool wait_or_stop(struct link_handle *h, uint64_t ms)
{
	struct timespec until = mono_after_ms(ms);
	while (!h->stop && pthread_cond_timedwait(&h->wake, &h->lock, &until) != ETIMEDOUT)
		;
	return h->stop;
}

static void *flap_thread(void *arg)
{
	struct link_handle *h = arg;
	/* libnl sockets are not shared between threads: this one is the thread's own. */
	struct nl_sock *sk = netlink_route_socket();
	if (!sk)
		log_error("link-flap %s: no netlink socket; the links stay down until revert", h->fault_id);
	pthread_mutex_lock(&h->lock);
	while (sk && !h->stop) {
		bool going_up = h->down;
		if (wait_or_stop(h, going_up ? h->down_ms : h->up_ms))
			break;
		pthread_mutex_unlock(&h->lock);
		int r = going_up ? restore_all(sk, h->interfaces, h->marker, false) : take_down_all(sk, h->interfaces);
		pthread_mutex_lock(&h->lock);
		if (r < 0)
			log_warn("link-flap %s: setting the links %s: %s", h->fault_id, going_up ? "up" : "down",
				 strerror(-r));
		h->down = !going_up;
		h->transitions++;
	}
	pthread_mutex_unlock(&h->lock);
	if (sk)
		nl_socket_free(sk);
	return NULL;
}

static int snapshot_interface(struct nl_sock *sk, const char *name, const char *key, struct json_object **out,
			      struct fault_error *err)
{
	struct rtnl_link *link = NULL;
	int r = link_get(sk, 0, name, &link);
	if (r == -ENODEV || r == -ENOENT) {
		fault_error_set(err, key, "no interface \"%s\" on this host", name);
		return -ENODEV;
	}
	if (r < 0) {
		fault_error_set(err, key, "cannot read interface \"%s\": %s", name, strerror(-r));
		return r;
	}
	int ifindex = rtnl_link_get_ifindex(link);
	unsigned flags = rtnl_link_get_flags(link);
	const char *alias = rtnl_link_get_ifalias(link);
	char saved_alias[256];
	snprintf(saved_alias, sizeof(saved_alias), "%s", alias ? alias : "");
	rtnl_link_put(link);
	if (flags & IFF_LOOPBACK) {
		fault_error_set(err, key, "\"%s\" is a loopback interface", name);
		return -EINVAL;
	}
	if (strncmp(saved_alias, LINK_MARKER, strlen(LINK_MARKER)) == 0) {
		fault_error_set(err, key, "\"%s\" is already taken down by fault %s", name,
				saved_alias + strlen(LINK_MARKER));
		return -EBUSY;
	}
	if (!(flags & IFF_UP)) {
		fault_error_set(err, key, "\"%s\" is already down: there is nothing to fault", name);
		return -EINVAL;
	}
	uint32_t nh_id = 0;
	if (nexthop_object_on(sk, ifindex, &nh_id)) {
		fault_error_set(err, key, "\"%s\" is used by nexthop object %u; link faults cannot restore nexthop "
				"objects", name, nh_id);
		return -EOPNOTSUPP;
	}
	struct json_object *iface = json_object_new_object();
	struct json_object *addresses = json_object_new_array(), *routes = json_object_new_array();
	json_object_object_add(iface, "name", json_object_new_string(name));
	json_object_object_add(iface, "ifindex", json_object_new_int(ifindex));
	json_object_object_add(iface, "alias", json_object_new_string(saved_alias));
	json_object_object_add(iface, "addresses", addresses);
	json_object_object_add(iface, "routes", routes);
	r = snapshot_addresses(sk, ifindex, addresses);
	if (r == 0)
		r = snapshot_routes(sk, ifindex, routes);
	if (r < 0) {
		json_object_put(iface);
		fault_error_set(err, key, "cannot read the addresses and routes of \"%s\": %s", name, strerror(-r));
		return r;
	}
	*out = iface;
	return 0;
}

static int link_apply(const void *spec_v, const struct fault_env *env, void **handle_out,
		      struct json_object *record, struct fault_error *err)
{
	const struct link_spec *spec = spec_v;
	struct link_handle *h = calloc(1, sizeof(*h));
	if (!h) {
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->wake, &ca);
	pthread_condattr_destroy(&ca);
	h->flap = spec->flap;
	h->down_ms = spec->down_ms;
	h->up_ms = spec->up_ms;
	snprintf(h->fault_id, sizeof(h->fault_id), "%s", env->fault_id);
	snprintf(h->marker, sizeof(h->marker), LINK_MARKER "%s", env->fault_id);
	snprintf(h->state_dir, sizeof(h->state_dir), "%s", env->state_dir ? env->state_dir : "");
	h->interfaces = json_object_new_array();

	struct nl_sock *sk = netlink_route_socket();
	if (!sk) {
		handle_free(h);
		fault_error_set(err, "", "cannot open a NETLINK_ROUTE socket");
		return -EPROTONOSUPPORT;
	}
	int r = 0;
	for (int i = 0; i < spec->n && r == 0; i++) {
		char key[32];
		snprintf(key, sizeof(key), "interfaces[%d]", i);
		struct json_object *iface = NULL;
		r = snapshot_interface(sk, spec->names[i], key, &iface, err);
		if (r == 0)
			json_object_array_add(h->interfaces, iface);
	}
	struct json_object *snapshot = NULL;
	if (r == 0) {
		snapshot = json_object_new_object();
		json_object_object_add(snapshot, "backend", json_object_new_string("netlink"));
		json_object_object_add(snapshot, "marker", json_object_new_string(h->marker));
		/* The record goes to the agent's thread; the handle keeps its own copy. */
		struct json_object *copy = NULL;
		if (json_object_deep_copy(h->interfaces, &copy, NULL) < 0) {
			fault_error_set(err, "", "out of memory");
			r = -ENOMEM;
		}
		json_object_object_add(snapshot, "interfaces", copy);
		if (r == 0 && h->state_dir[0])
			r = state_write(h->state_dir, h->fault_id, snapshot);
		if (r < 0 && r != -ENOMEM)
			fault_error_set(err, "", "cannot record the links' state in %s/links: %s", h->state_dir,
					strerror(-r));
	}
	/* From here on the marker is what makes a change recognisable: set it on
	 * every interface before any goes down. */
	size_t marked = 0;
	size_t n = json_object_array_length(h->interfaces);
	for (; r == 0 && marked < n; marked++) {
		struct json_object *iface = json_object_array_get_idx(h->interfaces, marked);
		r = link_set(sk, json_int(iface, "ifindex"), -1, h->marker);
		if (r < 0)
			fault_error_set(err, "", "cannot mark \"%s\" (IFLA_IFALIAS): %s", json_str(iface, "name"),
					strerror(-r));
	}
	if (r == 0) {
		r = take_down_all(sk, h->interfaces);
		if (r < 0)
			fault_error_set(err, "", "cannot set the interfaces down: %s", strerror(-r));
	}
	if (r == 0) {
		h->down = true;
		h->transitions = 1;
		if (h->flap) {
			int t = pthread_create(&h->thread, NULL, flap_thread, h);
			if (t != 0) {
				r = -t;
				fault_error_set(err, "", "cannot start the flap thread: %s", strerror(t));
			} else {
				h->thread_running = true;
			}
		}
	}
	if (r < 0) {
		/* All or nothing: whatever was marked (and maybe taken down) comes back. */
		for (size_t i = 0; i < marked && i < n; i++)
			restore_interface(sk, json_object_array_get_idx(h->interfaces, i), h->marker, true);
		if (h->state_dir[0])
			state_remove(h->state_dir, h->fault_id);
		json_object_put(snapshot);
		nl_socket_free(sk);
		handle_free(h);
		return r;
	}
	nl_socket_free(sk);
	json_object_object_foreach(snapshot, key, value)
		json_object_object_add(record, key, json_object_get(value));
	json_object_put(snapshot);
	*handle_out = h;
	return 0;
}

static int link_revert(void *handle_v)
{
	struct link_handle *h = handle_v;
	if (h->thread_running) {
		pthread_mutex_lock(&h->lock);
		h->stop = true;
		pthread_cond_broadcast(&h->wake);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->thread, NULL);
	}
	struct nl_sock *sk = netlink_route_socket();
	int r = -EPROTONOSUPPORT;
	if (sk) {
		r = restore_all(sk, h->interfaces, h->marker, true);
		nl_socket_free(sk);
	}
	if (r == 0 && h->state_dir[0])
		state_remove(h->state_dir, h->fault_id);
	handle_free(h);
	return r;
}

static int link_stats(void *handle_v, struct json_object *out)
{
	struct link_handle *h = handle_v;
	pthread_mutex_lock(&h->lock);
	uint64_t transitions = h->transitions;
	bool down = h->down;
	pthread_mutex_unlock(&h->lock);
	json_object_object_add(out, "backend", json_object_new_string("netlink"));
	json_object_object_add(out, "transitions", json_object_new_int64((int64_t)transitions));
	json_object_object_add(out, "state", json_object_new_string(down ? "down" : "up"));
	return 0;
}

static int link_recover(struct json_object *record, const struct fault_env *env)
{
	struct json_object *from_file = NULL;
	if (!json_object_object_get(record, "interfaces")) {
		/* A crash before the agent journaled the record: the state file has it. */
		from_file = state_read(env->state_dir, env->fault_id);
		if (!from_file)
			return 0;
		record = from_file;
	}
	const char *marker = json_str(record, "marker");
	int r = 0;
	if (marker) {
		struct nl_sock *sk = netlink_route_socket();
		if (!sk) {
			json_object_put(from_file);
			return -EPROTONOSUPPORT;
		}
		r = restore_all(sk, json_object_object_get(record, "interfaces"), marker, true);
		nl_socket_free(sk);
	}
	json_object_put(from_file);
	if (r == 0)
		state_remove(env->state_dir, env->fault_id);
	return r;
}

static void link_describe(const struct fault_env *env, struct json_object *out)
{
	(void)env;
	json_object_object_add(out, "backend", json_object_new_string("netlink"));
}

/* --- sweep ----------------------------------------------------------------------- */

struct sweep_ctx {
	struct nl_sock *sk;
	const char *state_dir;
	int restored, failed;
};

static void sweep_link(struct nl_object *obj, void *arg)
{
	struct sweep_ctx *c = arg;
	struct rtnl_link *link = (struct rtnl_link *)obj;
	const char *alias = rtnl_link_get_ifalias(link);
	if (!alias || strncmp(alias, LINK_MARKER, strlen(LINK_MARKER)) != 0)
		return;
	const char *name = rtnl_link_get_name(link);
	int ifindex = rtnl_link_get_ifindex(link);
	char fault_id[64];
	snprintf(fault_id, sizeof(fault_id), "%s", alias + strlen(LINK_MARKER));
	struct json_object *record = strchr(fault_id, '/') ? NULL : state_read(c->state_dir, fault_id);
	struct json_object *interfaces = json_object_object_get(record, "interfaces");
	struct json_object *saved = NULL;
	for (size_t i = 0; interfaces && i < json_object_array_length(interfaces); i++) {
		struct json_object *iface = json_object_array_get_idx(interfaces, i);
		if (json_int(iface, "ifindex") == ifindex)
			saved = iface;
	}
	int r;
	if (saved) {
		r = restore_interface(c->sk, saved, alias, true);
		log_warn("sweep: link %s was down for fault %s; brought up, addresses and routes restored from %s/links",
			 name, fault_id, c->state_dir);
	} else {
		r = link_set(c->sk, ifindex, 1, "");
		log_warn("sweep: link %s was left down by fault %s, no journal record or state file names it: "
			 "brought up, but the routes and IPv6 addresses the kernel removed with it cannot be known "
			 "and are NOT restored", name, fault_id);
	}
	json_object_put(record);
	if (r < 0) {
		log_error("sweep: link %s: %s", name, strerror(-r));
		c->failed++;
	} else {
		c->restored++;
	}
}

/* State files whose links carry no marker any more: restored, or the crash came
 * before any link was marked. */
static void sweep_state_files(const char *state_dir)
{
	char dir[PATH_MAX];
	if (!state_dir || !*state_dir || state_path(state_dir, NULL, dir, sizeof(dir)) < 0)
		return;
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len < 6)
			continue;
		bool tmp = len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0;
		bool json = strcmp(de->d_name + len - 5, ".json") == 0;
		if (!tmp && !json)
			continue;
		char path[PATH_MAX + 256];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) == 0)
			log_info("sweep: removed stale link state file %s", path);
	}
	closedir(d);
}

static int link_sweep(const struct fault_env *env)
{
	struct nl_sock *sk = netlink_route_socket();
	if (!sk)
		return -EPROTONOSUPPORT;
	struct nl_cache *cache = NULL;
	int r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
	if (r < 0) {
		nl_socket_free(sk);
		return nle_to_errno(r);
	}
	struct sweep_ctx c = { .sk = sk, .state_dir = env ? env->state_dir : NULL };
	nl_cache_foreach(cache, sweep_link, &c);
	nl_cache_free(cache);
	nl_socket_free(sk);
	if (c.failed == 0)
		sweep_state_files(c.state_dir);
	return c.failed ? -EIO : c.restored;
}

/* link-down and link-flap differ in name, summary and parse() only. */
#define LINK_KIND(sym, kname, sum, parse_fn)                                   \
	const struct fault_kind sym = {                                         \
		.name = kname,                                                  \
		.family = "link",                                               \
		.summary = sum,                                                 \
		.probe = link_probe,                                            \
		.parse = parse_fn,                                              \
		.spec_free = link_spec_free,                                    \
		.spec_to_json = link_spec_to_json,                              \
		.apply = link_apply,                                            \
		.revert = link_revert,                                          \
		.stats = link_stats,                                            \
		.recover = link_recover,                                        \
		.describe = link_describe,                                      \
	}

LINK_KIND(link_down_kind, "link-down",
	  "set interfaces administratively down; addresses and routes restored on revert", link_down_parse);
LINK_KIND(link_flap_kind, "link-flap",
	  "cycle interfaces down and up (down/up intervals); restored as found on revert", link_flap_parse);

const struct fault_family link_family = {
	.name = "link",
	.sweep = link_sweep,
};
