#include "scheduler/probe.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/netaddr.h"
#include "common/timeutil.h"

#define BODY_LIMIT (1u << 20)

struct body {
	char *data;
	size_t len;
};

static size_t collect_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct body *b = userdata;
	size_t n = size * nmemb;
	size_t room = BODY_LIMIT - b->len;
	size_t take = n < room ? n : room; /* a huge body is truncated, not an error */
	if (take) {
		char *grown = realloc(b->data, b->len + take + 1);
		if (!grown)
			return 0;
		b->data = grown;
		memcpy(b->data + b->len, ptr, take);
		b->len += take;
		b->data[b->len] = '\0';
	}
	return n;
}

/* One GET of `url` into `body` (the caller frees body->data); sets out->latency_ms. `errbuf` holds
 * CURL_ERROR_SIZE bytes. */
static CURLcode probe_get(CURL *curl, const char *url, const struct probe *p, struct body *body, char *errbuf,
			  struct probe_result *out)
{
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "chaoskit-probe/" CHAOSKIT_VERSION);
	/* proxies from the environment would probe the proxy, not the service */
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
	uint64_t start = mono_ms();
	CURLcode rc = curl_easy_perform(curl);
	out->latency_ms = mono_ms() - start;
	return rc;
}

static void http_one(const struct probe *p, const char *url, struct probe_result *out)
{
	CURL *curl = curl_easy_init();
	if (!curl) {
		snprintf(out->reason, sizeof(out->reason), "cannot create an HTTP client");
		return;
	}
	struct body body = { 0 };
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc = probe_get(curl, url, p, &body, errbuf, out);
	if (rc != CURLE_OK) {
		snprintf(out->value, sizeof(out->value), "no answer");
		snprintf(out->reason, sizeof(out->reason), "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	long status = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	snprintf(out->value, sizeof(out->value), "HTTP %ld", status);
	bool status_ok = false;
	if (p->n_statuses == 0)
		status_ok = status >= 200 && status < 300;
	for (size_t i = 0; i < p->n_statuses; i++)
		status_ok |= p->statuses[i] == status;
	if (!status_ok) {
		snprintf(out->reason, sizeof(out->reason), "status %ld is not the expected %s", status,
			 p->n_statuses ? "one" : "2xx");
		goto out;
	}
	if (p->has_regex && regexec(&p->regex, body.data ? body.data : "", 0, NULL, 0) != 0) {
		snprintf(out->reason, sizeof(out->reason), "body does not match /%s/", p->regex_text);
		goto out;
	}
	if (p->max_latency_ms && out->latency_ms > p->max_latency_ms) {
		snprintf(out->reason, sizeof(out->reason), "took %llums, more than max_latency %llums",
			 (unsigned long long)out->latency_ms, (unsigned long long)p->max_latency_ms);
		goto out;
	}
	out->ok = true;
	snprintf(out->reason, sizeof(out->reason), "HTTP %ld in %llums", status, (unsigned long long)out->latency_ms);
out:
	free(body.data);
	curl_easy_cleanup(curl);
}

/* Client-side failover: the urls in order, the first that passes makes the probe ok. */
static void run_http(const struct probe *p, struct probe_result *out)
{
	const char *single[1] = { p->url };
	const char *const *urls = p->n_urls ? (const char *const *)p->urls : single;
	size_t n = p->n_urls ? p->n_urls : 1;
	if (n == 1) {
		http_one(p, urls[0], out);
		return;
	}
	char failures[sizeof(out->reason)] = "";
	size_t used = 0;
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		struct probe_result one = { 0 };
		http_one(p, urls[i], &one);
		total += one.latency_ms;
		if (one.ok) {
			*out = one;
			out->latency_ms = total;
			if (i > 0)
				snprintf(out->reason, sizeof(out->reason), "%.100s from %.150s after %zu failed (%.200s)",
					 one.reason, urls[i], i, failures);
			return;
		}
		/* http_one names the url in transport errors already */
		int w = strncmp(one.reason, urls[i], strlen(urls[i])) == 0
			? snprintf(failures + used, sizeof(failures) - used, "%s%s", used ? "; " : "", one.reason)
			: snprintf(failures + used, sizeof(failures) - used, "%s%s: %s", used ? "; " : "", urls[i], one.reason);
		if (w > 0 && (size_t)w < sizeof(failures) - used)
			used += (size_t)w;
		snprintf(out->value, sizeof(out->value), "%s", one.value);
	}
	out->ok = false;
	out->latency_ms = total;
	snprintf(out->reason, sizeof(out->reason), "none of %zu urls answered: %s", n, failures);
}

static int connect_one(const struct addrinfo *ai, uint64_t deadline, int *err)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		*err = errno;
		close(fd);
		return -1;
	}
	for (;;) {
		uint64_t now = mono_ms();
		if (now >= deadline) {
			*err = ETIMEDOUT;
			close(fd);
			return -1;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int r = poll(&pfd, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*err = r == 0 ? ETIMEDOUT : errno;
			close(fd);
			return -1;
		}
		int soerr = 0;
		socklen_t len = sizeof(soerr);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
		if (soerr) {
			*err = soerr;
			close(fd);
			return -1;
		}
		return fd;
	}
}

static void run_tcp(const struct probe *p, struct probe_result *out)
{
	char host[256];
	uint16_t port;
	if (host_port_split(p->address, host, sizeof(host), &port)) {
		snprintf(out->reason, sizeof(out->reason), "bad address %s", p->address);
		return;
	}
	char service[8];
	snprintf(service, sizeof(service), "%u", port);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
	struct addrinfo *res = NULL;
	uint64_t start = mono_ms();
	int r = getaddrinfo(host, service, &hints, &res);
	if (r) {
		out->latency_ms = mono_ms() - start;
		snprintf(out->value, sizeof(out->value), "unresolved");
		snprintf(out->reason, sizeof(out->reason), "%s: %s", host, gai_strerror(r));
		return;
	}
	uint64_t deadline = start + p->timeout_ms;
	int err = EHOSTUNREACH;
	int fd = -1;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
		fd = connect_one(ai, deadline, &err);
	freeaddrinfo(res);
	out->latency_ms = mono_ms() - start;
	if (fd < 0) {
		snprintf(out->value, sizeof(out->value), "not connected");
		if (err == ETIMEDOUT)
			snprintf(out->reason, sizeof(out->reason), "connect to %s: no answer within %llums", p->address,
				 (unsigned long long)p->timeout_ms);
		else
			snprintf(out->reason, sizeof(out->reason), "connect to %s: %s", p->address, strerror(err));
		return;
	}
	close(fd);
	out->ok = true;
	snprintf(out->value, sizeof(out->value), "connected");
	snprintf(out->reason, sizeof(out->reason), "connected to %s in %llums", p->address,
		 (unsigned long long)out->latency_ms);
}

#define STDOUT_LIMIT (64u * 1024)

static void run_command(const struct probe *p, struct probe_result *out)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(out->reason, sizeof(out->reason), "pipe: %s", strerror(errno));
		return;
	}
	uint64_t start = mono_ms();
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(out->reason, sizeof(out->reason), "fork: %s", strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		return;
	}
	if (pid == 0) {
		/* own process group, so a timeout kills the whole pipeline */
		setpgid(0, 0);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		dup2(pipefd[1], STDOUT_FILENO);
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		execl("/bin/sh", "sh", "-c", p->run, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid); /* also from the parent: no race with an early kill */
	close(pipefd[1]);
	char *buf = malloc(STDOUT_LIMIT + 1);
	size_t len = 0;
	uint64_t deadline = start + p->timeout_ms;
	bool timed_out = false;
	for (;;) {
		uint64_t now = mono_ms();
		if (now >= deadline) {
			timed_out = true;
			break;
		}
		struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
		int r = poll(&pfd, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		if (r == 0)
			continue;
		char chunk[4096];
		ssize_t n = read(pipefd[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* EOF: every writer closed stdout */
		size_t take = (size_t)n;
		if (buf && len + take > STDOUT_LIMIT)
			take = STDOUT_LIMIT - len;
		if (buf)
			memcpy(buf + len, chunk, take);
		len += take;
	}
	close(pipefd[0]);
	int status = 0;
	if (timed_out) {
		kill(-pid, SIGKILL);
		waitpid(pid, &status, 0);
	} else {
		/* stdout closed; the shell may still be running with stdout redirected */
		for (;;) {
			pid_t w = waitpid(pid, &status, WNOHANG);
			if (w == pid)
				break;
			if (w < 0 && errno != EINTR)
				break;
			if (mono_ms() >= deadline) {
				timed_out = true;
				kill(-pid, SIGKILL);
				waitpid(pid, &status, 0);
				break;
			}
			sleep_ms(10);
		}
	}
	out->latency_ms = mono_ms() - start;
	if (buf)
		buf[len] = '\0';
	if (timed_out) {
		snprintf(out->value, sizeof(out->value), "timeout");
		snprintf(out->reason, sizeof(out->reason), "still running after %llums, killed",
			 (unsigned long long)p->timeout_ms);
		goto out;
	}
	if (WIFSIGNALED(status)) {
		snprintf(out->value, sizeof(out->value), "signal %d", WTERMSIG(status));
		snprintf(out->reason, sizeof(out->reason), "killed by signal %d", WTERMSIG(status));
		goto out;
	}
	int code = WEXITSTATUS(status);
	snprintf(out->value, sizeof(out->value), "exit %d", code);
	if (code != p->exit_code) {
		snprintf(out->reason, sizeof(out->reason), "exit code %d, expected %d", code, p->exit_code);
		goto out;
	}
	if (p->has_regex && regexec(&p->regex, buf ? buf : "", 0, NULL, 0) != 0) {
		snprintf(out->reason, sizeof(out->reason), "stdout does not match /%s/", p->regex_text);
		goto out;
	}
	out->ok = true;
	snprintf(out->reason, sizeof(out->reason), "exit %d in %llums", code, (unsigned long long)out->latency_ms);
out:
	free(buf);
}

/* The number in a Prometheus sample [ts, "value"]; "NaN" and "+Inf" parse too. */
static bool sample_value(struct json_object *pair, double *out)
{
	if (!pair || !json_object_is_type(pair, json_type_array) || json_object_array_length(pair) != 2)
		return false;
	struct json_object *v = json_object_array_get_idx(pair, 1);
	if (!json_object_is_type(v, json_type_string))
		return false;
	const char *text = json_object_get_string(v);
	char *end;
	errno = 0;
	double d = strtod(text, &end);
	if (end == text || *end)
		return false;
	*out = d;
	return true;
}

int prometheus_eval(const struct probe *p, const char *body, double *value, char *reason, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *root = tok ? json_tokener_parse_ex(tok, body, (int)strlen(body)) : NULL;
	bool complete = tok && json_tokener_get_error(tok) == json_tokener_success;
	json_tokener_free(tok);
	int r = -EINVAL;
	struct json_object *status, *data, *type, *result, *err;
	if (!root || !complete || !json_object_is_type(root, json_type_object)) {
		snprintf(reason, len, "the answer is not JSON");
		goto out;
	}
	if (!json_object_object_get_ex(root, "status", &status) ||
	    strcmp(json_object_get_string(status), "success") != 0) {
		const char *msg = json_object_object_get_ex(root, "error", &err) ? json_object_get_string(err) : "no status";
		snprintf(reason, len, "query failed: %s", msg);
		goto out;
	}
	if (!json_object_object_get_ex(root, "data", &data) || !json_object_object_get_ex(data, "resultType", &type) ||
	    !json_object_object_get_ex(data, "result", &result)) {
		snprintf(reason, len, "the answer has no data.resultType / data.result");
		goto out;
	}
	const char *rtype = json_object_get_string(type);
	double v = 0;
	if (strcmp(rtype, "scalar") == 0) {
		if (!sample_value(result, &v)) {
			snprintf(reason, len, "malformed scalar result");
			goto out;
		}
	} else if (strcmp(rtype, "vector") == 0) {
		size_t n = json_object_is_type(result, json_type_array) ? json_object_array_length(result) : 0;
		if (n != 1) {
			snprintf(reason, len, "query returned %zu series (one is needed: aggregate with sum(), max(), ...)", n);
			goto out;
		}
		struct json_object *pair;
		if (!json_object_object_get_ex(json_object_array_get_idx(result, 0), "value", &pair) ||
		    !sample_value(pair, &v)) {
			snprintf(reason, len, "malformed vector sample");
			goto out;
		}
	} else {
		snprintf(reason, len, "query returned a %s (a scalar or a one-element vector is needed)", rtype);
		goto out;
	}
	*value = v;
	r = 0;
	if (isnan(v)) {
		snprintf(reason, len, "value NaN");
		r = 1;
	} else if (p->has_equals) {
		if (fabs(v - p->equals) > p->within) {
			if (p->within > 0)
				snprintf(reason, len, "value %g not within %g of %g", v, p->within, p->equals);
			else
				snprintf(reason, len, "value %g not equal to %g", v, p->equals);
			r = 1;
		}
	} else if (p->has_below && !(v < p->below)) {
		snprintf(reason, len, "value %g not below %g", v, p->below);
		r = 1;
	} else if (p->has_above && !(v > p->above)) {
		snprintf(reason, len, "value %g not above %g", v, p->above);
		r = 1;
	}
	if (r == 0)
		snprintf(reason, len, "value %g", v);
out:
	json_object_put(root);
	return r;
}

static void run_prometheus(const struct probe *p, struct probe_result *out)
{
	CURL *curl = curl_easy_init();
	char *query = curl ? curl_easy_escape(curl, p->query, 0) : NULL;
	char *url = NULL;
	size_t base = strlen(p->prom_url);
	while (base > 0 && p->prom_url[base - 1] == '/')
		base--;
	if (!curl || !query || asprintf(&url, "%.*s/api/v1/query?query=%s", (int)base, p->prom_url, query) < 0) {
		snprintf(out->reason, sizeof(out->reason), "cannot create an HTTP client");
		url = NULL;
		goto out;
	}
	struct body body = { 0 };
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc = probe_get(curl, url, p, &body, errbuf, out);
	long status = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		snprintf(out->value, sizeof(out->value), "no answer");
		snprintf(out->reason, sizeof(out->reason), "%.*s: %s", (int)base, p->prom_url,
			 errbuf[0] ? errbuf : curl_easy_strerror(rc));
	} else if (status != 200 && !(status == 400 || status == 422)) {
		/* 400 and 422 carry Prometheus' own error message, read below */
		snprintf(out->value, sizeof(out->value), "HTTP %ld", status);
		snprintf(out->reason, sizeof(out->reason), "HTTP %ld from %.*s/api/v1/query", status, (int)base, p->prom_url);
	} else {
		double v = 0;
		char why[sizeof(out->reason)];
		int r = prometheus_eval(p, body.data ? body.data : "", &v, why, sizeof(why));
		if (r >= 0)
			snprintf(out->value, sizeof(out->value), "%g", v);
		else
			snprintf(out->value, sizeof(out->value), "no value");
		out->ok = r == 0;
		snprintf(out->reason, sizeof(out->reason), "%s", why);
	}
	free(body.data);
out:
	free(url);
	curl_free(query);
	curl_easy_cleanup(curl);
}

void probe_run(const struct probe *p, struct probe_result *out)
{
	memset(out, 0, sizeof(*out));
	out->started_wall_ms = wall_ms();
	switch (p->type) {
	case PROBE_HTTP:
		run_http(p, out);
		break;
	case PROBE_TCP:
		run_tcp(p, out);
		break;
	case PROBE_COMMAND:
		run_command(p, out);
		break;
	case PROBE_PROMETHEUS:
		run_prometheus(p, out);
		break;
	}
}
