/* The delay-line backend of the shaping kinds (faults/delayline.h). */
#include "faults/delayline.h"

#include "common/log.h"
#include "common/pick.h"
#include "faults/delayline_bpf.h"
#include "faults/packet.h"
#include "faults/match_config.h"
#include "faults/delayline.skel.h"
#include "faults/scope_variant.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <math.h>
#include <netlink/route/link.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* Frames one line holds at most when the spec sets no byte limit (netem's
 * default limit is 1000 packets; a 50 ms line at 100k packets/s needs 5000). */
#define DEFAULT_LIMIT_PACKETS 20000u
#define DEFAULT_LIMIT_BYTES (32u << 20)
/* Frames read from one TAP before timers get their turn again. */
#define READ_BATCH 64
/* The TAP's own ring (its tx_queue_len): room for a burst between two reads. */
#define TAP_QUEUE_LEN 5000
#define FRAME_MAX 65536
/* Scheduling lateness histogram: 10 us buckets up to 20 ms. */
#define LATE_BUCKET_NS 10000u
#define LATE_BUCKETS 2000u
/* Busy without a pause this long (ns): the line drops its real-time priority. */
#define FLOOD_NS 100000000ull

/* ---- timing core ---------------------------------------------------------- */

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(uint64_t s[2]) /* xoroshiro128+ */
{
	uint64_t s0 = s[0], s1 = s[1], result = s0 + s1;
	s1 ^= s0;
	s[0] = rotl(s0, 24) ^ s1 ^ (s1 << 16);
	s[1] = rotl(s1, 37);
	return result;
}

/* Uniform in (0, 1): never exactly 0, so log() below is finite. */
static double rng_unit(uint64_t s[2])
{
	return ((double)(rng_next(s) >> 11) + 0.5) * 0x1.0p-53;
}

static double rng_gauss(uint64_t s[2])
{
	double u1 = rng_unit(s), u2 = rng_unit(s);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void delayline_shaper_init(struct delayline_shaper *s, const struct shape_spec *spec, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->kind = spec->kind;
	s->latency_ns = spec->latency_us * 1000u;
	s->jitter_ns = spec->jitter_us * 1000u;
	s->distribution = spec->distribution;
	s->correlation = spec->correlation;
	s->reorder_share = spec->reorder_share;
	if (spec->kind == SHAPE_BANDWIDTH && spec->rate_bps > 0) {
		s->ns_per_byte = 8e9 / (double)spec->rate_bps;
		s->burst_ns = (uint64_t)((double)spec->burst_bytes * s->ns_per_byte);
	}
	/* splitmix64 spreads a small seed over both words */
	for (int i = 0; i < 2; i++)
		s->rng[i] = splitmix64_next(&seed);
}

/* Jitter is drawn from a standard normal that follows the previous one with
 * the requested correlation (an AR(1) process), then mapped to the requested
 * distribution: the marginal distribution stays exactly what was asked for,
 * whatever the correlation (netem's blend of uniforms narrows it instead). */
static uint64_t sample_delay(struct delayline_shaper *s)
{
	if (s->jitter_ns == 0)
		return s->latency_ns;
	double g = rng_gauss(s->rng);
	if (s->correlation > 0 && s->have_last)
		g = s->correlation * s->last_gauss + sqrt(1.0 - s->correlation * s->correlation) * g;
	s->last_gauss = g;
	s->have_last = true;
	double d;
	if (s->distribution == SHAPE_DIST_NORMAL) {
		d = (double)s->latency_ns + (double)s->jitter_ns * g;
	} else {
		double u = 0.5 * erfc(-g / M_SQRT2);
		d = (double)s->latency_ns + (double)s->jitter_ns * (2.0 * u - 1.0);
	}
	return d <= 0 ? 0 : (uint64_t)d;
}

uint64_t delayline_shaper_due(struct delayline_shaper *s, uint64_t now_ns, uint32_t len, bool *at_once)
{
	*at_once = false;
	if (s->kind == SHAPE_BANDWIDTH) {
		/* GCRA: vclock is when every accepted byte has left at the rate; a
		 * frame may leave up to burst_ns ahead of it. */
		uint64_t start = s->vclock_ns > now_ns ? s->vclock_ns : now_ns;
		s->vclock_ns = start + (uint64_t)((double)len * s->ns_per_byte);
		uint64_t due = s->vclock_ns > s->burst_ns ? s->vclock_ns - s->burst_ns : 0;
		return due > now_ns ? due : now_ns;
	}
	if (s->reorder_share > 0 && rng_unit(s->rng) < s->reorder_share) {
		*at_once = true;
		return now_ns;
	}
	uint64_t due = now_ns + sample_delay(s);
	/* Order is kept: a frame never leaves before the one in front of it. */
	if (due < s->last_due_ns)
		due = s->last_due_ns;
	s->last_due_ns = due;
	return due;
}

/* ---- the line ------------------------------------------------------------- */

struct tap {
	int fd;
	int ifindex;
	char name[IF_NAMESIZE];
	int real_ifindex;
	char real_name[IF_NAMESIZE];
	bool egress;
	int link_fd;            /* tcx link of the TAP's program; -1 with clsact */
	struct delayline_shaper shaper;
	uint64_t queued_bytes;
};

struct held {
	uint64_t due_ns;
	uint64_t seq;
	struct tap *tap;
	uint32_t len;
	unsigned char frame[];
};

struct delayline {
	struct delayline_bpf *skel;
	struct packet_attach_set *attached;
	enum packet_backend backend;
	uint32_t tap_tc_handle;         /* clsact: filter handle on the TAPs */
	bool have_tc_handle;
	uint32_t mark;                  /* skb->mark of frames back from this line */
	bool have_mark;
	struct packet_spec *attach_spec; /* the spec's matching on the interfaces resolved */
	int n_taps;
	struct tap *taps;
	int stop_fd, timer_fd;
	pthread_t thread;
	bool thread_started;
	/* Owned by the thread while it runs. */
	struct held **heap;
	size_t heap_n, heap_cap;
	uint64_t seq;
	uint64_t limit_bytes;
	uint32_t limit_packets;
	unsigned char *buf;
	/* Counters: written by the thread, read by stats() (relaxed atomics). */
	uint64_t delayed, reordered, dropped, queue_max, queue_now, late_max_ns;
	uint64_t late_hist[LATE_BUCKETS + 1];
};

#define STAT_ADD(p, v) __atomic_fetch_add(&(p), (v), __ATOMIC_RELAXED)
#define STAT_SET(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELAXED)
#define STAT_GET(p) __atomic_load_n(&(p), __ATOMIC_RELAXED)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool held_before(const struct held *a, const struct held *b)
{
	return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static int heap_push(struct delayline *dl, struct held *h)
{
	if (dl->heap_n == dl->heap_cap) {
		size_t cap = dl->heap_cap ? dl->heap_cap * 2 : 1024;
		struct held **n = realloc(dl->heap, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		dl->heap = n;
		dl->heap_cap = cap;
	}
	size_t i = dl->heap_n++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!held_before(h, dl->heap[parent]))
			break;
		dl->heap[i] = dl->heap[parent];
		i = parent;
	}
	dl->heap[i] = h;
	return 0;
}

static struct held *heap_pop(struct delayline *dl)
{
	struct held *top = dl->heap[0], *last = dl->heap[--dl->heap_n];
	size_t i = 0, n = dl->heap_n;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && held_before(dl->heap[c + 1], dl->heap[c]))
			c++;
		if (!held_before(dl->heap[c], last))
			break;
		dl->heap[i] = dl->heap[c];
		i = c;
	}
	if (n > 0)
		dl->heap[i] = last;
	return top;
}

static void send_frame(struct delayline *dl, struct held *h, uint64_t now)
{
	h->tap->queued_bytes -= h->len;
	if (write(h->tap->fd, h->frame, h->len) != (ssize_t)h->len) {
		STAT_ADD(dl->dropped, 1);
	} else {
		STAT_ADD(dl->delayed, 1);
		uint64_t late = now > h->due_ns ? now - h->due_ns : 0;
		uint64_t bucket = late / LATE_BUCKET_NS;
		STAT_ADD(dl->late_hist[bucket < LATE_BUCKETS ? bucket : LATE_BUCKETS], 1);
		if (late > STAT_GET(dl->late_max_ns))
			STAT_SET(dl->late_max_ns, late);
	}
	free(h);
}

static void send_due(struct delayline *dl, bool everything)
{
	uint64_t now = now_ns();
	while (dl->heap_n > 0 && (everything || dl->heap[0]->due_ns <= now)) {
		send_frame(dl, heap_pop(dl), now);
		if (dl->heap_n % 64 == 0)
			now = now_ns();
	}
	STAT_SET(dl->queue_now, dl->heap_n);
}

static void take_frame(struct delayline *dl, struct tap *t, uint32_t len)
{
	if (dl->heap_n >= dl->limit_packets || t->queued_bytes + len > dl->limit_bytes) {
		STAT_ADD(dl->dropped, 1);
		return;
	}
	struct held *h = malloc(sizeof(*h) + len);
	if (!h) {
		STAT_ADD(dl->dropped, 1);
		return;
	}
	bool at_once;
	h->due_ns = delayline_shaper_due(&t->shaper, now_ns(), len, &at_once);
	h->seq = dl->seq++;
	h->tap = t;
	h->len = len;
	memcpy(h->frame, dl->buf, len);
	if (heap_push(dl, h) < 0) {
		free(h);
		STAT_ADD(dl->dropped, 1);
		return;
	}
	t->queued_bytes += len;
	if (at_once)
		STAT_ADD(dl->reordered, 1);
	if (dl->heap_n > STAT_GET(dl->queue_max))
		STAT_SET(dl->queue_max, dl->heap_n);
}

/* Stops diverting to a TAP: a redirect to a device that is gone drops the packet. */
static void undivert(struct delayline *dl, const struct tap *t)
{
	struct delayline_divert dv;
	__u32 key = (__u32)t->real_ifindex;
	if (bpf_map__lookup_elem(dl->skel->maps.divert, &key, sizeof(key), &dv, sizeof(dv), 0) < 0)
		return;
	if (t->egress)
		dv.tap_egress = 0;
	else
		dv.tap_ingress = 0;
	if (bpf_map__update_elem(dl->skel->maps.divert, &key, sizeof(key), &dv, sizeof(dv), BPF_EXIST) < 0)
		log_warn("delay line: cannot stop diverting to %s: %s", t->name, strerror(errno));
}

/* Returns whether the TAP may hold more (the batch ran out first). */
static bool read_tap(struct delayline *dl, struct tap *t)
{
	for (int i = 0; i < READ_BATCH; i++) {
		ssize_t n = read(t->fd, dl->buf, FRAME_MAX);
		if (n <= 0)
			return false;
		take_frame(dl, t, (uint32_t)n);
	}
	return true;
}

static void arm_timer(struct delayline *dl)
{
	struct itimerspec its = { 0 };
	if (dl->heap_n > 0) {
		uint64_t due = dl->heap[0]->due_ns;
		if (due == 0)
			due = 1;
		its.it_value.tv_sec = (time_t)(due / 1000000000ull);
		its.it_value.tv_nsec = (long)(due % 1000000000ull);
	}
	timerfd_settime(dl->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* The line's accuracy is its thread's wake-up latency: on a busy host a
 * normal thread waits for the CPU behind the host's own work (measured p99
 * 20 ms late on 2 busy cores). The lowest real-time priority wakes it
 * first; under a flood it steps down (line_main). CHAOSKIT_DELAYLINE_SCHED=other
 * keeps the normal policy. */
static bool realtime_wanted(void)
{
	const char *policy = getenv("CHAOSKIT_DELAYLINE_SCHED");
	return !(policy && strcmp(policy, "other") == 0);
}

static bool set_realtime(bool on)
{
	struct sched_param sp = { .sched_priority = on ? 1 : 0 };
	int r = pthread_setschedparam(pthread_self(), on ? SCHED_FIFO : SCHED_OTHER, &sp);
	if (r != 0 && on)
		log_debug("delay line: no real-time priority (%s); delays follow the host's load", strerror(r));
	return r == 0 && on;
}

static void *line_main(void *arg)
{
	struct delayline *dl = arg;
	/* A poll timeout would get the default 50 us slack; be exact. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	bool want_rt = realtime_wanted();
	bool rt = want_rt && set_realtime(true);
	uint64_t busy_since = 0;        /* since when frames have been waiting at every turn */
	unsigned floods = 0;
	int n = dl->n_taps + 2;
	struct pollfd *pfd = calloc((size_t)n, sizeof(*pfd));
	if (!pfd) {
		log_error("delay line: out of memory; frames are dropped until revert");
		return NULL;
	}
	pfd[0] = (struct pollfd){ .fd = dl->stop_fd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = dl->timer_fd, .events = POLLIN };
	for (int i = 0; i < dl->n_taps; i++)
		pfd[i + 2] = (struct pollfd){ .fd = dl->taps[i].fd, .events = POLLIN };
	bool more = false;
	for (;;) {
		int r = poll(pfd, (nfds_t)n, more ? 0 : -1);
		if (r < 0 && errno != EINTR) {
			log_error("delay line: poll: %s", strerror(errno));
			break;
		}
		if (r > 0 && (pfd[0].revents & POLLIN))
			break;
		/* A flood keeps the thread from ever sleeping: after FLOOD_NS of it,
		 * give the CPU back to the host's normal tasks (the agent's API
		 * among them) until the line can sleep again. */
		if (!more) {
			busy_since = 0;
			if (want_rt && !rt)
				rt = set_realtime(true);
		} else if (busy_since == 0) {
			busy_since = now_ns();
		} else if (rt && now_ns() - busy_since > FLOOD_NS) {
			rt = set_realtime(false);
			if (floods++ == 0)
				log_info("delay line: flooded for %u ms, continuing without real-time priority "
					 "until it can sleep again", (unsigned)(FLOOD_NS / 1000000u));
		}
		if (r > 0 && (pfd[1].revents & POLLIN)) {
			uint64_t expirations;
			if (read(dl->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
				log_debug("delay line: timerfd read: %s", strerror(errno));
		}
		more = false;
		for (int i = 0; r > 0 && i < dl->n_taps; i++) {
			if (pfd[i + 2].revents & POLLIN)
				more |= read_tap(dl, &dl->taps[i]);
			if (pfd[i + 2].revents & (POLLERR | POLLHUP | POLLNVAL)) {
				/* Someone deleted the TAP: it would report an error on
				 * every poll, and this thread runs real-time. */
				log_warn("delay line: %s is gone; its direction is no longer delayed", dl->taps[i].name);
				pfd[i + 2].fd = -1;
				undivert(dl, &dl->taps[i]);
			}
		}
		send_due(dl, false);
		arm_timer(dl);
	}
	/* Revert: the programs no longer divert; what is still in the TAPs and in
	 * the line goes on at once, in order. */
	for (int i = 0; i < dl->n_taps; i++)
		while (read_tap(dl, &dl->taps[i]))
			;
	send_due(dl, true);
	free(pfd);
	return NULL;
}

/* ---- TAP devices ---------------------------------------------------------- */

static uint32_t fnv1a(const char *s, uint32_t salt)
{
	uint32_t h = 2166136261u ^ salt;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int if_ioctl(unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	int r = ioctl(s, req, ifr) < 0 ? -errno : 0;
	close(s);
	return r;
}

static void disable_ipv6(const char *ifname)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* no IPv6 on this host: nothing would be sent anyway */
	if (write(fd, "1", 1) != 1)
		log_debug("delay line: %s: %s", path, strerror(errno));
	close(fd);
}

/* A non-persistent TAP: it disappears when its fd closes, i.e. with us. The
 * kernel must send nothing of its own on it (no IPv6, no ARP): everything read
 * from it is a diverted frame. */
static int tap_open(struct tap *t, const char *name, int mtu)
{
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	int r = ioctl(fd, TUNSETIFF, &ifr) < 0 ? -errno : 0;
	if (r < 0) {
		close(fd);
		return r;
	}
	t->fd = fd;
	snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name);
	disable_ipv6(t->name);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->name);
	ifr.ifr_mtu = mtu;
	if (mtu > 0 && (r = if_ioctl(SIOCSIFMTU, &ifr)) < 0)
		return r;
	ifr.ifr_qlen = TAP_QUEUE_LEN;
	if ((r = if_ioctl(SIOCSIFTXQLEN, &ifr)) < 0)
		return r;
	if ((r = if_ioctl(SIOCGIFFLAGS, &ifr)) < 0)
		return r;
	ifr.ifr_flags |= IFF_UP | IFF_NOARP;
	if ((r = if_ioctl(SIOCSIFFLAGS, &ifr)) < 0)
		return r;
	unsigned idx = if_nametoindex(t->name);
	if (idx == 0)
		return -errno;
	t->ifindex = (int)idx;
	return 0;
}

static int interface_mtu(const char *name)
{
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	return if_ioctl(SIOCGIFMTU, &ifr) < 0 ? 0 : ifr.ifr_mtu;
}

static int create_taps(struct delayline *dl, const struct shape_spec *spec, const char *fault_id,
		       struct fault_error *err)
{
	struct packet_target *targets;
	int n_targets;
	int r = packet_resolve_interfaces(&spec->match, &targets, &n_targets, err);
	if (r < 0)
		return r;
	if (spec->match.n_interfaces == 0) {
		/* "Every interface" means the host's, not chaoskit's own devices
		 * (TAPs of delay lines, IFBs of the netem backend). */
		int kept = 0;
		for (int i = 0; i < n_targets; i++)
			if (strncmp(targets[i].name, "ck", 2) != 0)
				targets[kept++] = targets[i];
		n_targets = kept;
		if (n_targets == 0) {
			free(targets);
			fault_error_set(err, "interfaces", "this host has no interface but lo");
			return -ENODEV;
		}
	}
	if (n_targets > DELAYLINE_MAX_LINKS / 2) {
		free(targets);
		fault_error_set(err, "interfaces", "a delay line serves at most %d interfaces", DELAYLINE_MAX_LINKS / 2);
		return -E2BIG;
	}
	int per = (spec->match.direction == PACKET_DIR_BOTH) ? 2 : 1;
	dl->taps = calloc((size_t)(n_targets * per), sizeof(*dl->taps));
	dl->attach_spec = malloc(sizeof(*dl->attach_spec));
	if (!dl->taps || !dl->attach_spec) {
		free(targets);
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	/* The programs go exactly where the TAPs are, even if interfaces change meanwhile. */
	*dl->attach_spec = spec->match;
	dl->attach_spec->n_interfaces = n_targets;
	for (int i = 0; i < n_targets; i++)
		snprintf(dl->attach_spec->interfaces[i], IF_NAMESIZE, "%s", targets[i].name);
	uint64_t seed;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = now_ns();
	for (int i = 0; i < n_targets && r == 0; i++) {
		int mtu = interface_mtu(targets[i].name);
		for (int d = 0; d < 2 && r == 0; d++) {
			bool egress = d == 1;
			if (!(spec->match.direction & (egress ? PACKET_DIR_EGRESS : PACKET_DIR_INGRESS)))
				continue;
			struct tap *t = &dl->taps[dl->n_taps];
			t->fd = -1;
			t->link_fd = -1;
			t->egress = egress;
			t->real_ifindex = targets[i].ifindex;
			snprintf(t->real_name, sizeof(t->real_name), "%s", targets[i].name);
			delayline_shaper_init(&t->shaper, spec, seed + (uint64_t)dl->n_taps);
			/* Another fault's hash may collide: its TAP is busy, take the next salt. */
			r = -EBUSY;
			for (uint32_t salt = 0; salt < 8 && r == -EBUSY && t->fd < 0; salt++) {
				char name[IF_NAMESIZE];
				snprintf(name, sizeof(name), DELAYLINE_TAP_PREFIX "%08x%c%x", fnv1a(fault_id, salt),
					 egress ? 'e' : 'i', (unsigned)i & 0xffu);
				r = tap_open(t, name, mtu);
			}
			if (t->fd >= 0)
				dl->n_taps++; /* closed by the caller, also when a later step failed */
			if (r < 0)
				fault_error_set(err, "interfaces", "cannot create the delay line's TAP for %s: %s",
						targets[i].name, strerror(-r));
		}
	}
	free(targets);
	return r;
}

/* ---- BPF ------------------------------------------------------------------ */

static int load_programs(struct delayline *dl, const struct shape_spec *spec, const struct fault_env *env,
			 struct fault_error *err)
{
	dl->skel = packet_scope_is_host(&spec->match.scope)
		? delayline_bpf__open()
		: delayline_bpf_open_scoped(sizeof(struct delayline_bpf), sizeof(struct delayline_bpf__rodata));
	if (!dl->skel) {
		int r = errno ? -errno : -ENOMEM;
		fault_error_set(err, "", "cannot open the delay line's BPF object: %s", strerror(-r));
		return r;
	}
	dl->skel->rodata->line_mark = dl->mark;
	int r = packet_match_config_fill(&spec->match, env, &dl->skel->rodata->match_cfg, err);
	if (r == 0)
		r = packet_match_maps_size(&spec->match, dl->skel->maps.src_cidrs, dl->skel->maps.dst_cidrs,
					   dl->skel->maps.peer_cidrs);
	if (r == 0 && dl->backend == PACKET_BACKEND_TCX) {
		if (bpf_program__set_expected_attach_type(dl->skel->progs.delayline_ingress, PACKET_BPF_TCX_INGRESS) < 0 ||
		    bpf_program__set_expected_attach_type(dl->skel->progs.delayline_egress, PACKET_BPF_TCX_EGRESS) < 0 ||
		    bpf_program__set_expected_attach_type(dl->skel->progs.delayline_tap, PACKET_BPF_TCX_INGRESS) < 0)
			r = -errno;
	}
	if (r == 0 && delayline_bpf__load(dl->skel) < 0) {
		r = -errno;
		fault_error_set(err, "", "cannot load the delay line's BPF programs: %s", strerror(-r));
	}
	if (r == 0)
		r = packet_match_maps_fill(&spec->match, dl->skel->maps.src_cidrs, dl->skel->maps.dst_cidrs,
					   dl->skel->maps.peer_cidrs);
	for (int i = 0; r == 0 && i < dl->n_taps; i++) {
		const struct tap *t = &dl->taps[i];
		struct delayline_divert dv = { 0 };
		__u32 key = (__u32)t->real_ifindex;
		bpf_map__lookup_elem(dl->skel->maps.divert, &key, sizeof(key), &dv, sizeof(dv), 0);
		if (t->egress)
			dv.tap_egress = (__u32)t->ifindex;
		else
			dv.tap_ingress = (__u32)t->ifindex;
		struct delayline_return back = { .ifindex = (__u32)t->real_ifindex, .ingress = !t->egress };
		__u32 tap_key = (__u32)t->ifindex;
		if (bpf_map__update_elem(dl->skel->maps.divert, &key, sizeof(key), &dv, sizeof(dv), BPF_ANY) < 0 ||
		    bpf_map__update_elem(dl->skel->maps.giveback, &tap_key, sizeof(tap_key), &back, sizeof(back),
					 BPF_ANY) < 0)
			r = -errno;
	}
	if (r < 0 && err && !err->msg[0])
		fault_error_set(err, "", "cannot set up the delay line's BPF maps: %s", strerror(-r));
	return r;
}

static int attach_tap_programs(struct delayline *dl, struct fault_error *err)
{
	int prog = bpf_program__fd(dl->skel->progs.delayline_tap);
	int r = 0;
	if (dl->backend == PACKET_BACKEND_CLSACT) {
		if ((r = packet_tc_handle_alloc(&dl->tap_tc_handle)) < 0) {
			fault_error_set(err, "", "too many tc faults on this host");
			return r;
		}
		dl->have_tc_handle = true;
	}
	for (int i = 0; r == 0 && i < dl->n_taps; i++) {
		struct tap *t = &dl->taps[i];
		if (dl->backend == PACKET_BACKEND_TCX) {
			r = packet_tcx_attach(prog, t->ifindex, false);
			if (r >= 0) {
				t->link_fd = r;
				r = 0;
			}
		} else {
			/* The qdisc and filter go with the TAP when its fd closes. */
			bool created;
			r = packet_clsact_ensure(t->ifindex, &created);
			if (r == 0)
				r = packet_clsact_attach(prog, t->ifindex, false, dl->tap_tc_handle);
		}
		if (r < 0)
			fault_error_set(err, "", "cannot attach the delay line's program to %s: %s", t->name,
					strerror(-r));
	}
	return r;
}

/* ---- life cycle ------------------------------------------------------------ */

static void line_free(struct delayline *dl)
{
	for (size_t i = 0; i < dl->heap_n; i++)
		free(dl->heap[i]);
	free(dl->heap);
	for (int i = 0; i < dl->n_taps; i++) {
		if (dl->taps[i].link_fd >= 0)
			close(dl->taps[i].link_fd);
		if (dl->taps[i].fd >= 0)
			close(dl->taps[i].fd);
	}
	free(dl->taps);
	if (dl->have_tc_handle)
		packet_tc_handle_free(dl->tap_tc_handle);
	if (dl->have_mark)
		packet_tc_handle_free(dl->mark);
	free(dl->attach_spec);
	if (dl->skel)
		delayline_bpf__destroy(dl->skel);
	if (dl->stop_fd >= 0)
		close(dl->stop_fd);
	if (dl->timer_fd >= 0)
		close(dl->timer_fd);
	free(dl->buf);
	free(dl);
}

int delayline_destroy(struct delayline *dl)
{
	if (!dl)
		return 0;
	/* Stop diverting first, then let the thread hand on what it holds. */
	int r = packet_attach_set_destroy(dl->attached);
	if (dl->thread_started) {
		uint64_t one = 1;
		if (write(dl->stop_fd, &one, sizeof(one)) != sizeof(one))
			log_warn("delay line: cannot wake the thread: %s", strerror(errno));
		pthread_join(dl->thread, NULL);
	}
	line_free(dl);
	return r;
}

int delayline_create(const struct shape_spec *spec, const struct fault_env *env, struct delayline **out,
		     struct json_object *record, struct fault_error *err)
{
	enum packet_backend backend;
	int r = packet_backend_for_env(env, &backend, err);
	if (r < 0)
		return r;
	struct delayline *dl = calloc(1, sizeof(*dl));
	if (!dl) {
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	dl->backend = backend;
	dl->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	dl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	dl->buf = malloc(FRAME_MAX);
	if (dl->stop_fd < 0 || dl->timer_fd < 0 || !dl->buf) {
		r = dl->buf ? -errno : -ENOMEM;
		fault_error_set(err, "", "cannot set up the delay line: %s", strerror(-r));
		line_free(dl);
		return r;
	}
	dl->limit_packets = DEFAULT_LIMIT_PACKETS;
	dl->limit_bytes = spec->queue_bytes ? spec->queue_bytes : DEFAULT_LIMIT_BYTES;

	struct json_object *tc_record = json_object_new_object();
	r = packet_tc_handle_alloc(&dl->mark);
	if (r < 0)
		fault_error_set(err, "", "too many tc faults on this host");
	else
		dl->have_mark = true;
	if (r == 0)
		r = create_taps(dl, spec, env && env->fault_id ? env->fault_id : "fault", err);
	if (r == 0)
		r = load_programs(dl, spec, env, err);
	if (r == 0)
		r = attach_tap_programs(dl, err);
	if (r == 0) {
		r = -pthread_create(&dl->thread, NULL, line_main, dl);
		if (r < 0)
			fault_error_set(err, "", "cannot start the delay line's thread: %s", strerror(-r));
		else
			dl->thread_started = true;
	}
	if (r == 0)
		r = packet_attach_set_create(dl->attach_spec, backend, bpf_program__fd(dl->skel->progs.delayline_ingress),
					     bpf_program__fd(dl->skel->progs.delayline_egress), &dl->attached,
					     tc_record, err);
	if (r < 0) {
		json_object_put(tc_record);
		delayline_destroy(dl);
		return r;
	}
	if (record) {
		json_object_object_add(record, "tc", tc_record);
		struct json_object *taps = json_object_new_array();
		for (int i = 0; taps && i < dl->n_taps; i++)
			json_object_array_add(taps, json_object_new_string(dl->taps[i].name));
		json_object_object_add(record, "taps", taps);
	} else {
		json_object_put(tc_record);
	}
	*out = dl;
	return 0;
}

static uint64_t late_percentile_us(const uint64_t *hist, uint64_t total, double p)
{
	if (total == 0)
		return 0;
	uint64_t want = (uint64_t)ceil(p * (double)total), seen = 0;
	for (uint32_t i = 0; i <= LATE_BUCKETS; i++) {
		seen += hist[i];
		if (seen >= want)
			return (uint64_t)(i + 1) * LATE_BUCKET_NS / 1000u; /* the bucket's upper edge */
	}
	return (uint64_t)LATE_BUCKETS * LATE_BUCKET_NS / 1000u;
}

/* Frames the kernel dropped because a TAP's ring was full (the thread did not
 * read fast enough): they never reached the line's own counters. */
static uint64_t tap_ring_drops(const struct delayline *dl)
{
	struct nl_sock *sk = nl_socket_alloc();
	uint64_t sum = 0;
	if (!sk || nl_connect(sk, NETLINK_ROUTE) < 0) {
		nl_socket_free(sk);
		return 0;
	}
	for (int i = 0; i < dl->n_taps; i++) {
		struct rtnl_link *link = NULL;
		if (rtnl_link_get_kernel(sk, dl->taps[i].ifindex, NULL, &link) == 0) {
			sum += rtnl_link_get_stat(link, RTNL_LINK_TX_DROPPED);
			rtnl_link_put(link);
		}
	}
	nl_socket_free(sk);
	return sum;
}

int delayline_stats(struct delayline *dl, struct json_object *out)
{
	uint64_t *hist = calloc(LATE_BUCKETS + 1, sizeof(*hist));
	if (!hist)
		return -ENOMEM;
	uint64_t total = 0;
	for (uint32_t i = 0; i <= LATE_BUCKETS; i++)
		total += hist[i] = STAT_GET(dl->late_hist[i]);
	json_object_object_add(out, "backend", json_object_new_string("delay-line"));
	json_object_object_add(out, "attach", json_object_new_string(packet_backend_name(dl->backend)));
	json_object_object_add(out, "packets_delayed", json_object_new_int64((int64_t)STAT_GET(dl->delayed)));
	json_object_object_add(out, "packets_reordered", json_object_new_int64((int64_t)STAT_GET(dl->reordered)));
	uint64_t ring = tap_ring_drops(dl);
	json_object_object_add(out, "packets_dropped", json_object_new_int64((int64_t)(STAT_GET(dl->dropped) + ring)));
	json_object_object_add(out, "tap_dropped", json_object_new_int64((int64_t)ring));
	json_object_object_add(out, "queue_max", json_object_new_int64((int64_t)STAT_GET(dl->queue_max)));
	json_object_object_add(out, "queue_now", json_object_new_int64((int64_t)STAT_GET(dl->queue_now)));
	json_object_object_add(out, "late_p50_us", json_object_new_int64((int64_t)late_percentile_us(hist, total, 0.5)));
	json_object_object_add(out, "late_p99_us", json_object_new_int64((int64_t)late_percentile_us(hist, total, 0.99)));
	json_object_object_add(out, "late_max_us", json_object_new_int64((int64_t)(STAT_GET(dl->late_max_ns) / 1000u)));
	free(hist);
	return 0;
}

int delayline_recover(struct json_object *record)
{
	struct json_object *tc;
	if (!record || !json_object_object_get_ex(record, "tc", &tc))
		return 0;
	return packet_attach_set_recover(tc);
}

static int probe_result;
static char probe_reason[256];

static void probe_once(void)
{
	enum packet_backend b;
	probe_result = packet_backend_choose("auto", &b, probe_reason, sizeof(probe_reason));
	if (probe_result < 0)
		return;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		probe_result = -errno;
		snprintf(probe_reason, sizeof(probe_reason), "cannot open /dev/net/tun (CONFIG_TUN): %s", strerror(errno));
		return;
	}
	close(fd);
}

int delayline_probe(char *reason, size_t len)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, probe_once);
	if (probe_result < 0 && reason)
		snprintf(reason, len, "%s", probe_reason);
	return probe_result;
}
