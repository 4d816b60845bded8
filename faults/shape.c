/* The shape family: kinds "delay", "reorder" and "bandwidth" (docs/faults.md
 * "delay, reorder, bandwidth"), each on one of two backends chosen at run
 * time: netem/tbf qdiscs (faults/qdisc_shape.c) or the delay line
 * (faults/delayline.c). */
#include "faults/shape.h"

#include "common/duration.h"
#include "faults/delayline.h"
#include "faults/qdisc_shape.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_QUEUE_BYTES 64000u
#define MIN_BURST_BYTES 3028u   /* two full Ethernet frames */
#define MAX_DELAY_US (3600ull * 1000000ull)

const char *shape_backend_name(enum shape_backend b)
{
	return b == SHAPE_BACKEND_NETEM ? "netem" : "delay-line";
}

/* ---- parameters ------------------------------------------------------------ */

static bool is_number(struct json_object *o)
{
	return json_object_is_type(o, json_type_double) || json_object_is_type(o, json_type_int);
}

/* A duration as common/duration.h reads it ("50ms", "1s"), or whole microseconds ("250us"). */
static int parse_duration_us(struct json_object *v, const char *key, uint64_t *out, struct fault_error *err)
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (duration_parse_us(s, MAX_DELAY_US, out) < 0) {
		fault_error_set(err, key, "must be a duration such as \"50ms\", \"1s\" or \"250us\", at most 1h");
		return -EINVAL;
	}
	return 0;
}

/* "number unit" with the unit from `units` (exactly as written there: "kb" is
 * neither kbit nor kB); the number may have a fraction. */
struct unit { const char *name; double factor; };

static int parse_quantity(const char *s, const struct unit *units, double *out)
{
	if (!s || !(isdigit((unsigned char)s[0]) || s[0] == '.'))
		return -EINVAL;
	char *end;
	errno = 0;
	double x = strtod(s, &end);
	if (errno || end == s || !isfinite(x))
		return -EINVAL;
	for (const struct unit *u = units; u->name; u++) {
		if (strcmp(end, u->name) == 0) {
			*out = x * u->factor;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_rate(struct json_object *v, uint64_t *out, struct fault_error *err)
{
	static const struct unit units[] = {
		{ "bit", 1 }, { "kbit", 1e3 }, { "mbit", 1e6 }, { "gbit", 1e9 },
		{ "Kbit", 1e3 }, { "Mbit", 1e6 }, { "Gbit", 1e9 }, { NULL, 0 },
	};
	double bps;
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (parse_quantity(s, units, &bps) < 0 || bps < 8000 || bps > 100e9) {
		fault_error_set(err, "rate", "must be a rate from \"8kbit\" to \"100gbit\" written with a unit: "
			       "bit, kbit, mbit or gbit (e.g. \"8mbit\")");
		return -EINVAL;
	}
	*out = (uint64_t)llround(bps);
	return 0;
}

static int parse_size(struct json_object *v, const char *key, uint32_t *out, struct fault_error *err)
{
	static const struct unit units[] = {
		{ "B", 1 }, { "kB", 1e3 }, { "KiB", 1024 }, { "MB", 1e6 }, { "MiB", 1048576 }, { NULL, 0 },
	};
	double bytes;
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (parse_quantity(s, units, &bytes) < 0 || bytes < 1500 || bytes > 1073741824.0) {
		fault_error_set(err, key, "must be a size from \"1500B\" to \"1GiB\" with a unit: B, kB, KiB, MB or MiB "
			       "(e.g. \"64kB\")");
		return -EINVAL;
	}
	*out = (uint32_t)bytes;
	return 0;
}

static int parse_fraction(struct json_object *v, const char *key, bool zero_ok, bool one_ok, double *out,
			  struct fault_error *err)
{
	double x = is_number(v) ? json_object_get_double(v) : NAN;
	bool ok = is_number(v) && (zero_ok ? x >= 0 : x > 0) && (one_ok ? x <= 1 : x < 1);
	if (!ok) {
		fault_error_set(err, key, "must be a number in %c0, 1%c", zero_ok ? '[' : '(', one_ok ? ']' : ')');
		return -EINVAL;
	}
	*out = x;
	return 0;
}

static int parse_backend(struct json_object *v, const char **out, struct fault_error *err)
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
	if (strcmp(s, "auto") == 0)
		*out = NULL;
	else if (strcmp(s, "netem") == 0)
		*out = "netem";
	else if (strcmp(s, "delay-line") == 0)
		*out = "delay-line";
	else {
		fault_error_set(err, "backend", "must be \"auto\", \"netem\" or \"delay-line\"");
		return -EINVAL;
	}
	return 0;
}

static const char *known_keys(enum shape_kind k)
{
	switch (k) {
	case SHAPE_DELAY: return "latency, jitter, distribution, correlation, reorder, backend, " PACKET_MATCH_KEYS;
	case SHAPE_REORDER: return "share, gap, backend, " PACKET_MATCH_KEYS;
	default: return "rate, burst, queue, backend, " PACKET_MATCH_KEYS;
	}
}

/* One key of `kind`'s own parameters: 1 if it was one (and valid), 0 if not, -EINVAL. */
static int parse_own_key(struct shape_spec *s, const char *key, struct json_object *v, struct fault_error *err,
			 bool *required_seen)
{
	int r;
	if (strcmp(key, "backend") == 0)
		return parse_backend(v, &s->backend_preference, err) < 0 ? -EINVAL : 1;
	switch (s->kind) {
	case SHAPE_DELAY:
		if (strcmp(key, "latency") == 0) {
			*required_seen = true;
			r = parse_duration_us(v, key, &s->latency_us, err);
		} else if (strcmp(key, "jitter") == 0) {
			r = parse_duration_us(v, key, &s->jitter_us, err);
		} else if (strcmp(key, "distribution") == 0) {
			const char *d = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
			r = 0;
			if (strcmp(d, "uniform") == 0)
				s->distribution = SHAPE_DIST_UNIFORM;
			else if (strcmp(d, "normal") == 0)
				s->distribution = SHAPE_DIST_NORMAL;
			else {
				fault_error_set(err, key, "must be \"uniform\" or \"normal\"");
				r = -EINVAL;
			}
		} else if (strcmp(key, "correlation") == 0) {
			r = parse_fraction(v, key, true, false, &s->correlation, err);
		} else if (strcmp(key, "reorder") == 0) {
			r = parse_fraction(v, key, true, true, &s->reorder_share, err);
		} else {
			return 0;
		}
		break;
	case SHAPE_REORDER:
		if (strcmp(key, "share") == 0) {
			*required_seen = true;
			r = parse_fraction(v, key, false, true, &s->reorder_share, err);
		} else if (strcmp(key, "gap") == 0) {
			r = parse_duration_us(v, key, &s->latency_us, err);
			if (r == 0 && s->latency_us == 0) {
				fault_error_set(err, key, "must be more than 0 (the time the other packets are held)");
				r = -EINVAL;
			}
		} else {
			return 0;
		}
		break;
	default:
		if (strcmp(key, "rate") == 0) {
			*required_seen = true;
			r = parse_rate(v, &s->rate_bps, err);
		} else if (strcmp(key, "burst") == 0) {
			r = parse_size(v, key, &s->burst_bytes, err);
		} else if (strcmp(key, "queue") == 0) {
			r = parse_size(v, key, &s->queue_bytes, err);
		} else {
			return 0;
		}
		break;
	}
	return r < 0 ? r : 1;
}

static int shape_parse(enum shape_kind kind, struct json_object *params, void **out, struct fault_error *err)
{
	void *allocated;
	int r = fault_spec_alloc(params, sizeof(struct shape_spec), &allocated, err);
	if (r < 0)
		return r;
	struct shape_spec *s = allocated;
	s->kind = kind;
	s->distribution = SHAPE_DIST_UNIFORM;
	s->match.probability = 1.0;
	packet_match_defaults(&s->match);
	if (kind == SHAPE_REORDER)
		s->latency_us = 10000;
	bool required_seen = false;
	if (params) {
		json_object_object_foreach(params, key, v) {
			r = parse_own_key(s, key, v, err, &required_seen);
			if (r == 0 && (r = packet_match_parse_key(key, v, &s->match, err)) == 0) {
				fault_error_set(err, key, "unknown parameter (known: %s)", known_keys(kind));
				r = -EINVAL;
			}
			if (r < 0)
				break;
		}
	}
	if (r >= 0 && !required_seen) {
		static const char *const what[] = {
			[SHAPE_DELAY] = "latency", [SHAPE_REORDER] = "share", [SHAPE_BANDWIDTH] = "rate",
		};
		static const char *const example[] = {
			[SHAPE_DELAY] = "a duration such as \"50ms\"", [SHAPE_REORDER] = "a number in (0, 1]",
			[SHAPE_BANDWIDTH] = "a rate such as \"8mbit\"",
		};
		fault_error_set(err, what[kind], "is required (%s)", example[kind]);
		r = -EINVAL;
	}
	if (r >= 0 && kind == SHAPE_DELAY && s->distribution == SHAPE_DIST_UNIFORM && s->jitter_us > s->latency_us) {
		fault_error_set(err, "jitter", "must not exceed latency with the uniform distribution (latency - jitter "
			       "is the shortest delay)");
		r = -EINVAL;
	}
	if (r >= 0 && kind == SHAPE_BANDWIDTH) {
		uint64_t per_10ms = s->rate_bps / 800;
		if (s->burst_bytes == 0)
			s->burst_bytes = per_10ms > MIN_BURST_BYTES ? (uint32_t)(per_10ms > UINT32_MAX ? UINT32_MAX : per_10ms)
								     : MIN_BURST_BYTES;
		uint64_t per_50ms = s->rate_bps / 160;
		if (s->queue_bytes == 0)
			s->queue_bytes = per_50ms > DEFAULT_QUEUE_BYTES ? (uint32_t)(per_50ms > UINT32_MAX ? UINT32_MAX : per_50ms)
								       : DEFAULT_QUEUE_BYTES;
	}
	if (r < 0) {
		free(s);
		return r;
	}
	*out = s;
	return 0;
}

static int delay_parse(struct json_object *p, void **spec, struct fault_error *err)
{
	return shape_parse(SHAPE_DELAY, p, spec, err);
}
static int reorder_parse(struct json_object *p, void **spec, struct fault_error *err)
{
	return shape_parse(SHAPE_REORDER, p, spec, err);
}
static int bandwidth_parse(struct json_object *p, void **spec, struct fault_error *err)
{
	return shape_parse(SHAPE_BANDWIDTH, p, spec, err);
}

static void shape_spec_free(void *spec)
{
	free(spec);
}

static struct json_object *duration_json(uint64_t us)
{
	char buf[48];
	if (us % 1000)
		snprintf(buf, sizeof(buf), "%lluus", (unsigned long long)us);
	else
		duration_format(us / 1000, buf, sizeof(buf));
	return json_object_new_string(buf);
}

static struct json_object *shape_spec_json(const void *spec_v)
{
	const struct shape_spec *s = spec_v;
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	char buf[48];
	switch (s->kind) {
	case SHAPE_DELAY:
		json_object_object_add(o, "latency", duration_json(s->latency_us));
		json_object_object_add(o, "jitter", duration_json(s->jitter_us));
		json_object_object_add(o, "distribution",
				       json_object_new_string(s->distribution == SHAPE_DIST_NORMAL ? "normal" : "uniform"));
		json_object_object_add(o, "correlation", json_object_new_double(s->correlation));
		json_object_object_add(o, "reorder", json_object_new_double(s->reorder_share));
		break;
	case SHAPE_REORDER:
		json_object_object_add(o, "share", json_object_new_double(s->reorder_share));
		json_object_object_add(o, "gap", duration_json(s->latency_us));
		break;
	default:
		snprintf(buf, sizeof(buf), "%llubit", (unsigned long long)s->rate_bps);
		json_object_object_add(o, "rate", json_object_new_string(buf));
		snprintf(buf, sizeof(buf), "%uB", s->burst_bytes);
		json_object_object_add(o, "burst", json_object_new_string(buf));
		snprintf(buf, sizeof(buf), "%uB", s->queue_bytes);
		json_object_object_add(o, "queue", json_object_new_string(buf));
		break;
	}
	json_object_object_add(o, "backend", json_object_new_string(s->backend_preference ? s->backend_preference : "auto"));
	packet_match_to_json(&s->match, o);
	return o;
}

/* ---- backend choice ---------------------------------------------------------- */

struct backend_report {
	int netem, delay_line;              /* 0 or -errno */
	char netem_reason[256], delay_line_reason[256];
};

static void probe_backends(const struct shape_spec *spec, struct backend_report *rep)
{
	rep->netem = qdisc_shape_probe(spec, rep->netem_reason, sizeof(rep->netem_reason));
	rep->delay_line = delayline_probe(rep->delay_line_reason, sizeof(rep->delay_line_reason));
}

/* params `backend` > agent config shape_backend > auto (netem where it can). */
static int choose_backend(const struct shape_spec *spec, const struct fault_env *env, enum shape_backend *out,
			  struct fault_error *err)
{
	const char *pref = spec->backend_preference;
	if (!pref && env && env->shape_backend && strcmp(env->shape_backend, "auto") != 0)
		pref = env->shape_backend;
	bool want_netem = pref && strcmp(pref, "netem") == 0;
	bool want_line = pref && strcmp(pref, "delay-line") == 0;
	/* Only what the choice needs: the netem probe forks into a scratch
	 * namespace the first time (~100 ms). */
	struct backend_report rep = { .netem = -ENOTSUP, .delay_line = -ENOTSUP };
	if (!want_line)
		rep.netem = qdisc_shape_probe(spec, rep.netem_reason, sizeof(rep.netem_reason));
	if (!want_netem && (want_line || rep.netem < 0))
		rep.delay_line = delayline_probe(rep.delay_line_reason, sizeof(rep.delay_line_reason));
	if (want_netem) {
		if (rep.netem < 0) {
			fault_error_set(err, spec->backend_preference ? "backend" : "", "backend netem cannot do this here: %s",
					rep.netem_reason);
			return rep.netem;
		}
		*out = SHAPE_BACKEND_NETEM;
	} else if (want_line) {
		if (rep.delay_line < 0) {
			fault_error_set(err, spec->backend_preference ? "backend" : "",
					"backend delay-line cannot work here: %s", rep.delay_line_reason);
			return rep.delay_line;
		}
		*out = SHAPE_BACKEND_DELAY_LINE;
	} else if (rep.netem == 0) {
		*out = SHAPE_BACKEND_NETEM;
	} else if (rep.delay_line == 0) {
		*out = SHAPE_BACKEND_DELAY_LINE;
	} else {
		fault_error_set(err, "", "no shaping backend works here: netem: %s; delay-line: %s", rep.netem_reason,
				rep.delay_line_reason);
		return rep.delay_line;
	}
	return 0;
}

/* What a plain fault of `kind` would get on this host: whole interfaces. */
static void shape_describe(enum shape_kind kind, const struct fault_env *env, struct json_object *out)
{
	struct shape_spec spec = { .kind = kind, .distribution = SHAPE_DIST_UNIFORM };
	if (kind == SHAPE_DELAY)
		spec.latency_us = 50000;
	else if (kind == SHAPE_REORDER)
		spec = (struct shape_spec){ .kind = kind, .latency_us = 10000, .reorder_share = 0.25 };
	else
		spec = (struct shape_spec){ .kind = kind, .rate_bps = 8000000, .burst_bytes = 10000, .queue_bytes = 64000 };
	packet_match_defaults(&spec.match);
	struct backend_report rep;
	probe_backends(&spec, &rep);
	enum shape_backend chosen;
	struct fault_error err = { .key = "", .msg = "" };
	if (choose_backend(&spec, env, &chosen, &err) == 0)
		json_object_object_add(out, "backend", json_object_new_string(shape_backend_name(chosen)));
	else
		json_object_object_add(out, "backend", json_object_new_string("none"));
	struct json_object *b = json_object_new_object();
	json_object_object_add(b, "netem", json_object_new_string(rep.netem == 0 ? "ok" : rep.netem_reason));
	json_object_object_add(b, "delay-line",
			       json_object_new_string(rep.delay_line == 0 ? "ok" : rep.delay_line_reason));
	json_object_object_add(out, "backends", b);
}

static void delay_describe(const struct fault_env *env, struct json_object *out)
{
	shape_describe(SHAPE_DELAY, env, out);
}
static void reorder_describe(const struct fault_env *env, struct json_object *out)
{
	shape_describe(SHAPE_REORDER, env, out);
}
static void bandwidth_describe(const struct fault_env *env, struct json_object *out)
{
	shape_describe(SHAPE_BANDWIDTH, env, out);
}

static int shape_probe(char *reason, size_t len)
{
	struct shape_spec spec = { .kind = SHAPE_DELAY, .latency_us = 50000, .distribution = SHAPE_DIST_UNIFORM };
	packet_match_defaults(&spec.match);
	struct backend_report rep;
	probe_backends(&spec, &rep);
	if (rep.netem == 0 || rep.delay_line == 0)
		return 0;
	snprintf(reason, len, "netem: %s; delay-line: %s", rep.netem_reason, rep.delay_line_reason);
	return rep.delay_line;
}

/* ---- life cycle ------------------------------------------------------------- */

struct shape_handle {
	enum shape_backend backend;
	struct qdisc_shape *qdisc;
	struct delayline *line;
};

static int shape_apply(const void *spec_v, const struct fault_env *env, void **handle_out,
		       struct json_object *record, struct fault_error *err)
{
	const struct shape_spec *spec = spec_v;
	enum shape_backend backend;
	int r = choose_backend(spec, env, &backend, err);
	if (r < 0)
		return r;
	struct shape_handle *h = calloc(1, sizeof(*h));
	if (!h) {
		fault_error_set(err, "", "out of memory");
		return -ENOMEM;
	}
	h->backend = backend;
	if (record)
		json_object_object_add(record, "backend", json_object_new_string(shape_backend_name(backend)));
	if (backend == SHAPE_BACKEND_NETEM) {
		struct json_object *sub = json_object_new_object();
		if (record)
			json_object_object_add(record, "netem", json_object_get(sub));
		r = qdisc_shape_apply(spec, env, &h->qdisc, sub, err);
		json_object_put(sub);
	} else {
		r = delayline_create(spec, env, &h->line, record, err);
	}
	if (r < 0) {
		free(h);
		return r;
	}
	*handle_out = h;
	return 0;
}

static int shape_revert(void *handle)
{
	struct shape_handle *h = handle;
	if (!h)
		return 0;
	int r = h->backend == SHAPE_BACKEND_NETEM ? qdisc_shape_revert(h->qdisc) : delayline_destroy(h->line);
	free(h);
	return r;
}

static int shape_stats(void *handle, struct json_object *out)
{
	struct shape_handle *h = handle;
	if (h->backend == SHAPE_BACKEND_DELAY_LINE)
		return delayline_stats(h->line, out);
	int r = qdisc_shape_stats(h->qdisc, out);
	/* qdisc_shape_stats names the qdisc ("netem" or "tbf") as "backend": kept
	 * as "qdisc", "backend" is the family's backend like in /v1/info. */
	struct json_object *q;
	if (json_object_object_get_ex(out, "backend", &q))
		json_object_object_add(out, "qdisc", json_object_get(q));
	json_object_object_add(out, "backend", json_object_new_string("netem"));
	return r;
}

static int shape_recover(struct json_object *record, const struct fault_env *env)
{
	(void)env;
	struct json_object *sub;
	int r = 0;
	if (record && json_object_object_get_ex(record, "netem", &sub))
		r = qdisc_shape_recover(sub);
	int d = delayline_recover(record);
	return r < 0 ? r : d;
}

static int shape_sweep(const struct fault_env *env)
{
	(void)env;
	/* TAPs and tcx links die with their process; clsact filters are the packet
	 * family's to sweep (one handle range); qdiscs and IFBs are ours. */
	int r = qdisc_shape_sweep();
	return r < 0 ? r : 0;
}

#define SHAPE_KIND(sym, kname, sum, parse_fn, describe_fn)                     \
	const struct fault_kind sym = {                                         \
		.name = kname,                                                  \
		.family = "shape",                                              \
		.summary = sum,                                                 \
		.probe = shape_probe,                                           \
		.parse = parse_fn,                                              \
		.spec_free = shape_spec_free,                                   \
		.spec_to_json = shape_spec_json,                                \
		.apply = shape_apply,                                           \
		.revert = shape_revert,                                         \
		.stats = shape_stats,                                           \
		.recover = shape_recover,                                       \
		.describe = describe_fn,                                        \
	}

SHAPE_KIND(delay_kind, "delay", "delay matched packets (latency, jitter, correlation; netem or the eBPF delay line)",
	   delay_parse, delay_describe);
SHAPE_KIND(reorder_kind, "reorder", "send a share of matched packets ahead of the others (netem or the delay line)",
	   reorder_parse, reorder_describe);
SHAPE_KIND(bandwidth_kind, "bandwidth", "limit the rate of matched packets (tbf or the delay line)", bandwidth_parse,
	   bandwidth_describe);

const struct fault_family shape_family = {
	.name = "shape",
	.sweep = shape_sweep,
};
