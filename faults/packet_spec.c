/* Validation of packet-loss / blackhole / packet-duplicate / packet-corrupt
 * params (docs/faults.md) and their JSON form. */
#include "faults/packet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

const char *packet_direction_name(enum packet_direction d)
{
	switch (d) {
	case PACKET_DIR_INGRESS: return "ingress";
	case PACKET_DIR_EGRESS: return "egress";
	default: return "both";
	}
}

const char *packet_protocol_name(enum packet_protocol p)
{
	switch (p) {
	case PACKET_PROTO_TCP: return "tcp";
	case PACKET_PROTO_UDP: return "udp";
	case PACKET_PROTO_ICMP: return "icmp";
	default: return "any";
	}
}

uint32_t packet_probability_threshold(double probability)
{
	if (probability >= 1.0)
		return UINT32_MAX;
	double scaled = probability * 4294967296.0 + 0.5;
	if (scaled < 1.0)
		return 1;
	if (scaled > (double)UINT32_MAX)
		return UINT32_MAX;
	return (uint32_t)scaled;
}

static bool is_number(struct json_object *o)
{
	return json_object_is_type(o, json_type_double) || json_object_is_type(o, json_type_int);
}

int packet_parse_probability(struct json_object *v, double *out, struct fault_error *err)
{
	if (!is_number(v)) {
		fault_error_set(err, "probability", "must be a number in (0, 1]");
		return -EINVAL;
	}
	double p = json_object_get_double(v);
	if (!(p > 0.0 && p <= 1.0)) {
		fault_error_set(err, "probability", "must be in (0, 1], got %g", p);
		return -EINVAL;
	}
	*out = p;
	return 0;
}

static int parse_direction(struct json_object *v, enum packet_direction *out, struct fault_error *err)
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	static const enum packet_direction all[] = { PACKET_DIR_INGRESS, PACKET_DIR_EGRESS, PACKET_DIR_BOTH };
	for (size_t i = 0; s && i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(s, packet_direction_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	fault_error_set(err, "direction", "must be \"ingress\", \"egress\" or \"both\"");
	return -EINVAL;
}

static int parse_protocol(struct json_object *v, enum packet_protocol *out, struct fault_error *err)
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	static const enum packet_protocol all[] = { PACKET_PROTO_ANY, PACKET_PROTO_TCP, PACKET_PROTO_UDP,
						    PACKET_PROTO_ICMP };
	for (size_t i = 0; s && i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(s, packet_protocol_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	fault_error_set(err, "match.protocol", "must be \"tcp\", \"udp\", \"icmp\" or \"any\"");
	return -EINVAL;
}

/* Checks that `v` is an array of at most `max` items; `key` names it in errors. */
static int check_list(struct json_object *v, const char *key, size_t max, struct fault_error *err)
{
	if (!json_object_is_type(v, json_type_array)) {
		fault_error_set(err, key, "must be a list");
		return -EINVAL;
	}
	size_t n = json_object_array_length(v);
	if (n == 0) {
		fault_error_set(err, key, "must not be empty (leave it out to mean any)");
		return -EINVAL;
	}
	if (n > max) {
		fault_error_set(err, key, "has %zu entries, at most %zu are allowed", n, max);
		return -EINVAL;
	}
	return 0;
}

static int parse_interfaces(struct json_object *v, struct packet_spec *spec, struct fault_error *err)
{
	int r = check_list(v, "interfaces", PACKET_MAX_INTERFACES, err);
	if (r < 0)
		return r;
	size_t n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++) {
		char key[40];
		snprintf(key, sizeof(key), "interfaces[%zu]", i);
		struct json_object *item = json_object_array_get_idx(v, i);
		const char *name = json_object_is_type(item, json_type_string) ? json_object_get_string(item) : NULL;
		if (!name || !*name || strlen(name) >= IF_NAMESIZE || strchr(name, '/') || strchr(name, ' ')) {
			fault_error_set(err, key, "must be an interface name (1-%d characters, no '/' or space)",
					IF_NAMESIZE - 1);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(spec->interfaces[j], name) == 0) {
				fault_error_set(err, key, "interface \"%s\" is listed twice", name);
				return -EINVAL;
			}
		}
		snprintf(spec->interfaces[i], IF_NAMESIZE, "%s", name);
	}
	spec->n_interfaces = (int)n;
	return 0;
}

static int parse_cidrs(struct json_object *v, const char *key, struct packet_cidr_list *out,
		       struct fault_error *err)
{
	int r = check_list(v, key, PACKET_MAX_CIDRS, err);
	if (r < 0)
		return r;
	size_t n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++) {
		char item_key[48];
		snprintf(item_key, sizeof(item_key), "%s[%zu]", key, i);
		struct json_object *item = json_object_array_get_idx(v, i);
		if (!json_object_is_type(item, json_type_string)) {
			fault_error_set(err, item_key, "must be an address or CIDR string such as \"10.0.0.0/8\"");
			return -EINVAL;
		}
		const char *text = json_object_get_string(item);
		if (cidr_parse(text, &out->items[i]) < 0) {
			fault_error_set(err, item_key,
					"\"%s\" is not an address or CIDR prefix without host bits (e.g. 10.0.0.0/8, fd00::/64)",
					text);
			return -EINVAL;
		}
	}
	out->n = (int)n;
	return 0;
}

static int parse_ports(struct json_object *v, const char *key, struct packet_port_list *out,
		       struct fault_error *err)
{
	int r = check_list(v, key, PACKET_MAX_PORT_RANGES, err);
	if (r < 0)
		return r;
	size_t n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++) {
		char item_key[48];
		snprintf(item_key, sizeof(item_key), "%s[%zu]", key, i);
		struct json_object *item = json_object_array_get_idx(v, i);
		char text[24];
		if (json_object_is_type(item, json_type_string))
			snprintf(text, sizeof(text), "%s", json_object_get_string(item));
		else if (json_object_is_type(item, json_type_int))
			snprintf(text, sizeof(text), "%lld", (long long)json_object_get_int64(item));
		else
			text[0] = '\0';
		if (port_range_parse(text, &out->items[i]) < 0) {
			fault_error_set(err, item_key,
					"must be a port \"N\" or a range \"N-M\" with 1 <= N <= M <= 65535");
			return -EINVAL;
		}
	}
	out->n = (int)n;
	return 0;
}

static int parse_match(struct json_object *match, struct packet_spec *spec, struct fault_error *err)
{
	if (!json_object_is_type(match, json_type_object)) {
		fault_error_set(err, "match", "must be an object");
		return -EINVAL;
	}
	int r = 0;
	json_object_object_foreach(match, key, v) {
		char full[64];
		snprintf(full, sizeof(full), "match.%s", key);
		if (strcmp(key, "protocol") == 0)
			r = parse_protocol(v, &spec->protocol, err);
		else if (strcmp(key, "src") == 0)
			r = parse_cidrs(v, full, &spec->src, err);
		else if (strcmp(key, "dst") == 0)
			r = parse_cidrs(v, full, &spec->dst, err);
		else if (strcmp(key, "peers") == 0)
			r = parse_cidrs(v, full, &spec->peers, err);
		else if (strcmp(key, "src_ports") == 0)
			r = parse_ports(v, full, &spec->src_ports, err);
		else if (strcmp(key, "dst_ports") == 0)
			r = parse_ports(v, full, &spec->dst_ports, err);
		else {
			fault_error_set(err, full, "unknown parameter (known: protocol, src, dst, peers, "
				       "src_ports, dst_ports)");
			r = -EINVAL;
		}
		if (r < 0)
			return r;
	}
	bool has_ports = spec->src_ports.n > 0 || spec->dst_ports.n > 0;
	if (has_ports && spec->protocol != PACKET_PROTO_TCP && spec->protocol != PACKET_PROTO_UDP) {
		fault_error_set(err, spec->src_ports.n > 0 ? "match.src_ports" : "match.dst_ports",
				"ports need match.protocol \"tcp\" or \"udp\"");
		return -EINVAL;
	}
	return 0;
}

void packet_match_defaults(struct packet_spec *spec)
{
	spec->direction = PACKET_DIR_BOTH;
	spec->protocol = PACKET_PROTO_ANY;
}

int packet_match_parse_key(const char *key, struct json_object *v, struct packet_spec *spec,
			   struct fault_error *err)
{
	int r;
	if (strcmp(key, "direction") == 0) {
		r = parse_direction(v, &spec->direction, err);
	} else if (strcmp(key, "interfaces") == 0) {
		r = parse_interfaces(v, spec, err);
	} else if (strcmp(key, "match") == 0) {
		r = parse_match(v, spec, err);
	} else if (strcmp(key, "scope") == 0) {
		r = scope_parse(v, &spec->scope, err);
	} else if (strcmp(key, "blackout") == 0) {
		if (!json_object_is_type(v, json_type_boolean)) {
			fault_error_set(err, "blackout", "must be true or false");
			r = -EINVAL;
		} else {
			spec->blackout = json_object_get_boolean(v);
			r = 0;
		}
	} else {
		return 0;
	}
	return r < 0 ? r : 1;
}

static int parse_corrupt_bytes(struct json_object *v, int *out, struct fault_error *err)
{
	int64_t n = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
	if (n < 1 || n > PACKET_CORRUPT_MAX_BYTES) {
		fault_error_set(err, "bytes", "must be an integer from 1 to %d", PACKET_CORRUPT_MAX_BYTES);
		return -EINVAL;
	}
	*out = (int)n;
	return 0;
}

/* 1 if `key` is a parameter of the action (and valid), 0 if not, -errno. */
static int parse_action_key(const char *key, struct json_object *v, struct packet_spec *spec,
			    struct fault_error *err)
{
	if (spec->action != PACKET_ACTION_CORRUPT)
		return 0;
	int r;
	if (strcmp(key, "bytes") == 0) {
		r = parse_corrupt_bytes(v, &spec->corrupt_bytes, err);
	} else if (strcmp(key, "fix_checksum") == 0) {
		if (!json_object_is_type(v, json_type_boolean)) {
			fault_error_set(err, "fix_checksum", "must be true or false");
			r = -EINVAL;
		} else {
			spec->fix_checksum = json_object_get_boolean(v);
			r = 0;
		}
	} else {
		return 0;
	}
	return r < 0 ? r : 1;
}

/* Every kind of the family: blackhole has no probability (it is 1), the others
 * require one; packet-corrupt adds its own keys. */
static int parse_kind(struct json_object *params, bool blackhole, enum packet_action action,
		      struct packet_spec **out, struct fault_error *err)
{
	void *allocated;
	int r = fault_spec_alloc(params, sizeof(struct packet_spec), &allocated, err);
	if (r < 0)
		return r;
	struct packet_spec *spec = allocated;
	spec->blackhole = blackhole;
	spec->probability = 1.0;
	spec->action = action;
	if (action != PACKET_ACTION_DROP)
		spec->corrupt_bytes = 1;
	packet_match_defaults(spec);

	bool have_probability = false;
	if (params) {
		json_object_object_foreach(params, key, v) {
			if (strcmp(key, "probability") == 0 && !blackhole) {
				r = packet_parse_probability(v, &spec->probability, err);
				have_probability = true;
			} else if (strcmp(key, "probability") == 0) {
				fault_error_set(err, "probability",
						"blackhole drops every matched packet; use packet-loss for a share");
				r = -EINVAL;
			} else if ((r = parse_action_key(key, v, spec, err)) == 0 &&
				   (r = packet_match_parse_key(key, v, spec, err)) == 0) {
				fault_error_set(err, key, "unknown parameter (known: %s%s" PACKET_MATCH_KEYS ")",
						blackhole ? "" : "probability, ",
						action == PACKET_ACTION_CORRUPT ? "bytes, fix_checksum, " : "");
				r = -EINVAL;
			}
			if (r < 0)
				break;
		}
	}
	if (r >= 0 && !blackhole && !have_probability) {
		fault_error_set(err, "probability", "is required (a number in (0, 1])");
		r = -EINVAL;
	}
	if (r < 0) {
		free(spec);
		return r;
	}
	*out = spec;
	return 0;
}

int packet_spec_parse(struct json_object *params, bool blackhole, struct packet_spec **out,
		      struct fault_error *err)
{
	return parse_kind(params, blackhole, PACKET_ACTION_DROP, out, err);
}

int packet_spec_parse_action(struct json_object *params, enum packet_action action, struct packet_spec **out,
			     struct fault_error *err)
{
	if (action != PACKET_ACTION_DUPLICATE && action != PACKET_ACTION_CORRUPT)
		return -EINVAL;
	return parse_kind(params, false, action, out, err);
}

static struct json_object *cidrs_to_json(const struct packet_cidr_list *list)
{
	struct json_object *arr = json_object_new_array();
	for (int i = 0; arr && i < list->n; i++) {
		char buf[64];
		json_object_array_add(arr, json_object_new_string(cidr_format(&list->items[i], buf, sizeof(buf))));
	}
	return arr;
}

static struct json_object *ports_to_json(const struct packet_port_list *list)
{
	struct json_object *arr = json_object_new_array();
	for (int i = 0; arr && i < list->n; i++) {
		char buf[16];
		const struct port_range *p = &list->items[i];
		if (p->first == p->last)
			snprintf(buf, sizeof(buf), "%u", p->first);
		else
			snprintf(buf, sizeof(buf), "%u-%u", p->first, p->last);
		json_object_array_add(arr, json_object_new_string(buf));
	}
	return arr;
}

void packet_match_to_json(const struct packet_spec *spec, struct json_object *o)
{
	json_object_object_add(o, "direction", json_object_new_string(packet_direction_name(spec->direction)));
	/* Leaving interfaces out keeps the default "every interface but lo" (not a fixed list). */
	if (spec->n_interfaces > 0) {
		struct json_object *ifs = json_object_new_array();
		for (int i = 0; ifs && i < spec->n_interfaces; i++)
			json_object_array_add(ifs, json_object_new_string(spec->interfaces[i]));
		json_object_object_add(o, "interfaces", ifs);
	}
	struct json_object *match = json_object_new_object();
	json_object_object_add(match, "protocol", json_object_new_string(packet_protocol_name(spec->protocol)));
	if (spec->src.n)
		json_object_object_add(match, "src", cidrs_to_json(&spec->src));
	if (spec->dst.n)
		json_object_object_add(match, "dst", cidrs_to_json(&spec->dst));
	if (spec->peers.n)
		json_object_object_add(match, "peers", cidrs_to_json(&spec->peers));
	if (spec->src_ports.n)
		json_object_object_add(match, "src_ports", ports_to_json(&spec->src_ports));
	if (spec->dst_ports.n)
		json_object_object_add(match, "dst_ports", ports_to_json(&spec->dst_ports));
	json_object_object_add(o, "match", match);
	json_object_object_add(o, "blackout", json_object_new_boolean(spec->blackout));
	if (!packet_scope_is_host(&spec->scope))
		json_object_object_add(o, "scope", scope_to_json(&spec->scope));
}

struct json_object *packet_spec_to_json(const struct packet_spec *spec)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	if (!spec->blackhole)
		json_object_object_add(o, "probability", json_object_new_double(spec->probability));
	if (spec->action == PACKET_ACTION_CORRUPT) {
		json_object_object_add(o, "bytes", json_object_new_int(spec->corrupt_bytes));
		json_object_object_add(o, "fix_checksum", json_object_new_boolean(spec->fix_checksum));
	}
	packet_match_to_json(spec, o);
	return o;
}
