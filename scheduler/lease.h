/* Keeps a lease alive on every agent that holds one of our faults: a background
 * thread renews it every ttl/3. If chaos dies, the renewals stop and each agent
 * reverts the lease's faults when the ttl runs out. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scheduler/agent_client.h"

struct lease_keeper {
	struct agent_client client;   /* a copy with its own connections: it runs on its own thread */
	char id[48];
	uint64_t ttl_ms;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	/* hosts to renew on (borrowed strings) */
	const char **hosts;
	const char **agents;
	uint64_t *until_mono_ms;  /* latest deadline of our faults on each host */
	/* an apply carrying the lease succeeded there: until then a 404 only means the
	 * apply is still under way (a slow BPF load), not that the agent lost the lease */
	bool *confirmed;
	size_t n_hosts;
	unsigned lost;            /* hosts that forgot the lease before our faults' deadlines */
	unsigned renewals;        /* successful renewal rounds */
	unsigned failed_renewals; /* per host and round */
	bool quiet;
};

/* A fresh random id "chaos-<16 hex>". */
void lease_make_id(char *buf, size_t len);
int lease_start(struct lease_keeper *k, const struct agent_client *client, const char *id, uint64_t ttl_ms);
/* Adds a host, or extends its deadline: renewals for it stop once `until_mono_ms` (the
 * latest deadline of our faults there) has passed, as the agent ends the lease then. */
void lease_add_host(struct lease_keeper *k, const char *host, const char *agent, uint64_t until_mono_ms);
/* The same, for a host whose apply is still to come: renewals it refuses with 404
 * do not count as lost until lease_confirm_host() says an apply went through. */
void lease_add_host_pending(struct lease_keeper *k, const char *host, const char *agent, uint64_t until_mono_ms);
void lease_confirm_host(struct lease_keeper *k, const char *host);
void lease_stop(struct lease_keeper *k);
