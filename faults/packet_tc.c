/* Attaching the packet programs: tcx links (die with the agent) or clsact +
 * cls_bpf filters (survive it; recognisable by priority and handle so that
 * recover() and sweep() can remove them). */
#include "faults/packet.h"
#include "common/netlink.h"
#include "common/log.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/pkt_sched.h>
#include <netlink/netlink.h>
#include <netlink/route/classifier.h>
#include <netlink/route/qdisc.h>
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
#define TC_H_MIN_EGRESS 0xFFF3U
#endif

const char *packet_backend_name(enum packet_backend b)
{
	return b == PACKET_BACKEND_TCX ? "tcx" : "clsact";
}

/* A program that only says "next": enough to ask the kernel what it supports. */
static int load_probe_prog(enum bpf_attach_type expected)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = -1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = expected);
	int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "ck_probe", "GPL", insns,
			       sizeof(insns) / sizeof(insns[0]), &opts);
	return fd < 0 ? -errno : fd;
}

/* tcx is asked for with an interface that cannot exist: a kernel with tcx
 * answers ENODEV, one without rejects the attach type with EINVAL. Nothing is
 * attached anywhere. */
static int probe_tcx(char *reason, size_t len)
{
	int prog = load_probe_prog(PACKET_BPF_TCX_INGRESS);
	if (prog < 0) {
		snprintf(reason, len, "cannot load a tc BPF program: %s", strerror(-prog));
		return prog;
	}
	int link = bpf_link_create(prog, 0x7fffffff, PACKET_BPF_TCX_INGRESS, NULL);
	int r = link < 0 ? -errno : 0;
	if (link >= 0)
		close(link);
	close(prog);
	if (r == -ENODEV)
		return 0;
	if (r == 0) /* cannot happen; treat as supported */
		return 0;
	snprintf(reason, len, "kernel lacks tcx links (needs Linux >= 6.6): %s", strerror(-r));
	return -EOPNOTSUPP;
}

/* clsact + cls_bpf are tried for real, on lo of a throwaway network namespace
 * in a child process, so the host's interfaces are never touched. */
static int probe_clsact(char *reason, size_t len)
{
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(reason, len, "fork: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0)
			_exit(10);
		int prog = load_probe_prog(0);
		if (prog < 0)
			_exit(11);
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = 1, .attach_point = BPF_TC_INGRESS);
		if (bpf_tc_hook_create(&hook) < 0)
			_exit(12);
		LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog);
		if (bpf_tc_attach(&hook, &opts) < 0)
			_exit(13);
		_exit(0);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			snprintf(reason, len, "waitpid: %s", strerror(errno));
			return -errno;
		}
	}
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 99;
	switch (code) {
	case 0: return 0;
	case 10: snprintf(reason, len, "cannot create a network namespace to probe clsact"); break;
	case 11: snprintf(reason, len, "cannot load a tc BPF program (needs root/CAP_BPF+CAP_NET_ADMIN)"); break;
	case 12: snprintf(reason, len, "kernel lacks the clsact qdisc (CONFIG_NET_SCH_INGRESS)"); break;
	case 13: snprintf(reason, len, "kernel lacks the cls_bpf classifier (CONFIG_NET_CLS_BPF)"); break;
	default: snprintf(reason, len, "clsact probe failed (status %d)", code); break;
	}
	return -EOPNOTSUPP;
}

struct probe_cache {
	bool done;
	int result;
	char reason[160];
};

static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static struct probe_cache tcx_cache, clsact_cache;

static int cached_probe(struct probe_cache *c, int (*fn)(char *, size_t), char *reason, size_t len)
{
	pthread_mutex_lock(&probe_lock);
	if (!c->done) {
		c->reason[0] = '\0';
		c->result = fn(c->reason, sizeof(c->reason));
		c->done = true;
	}
	int r = c->result;
	if (r < 0 && reason)
		snprintf(reason, len, "%s", c->reason);
	pthread_mutex_unlock(&probe_lock);
	return r;
}

int packet_backend_choose(const char *preference, enum packet_backend *out, char *reason, size_t len)
{
	char tcx_reason[160] = "", clsact_reason[160] = "";
	if (!preference || strcmp(preference, "auto") == 0 || strcmp(preference, "") == 0) {
		if (cached_probe(&tcx_cache, probe_tcx, tcx_reason, sizeof(tcx_reason)) == 0) {
			*out = PACKET_BACKEND_TCX;
			return 0;
		}
		int r = cached_probe(&clsact_cache, probe_clsact, clsact_reason, sizeof(clsact_reason));
		if (r == 0) {
			*out = PACKET_BACKEND_CLSACT;
			return 0;
		}
		snprintf(reason, len, "neither tcx (%s) nor clsact (%s) works", tcx_reason, clsact_reason);
		return r;
	}
	if (strcmp(preference, "tcx") == 0) {
		int r = cached_probe(&tcx_cache, probe_tcx, tcx_reason, sizeof(tcx_reason));
		if (r < 0) {
			snprintf(reason, len, "packet_backend \"tcx\": %s", tcx_reason);
			return r;
		}
		*out = PACKET_BACKEND_TCX;
		return 0;
	}
	if (strcmp(preference, "clsact") == 0) {
		int r = cached_probe(&clsact_cache, probe_clsact, clsact_reason, sizeof(clsact_reason));
		if (r < 0) {
			snprintf(reason, len, "packet_backend \"clsact\": %s", clsact_reason);
			return r;
		}
		*out = PACKET_BACKEND_CLSACT;
		return 0;
	}
	snprintf(reason, len, "unknown packet_backend \"%s\" (auto, tcx or clsact)", preference);
	return -EINVAL;
}

int packet_backend_probe(char *reason, size_t len)
{
	enum packet_backend backend;
	return packet_backend_choose("auto", &backend, reason, len);
}

int packet_backend_for_env(const struct fault_env *env, enum packet_backend *out, struct fault_error *err)
{
	char reason[256];
	int r = packet_backend_choose(env ? env->packet_backend : NULL, out, reason, sizeof(reason));
	if (r < 0)
		fault_error_set(err, "", "%s", reason);
	return r;
}

void packet_load_error_report(struct fault_error *err, const struct fault_error *load_err, int r)
{
	if (load_err->msg[0])
		fault_error_set(err, load_err->key, "%s", load_err->msg);
	else
		fault_error_set(err, "", "cannot load the BPF program: %s", strerror(-r));
}

int packet_tcx_attach(int prog_fd, int ifindex, bool egress)
{
	int fd = bpf_link_create(prog_fd, ifindex, egress ? PACKET_BPF_TCX_EGRESS : PACKET_BPF_TCX_INGRESS, NULL);
	return fd < 0 ? -errno : fd;
}

/* clsact qdiscs this process created and still has to remove once they hold no
 * filter any more. Shared by every fault because several faults may use one
 * interface and the first to leave must not take the others' filters along. */
static pthread_mutex_t clsact_lock = PTHREAD_MUTEX_INITIALIZER;
static int owned_clsact[256];
static int n_owned_clsact;
static bool handle_slots[PACKET_TC_HANDLE_SLOTS];

static void owned_clsact_add_locked(int ifindex)
{
	for (int i = 0; i < n_owned_clsact; i++)
		if (owned_clsact[i] == ifindex)
			return;
	if (n_owned_clsact < (int)(sizeof(owned_clsact) / sizeof(owned_clsact[0])))
		owned_clsact[n_owned_clsact++] = ifindex;
}

static void owned_clsact_remove_locked(int ifindex)
{
	for (int i = 0; i < n_owned_clsact; i++) {
		if (owned_clsact[i] == ifindex) {
			owned_clsact[i] = owned_clsact[--n_owned_clsact];
			return;
		}
	}
}

int packet_tc_handle_alloc(uint32_t *handle)
{
	pthread_mutex_lock(&clsact_lock);
	for (uint32_t i = 0; i < PACKET_TC_HANDLE_SLOTS; i++) {
		if (!handle_slots[i]) {
			handle_slots[i] = true;
			pthread_mutex_unlock(&clsact_lock);
			*handle = PACKET_TC_HANDLE_BASE + i;
			return 0;
		}
	}
	pthread_mutex_unlock(&clsact_lock);
	return -ENOSPC;
}

void packet_tc_handle_free(uint32_t handle)
{
	if (handle < PACKET_TC_HANDLE_BASE || handle >= PACKET_TC_HANDLE_BASE + PACKET_TC_HANDLE_SLOTS)
		return;
	pthread_mutex_lock(&clsact_lock);
	handle_slots[handle - PACKET_TC_HANDLE_BASE] = false;
	pthread_mutex_unlock(&clsact_lock);
}

int packet_clsact_attach(int prog_fd, int ifindex, bool egress, uint32_t handle)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .handle = handle, .priority = PACKET_TC_PRIORITY,
		    .flags = 0);
	return bpf_tc_attach(&hook, &opts);
}


struct filter_walk {
	int ifindex;
	bool egress;
	int count;           /* every filter seen */
	int ours;            /* filters carrying this family's marker */
	uint32_t handles[64];
	int n_handles;
};

static void filter_walk_cb(struct nl_object *obj, void *arg)
{
	struct filter_walk *w = arg;
	struct rtnl_cls *cls = (struct rtnl_cls *)obj;
	uint32_t handle = rtnl_tc_get_handle(TC_CAST(cls));
	/* A dump lists a "chain head" entry per priority with handle 0. */
	if (handle == 0)
		return;
	w->count++;
	const char *kind = rtnl_tc_get_kind(TC_CAST(cls));
	if (rtnl_cls_get_prio(cls) == PACKET_TC_PRIORITY && kind && strcmp(kind, "bpf") == 0 &&
	    handle >= PACKET_TC_HANDLE_BASE && handle < PACKET_TC_HANDLE_BASE + PACKET_TC_HANDLE_SLOTS) {
		w->ours++;
		if (w->n_handles < (int)(sizeof(w->handles) / sizeof(w->handles[0])))
			w->handles[w->n_handles++] = handle;
	}
}

static int walk_filters(struct nl_sock *sk, struct filter_walk *w)
{
	struct nl_cache *cache = NULL;
	uint32_t parent = TC_H_MAKE(TC_H_CLSACT, w->egress ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS);
	int r = rtnl_cls_alloc_cache(sk, w->ifindex, parent, &cache);
	if (r < 0)
		return -EIO;
	nl_cache_foreach(cache, filter_walk_cb, w);
	nl_cache_free(cache);
	return 0;
}

static bool has_clsact(struct nl_sock *sk, int ifindex)
{
	struct nl_cache *cache = NULL;
	if (rtnl_qdisc_alloc_cache(sk, &cache) < 0)
		return false;
	bool found = false;
	for (struct nl_object *o = nl_cache_get_first(cache); o && !found; o = nl_cache_get_next(o)) {
		struct rtnl_tc *tc = TC_CAST(o);
		const char *kind = rtnl_tc_get_kind(tc);
		found = rtnl_tc_get_ifindex(tc) == ifindex && kind && strcmp(kind, "clsact") == 0;
	}
	nl_cache_free(cache);
	return found;
}

int packet_clsact_ensure(int ifindex, bool *created)
{
	struct nl_sock *sk = netlink_route_socket();
	if (!sk)
		return -EIO;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	pthread_mutex_lock(&clsact_lock);
	/* Looked up first so that libbpf does not log the kernel's EEXIST complaint. */
	int r = has_clsact(sk, ifindex) ? -EEXIST : bpf_tc_hook_create(&hook);
	if (r == 0)
		owned_clsact_add_locked(ifindex);
	pthread_mutex_unlock(&clsact_lock);
	nl_socket_free(sk);
	if (r == -EEXIST) {
		*created = false;
		return 0;
	}
	if (r < 0)
		return r;
	*created = true;
	return 0;
}

static int detach_with(struct nl_sock *sk, int ifindex, bool egress, uint32_t handle)
{
	/* Looked up first: the filter may be gone already (interface or qdisc deleted,
	 * an earlier recover), which is success and not worth a libbpf error line. */
	struct filter_walk w = { .ifindex = ifindex, .egress = egress };
	if (walk_filters(sk, &w) < 0)
		return 0;
	bool present = false;
	for (int i = 0; i < w.n_handles; i++)
		present |= w.handles[i] == handle;
	if (!present)
		return 0;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = PACKET_TC_PRIORITY);
	int r = bpf_tc_detach(&hook, &opts);
	if (r == -ENOENT || r == -ENODEV)
		return 0;
	return r;
}

int packet_clsact_detach(int ifindex, bool egress, uint32_t handle)
{
	struct nl_sock *sk = netlink_route_socket();
	if (!sk)
		return -EIO;
	int r = detach_with(sk, ifindex, egress, handle);
	nl_socket_free(sk);
	return r;
}

/* Destroys clsact on ifindex if this process created it and no filter is left. */
static void release_clsact_locked(struct nl_sock *sk, int ifindex)
{
	bool owned = false;
	for (int i = 0; i < n_owned_clsact; i++)
		owned |= owned_clsact[i] == ifindex;
	if (!owned)
		return;
	if (!has_clsact(sk, ifindex)) {
		owned_clsact_remove_locked(ifindex);
		return;
	}
	struct filter_walk in = { .ifindex = ifindex, .egress = false };
	struct filter_walk out = { .ifindex = ifindex, .egress = true };
	if (walk_filters(sk, &in) < 0 || walk_filters(sk, &out) < 0)
		return;
	if (in.count + out.count > 0) {
		log_debug("packet: clsact on ifindex %d still holds %d filter(s); kept", ifindex,
			  in.count + out.count);
		return;
	}
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int r = bpf_tc_hook_destroy(&hook);
	if (r < 0 && r != -ENOENT && r != -ENODEV && r != -EINVAL)
		log_warn("packet: removing clsact from ifindex %d: %s", ifindex, strerror(-r));
	owned_clsact_remove_locked(ifindex);
}

void packet_clsact_release(int ifindex, bool created)
{
	struct nl_sock *sk = netlink_route_socket();
	if (!sk) {
		log_warn("packet: no netlink socket to check clsact on ifindex %d", ifindex);
		return;
	}
	pthread_mutex_lock(&clsact_lock);
	if (created)
		owned_clsact_add_locked(ifindex);
	release_clsact_locked(sk, ifindex);
	pthread_mutex_unlock(&clsact_lock);
	nl_socket_free(sk);
}

int packet_tc_sweep(void)
{
	struct if_nameindex *ifs = if_nameindex();
	if (!ifs)
		return -errno;
	struct nl_sock *sk = netlink_route_socket();
	if (!sk) {
		if_freenameindex(ifs);
		return -EIO;
	}
	int removed = 0, first_err = 0;
	pthread_mutex_lock(&clsact_lock);
	for (struct if_nameindex *i = ifs; i->if_index; i++) {
		for (int dir = 0; dir < 2; dir++) {
			struct filter_walk w = { .ifindex = (int)i->if_index, .egress = dir == 1 };
			if (walk_filters(sk, &w) < 0)
				continue; /* no clsact on this interface */
			for (int h = 0; h < w.n_handles; h++) {
				if (handle_slots[w.handles[h] - PACKET_TC_HANDLE_BASE])
					continue; /* a live fault of this process */
				int r = detach_with(sk, w.ifindex, w.egress, w.handles[h]);
				if (r < 0 && !first_err)
					first_err = r;
				if (r == 0) {
					removed++;
					log_info("packet: swept leftover filter %x on %s %s", w.handles[h], i->if_name,
						 w.egress ? "egress" : "ingress");
				}
			}
		}
		release_clsact_locked(sk, (int)i->if_index);
	}
	pthread_mutex_unlock(&clsact_lock);
	nl_socket_free(sk);
	if_freenameindex(ifs);
	return first_err ? first_err : removed;
}
