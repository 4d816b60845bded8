/* The "netem" backend of the shaping kinds (delay, reorder, bandwidth):
 * netem (delay, jitter, reorder) or tbf (bandwidth) qdiscs through netlink
 * (libnl-route), on the interface's root for egress and on the root of an IFB
 * device that ingress traffic is redirected to. Whole interfaces only: a spec
 * that matches packets is refused by the probe so that "auto" picks the delay
 * line. A root qdisc the host configured (htb, ...) is never replaced: apply
 * refuses, naming it. See docs/faults.md "netem / tbf backend". */
#pragma once
#include "faults/fault.h"
#include "faults/shape.h"

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

/* Qdisc handle majors reserved for chaoskit: 0xc4a0..0xc4af. */
#define QDISC_SHAPE_MAJOR_BASE 0xc4a0u
#define QDISC_SHAPE_MAJOR_SLOTS 16u
/* IFB devices of this backend: "ckifb" + a short id (<= 15 chars). */
#define QDISC_SHAPE_IFB_PREFIX "ckifb"

/* 0 if this kernel's qdiscs can do `spec` (netem for delay/reorder, tbf for
 * bandwidth, plus what matching and direction need); else -errno and a reason a
 * person can act on ("kernel lacks sch_netem"). The kernel probe runs once per
 * qdisc kind in a throwaway network namespace (fork + unshare(CLONE_NEWNET),
 * add the qdisc to lo, exit code) and is cached. */
int qdisc_shape_probe(const struct shape_spec *spec, char *reason, size_t len);

struct qdisc_shape;
/* All or nothing; `record` gets what recover() needs. */
int qdisc_shape_apply(const struct shape_spec *spec, const struct fault_env *env, struct qdisc_shape **out,
		      struct json_object *record, struct fault_error *err);
/* Frees q in every case. */
int qdisc_shape_revert(struct qdisc_shape *q);
/* {"backend" and "qdisc": "netem"|"tbf", "packets", "bytes", "drops", "overlimits", "backlog",
 * "qdiscs"} summed over this fault's qdiscs ("qdisc" survives a caller renaming "backend"). */
int qdisc_shape_stats(struct qdisc_shape *q, struct json_object *out);
/* Removes what a record names; callable from another process; idempotent. */
int qdisc_shape_recover(struct json_object *record);
/* Removes every chaoskit qdisc (handle major 0xc4a0..0xc4af) and chaoskit IFB
 * (prefix "ckifb") in this network namespace, except those of live faults of
 * this process. Returns how many objects were removed or -errno. */
int qdisc_shape_sweep(void);

/* For the unit tests: the netem / tbf qdisc object apply() would add (not
 * sent to the kernel). Returns 0 and a new rtnl_qdisc, or -errno. */
struct rtnl_qdisc;
int qdisc_shape_build(const struct shape_spec *spec, int ifindex, uint32_t handle, struct rtnl_qdisc **out);
/* For the unit tests: the netlink request apply() sends for a qdisc built by
 * qdisc_shape_build() (netem options fixed up, see qdisc_shape.c). */
struct nl_msg;
int qdisc_shape_request(const struct shape_spec *spec, struct rtnl_qdisc *q, struct nl_msg **out);
