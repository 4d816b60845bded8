/* Test driver for the netem / tbf backend (faults/qdisc_shape.c): calls its API
 * directly inside a network namespace, with the spec given as options (the
 * shaping kinds' parser lives in faults/shape.c).
 *
 *   qdisc-driver --netns NS --apply --kind delay|reorder|bandwidth
 *                [--latency-us N] [--jitter-us N] [--normal] [--correlation X] [--reorder X]
 *                [--rate-bps N] [--burst N] [--queue N] [--direction egress|ingress|both]
 *                [--interface DEV]... [--match-tcp] [--fault-id ID] [--record FILE] [--timeout SEC]
 *       applies, writes the record to FILE, prints "applied", waits for SIGTERM or
 *       the timeout, prints "stats {...}", reverts. A failed apply prints "error KEY: MSG"
 *       and exits 2.
 *   qdisc-driver --netns NS --recover FILE     qdisc_shape_recover(record)
 *   qdisc-driver --netns NS --sweep            qdisc_shape_sweep()
 *   qdisc-driver --netns NS --probe --kind K [--direction D] [--match-tcp]
 *       prints "ok" or "unsupported: REASON" (exit 3)
 */
#include "common/log.h"
#include "driver-netns.h"
#include "faults/packet.h"
#include "faults/qdisc_shape.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

struct option_word {
	const char *word;
	int value;
};

static const struct option_word kind_words[] = {
	{ "delay", SHAPE_DELAY }, { "reorder", SHAPE_REORDER }, { "bandwidth", SHAPE_BANDWIDTH }, { NULL, 0 },
};
static const struct option_word direction_words[] = {
	{ "egress", PACKET_DIR_EGRESS }, { "ingress", PACKET_DIR_INGRESS }, { "both", PACKET_DIR_BOTH }, { NULL, 0 },
};

/* The value of WORD in TABLE (ended by a NULL word), or -EINVAL. */
static int lookup_word(const struct option_word *table, const char *word)
{
	for (; table->word; table++)
		if (strcmp(table->word, word) == 0)
			return table->value;
	return -EINVAL;
}

static int write_record(const char *path, struct json_object *record)
{
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%s\n", json_object_to_json_string_ext(record, JSON_C_TO_STRING_PLAIN));
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	return rename(tmp, path) < 0 ? -errno : 0;
}

static int do_apply(const struct shape_spec *spec, const char *fault_id, const char *record_path, int timeout)
{
	struct fault_env env = { .fault_id = fault_id, .state_dir = "/tmp" };
	struct json_object *record = json_object_new_object();
	struct fault_error err = { 0 };
	struct qdisc_shape *q = NULL;
	int r = qdisc_shape_apply(spec, &env, &q, record, &err);
	if (r < 0) {
		printf("error %s: %s\n", err.key, err.msg);
		json_object_put(record);
		return 2;
	}
	if (record_path && write_record(record_path, record) < 0) {
		fprintf(stderr, "cannot write %s\n", record_path);
		qdisc_shape_revert(q);
		json_object_put(record);
		return 1;
	}
	printf("applied %s\n", json_object_to_json_string_ext(record, JSON_C_TO_STRING_PLAIN));
	fflush(stdout);
	json_object_put(record);
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!stop) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= timeout)
			break;
		usleep(50 * 1000);
	}
	struct json_object *stats = json_object_new_object();
	if (qdisc_shape_stats(q, stats) == 0)
		printf("stats %s\n", json_object_to_json_string_ext(stats, JSON_C_TO_STRING_PLAIN));
	json_object_put(stats);
	r = qdisc_shape_revert(q);
	printf("reverted %d\n", r);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *netns = NULL, *record_path = NULL, *recover_path = NULL, *fault_id = "qdisc-driver";
	bool apply = false, sweep = false, probe = false;
	int timeout = 60;
	struct shape_spec spec = { .kind = SHAPE_DELAY, .distribution = SHAPE_DIST_UNIFORM };
	packet_match_defaults(&spec.match);
	enum { O_NETNS = 1, O_APPLY, O_RECOVER, O_SWEEP, O_PROBE, O_KIND, O_LAT, O_JIT, O_NORMAL, O_CORR,
	       O_REORDER, O_RATE, O_BURST, O_QUEUE, O_DIR, O_IF, O_TCP, O_ID, O_RECORD, O_TIMEOUT };
	static const struct option opts[] = {
		{ "netns", required_argument, NULL, O_NETNS },
		{ "apply", no_argument, NULL, O_APPLY },
		{ "recover", required_argument, NULL, O_RECOVER },
		{ "sweep", no_argument, NULL, O_SWEEP },
		{ "probe", no_argument, NULL, O_PROBE },
		{ "kind", required_argument, NULL, O_KIND },
		{ "latency-us", required_argument, NULL, O_LAT },
		{ "jitter-us", required_argument, NULL, O_JIT },
		{ "normal", no_argument, NULL, O_NORMAL },
		{ "correlation", required_argument, NULL, O_CORR },
		{ "reorder", required_argument, NULL, O_REORDER },
		{ "rate-bps", required_argument, NULL, O_RATE },
		{ "burst", required_argument, NULL, O_BURST },
		{ "queue", required_argument, NULL, O_QUEUE },
		{ "direction", required_argument, NULL, O_DIR },
		{ "interface", required_argument, NULL, O_IF },
		{ "match-tcp", no_argument, NULL, O_TCP },
		{ "fault-id", required_argument, NULL, O_ID },
		{ "record", required_argument, NULL, O_RECORD },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ 0 },
	};
	int c, word;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_NETNS: netns = optarg; break;
		case O_APPLY: apply = true; break;
		case O_RECOVER: recover_path = optarg; break;
		case O_SWEEP: sweep = true; break;
		case O_PROBE: probe = true; break;
		case O_KIND:
			word = lookup_word(kind_words, optarg);
			if (word < 0) {
				fprintf(stderr, "unknown kind %s\n", optarg);
				return 64;
			}
			spec.kind = (enum shape_kind)word;
			break;
		case O_LAT: spec.latency_us = strtoull(optarg, NULL, 10); break;
		case O_JIT: spec.jitter_us = strtoull(optarg, NULL, 10); break;
		case O_NORMAL: spec.distribution = SHAPE_DIST_NORMAL; break;
		case O_CORR: spec.correlation = strtod(optarg, NULL); break;
		case O_REORDER: spec.reorder_share = strtod(optarg, NULL); break;
		case O_RATE: spec.rate_bps = strtoull(optarg, NULL, 10); break;
		case O_BURST: spec.burst_bytes = (uint32_t)strtoul(optarg, NULL, 10); break;
		case O_QUEUE: spec.queue_bytes = (uint32_t)strtoul(optarg, NULL, 10); break;
		case O_DIR:
			word = lookup_word(direction_words, optarg);
			if (word < 0) {
				fprintf(stderr, "unknown direction %s\n", optarg);
				return 64;
			}
			spec.match.direction = (enum packet_direction)word;
			break;
		case O_IF:
			if (spec.match.n_interfaces < PACKET_MAX_INTERFACES)
				snprintf(spec.match.interfaces[spec.match.n_interfaces++], IF_NAMESIZE, "%s", optarg);
			break;
		case O_TCP: spec.match.protocol = PACKET_PROTO_TCP; break;
		case O_ID: fault_id = optarg; break;
		case O_RECORD: record_path = optarg; break;
		case O_TIMEOUT: timeout = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: see the comment at the top of qdisc-driver.c\n");
			return 64;
		}
	}
	if (!netns || driver_enter_netns(netns) < 0)
		return 64;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	if (probe) {
		char reason[256] = "";
		int r = qdisc_shape_probe(&spec, reason, sizeof(reason));
		if (r < 0) {
			printf("unsupported: %s\n", reason);
			return 3;
		}
		printf("ok\n");
		return 0;
	}
	if (recover_path) {
		struct json_object *record = json_object_from_file(recover_path);
		if (!record) {
			fprintf(stderr, "cannot read %s\n", recover_path);
			return 1;
		}
		int r = qdisc_shape_recover(record);
		json_object_put(record);
		printf("recovered %d\n", r);
		return r < 0 ? 1 : 0;
	}
	if (sweep) {
		int r = qdisc_shape_sweep();
		printf("swept %d\n", r);
		return r < 0 ? 1 : 0;
	}
	if (apply)
		return do_apply(&spec, fault_id, record_path, timeout);
	fprintf(stderr, "nothing to do (--apply, --recover, --sweep or --probe)\n");
	return 64;
}
