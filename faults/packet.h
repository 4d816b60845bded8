/* The packet family (kinds "packet-loss", "blackhole", "packet-duplicate",
 * "packet-corrupt"): internal interfaces
 * shared by faults/packet*.c and the tests. The agent only sees the kinds. */
#pragma once
#include "common/netaddr.h"
#include "faults/fault.h"
#include "faults/match_config.h"
#include "faults/scope.h"

#include <linux/bpf.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#define PACKET_MAX_CIDRS 128
#define PACKET_MAX_PORT_RANGES MATCH_MAX_PORT_RANGES
#define PACKET_MAX_INTERFACES 32

enum packet_direction {
	PACKET_DIR_INGRESS = 1,
	PACKET_DIR_EGRESS = 2,
	PACKET_DIR_BOTH = 3,
};

enum packet_protocol {
	PACKET_PROTO_ANY = 0,
	PACKET_PROTO_TCP,
	PACKET_PROTO_UDP,
	PACKET_PROTO_ICMP,      /* ICMP and ICMPv6 */
};

struct packet_cidr_list {
	int n;
	struct cidr items[PACKET_MAX_CIDRS];
};

struct packet_port_list {
	int n;
	struct port_range items[PACKET_MAX_PORT_RANGES];
};

/* What the fault does to the packets it picks. */
enum packet_action {
	PACKET_ACTION_DROP = 0,         /* packet-loss, blackhole */
	PACKET_ACTION_DUPLICATE,        /* packet-duplicate */
	PACKET_ACTION_CORRUPT,          /* packet-corrupt */
};

#define PACKET_CORRUPT_MAX_BYTES 16

struct packet_spec {
	bool blackhole;          /* kind "blackhole": probability is 1 and not a parameter */
	double probability;      /* (0, 1] */
	enum packet_action action;
	int corrupt_bytes;       /* packet-corrupt: payload bytes changed per packet, 1..16 */
	bool fix_checksum;       /* packet-corrupt: rewrite the L4 checksum to match */
	enum packet_direction direction;
	int n_interfaces;        /* 0: every interface of the namespace but lo */
	char interfaces[PACKET_MAX_INTERFACES][IF_NAMESIZE];
	enum packet_protocol protocol;
	struct packet_cidr_list src, dst, peers;
	struct packet_port_list src_ports, dst_ports;
	bool blackout;
	struct packet_scope scope;
};

/* faults/packet_spec.c: parameter validation, pure and unprivileged. */
int packet_spec_parse(struct json_object *params, bool blackhole, struct packet_spec **out,
		      struct fault_error *err);
struct json_object *packet_spec_to_json(const struct packet_spec *spec);
/* The same for packet-duplicate and packet-corrupt (action DUPLICATE or CORRUPT). */
int packet_spec_parse_action(struct json_object *params, enum packet_action action, struct packet_spec **out,
			     struct fault_error *err);
/* "probability": a number in (0, 1]; -EINVAL with err set otherwise. */
int packet_parse_probability(struct json_object *v, double *out, struct fault_error *err);

/* The matching part of the parameters, for every kind that acts on matched
 * packets (delay, duplication, corruption, DNS ...): such a kind embeds a
 * packet_spec for its matching (probability and blackhole unused).
 * packet_match_defaults() sets direction both, protocol any.
 * packet_match_parse_key() handles the keys "direction", "interfaces",
 * "match", "blackout" and "scope": returns 1 if `key` was one of them (and
 * valid), 0 if it is not a matching key, -errno with `err` set if invalid.
 * PACKET_MATCH_KEYS lists them for "unknown parameter" messages.
 * packet_match_to_json() adds those keys, defaults filled in, to `o`. */
#define PACKET_MATCH_KEYS "direction, interfaces, match, blackout, scope"
void packet_match_defaults(struct packet_spec *spec);
int packet_match_parse_key(const char *key, struct json_object *v, struct packet_spec *spec,
			   struct fault_error *err);
void packet_match_to_json(const struct packet_spec *spec, struct json_object *o);

/* faults/packet_match.c: the match settings of a spec for any BPF object that
 * includes faults/match.bpf.h. Call config_fill() and maps_size() on the opened
 * object before load, maps_fill() after load. `cfg` is the object's
 * rodata->match_cfg. config_fill() resolves the scope (may fail with err set). */
struct bpf_map;
int packet_match_config_fill(const struct packet_spec *spec, const struct fault_env *env,
			     struct match_config *cfg, struct fault_error *err);
int packet_match_maps_size(const struct packet_spec *spec, struct bpf_map *src, struct bpf_map *dst,
			   struct bpf_map *peers);
int packet_match_maps_fill(const struct packet_spec *spec, struct bpf_map *src, struct bpf_map *dst,
			   struct bpf_map *peers);
const char *packet_direction_name(enum packet_direction d);
const char *packet_protocol_name(enum packet_protocol p);

/* The drop threshold the BPF program compares bpf_get_prandom_u32() against. */
uint32_t packet_probability_threshold(double probability);

/* Backends that attach the programs (faults/packet_tc.c). */
enum packet_backend {
	PACKET_BACKEND_TCX = 1,
	PACKET_BACKEND_CLSACT = 2,
};
const char *packet_backend_name(enum packet_backend b);

/* cls_bpf filters of this family are recognisable by priority and handle:
 * priority PACKET_TC_PRIORITY, handle in [PACKET_TC_HANDLE_BASE, +PACKET_TC_HANDLE_SLOTS).
 * Priority 1 so that the fault sees packets before filters the host already has
 * (a terminating filter in front of ours would silently disable the fault). */
#define PACKET_TC_PRIORITY 1
#define PACKET_TC_HANDLE_BASE 0xc4a00000u
#define PACKET_TC_HANDLE_SLOTS 1024u

/* Chooses the backend for a preference "auto", "tcx", "clsact" (NULL = auto).
 * Returns 0 and the backend, or -errno with a reason. The tcx probe is cached. */
int packet_backend_choose(const char *preference, enum packet_backend *out, char *reason, size_t len);
/* The same as the probe() of the kinds built on these backends ("auto"). */
int packet_backend_probe(char *reason, size_t len);
/* packet_backend_choose() for env->packet_backend, the reason written into `err`. */
int packet_backend_for_env(const struct fault_env *env, enum packet_backend *out, struct fault_error *err);
/* A BPF object's load failed with `r`: `load_err` when the loader said why,
 * otherwise "cannot load the BPF program: <strerror>", into `err`. */
void packet_load_error_report(struct fault_error *err, const struct fault_error *load_err, int r);
/* describe() of the kinds built on these backends: {"backend": "tcx"|"clsact"}, the
 * one env->packet_backend leads to on this host (nothing when none works). */
void packet_backend_describe(const struct fault_env *env, struct json_object *out);

/* tcx attach types (Linux 6.6); the uapi headers of older userlands lack them. */
#define PACKET_BPF_TCX_INGRESS ((enum bpf_attach_type)46)
#define PACKET_BPF_TCX_EGRESS ((enum bpf_attach_type)47)

/* Returns a link fd (the attachment lives as long as the fd) or -errno. */
int packet_tcx_attach(int prog_fd, int ifindex, bool egress);

/* clsact + cls_bpf. ensure() creates the clsact qdisc if missing (*created says
 * whether it did); release() removes a clsact this process created once it holds
 * no filter (another fault may still use it). */
int packet_clsact_ensure(int ifindex, bool *created);
int packet_clsact_attach(int prog_fd, int ifindex, bool egress, uint32_t handle);
int packet_clsact_detach(int ifindex, bool egress, uint32_t handle);
void packet_clsact_release(int ifindex, bool created);
int packet_tc_handle_alloc(uint32_t *handle);
void packet_tc_handle_free(uint32_t handle);

/* Removes every cls_bpf filter of this family in the current network namespace;
 * returns how many were removed or -errno. */
int packet_tc_sweep(void);

/* faults/packet_attach.c: a tc program pair attached to the spec's interfaces
 * (every interface of the namespace but lo when it names none) in its
 * directions, with either backend. create() is all or nothing and fills
 * `record` (backend, clsact handle, attachments) for recover(), which removes
 * what a crashed process left (clsact filters; tcx links die by themselves)
 * and may run in another process. A program fd may be -1 for a direction the
 * spec does not use. */
struct packet_target {
	int ifindex;
	char name[IF_NAMESIZE];
};
int packet_resolve_interfaces(const struct packet_spec *spec, struct packet_target **out, int *n_out,
			      struct fault_error *err);
struct packet_attach_set;
int packet_attach_set_create(const struct packet_spec *spec, enum packet_backend backend, int ingress_fd,
			     int egress_fd, struct packet_attach_set **out, struct json_object *record,
			     struct fault_error *err);
int packet_attach_set_destroy(struct packet_attach_set *s);
enum packet_backend packet_attach_set_backend(const struct packet_attach_set *s);
int packet_attach_set_recover(struct json_object *record);

/* faults/packet_prog.c: one BPF object per fault, configured and loaded but not
 * attached (the unit tests run it with BPF_PROG_TEST_RUN). */
struct packet_bpf;
int packet_prog_load(const struct packet_spec *spec, const struct fault_env *env, enum packet_backend backend,
		     struct packet_bpf **out, struct fault_error *err);
void packet_prog_destroy(struct packet_bpf *skel);
int packet_prog_fd(struct packet_bpf *skel, bool egress);
/* Sums the per-CPU counters. */
int packet_prog_counters(struct packet_bpf *skel, uint64_t *matched, uint64_t *dropped);
struct packet_counters {
	uint64_t matched, dropped, duplicated, corrupted;
};
int packet_prog_read_counters(struct packet_bpf *skel, struct packet_counters *out);
/* Sums, field by field over the CPUs, entry 0 of a per-CPU array map whose
 * value is `n` u64 counters (the stats map of every BPF object of the family). */
int packet_percpu_counters_sum(const struct bpf_map *map, uint64_t *sum, size_t n);

/* The kinds themselves, for faults that build on them (host-outage cuts the
 * network with a blackhole it applies, reverts and recovers through these). */
extern const struct fault_kind packet_loss_kind;
extern const struct fault_kind blackhole_kind;
extern const struct fault_kind packet_duplicate_kind;
extern const struct fault_kind packet_corrupt_kind;
