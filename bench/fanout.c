/* Fan-out benchmark: how long the scheduler takes to get one fault active on every
 * agent of a fleet, and to halt them all, with its normal bounded concurrency and
 * strictly one agent after the other. Uses the scheduler's own code paths
 * (faults_apply, the batch client) exactly as `chaos inject` and `chaos halt` do.
 * Run it through bench/fanout-lab.sh, which builds the fleet. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "scheduler/agent_client.h"
#include "scheduler/diag.h"
#include "scheduler/experiment.h"
#include "scheduler/lease.h"
#include "scheduler/report.h"
#include "scheduler/run.h"

#define MAX_ROUNDS 1000

struct samples {
	uint64_t ms[MAX_ROUNDS];
	size_t n;
};

struct series {
	const char *transport;
	const struct inventory *inv;
	struct samples apply[2], halt[2]; /* [0] bounded concurrency, [1] sequential */
	struct samples floor[2];          /* GET /v1/faults on fresh connections: transport only */
	struct samples floor_threads;     /* the same split over --threads clients, one per thread */
	/* CPU this process (the scheduler side) spent per phase, summed over rounds: when
	 * it nears the wall time, the client is what limits the fan-out. */
	uint64_t cpu_apply_ms[2], cpu_halt_ms[2], cpu_floor_ms[2];
	uint64_t call_ms_sum[2];
	size_t calls[2];
};

struct bench_opts {
	int rounds;
	int seq_rounds;
	int parallel;
	double probability;
	const char *dst;
	uint64_t duration_ms;
	uint64_t lease_ttl_ms;
	bool cold_halt;
	int threads;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest rank: with 15 samples p99 is the largest one. */
static uint64_t percentile(const struct samples *s, double p)
{
	if (s->n == 0)
		return 0;
	uint64_t sorted[MAX_ROUNDS];
	memcpy(sorted, s->ms, s->n * sizeof(sorted[0]));
	qsort(sorted, s->n, sizeof(sorted[0]), cmp_u64);
	size_t rank = (size_t)(p / 100.0 * (double)s->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return sorted[rank - 1];
}

static void samples_add(struct samples *s, uint64_t ms)
{
	if (s->n < MAX_ROUNDS)
		s->ms[s->n++] = ms;
}

static uint64_t cpu_ms(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000u;
}

static size_t *all_hosts(size_t n)
{
	size_t *idx = calloc(n ? n : 1, sizeof(*idx));
	for (size_t i = 0; idx && i < n; i++)
		idx[i] = i;
	return idx;
}

/* POST /v1/halt to every agent; returns the number of agents that did not answer
 * 200, and the faults they reported reverted in *reverted. */
static size_t halt_all(struct agent_client *cl, const struct inventory *inv, long long *reverted,
		       uint64_t *call_ms_sum)
{
	struct agent_call *calls = calloc(inv->n_hosts, sizeof(*calls));
	if (!calls)
		return inv->n_hosts;
	for (size_t i = 0; i < inv->n_hosts; i++)
		agent_call_init(&calls[i], inv->hosts[i].name, inv->hosts[i].agent, "POST", "/v1/halt", NULL);
	agent_batch(cl, calls, inv->n_hosts);
	size_t bad = 0;
	long long sum = 0;
	for (size_t i = 0; i < inv->n_hosts; i++) {
		struct json_object *v;
		if (calls[i].status != 200) {
			bad++;
			fprintf(stderr, "fanout: halt on %s: %s\n", calls[i].host,
				calls[i].error[0] ? calls[i].error : "unexpected status");
		} else if (calls[i].answer && json_object_object_get_ex(calls[i].answer, "reverted", &v)) {
			sum += json_object_get_int64(v);
		}
		if (call_ms_sum)
			*call_ms_sum += calls[i].latency_ms;
	}
	agent_calls_free(calls, inv->n_hosts);
	*reverted = sum;
	return bad;
}

/* Every agent answers GET /v1/info, and none holds a fault when we start. */
static int check_fleet(const struct inventory *inv, const char *transport)
{
	struct agent_client cl;
	agent_client_defaults(&cl, inv->has_tls ? &inv->tls : NULL);
	struct agent_call *calls = calloc(inv->n_hosts, sizeof(*calls));
	if (!calls)
		return -ENOMEM;
	for (size_t i = 0; i < inv->n_hosts; i++)
		agent_call_init(&calls[i], inv->hosts[i].name, inv->hosts[i].agent, "GET", "/v1/info", NULL);
	agent_batch(&cl, calls, inv->n_hosts);
	size_t bad = 0;
	for (size_t i = 0; i < inv->n_hosts; i++) {
		if (calls[i].status != 200) {
			bad++;
			fprintf(stderr, "fanout: %s: %s\n", transport, calls[i].error);
		}
	}
	agent_calls_free(calls, inv->n_hosts);
	long long leftover = 0;
	if (bad == 0)
		bad = halt_all(&cl, inv, &leftover, NULL);
	agent_client_close(&cl);
	if (bad) {
		fprintf(stderr, "fanout: %s: %zu of %zu agents do not answer\n", transport, bad, inv->n_hosts);
		return -EHOSTUNREACH;
	}
	if (leftover)
		fprintf(stderr, "fanout: %s: halted %lld fault(s) left from before\n", transport, leftover);
	return 0;
}

/* One round: apply on all (fresh client, so connections and TLS handshakes count as
 * they do for a new `chaos inject`), then halt all. */
static int one_round(struct series *s, int mode, const struct bench_opts *o, struct json_object *params)
{
	const struct inventory *inv = s->inv;
	struct agent_client cl;
	agent_client_defaults(&cl, inv->has_tls ? &inv->tls : NULL);
	if (mode == 1)
		cl.max_parallel = 1;
	else if (o->parallel > 0)
		cl.max_parallel = o->parallel;
	char lease_id[48];
	lease_make_id(lease_id, sizeof(lease_id));
	struct apply_request req = { .kind = "packet-loss", .duration_ms = o->duration_ms, .params = params,
				     .lease_id = lease_id, .lease_ttl_ms = o->lease_ttl_ms };
	struct fault_set set = { .lease_id = lease_id };
	struct report rep;
	if (report_init(&rep, "fanout", NULL) < 0)
		return -ENOMEM;
	size_t *hosts = all_hosts(inv->n_hosts);
	if (!hosts) {
		report_free(&rep);
		return -ENOMEM;
	}
	int r = 0;
	uint64_t c0 = cpu_ms(), t0 = mono_ms();
	size_t failed = faults_apply(&cl, inv, hosts, inv->n_hosts, &req, &set, &rep, true);
	uint64_t t_apply = mono_ms() - t0, c_apply = cpu_ms() - c0;
	if (failed || set.count != inv->n_hosts) {
		fprintf(stderr, "fanout: %s: %zu of %zu applies failed\n", s->transport, failed, inv->n_hosts);
		r = -EIO;
	}
	if (o->cold_halt) {
		agent_client_close(&cl);
	}
	long long reverted = 0;
	uint64_t call_ms = 0;
	uint64_t c1 = cpu_ms(), t1 = mono_ms();
	size_t bad = halt_all(&cl, inv, &reverted, &call_ms);
	uint64_t t_halt = mono_ms() - t1, c_halt = cpu_ms() - c1;
	if (bad || reverted != (long long)set.count) {
		fprintf(stderr, "fanout: %s: halt: %zu agents failed, %lld of %zu faults reverted\n", s->transport,
			bad, reverted, set.count);
		r = -EIO;
	}
	if (r == 0) {
		samples_add(&s->apply[mode], t_apply);
		samples_add(&s->halt[mode], t_halt);
		s->cpu_apply_ms[mode] += c_apply;
		s->cpu_halt_ms[mode] += c_halt;
		s->call_ms_sum[mode] += call_ms;
		s->calls[mode] += inv->n_hosts;
	}
	agent_client_close(&cl);
	fault_set_free(&set);
	report_free(&rep);
	free(hosts);
	return r;
}

/* The same fan-out with a call that does no work on the agent (GET /v1/faults on
 * fresh connections): what the scheduler and the transport cost by themselves. */
static int floor_round(struct series *s, int mode, const struct bench_opts *o)
{
	const struct inventory *inv = s->inv;
	struct agent_client cl;
	agent_client_defaults(&cl, inv->has_tls ? &inv->tls : NULL);
	cl.max_parallel = mode == 1 ? 1 : o->parallel;
	struct agent_call *calls = calloc(inv->n_hosts, sizeof(*calls));
	if (!calls)
		return -ENOMEM;
	for (size_t i = 0; i < inv->n_hosts; i++)
		agent_call_init(&calls[i], inv->hosts[i].name, inv->hosts[i].agent, "GET", "/v1/faults", NULL);
	uint64_t c0 = cpu_ms(), t0 = mono_ms();
	agent_batch(&cl, calls, inv->n_hosts);
	uint64_t t = mono_ms() - t0, c = cpu_ms() - c0;
	size_t bad = 0;
	for (size_t i = 0; i < inv->n_hosts; i++)
		bad += calls[i].status != 200;
	agent_calls_free(calls, inv->n_hosts);
	agent_client_close(&cl);
	if (bad) {
		fprintf(stderr, "fanout: %s: %zu of %zu GET /v1/faults failed\n", s->transport, bad, inv->n_hosts);
		return -EIO;
	}
	samples_add(&s->floor[mode], t);
	s->cpu_floor_ms[mode] += c;
	return 0;
}

struct floor_part {
	const struct inventory *inv;
	struct agent_call *calls;
	size_t n;
	int parallel;
};

static void *floor_part_main(void *arg)
{
	struct floor_part *p = arg;
	struct agent_client cl;
	agent_client_defaults(&cl, p->inv->has_tls ? &p->inv->tls : NULL);
	cl.max_parallel = p->parallel;
	agent_batch(&cl, p->calls, p->n);
	agent_client_close(&cl);
	return NULL;
}

/* The floor fan-out split over several threads, each with its own client: how much
 * a multi-threaded scheduler would gain when TLS set-up is the limit. Not what chaos does. */
static int floor_threads_round(struct series *s, const struct bench_opts *o)
{
	const struct inventory *inv = s->inv;
	int nt = o->threads;
	struct agent_call *calls = calloc(inv->n_hosts, sizeof(*calls));
	struct floor_part parts[16];
	pthread_t tids[16];
	if (!calls)
		return -ENOMEM;
	for (size_t i = 0; i < inv->n_hosts; i++)
		agent_call_init(&calls[i], inv->hosts[i].name, inv->hosts[i].agent, "GET", "/v1/faults", NULL);
	size_t per = (inv->n_hosts + (size_t)nt - 1) / (size_t)nt;
	int started = 0;
	uint64_t t0 = mono_ms();
	for (int t = 0; t < nt; t++) {
		size_t first = (size_t)t * per;
		if (first >= inv->n_hosts)
			break;
		size_t n = inv->n_hosts - first < per ? inv->n_hosts - first : per;
		int par = o->parallel / nt;
		parts[t] = (struct floor_part){ .inv = inv, .calls = calls + first, .n = n, .parallel = par > 0 ? par : 1 };
		if (pthread_create(&tids[t], NULL, floor_part_main, &parts[t]) != 0) {
			floor_part_main(&parts[t]);
			continue;
		}
		started |= 1 << t;
	}
	for (int t = 0; t < nt; t++)
		if (started & (1 << t))
			pthread_join(tids[t], NULL);
	uint64_t elapsed = mono_ms() - t0;
	size_t bad = 0;
	for (size_t i = 0; i < inv->n_hosts; i++)
		bad += calls[i].status != 200;
	agent_calls_free(calls, inv->n_hosts);
	if (bad) {
		fprintf(stderr, "fanout: %s: %zu of %zu threaded GET /v1/faults failed\n", s->transport, bad,
			inv->n_hosts);
		return -EIO;
	}
	samples_add(&s->floor_threads, elapsed);
	return 0;
}

static struct json_object *fault_params(const struct bench_opts *o)
{
	struct json_object *p = json_object_new_object();
	struct json_object *match = json_object_new_object();
	struct json_object *dst = json_object_new_array();
	if (!p || !match || !dst) {
		json_object_put(p);
		json_object_put(match);
		json_object_put(dst);
		return NULL;
	}
	json_object_array_add(dst, json_object_new_string(o->dst));
	json_object_object_add(match, "dst", dst);
	json_object_object_add(p, "probability", json_object_new_double(o->probability));
	json_object_object_add(p, "match", match);
	return p;
}

static void print_row(const struct series *s, const char *phase, const struct samples *m)
{
	uint64_t p50 = percentile(&m[0], 50), p99 = percentile(&m[0], 99);
	uint64_t q50 = percentile(&m[1], 50), q99 = percentile(&m[1], 99);
	printf("| %-9s | %-5s | %4zu | %6llu | %6llu | %6llu | %6llu | %5.1fx | %5.1fx |\n", s->transport, phase,
	       s->inv->n_hosts, (unsigned long long)p50, (unsigned long long)p99, (unsigned long long)q50,
	       (unsigned long long)q99, p50 ? (double)q50 / (double)p50 : 0.0,
	       p99 ? (double)q99 / (double)p99 : 0.0);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: fanout --tls-inventory FILE [--unix-inventory FILE] [--rounds R] [--seq-rounds S]\n"
		"              [--parallel N] [--probability P] [--dst CIDR] [--cold-halt] [--threads T]\n"
		"Applies a packet-loss fault on every agent of the inventories and halts them, R rounds with\n"
		"bounded concurrency (N calls in flight, default %d as in chaos) and S rounds one agent at a\n"
		"time; prints p50/p99 of both and their ratio. --threads T also runs the floor split over T\n"
		"threads (N/T in flight each). Run it through bench/fanout-lab.sh.\n",
		AGENT_DEFAULT_PARALLEL);
}

int main(int argc, char **argv)
{
	struct bench_opts o = { .rounds = 15, .seq_rounds = -1, .parallel = AGENT_DEFAULT_PARALLEL,
				.probability = 0.5, .dst = "192.0.2.0/24", .duration_ms = 60000,
				.lease_ttl_ms = 30000 };
	const char *tls_path = NULL, *unix_path = NULL;
	static const struct option longopts[] = {
		{ "tls-inventory", required_argument, NULL, 't' },
		{ "unix-inventory", required_argument, NULL, 'u' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "seq-rounds", required_argument, NULL, 's' },
		{ "parallel", required_argument, NULL, 'p' },
		{ "probability", required_argument, NULL, 'P' },
		{ "dst", required_argument, NULL, 'd' },
		{ "cold-halt", no_argument, NULL, 'c' },
		{ "threads", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 't': tls_path = optarg; break;
		case 'u': unix_path = optarg; break;
		case 'r': o.rounds = atoi(optarg); break;
		case 's': o.seq_rounds = atoi(optarg); break;
		case 'p': o.parallel = atoi(optarg); break;
		case 'P': o.probability = atof(optarg); break;
		case 'd': o.dst = optarg; break;
		case 'c': o.cold_halt = true; break;
		case 'T': o.threads = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 3;
		}
	}
	if (o.seq_rounds < 0)
		o.seq_rounds = o.rounds;
	if ((!tls_path && !unix_path) || optind != argc || o.rounds < 1 || o.rounds > MAX_ROUNDS ||
	    o.seq_rounds > MAX_ROUNDS || o.parallel < 1 || o.threads < 0 || o.threads > 16 || o.probability <= 0 || o.probability > 1) {
		usage(stderr);
		return 3;
	}
	log_set_level(LOG_LVL_WARN);
	interrupt_handlers_install();

	struct inventory invs[2];
	struct series series[2];
	size_t n_series = 0;
	const char *paths[2] = { tls_path, unix_path };
	const char *names[2] = { "tls", "unix" };
	int code = 0;
	for (int i = 0; i < 2; i++) {
		if (!paths[i])
			continue;
		struct diags d = { 0 };
		memset(&invs[n_series], 0, sizeof(invs[n_series]));
		if (inventory_load(paths[i], &invs[n_series], &d) < 0) {
			diags_print(stderr, &d);
			diags_free(&d);
			code = 3;
			goto out;
		}
		diags_free(&d);
		memset(&series[n_series], 0, sizeof(series[n_series]));
		series[n_series].transport = names[i];
		series[n_series].inv = &invs[n_series];
		n_series++;
		if (check_fleet(&invs[n_series - 1], names[i]) < 0) {
			code = 2;
			goto out;
		}
	}
	struct json_object *params = fault_params(&o);
	if (!params) {
		code = 2;
		goto out;
	}
	printf("# fan-out: packet-loss probability %.2f on %s, duration %llus, lease ttl %llus; "
	       "%d rounds at concurrency %d, %d rounds sequential\n",
	       o.probability, o.dst, (unsigned long long)(o.duration_ms / 1000),
	       (unsigned long long)(o.lease_ttl_ms / 1000), o.rounds, o.parallel, o.seq_rounds);
	fflush(stdout);
	/* Modes and transports interleaved per round, so that drift (other work on the
	 * machine) spreads over all of them alike. */
	int max_rounds = o.rounds > o.seq_rounds ? o.rounds : o.seq_rounds;
	for (int round = 0; round < max_rounds && !chaos_interrupted && code == 0; round++) {
		for (size_t si = 0; si < n_series && code == 0; si++) {
			for (int mode = 0; mode < 2 && code == 0; mode++) {
				if (round >= (mode ? o.seq_rounds : o.rounds))
					continue;
				if (one_round(&series[si], mode, &o, params) < 0 ||
				    floor_round(&series[si], mode, &o) < 0)
					code = 2;
				if (code == 0 && mode == 0 && o.threads > 1 && floor_threads_round(&series[si], &o) < 0)
					code = 2;
			}
		}
		fprintf(stderr, "# round %d done\n", round + 1);
	}
	json_object_put(params);
	if (code)
		goto out;
	printf("\nTimes in ms from the first request to the last answer: apply = every POST /v1/faults\n"
	       "answered 201 (\"active on all\"), halt = every POST /v1/halt answered 200 (\"reverted on all\").\n"
	       "Apply starts without connections (as a new chaos process); halt reuses them%s.\n\n",
	       o.cold_halt ? " not (--cold-halt)" : "");
	printf("| transport | phase | hosts | par p50 | par p99 | seq p50 | seq p99 | p50 ratio | p99 ratio |\n");
	printf("|-----------|-------|------:|--------:|--------:|--------:|--------:|----------:|----------:|\n");
	for (size_t si = 0; si < n_series; si++) {
		print_row(&series[si], "apply", series[si].apply);
		print_row(&series[si], "halt", series[si].halt);
		print_row(&series[si], "floor", series[si].floor);
	}
	printf("\nfloor = GET /v1/faults to every agent on fresh connections: the scheduler and transport alone.\n"
	       "(par = %d calls in flight, seq = 1; ratio = sequential / parallel; samples: %zu par, %zu seq)\n",
	       o.parallel, series[0].apply[0].n, series[0].apply[1].n);
	for (size_t si = 0; si < n_series; si++)
		if (series[si].floor_threads.n)
			printf("floor over %d threads, %s: p50 %llu ms, p99 %llu ms\n", o.threads, series[si].transport,
			       (unsigned long long)percentile(&series[si].floor_threads, 50),
			       (unsigned long long)percentile(&series[si].floor_threads, 99));
	printf("\nScheduler-side CPU per round (ms, mean) and mean latency of one halt call:\n");
	for (size_t si = 0; si < n_series; si++) {
		for (int mode = 0; mode < 2; mode++) {
			const struct series *x = &series[si];
			double n = (double)x->apply[mode].n;
			if (x->apply[mode].n == 0)
				continue;
			printf("  %-4s %s: cpu apply %.0f, halt %.0f, floor %.0f; halt call %.1f ms\n", x->transport,
			       mode ? "seq" : "par", (double)x->cpu_apply_ms[mode] / n,
			       (double)x->cpu_halt_ms[mode] / n, (double)x->cpu_floor_ms[mode] / n,
			       x->calls[mode] ? (double)x->call_ms_sum[mode] / (double)x->calls[mode] : 0.0);
		}
	}
out:
	for (size_t i = 0; i < n_series; i++)
		inventory_free(&invs[i]);
	return code;
}
