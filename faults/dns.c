/* The dns family: kind "dns" (docs/faults.md "dns"). Parameters, name patterns
 * in wire format, and the tc egress program of faults/dns.bpf.c attached with
 * the packet family's attach sets (tcx or clsact). */
#include "faults/dns.h"
#include "faults/match_config.h"
#include "faults/dns.skel.h"
#include "faults/scope_variant.h"

#include "common/log.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DNS_LABEL_MAX 63

static const char *const action_names[] = {
	[DNS_ACTION_TIMEOUT] = "timeout",
	[DNS_ACTION_REFUSE] = "refuse",
	[DNS_ACTION_NXDOMAIN] = "nxdomain",
	[DNS_ACTION_SERVFAIL] = "servfail",
};

const char *dns_action_name(int action)
{
	if (action < 0 || action > DNS_ACTION_SERVFAIL)
		return "?";
	return action_names[action];
}

uint64_t dns_wire_hash(const uint8_t *wire, uint32_t len)
{
	uint64_t h = 0;
	for (uint32_t i = len; i-- > 0;)
		h = h * DNS_HASH_MUL + wire[i];
	return h;
}

static bool label_char_ok(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_';
}

int dns_pattern_parse(const char *text, struct dns_name_pattern *out, char *why, size_t why_len)
{
	struct dns_name_pattern p;
	memset(&p, 0, sizeof(p));
	const char *name = text;
	if (strncmp(name, "*.", 2) == 0) {
		p.subdomains = true;
		name += 2;
	}
	size_t len = strlen(name);
	if (len > 0 && name[len - 1] == '.')
		len--;  /* an absolute name "example.com." is the same name */
	if (len == 0) {
		snprintf(why, why_len, "\"%s\" names no domain (write \"db.internal\" or \"*.example.com\")", text);
		return -EINVAL;
	}
	uint32_t w = 0;
	size_t start = 0;
	while (start <= len) {
		size_t end = start;
		while (end < len && name[end] != '.')
			end++;
		size_t label_len = end - start;
		if (label_len == 0) {
			snprintf(why, why_len, "\"%s\" has an empty label", text);
			return -EINVAL;
		}
		if (label_len > DNS_LABEL_MAX) {
			snprintf(why, why_len, "\"%s\" has a label longer than %d characters", text, DNS_LABEL_MAX);
			return -EINVAL;
		}
		if (name[start] == '-' || name[end - 1] == '-') {
			snprintf(why, why_len, "\"%s\": a label must not begin or end with '-'", text);
			return -EINVAL;
		}
		for (size_t i = start; i < end; i++) {
			if (!label_char_ok(name[i])) {
				snprintf(why, why_len,
					 "\"%s\": '%c' is not allowed (letters, digits, '-' and '_'; \"*.\" only in front)",
					 text, name[i]);
				return -EINVAL;
			}
		}
		if (w + 1 + label_len + 1 > DNS_NAME_WIRE_MAX) {
			snprintf(why, why_len, "is longer than a DNS name can be (%d octets on the wire)",
				 DNS_NAME_WIRE_MAX);
			return -EINVAL;
		}
		p.wire[w++] = (uint8_t)label_len;
		for (size_t i = start; i < end; i++)
			p.wire[w++] = (uint8_t)tolower((unsigned char)name[i]);
		start = end + 1;
	}
	p.wire[w++] = 0;
	p.wire_len = w;
	int n = snprintf(p.text, sizeof(p.text), "%s%.*s", p.subdomains ? "*." : "", (int)len, name);
	if (n < 0 || (size_t)n >= sizeof(p.text)) {
		snprintf(why, why_len, "\"%s\" is too long", text);
		return -EINVAL;
	}
	for (char *c = p.text; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	*out = p;
	return 0;
}

static int parse_names(struct json_object *v, struct dns_spec *spec, struct fault_error *err)
{
	if (!json_object_is_type(v, json_type_array)) {
		fault_error_set(err, "names", "must be a list of names such as [\"db.internal\", \"*.example.com\"]");
		return -EINVAL;
	}
	size_t n = json_object_array_length(v);
	if (n == 0 || n > DNS_MAX_PATTERNS) {
		fault_error_set(err, "names", "must hold 1 to %d names, has %zu", DNS_MAX_PATTERNS, n);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char key[32], why[200];
		snprintf(key, sizeof(key), "names[%zu]", i);
		struct json_object *item = json_object_array_get_idx(v, i);
		if (!json_object_is_type(item, json_type_string)) {
			fault_error_set(err, key, "must be a string");
			return -EINVAL;
		}
		if (dns_pattern_parse(json_object_get_string(item), &spec->names[i], why, sizeof(why)) < 0) {
			fault_error_set(err, key, "%s", why);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(spec->names[j].text, spec->names[i].text) == 0) {
				fault_error_set(err, key, "\"%s\" is listed twice", spec->names[i].text);
				return -EINVAL;
			}
		}
	}
	spec->n_names = (int)n;
	return 0;
}

static int parse_action(struct json_object *v, int *out, struct fault_error *err)
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	for (int a = DNS_ACTION_TIMEOUT; s && a <= DNS_ACTION_SERVFAIL; a++) {
		if (strcmp(s, action_names[a]) == 0) {
			*out = a;
			return 0;
		}
	}
	fault_error_set(err, "action", "must be \"timeout\", \"refuse\", \"nxdomain\" or \"servfail\"");
	return -EINVAL;
}

static int parse_port(struct json_object *v, uint16_t *out, struct fault_error *err)
{
	long long port = -1;
	if (json_object_is_type(v, json_type_int)) {
		port = json_object_get_int64(v);
	} else if (json_object_is_type(v, json_type_string)) {
		char *end;
		const char *s = json_object_get_string(v);
		errno = 0;
		port = strtoll(s, &end, 10);
		if (errno || end == s || *end)
			port = -1;
	}
	if (port < 1 || port > 65535) {
		fault_error_set(err, "port", "must be a port number 1..65535 (the DNS server's port)");
		return -EINVAL;
	}
	*out = (uint16_t)port;
	return 0;
}

/* The matching keys that make sense for DNS: direction only as the fixed
 * "egress", blackout only false (both so that spec_to_json() parses back). */
static int parse_match_key(const char *key, struct json_object *v, struct dns_spec *spec, struct fault_error *err)
{
	if (strcmp(key, "direction") == 0) {
		if (!json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), "egress") != 0) {
			fault_error_set(err, "direction", "is always \"egress\" for dns: queries are caught as they leave");
			return -EINVAL;
		}
		return 1;
	}
	if (strcmp(key, "blackout") == 0) {
		if (!json_object_is_type(v, json_type_boolean) || json_object_get_boolean(v)) {
			fault_error_set(err, "blackout", "has no meaning for dns (only queries are touched)");
			return -EINVAL;
		}
		return 1;
	}
	int r = packet_match_parse_key(key, v, &spec->match, err);
	if (r <= 0)
		return r;
	if (strcmp(key, "match") == 0) {
		if (spec->match.src_ports.n > 0 || spec->match.dst_ports.n > 0) {
			fault_error_set(err, spec->match.src_ports.n > 0 ? "match.src_ports" : "match.dst_ports",
					"dns has no port filters; the DNS server's port is `port`");
			return -EINVAL;
		}
		if (spec->match.protocol == PACKET_PROTO_ICMP) {
			fault_error_set(err, "match.protocol", "must be \"udp\", \"tcp\" or \"any\" for dns");
			return -EINVAL;
		}
	}
	return 1;
}

int dns_spec_parse(struct json_object *params, struct dns_spec **out, struct fault_error *err)
{
	void *allocated;
	int r = fault_spec_alloc(params, sizeof(struct dns_spec), &allocated, err);
	if (r < 0)
		return r;
	struct dns_spec *spec = allocated;
	spec->action = DNS_ACTION_TIMEOUT;
	spec->probability = 1.0;
	spec->port = 53;
	packet_match_defaults(&spec->match);
	spec->match.direction = PACKET_DIR_EGRESS;

	if (params) {
		json_object_object_foreach(params, key, v) {
			if (strcmp(key, "names") == 0)
				r = parse_names(v, spec, err);
			else if (strcmp(key, "action") == 0)
				r = parse_action(v, &spec->action, err);
			else if (strcmp(key, "probability") == 0)
				r = packet_parse_probability(v, &spec->probability, err);
			else if (strcmp(key, "port") == 0)
				r = parse_port(v, &spec->port, err);
			else if ((r = parse_match_key(key, v, spec, err)) == 0) {
				fault_error_set(err, key, "unknown parameter (known: names, action, probability, port, "
					       "interfaces, match, scope)");
				r = -EINVAL;
			}
			if (r < 0)
				break;
		}
	}
	if (r >= 0 && spec->n_names == 0) {
		fault_error_set(err, "names", "is required: the names whose queries fail, e.g. [\"*.example.com\"]");
		r = -EINVAL;
	}
	if (r < 0) {
		free(spec);
		return r;
	}
	*out = spec;
	return 0;
}

struct json_object *dns_spec_to_json(const struct dns_spec *spec)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	struct json_object *names = json_object_new_array();
	for (int i = 0; names && i < spec->n_names; i++)
		json_object_array_add(names, json_object_new_string(spec->names[i].text));
	json_object_object_add(o, "names", names);
	json_object_object_add(o, "action", json_object_new_string(dns_action_name(spec->action)));
	json_object_object_add(o, "probability", json_object_new_double(spec->probability));
	json_object_object_add(o, "port", json_object_new_int(spec->port));
	packet_match_to_json(&spec->match, o);
	return o;
}

/* One map entry per distinct wire name; "x.com" and "*.x.com" share one. */
static int fill_patterns(const struct dns_spec *spec, struct bpf_map *map)
{
	for (int i = 0; i < spec->n_names; i++) {
		const struct dns_name_pattern *p = &spec->names[i];
		struct dns_pattern_key key = { .hash = dns_wire_hash(p->wire, p->wire_len), .len = p->wire_len };
		struct dns_pattern value;
		if (bpf_map__lookup_elem(map, &key, sizeof(key), &value, sizeof(value), 0) < 0) {
			memset(&value, 0, sizeof(value));
			value.len = p->wire_len;
			memcpy(value.wire, p->wire, p->wire_len);
		}
		value.flags |= p->subdomains ? DNS_PATTERN_SUBDOMAINS : DNS_PATTERN_EXACT;
		if (bpf_map__update_elem(map, &key, sizeof(key), &value, sizeof(value), BPF_ANY) < 0)
			return -errno;
	}
	return 0;
}

int dns_prog_load(const struct dns_spec *spec, const struct fault_env *env, enum packet_backend backend,
		  struct dns_bpf **out, struct fault_error *err)
{
	struct dns_bpf *skel = packet_scope_is_host(&spec->match.scope)
		? dns_bpf__open()
		: dns_bpf_open_scoped(sizeof(struct dns_bpf), sizeof(struct dns_bpf__rodata));
	if (!skel)
		return errno ? -errno : -ENOMEM;
	struct dns_bpf__rodata *ro = skel->rodata;
	ro->dns_action = (__u8)spec->action;
	ro->dns_port = spec->port;
	ro->act_always = spec->probability >= 1.0;
	ro->act_threshold = packet_probability_threshold(spec->probability);
	ro->egress_drop_mode = backend == PACKET_BACKEND_TCX ? DNS_DROP_REDIRECT_NOWHERE : DNS_DROP_STOLEN;

	int r = packet_match_config_fill(&spec->match, env, &ro->match_cfg, err);
	if (r == 0)
		r = packet_match_maps_size(&spec->match, skel->maps.src_cidrs, skel->maps.dst_cidrs,
					   skel->maps.peer_cidrs);
	if (r == 0 && backend == PACKET_BACKEND_TCX &&
	    bpf_program__set_expected_attach_type(skel->progs.dns_egress, PACKET_BPF_TCX_EGRESS) < 0)
		r = -errno;
	if (r == 0 && dns_bpf__load(skel) < 0)
		r = -errno;
	if (r == 0)
		r = packet_match_maps_fill(&spec->match, skel->maps.src_cidrs, skel->maps.dst_cidrs,
					   skel->maps.peer_cidrs);
	if (r == 0)
		r = fill_patterns(spec, skel->maps.patterns);
	if (r < 0) {
		dns_bpf__destroy(skel);
		return r;
	}
	*out = skel;
	return 0;
}

void dns_prog_destroy(struct dns_bpf *skel)
{
	dns_bpf__destroy(skel);
}

int dns_prog_fd(struct dns_bpf *skel)
{
	return bpf_program__fd(skel->progs.dns_egress);
}

int dns_prog_counters(struct dns_bpf *skel, struct dns_counters *out)
{
	uint64_t sum[5];
	_Static_assert(sizeof(struct dns_counters) == sizeof(sum), "dns_counters is five u64 counters");
	int r = packet_percpu_counters_sum(skel->maps.stats, sum, 5);
	if (r == 0)
		memcpy(out, sum, sizeof(*out));
	return r;
}

/* ---- the kind ---- */

static int dns_parse(struct json_object *params, void **spec, struct fault_error *err)
{
	struct dns_spec *s;
	int r = dns_spec_parse(params, &s, err);
	if (r == 0)
		*spec = s;
	return r;
}

static void dns_spec_free(void *spec)
{
	free(spec);
}

static struct json_object *dns_spec_json(const void *spec)
{
	return dns_spec_to_json(spec);
}

struct dns_handle {
	struct dns_bpf *skel;
	struct packet_attach_set *attached;
};

static int handle_free(struct dns_handle *h)
{
	if (!h)
		return 0;
	int r = packet_attach_set_destroy(h->attached);
	if (h->skel)
		dns_prog_destroy(h->skel);
	free(h);
	return r;
}

static int dns_apply(const void *spec_v, const struct fault_env *env, void **handle_out, struct json_object *record,
		     struct fault_error *err)
{
	const struct dns_spec *spec = spec_v;
	enum packet_backend backend;
	int r = packet_backend_for_env(env, &backend, err);
	if (r < 0)
		return r;
	struct dns_handle *h = calloc(1, sizeof(*h));
	if (!h) {
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	struct fault_error load_err = { .key = "", .msg = "" };
	r = dns_prog_load(spec, env, backend, &h->skel, &load_err);
	if (r < 0) {
		packet_load_error_report(err, &load_err, r);
		handle_free(h);
		return r;
	}
	/* The attach set's record in its own object: recover() hands it back as is. */
	struct json_object *tc = record ? json_object_new_object() : NULL;
	r = packet_attach_set_create(&spec->match, backend, -1, dns_prog_fd(h->skel), &h->attached, tc, err);
	if (r < 0) {
		json_object_put(tc);
		handle_free(h);
		return r;
	}
	if (record)
		json_object_object_add(record, "tc", tc);
	*handle_out = h;
	return 0;
}

static int dns_revert(void *handle)
{
	return handle_free(handle);
}

static int dns_stats(void *handle, struct json_object *out)
{
	struct dns_handle *h = handle;
	struct dns_counters c;
	int r = dns_prog_counters(h->skel, &c);
	if (r < 0)
		return r;
	json_object_object_add(out, "queries_seen", json_object_new_int64((int64_t)c.seen));
	json_object_object_add(out, "queries_matched", json_object_new_int64((int64_t)c.matched));
	json_object_object_add(out, "queries_answered", json_object_new_int64((int64_t)c.answered));
	json_object_object_add(out, "queries_dropped", json_object_new_int64((int64_t)c.dropped));
	json_object_object_add(out, "queries_passed", json_object_new_int64((int64_t)c.passed));
	json_object_object_add(out, "backend",
			       json_object_new_string(packet_backend_name(packet_attach_set_backend(h->attached))));
	return 0;
}

static int dns_recover(struct json_object *record, const struct fault_env *env)
{
	(void)env;
	struct json_object *tc;
	if (!record || !json_object_object_get_ex(record, "tc", &tc))
		return 0;
	return packet_attach_set_recover(tc);
}

/* The family's only kernel objects that outlive the agent are cls_bpf filters
 * in the handle range every tc family shares; the packet family's sweep
 * removes them all. */
static int dns_sweep(const struct fault_env *env)
{
	(void)env;
	return 0;
}

const struct fault_kind dns_kind = {
	.name = "dns",
	.family = "dns",
	.summary = "DNS queries for matching names time out, are refused or get NXDOMAIN/SERVFAIL (eBPF on tc egress)",
	.probe = packet_backend_probe,
	.describe = packet_backend_describe,
	.parse = dns_parse,
	.spec_free = dns_spec_free,
	.spec_to_json = dns_spec_json,
	.apply = dns_apply,
	.revert = dns_revert,
	.stats = dns_stats,
	.recover = dns_recover,
};

const struct fault_family dns_family = {
	.name = "dns",
	.sweep = dns_sweep,
};
