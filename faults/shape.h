/* Traffic shaping kinds "delay", "reorder" and "bandwidth" (faults/shape.c):
 * one spec, two backends chosen at run time:
 *   - "netem": netem / tbf qdiscs through netlink (faults/qdisc_shape.c), where
 *     the kernel has them;
 *   - "delay-line": tc eBPF diverts matched packets to a TAP device the agent
 *     owns; the agent holds them and sends them on (faults/delayline.c). Works
 *     without sch_netem / sch_fq.
 * Matching (direction, interfaces, match, scope) is the packet family's. */
#pragma once
#include "faults/packet.h"

#include <stdbool.h>
#include <stdint.h>

enum shape_kind {
	SHAPE_DELAY = 1,        /* latency (+ jitter, distribution, correlation, optional reorder share) */
	SHAPE_REORDER,          /* a share of packets overtakes the others, which are held `gap` */
	SHAPE_BANDWIDTH,        /* rate limit with a bounded queue */
};

enum shape_distribution {
	SHAPE_DIST_UNIFORM = 1, /* latency +- jitter, uniform */
	SHAPE_DIST_NORMAL,      /* mean latency, standard deviation jitter (clamped at 0) */
};

enum shape_backend {
	SHAPE_BACKEND_NETEM = 1,
	SHAPE_BACKEND_DELAY_LINE,
};

struct shape_spec {
	enum shape_kind kind;
	struct packet_spec match;           /* probability / blackhole unused */
	/* delay and reorder */
	uint64_t latency_us;                /* delay: mean; reorder: the gap held packets wait */
	uint64_t jitter_us;
	enum shape_distribution distribution;
	double correlation;                 /* [0, 1): jitter correlation with the previous packet */
	double reorder_share;               /* [0, 1]: share sent at once (out of order); 0 = keep order */
	/* bandwidth */
	uint64_t rate_bps;                  /* bits per second */
	uint32_t burst_bytes;               /* default: max(1 MTU-sized packet, rate/HZ-ish); see docs */
	uint32_t queue_bytes;               /* queue limit; packets beyond are dropped (tail drop) */
	/* "auto" (NULL), "netem" or "delay-line" from params `backend`; auto picks
	 * netem when the kernel has it and the spec needs nothing netem lacks. */
	const char *backend_preference;     /* points to a static string */
};

const char *shape_backend_name(enum shape_backend b);
