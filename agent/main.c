/* chaos-agent: applies and reverts faults on this host for the chaos scheduler.
 * Startup order matters: config, journal recovery and sweep, then listeners, then
 * "ready". Signals are taken synchronously (sigwait) in the main thread. */
#include "agent/api.h"
#include "agent/config.h"
#include "agent/fault_table.h"
#include "agent/guardian.h"
#include "agent/http.h"
#include "agent/journal.h"
#include "agent/tls.h"
#include "common/log.h"
#include "faults/registry.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { EXIT_CONFIG = 3 };

static void usage(FILE *out)
{
	fprintf(out,
		"usage: chaos-agent --config FILE [--log-level error|warn|info|debug]\n"
		"       chaos-agent --check-config --config FILE\n"
		"       chaos-agent --list-kinds\n"
		"Applies and reverts faults for the chaos scheduler; see docs/agent.md.\n");
}

static int parse_level(const char *text, enum log_level *out)
{
	static const struct { const char *name; enum log_level level; } levels[] = {
		{ "error", LOG_LVL_ERROR }, { "warn", LOG_LVL_WARN }, { "warning", LOG_LVL_WARN },
		{ "info", LOG_LVL_INFO }, { "debug", LOG_LVL_DEBUG },
	};
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(text, levels[i].name) == 0) {
			*out = levels[i].level;
			return 0;
		}
	return -EINVAL;
}

/* With the default backends; describe() says which one a kind would use here. */
static int list_kinds(void)
{
	const struct fault_kind *const *kinds = fault_kinds();
	struct fault_env env = { .packet_backend = "auto", .shape_backend = "auto" };
	for (size_t i = 0; kinds[i]; i++) {
		char reason[256] = "";
		int r = kinds[i]->probe ? kinds[i]->probe(reason, sizeof(reason)) : 0;
		struct json_object *d = json_object_new_object(), *backend;
		if (kinds[i]->describe && d)
			kinds[i]->describe(&env, d);
		char via[64] = "";
		if (d && json_object_object_get_ex(d, "backend", &backend))
			snprintf(via, sizeof(via), " [%s]", json_object_get_string(backend));
		printf("%-18s %-10s %-13s %s%s%s%s\n", kinds[i]->name, kinds[i]->family,
		       r == 0 ? "supported" : "unsupported", kinds[i]->summary, via, r == 0 ? "" : ": ",
		       r == 0 ? "" : reason[0] ? reason : strerror(-r));
		json_object_put(d);
	}
	return 0;
}

static int check_config(const struct agent_config *cfg)
{
	if (cfg->listen_tls[0]) {
		struct tls_material m;
		char err[512];
		if (tls_material_load(cfg, &m, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: tls: %s\n", cfg->path, err);
			return EXIT_CONFIG;
		}
		tls_material_release(&m);
	}
	printf("%s: OK (name %s, %d label(s), unix %s%s%s, state %s)\n", cfg->path, cfg->name, cfg->n_labels,
	       cfg->listen_unix, cfg->listen_tls[0] ? ", tls " : "", cfg->listen_tls, cfg->state_dir);
	return 0;
}

/* Blocks until SIGTERM or SIGINT; SIGHUP is logged and ignored (nothing to reload
 * without dropping faults). */
static int wait_for_stop(const sigset_t *set)
{
	for (;;) {
		int sig;
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			return sig;
		log_info("signal %d ignored (SIGTERM or SIGINT stop the agent)", sig);
	}
}

static int run(const struct agent_config *cfg, const char *log_level)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* before any thread exists, so every thread inherits the mask */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* A guardian still recovering after the previous agent died holds the lock
	 * for a few milliseconds; a second agent on the same state_dir holds it for good. */
	int lock_fd;
	int r = agent_state_lock(cfg->state_dir, 5000, &lock_fd);
	if (r == -EBUSY)
		return log_err(1, "state_dir %s is in use by another chaos-agent (%s/agent.lock)", cfg->state_dir,
			       cfg->state_dir);
	if (r < 0)
		return log_err(1, "state_dir %s: %s", cfg->state_dir, strerror(-r));
	char journal_dir[4096];
	r = journal_open(cfg->state_dir, journal_dir, sizeof(journal_dir));
	if (r < 0) {
		close(lock_fd);
		return log_err(1, "state_dir %s: %s", cfg->state_dir, strerror(-r));
	}

	struct fault_table_config tc;
	agent_fault_table_config(cfg, journal_dir, 64, &tc);
	struct api api = { .cfg = cfg, .kinds = fault_kinds() };
	if (cfg->listen_tls[0])
		api.control_ports[api.n_control_ports++] = cfg->tls_port;
	struct http_listener *tls = NULL, *local = NULL;
	struct fault_table *table = NULL;
	struct guardian guardian = { .pid = -1, .notify_fd = -1 };
	int exit_code = 1;

	if (fault_table_new(&tc, &table) < 0) {
		close(lock_fd);
		return log_err(1, "out of memory");
	}
	/* Faults named in the journal are undone, and leftovers swept, before anything listens. */
	if (fault_table_recover(table) < 0)
		goto out;
	if (cfg->guardian) {
		r = guardian_spawn(cfg->path, log_level, &guardian);
		if (r < 0)
			log_warn("no guardian process (%s): after a crash, clsact filters, qdiscs, links and frozen "
				 "processes stay until the agent restarts", strerror(-r));
		else
			log_info("guardian: pid %d reverts what this agent leaves if it dies", (int)guardian.pid);
	}
	if (fault_table_start(table) < 0)
		goto out;
	api.table = table;

	if (cfg->listen_tls[0]) {
		uint16_t port;
		if (http_listen_tls(cfg, &api, &tls, &port) < 0)
			goto out;
		log_debug("listen_tls: bound port %u", port);
	}
	if (http_listen_unix(cfg->listen_unix, &api, &local) < 0)
		goto out;
	log_info("ready: %s, unix %s%s%s, state %s, packet_backend %s", cfg->name, cfg->listen_unix,
		 cfg->listen_tls[0] ? ", tls " : "", cfg->listen_tls, cfg->state_dir, cfg->packet_backend);

	int sig = wait_for_stop(&set);
	log_info("%s received: reverting every fault and stopping", strsignal(sig));
	exit_code = 0;
out:
	/* stop taking requests first, so nothing is applied while we revert */
	http_stop(local);
	http_stop(tls);
	if (table) {
		int n = fault_table_revert_all(table, "shutdown");
		if (n)
			log_info("shutdown: %d fault(s) reverted", n);
		fault_table_free(table);
	}
	/* The guardian wakes on this close, finds the journal empty and leaves once
	 * the lock is free (at our exit). */
	if (guardian.notify_fd >= 0)
		close(guardian.notify_fd);
	close(lock_fd);
	return exit_code;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "list-kinds", no_argument, NULL, 'K' },
		{ "version", no_argument, NULL, 'V' },
		{ "guardian", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL, *log_level = "info";
	bool check_only = false, kinds_only = false;
	int guardian_fd = -1;
	log_route_libbpf();
	int c;
	while ((c = getopt_long(argc, argv, "c:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'l': {
			enum log_level level;
			if (parse_level(optarg, &level) < 0) {
				fprintf(stderr, "chaos-agent: --log-level must be error, warn, info or debug\n");
				return 2;
			}
			log_set_level(level);
			log_level = optarg;
			break;
		}
		case 'C': check_only = true; break;
		case 'K': kinds_only = true; break;
		case 'G': guardian_fd = atoi(optarg); break;
		case 'V': printf("chaos-agent %s\n", CHAOSKIT_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (kinds_only)
		return list_kinds();
	if (!config_path) {
		usage(stderr);
		return 2;
	}
	struct agent_config *cfg = malloc(sizeof(*cfg));
	if (!cfg)
		return 1;
	char err[1024];
	if (agent_config_load(config_path, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "chaos-agent: %s\n", err);
		free(cfg);
		return EXIT_CONFIG;
	}
	int rc;
	if (check_only) {
		rc = check_config(cfg);
	} else if (guardian_fd >= 0) {
		log_set_timestamps(1);
		rc = guardian_main(guardian_fd, cfg);
	} else {
		log_set_timestamps(1);
		rc = run(cfg, log_level);
	}
	free(cfg);
	return rc;
}
