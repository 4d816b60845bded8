/* The "delay-line" backend of the shaping kinds (faults/shape.h): a tc program
 * on each of the spec's interfaces and directions redirects matched packets to
 * a TAP device this process owns ("ckd..."); a thread per fault reads them,
 * holds each until its due time and writes it back into the TAP, whose own tc
 * program sends it on its way (out of the interface, or into its ingress).
 * Needs tcx or clsact + cls_bpf and /dev/net/tun; no qdisc of any kind.
 * TAPs are not persistent: they vanish with the process, as do tcx links, so a
 * SIGKILLed agent leaves nothing (clsact filters: packet_attach_set_recover). */
#pragma once
#include "faults/fault.h"
#include "faults/shape.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* TAP device names: this prefix + 8 hex digits of the fault id's hash + 'i'
 * (ingress) or 'e' (egress) + the interface's position in hex (<= 15 chars). */
#define DELAYLINE_TAP_PREFIX "ckd"

/* 0 if this host can run a delay line, else -errno and a reason. Cached. */
int delayline_probe(char *reason, size_t len);

struct delayline;
/* All or nothing. `record` gets {"tc": <packet_attach_set record>, "taps": [...]}. */
int delayline_create(const struct shape_spec *spec, const struct fault_env *env, struct delayline **out,
		     struct json_object *record, struct fault_error *err);
/* Stops diverting, sends what the line still holds on at once, frees dl. */
int delayline_destroy(struct delayline *dl);
/* {"backend": "delay-line", "attach": "tcx"|"clsact", "packets_delayed", "packets_reordered",
 *  "packets_dropped" (queue full, plus "tap_dropped": the TAPs' rings were full), "queue_max",
 *  "queue_now", "late_p50_us", "late_p99_us", "late_max_us"} */
int delayline_stats(struct delayline *dl, struct json_object *out);
/* What a crashed process left: clsact filters (TAPs and tcx links die with it). */
int delayline_recover(struct json_object *record);

/* The timing core, pure (unit tests): when a frame leaves the line. One shaper
 * per TAP. Delay: arrival + sampled delay, never before the previous frame's
 * due time unless the frame is one of the `reorder_share` sent at once.
 * Bandwidth: a token bucket of `burst_bytes` refilled at `rate_bps`. */
struct delayline_shaper {
	enum shape_kind kind;
	uint64_t latency_ns, jitter_ns;
	enum shape_distribution distribution;
	double correlation, reorder_share;
	double ns_per_byte;     /* bandwidth */
	uint64_t burst_ns;      /* time the rate needs for burst_bytes */
	uint64_t rng[2];
	double last_gauss;      /* correlated jitter state (standard normal) */
	bool have_last;
	uint64_t last_due_ns;
	uint64_t vclock_ns;     /* bandwidth: when the last accepted byte has left */
};
void delayline_shaper_init(struct delayline_shaper *s, const struct shape_spec *spec, uint64_t seed);
/* Due time (CLOCK_MONOTONIC ns) of a frame of `len` bytes arriving at now_ns;
 * *at_once says it was picked to overtake (reorder share). */
uint64_t delayline_shaper_due(struct delayline_shaper *s, uint64_t now_ns, uint32_t len, bool *at_once);
