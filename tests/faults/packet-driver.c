/* Test driver for the packet family and the kinds built on it (host-outage):
 * calls the kind API directly inside a network namespace, the way chaos-agent would.
 *
 *   packet-driver --netns NS [--kind packet-loss|blackhole|host-outage] [--params JSON]
 *                 [--backend auto|tcx|clsact] [--control-port N]... [--timeout SEC]
 *                 [--record FILE] [--copies N] [--state-dir DIR]
 *       applies, writes the journal record to FILE, prints "applied", waits for
 *       SIGTERM/SIGINT or the timeout, prints "stats {...}", reverts.
 *   packet-driver --netns NS --recover FILE   recover(record) then every family's sweep
 *   packet-driver --netns NS --sweep
 * --state-dir (default /tmp) is the agent's state_dir: host-outage keeps the list
 * of processes it froze there until revert.
 *   packet-driver --netns NS --probe [--backend B]   prints the chosen backend or why none
 *   packet-driver --netns NS --tcx-state      tcx programs attached per interface
 */
#include "common/log.h"
#include "driver-netns.h"
#include "faults/packet.h"
#include "faults/registry.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <net/if.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static double elapsed_ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* tcx attachments per interface: neither tc nor this bpftool shows them. */
static int print_tcx_state(void)
{
	struct if_nameindex *ifs = if_nameindex();
	if (!ifs)
		return 1;
	for (struct if_nameindex *i = ifs; i->if_index; i++) {
		printf("%s", i->if_name);
		for (int egress = 0; egress < 2; egress++) {
			__u32 ids[16], count = 16, flags = 0;
			enum bpf_attach_type type = egress ? PACKET_BPF_TCX_EGRESS : PACKET_BPF_TCX_INGRESS;
			if (bpf_prog_query((int)i->if_index, type, 0, &flags, ids, &count) < 0)
				count = 0;
			printf(" tcx-%s %u", egress ? "egress" : "ingress", count);
		}
		printf("\n");
	}
	if_freenameindex(ifs);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: packet-driver --netns NS [--kind K] [--params JSON] [--backend B] "
			"[--control-port N]... [--timeout SEC] [--record FILE] [--state-dir DIR] | --recover FILE | --sweep | --probe\n");
}

int main(int argc, char **argv)
{
	const char *netns = NULL, *kind_name = "packet-loss", *params_text = "{}", *backend = "auto";
	const char *record_path = NULL, *recover_path = NULL;
	bool do_sweep = false, do_probe = false, do_tcx_state = false;
	double timeout_s = 30;
	int copies = 1; /* the same fault applied several times, as independent faults */
	struct fault_env env = { .fault_id = "f-0000000001", .state_dir = "/tmp", .packet_backend = "auto" };

	static const struct option opts[] = {
		{ "netns", required_argument, NULL, 'n' },
		{ "kind", required_argument, NULL, 'k' },
		{ "params", required_argument, NULL, 'p' },
		{ "backend", required_argument, NULL, 'b' },
		{ "control-port", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "record", required_argument, NULL, 'r' },
		{ "recover", required_argument, NULL, 'R' },
		{ "sweep", no_argument, NULL, 'S' },
		{ "probe", no_argument, NULL, 'P' },
		{ "debug", no_argument, NULL, 'd' },
		{ "copies", required_argument, NULL, 'C' },
		{ "tcx-state", no_argument, NULL, 'T' },
		{ "state-dir", required_argument, NULL, 's' },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': netns = optarg; break;
		case 'k': kind_name = optarg; break;
		case 'p': params_text = optarg; break;
		case 'b': backend = optarg; break;
		case 'c':
			if (env.n_control_ports < FAULT_MAX_CONTROL_PORTS)
				env.control_ports[env.n_control_ports++] = (uint16_t)atoi(optarg);
			break;
		case 't': timeout_s = atof(optarg); break;
		case 'r': record_path = optarg; break;
		case 'R': recover_path = optarg; break;
		case 'S': do_sweep = true; break;
		case 'P': do_probe = true; break;
		case 'd': log_set_level(LOG_LVL_DEBUG); break;
		case 'C': copies = atoi(optarg); break;
		case 'T': do_tcx_state = true; break;
		case 's': env.state_dir = optarg; break;
		default: usage(); return 2;
		}
	}
	env.packet_backend = backend;
	log_route_libbpf();
	if (!netns) {
		/* Refuse to touch the namespace we were started in: tests always name one. */
		usage();
		return 2;
	}
	if (driver_enter_netns(netns) < 0)
		return 1;

	if (do_tcx_state)
		return print_tcx_state();

	const struct fault_kind *kind = fault_kind_find(kind_name);
	if (!kind) {
		fprintf(stderr, "unknown kind %s\n", kind_name);
		return 2;
	}
	if (do_probe) {
		char reason[256];
		enum packet_backend b;
		int r = packet_backend_choose(backend, &b, reason, sizeof(reason));
		if (r < 0) {
			printf("unsupported: %s\n", reason);
			return 1;
		}
		printf("backend %s\n", packet_backend_name(b));
		return 0;
	}
	if (recover_path || do_sweep) {
		int r = 0;
		if (recover_path) {
			struct json_object *record = json_object_from_file(recover_path);
			if (!record) {
				fprintf(stderr, "cannot read %s\n", recover_path);
				return 1;
			}
			r = kind->recover(record, &env);
			json_object_put(record);
			if (r < 0)
				fprintf(stderr, "recover: %s\n", strerror(-r));
		}
		int s = 0;
		for (const struct fault_family *const *fam = fault_families(); *fam; fam++) {
			int fr = (*fam)->sweep(&env);
			if (fr < 0) {
				fprintf(stderr, "sweep %s: %s\n", (*fam)->name, strerror(-fr));
				s = fr;
			}
		}
		printf("recovered\n");
		return r < 0 || s < 0 ? 1 : 0;
	}

	struct json_object *params = json_tokener_parse(params_text);
	if (!params) {
		fprintf(stderr, "--params is not JSON\n");
		return 2;
	}
	struct fault_error err = { 0 };
	void *spec = NULL;
	int r = kind->parse(params, &spec, &err);
	json_object_put(params);
	if (r < 0) {
		fprintf(stderr, "parse: %s: %s\n", err.key, err.msg);
		return 3;
	}
	if (copies < 1 || copies > 8)
		copies = 1;
	void *handles[8] = { 0 };
	struct json_object *records = json_object_new_array();
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < copies; i++) {
		struct json_object *record = json_object_new_object();
		r = kind->apply(spec, &env, &handles[i], record, &err);
		if (r < 0) {
			fprintf(stderr, "apply: [%s] %s (%s)\n", err.key, err.msg, strerror(-r));
			json_object_put(record);
			while (i-- > 0)
				kind->revert(handles[i]);
			kind->spec_free(spec);
			json_object_put(records);
			return 4;
		}
		json_object_array_add(records, record);
	}
	/* The first fault's record, as the agent would journal it. */
	if (record_path &&
	    json_object_to_file_ext(record_path, json_object_array_get_idx(records, 0), JSON_C_TO_STRING_PLAIN) < 0)
		fprintf(stderr, "cannot write %s\n", record_path);
	json_object_put(records);

	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("applied in %.1f ms\n", elapsed_ms(&t0, &t1));
	fflush(stdout);
	for (double waited = 0; !stop && waited < timeout_s; waited += 0.05)
		usleep(50000);

	struct json_object *stats = json_object_new_object();
	if (kind->stats(handles[0], stats) == 0)
		printf("stats %s\n", json_object_to_json_string_ext(stats, JSON_C_TO_STRING_PLAIN));
	json_object_put(stats);
	r = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < copies; i++) {
		int rr = kind->revert(handles[i]);
		if (rr < 0)
			r = rr;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	kind->spec_free(spec);
	printf("reverted in %.1f ms\n", elapsed_ms(&t0, &t1));
	fflush(stdout);
	return r < 0 ? 1 : 0;
}
