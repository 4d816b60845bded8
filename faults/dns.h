/* The dns family (kind "dns"): DNS queries for matching names time out, are
 * refused or get NXDOMAIN/SERVFAIL. The first part is shared with the BPF
 * program (faults/dns.bpf.c: only fixed-width kernel types there); the rest is
 * the user-space interface for faults/dns.c and the tests. */
#pragma once
#include <linux/types.h>

#define DNS_MAX_PATTERNS 16
#define DNS_NAME_WIRE_MAX 255    /* RFC 1035: a name is at most 255 octets on the wire */

#define DNS_ACTION_TIMEOUT 0
#define DNS_ACTION_REFUSE 1
#define DNS_ACTION_NXDOMAIN 2
#define DNS_ACTION_SERVFAIL 3

/* What "timeout" returns on egress (packet.bpf.c does the same for loss). */
#define DNS_DROP_STOLEN 1            /* cls_bpf */
#define DNS_DROP_REDIRECT_NOWHERE 2  /* tcx */

/* Patterns are looked up by a hash of the lowercased wire-format suffix
 * (hashed from its last byte to its first: h = h * MUL + byte) and its length;
 * a hit is then compared byte by byte with `wire`. */
#define DNS_HASH_MUL 0x100000001b3ull

#define DNS_PATTERN_EXACT 1      /* the whole query name */
#define DNS_PATTERN_SUBDOMAINS 2 /* any name with at least one more label in front */

struct dns_pattern_key {
	__u64 hash;
	__u32 len;
	__u32 pad;
};

struct dns_pattern {
	__u8 flags;
	__u8 pad[3];
	__u32 len;
	__u8 wire[256];
};

struct dns_counters {
	__u64 seen;        /* queries to the server port that matched the match keys */
	__u64 matched;     /* ... whose name matched a pattern */
	__u64 answered;    /* turned into a refusal/NXDOMAIN/SERVFAIL answer */
	__u64 dropped;     /* dropped (timeout) */
	__u64 passed;      /* matched but let through: probability, or not answerable in place */
};

#ifndef __BPF__
#include "faults/packet.h"

#include <stdbool.h>
#include <stdint.h>

struct dns_name_pattern {
	char text[DNS_NAME_WIRE_MAX + 3];   /* normalised: lowercase, no trailing dot, "*." kept */
	bool subdomains;                    /* "*." prefix */
	uint8_t wire[DNS_NAME_WIRE_MAX];    /* the name (without "*.") in lowercase wire format */
	uint32_t wire_len;
};

struct dns_spec {
	int n_names;
	struct dns_name_pattern names[DNS_MAX_PATTERNS];
	int action;          /* DNS_ACTION_* */
	double probability;  /* (0, 1] */
	uint16_t port;
	struct packet_spec match;  /* direction fixed to egress; no ports */
};

/* Validates one name pattern ("db.internal", "*.example.com", case-insensitive,
 * a trailing dot allowed) and encodes it. 0 or -EINVAL with a reason in `why`. */
int dns_pattern_parse(const char *text, struct dns_name_pattern *out, char *why, size_t why_len);
/* The lookup hash of a lowercase wire-format name (see DNS_HASH_MUL). */
uint64_t dns_wire_hash(const uint8_t *wire, uint32_t len);
const char *dns_action_name(int action);

int dns_spec_parse(struct json_object *params, struct dns_spec **out, struct fault_error *err);
struct json_object *dns_spec_to_json(const struct dns_spec *spec);

/* One fault's BPF object, configured and loaded but not attached (the unit
 * tests run it with BPF_PROG_TEST_RUN). */
struct dns_bpf;
int dns_prog_load(const struct dns_spec *spec, const struct fault_env *env, enum packet_backend backend,
		  struct dns_bpf **out, struct fault_error *err);
void dns_prog_destroy(struct dns_bpf *skel);
int dns_prog_fd(struct dns_bpf *skel);
int dns_prog_counters(struct dns_bpf *skel, struct dns_counters *out);

extern const struct fault_kind dns_kind;
extern const struct fault_family dns_family;
#endif
