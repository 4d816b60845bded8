#include "scheduler/lease.h"

#include "common/timeutil.h"

#include <errno.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/duration.h"
#include "common/log.h"
#include "common/timeutil.h"

void lease_make_id(char *buf, size_t len)
{
	uint64_t r = 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	snprintf(buf, len, "chaos-%016llx", (unsigned long long)r);
}

/* Near a deadline the agent may end the lease a moment before we think it does. */
#define DEADLINE_SLACK_MS 1000

static void renew_round(struct lease_keeper *k)
{
	pthread_mutex_lock(&k->lock);
	uint64_t now = mono_ms();
	struct agent_call *calls = calloc(k->n_hosts + 1, sizeof(*calls));
	uint64_t *until = calloc(k->n_hosts + 1, sizeof(*until));
	bool *confirmed = calloc(k->n_hosts + 1, sizeof(*confirmed));
	size_t n = 0;
	char ttl[32];
	duration_format(k->ttl_ms, ttl, sizeof(ttl));
	for (size_t i = 0; calls && until && confirmed && i < k->n_hosts; i++) {
		if (now >= k->until_mono_ms[i])
			continue;
		char path[120], *body = NULL;
		snprintf(path, sizeof(path), "/v1/leases/%s", k->id);
		if (asprintf(&body, "{\"ttl\":\"%s\"}", ttl) < 0)
			body = NULL;
		until[n] = k->until_mono_ms[i];
		confirmed[n] = k->confirmed[i];
		agent_call_init(&calls[n++], k->hosts[i], k->agents[i], "POST", path, body);
	}
	pthread_mutex_unlock(&k->lock);
	if (!calls || !until || !confirmed) {
		free(calls);
		free(until);
		free(confirmed);
		return;
	}
	agent_batch(&k->client, calls, n);
	now = mono_ms();
	for (size_t i = 0; i < n; i++) {
		if (agent_call_ok(&calls[i]))
			continue;
		if (calls[i].status == 404 && now + DEADLINE_SLACK_MS >= until[i])
			continue; /* our last fault there just ended, and the lease with it */
		if (calls[i].status == 404 && !confirmed[i])
			continue; /* the apply that creates the lease there has not answered yet */
		k->failed_renewals++;
		if (calls[i].status == 404)
			k->lost++;
		log_warn("lease %s: renewal failed: %s", k->id, calls[i].error);
	}
	k->renewals++;
	agent_calls_free(calls, n);
	free(until);
	free(confirmed);
}

static void *keeper_main(void *arg)
{
	struct lease_keeper *k = arg;
	uint64_t period = k->ttl_ms / 3 ? k->ttl_ms / 3 : 1;
	pthread_mutex_lock(&k->lock);
	while (!k->stop) {
		struct timespec until = mono_after_ms(period);
		int r = 0;
		while (!k->stop && r != ETIMEDOUT)
			r = pthread_cond_timedwait(&k->wake, &k->lock, &until);
		if (k->stop)
			break;
		bool any = k->n_hosts > 0;
		pthread_mutex_unlock(&k->lock);
		if (any)
			renew_round(k);
		pthread_mutex_lock(&k->lock);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

int lease_start(struct lease_keeper *k, const struct agent_client *client, const char *id, uint64_t ttl_ms)
{
	memset(k, 0, sizeof(*k));
	k->client = *client;
	k->client.multi = NULL;
	snprintf(k->id, sizeof(k->id), "%s", id);
	k->ttl_ms = ttl_ms;
	pthread_mutex_init(&k->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&k->wake, &attr);
	pthread_condattr_destroy(&attr);
	/* the renewal thread must not take SIGINT/SIGTERM meant for the main loop */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(&k->thread, NULL, keeper_main, k);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		pthread_cond_destroy(&k->wake);
		pthread_mutex_destroy(&k->lock);
		return -r;
	}
	k->running = true;
	return 0;
}

static void add_host(struct lease_keeper *k, const char *host, const char *agent, uint64_t until_mono_ms,
		     bool confirmed)
{
	pthread_mutex_lock(&k->lock);
	size_t found = SIZE_MAX;
	for (size_t i = 0; i < k->n_hosts; i++)
		if (strcmp(k->hosts[i], host) == 0)
			found = i;
	if (found != SIZE_MAX) {
		if (until_mono_ms > k->until_mono_ms[found])
			k->until_mono_ms[found] = until_mono_ms;
	} else {
		const char **h = realloc(k->hosts, (k->n_hosts + 1) * sizeof(*h));
		if (h)
			k->hosts = h;
		const char **a = h ? realloc(k->agents, (k->n_hosts + 1) * sizeof(*a)) : NULL;
		if (a)
			k->agents = a;
		uint64_t *u = a ? realloc(k->until_mono_ms, (k->n_hosts + 1) * sizeof(*u)) : NULL;
		if (u)
			k->until_mono_ms = u;
		bool *c = u ? realloc(k->confirmed, (k->n_hosts + 1) * sizeof(*c)) : NULL;
		if (c) {
			k->confirmed = c;
			c[k->n_hosts] = confirmed;
			k->hosts[k->n_hosts] = host;
			k->agents[k->n_hosts] = agent;
			k->until_mono_ms[k->n_hosts] = until_mono_ms;
			k->n_hosts++;
		}
	}
	pthread_mutex_unlock(&k->lock);
}

void lease_add_host(struct lease_keeper *k, const char *host, const char *agent, uint64_t until_mono_ms)
{
	add_host(k, host, agent, until_mono_ms, true);
}

void lease_add_host_pending(struct lease_keeper *k, const char *host, const char *agent, uint64_t until_mono_ms)
{
	add_host(k, host, agent, until_mono_ms, false);
}

void lease_confirm_host(struct lease_keeper *k, const char *host)
{
	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < k->n_hosts; i++)
		if (strcmp(k->hosts[i], host) == 0)
			k->confirmed[i] = true;
	pthread_mutex_unlock(&k->lock);
}

void lease_stop(struct lease_keeper *k)
{
	if (!k->running)
		return;
	pthread_mutex_lock(&k->lock);
	k->stop = true;
	pthread_cond_signal(&k->wake);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	k->running = false;
	agent_client_close(&k->client);
	pthread_cond_destroy(&k->wake);
	pthread_mutex_destroy(&k->lock);
	free(k->hosts);
	free(k->agents);
	free(k->until_mono_ms);
	free(k->confirmed);
	k->confirmed = NULL;
	k->hosts = k->agents = NULL;
	k->until_mono_ms = NULL;
	k->n_hosts = 0;
}
