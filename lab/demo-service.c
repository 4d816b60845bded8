/* chaos-demo-service: the lab's stand-in for a real service, in one of two modes.
 *
 *   talk  (every lab host, :8080)  GET /talk  -> 200 "talk from NAME" (needs nothing else)
 *                                  GET /send  -> asks the login service (--login URL, GET URL/verify)
 *                                               and answers 200 only if login said 200, else 503
 *   login (h1 only, :8081)         GET /verify -> 200 "verified by NAME"
 *   both                           GET / -> "hello from NAME", /health -> "ok", /metrics (Prometheus)
 *
 * It keeps no state besides request counters, so whatever a probe sees is caused by the network
 * and the processes around it. /send is the dependency the DC blackout game day uncovers. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/netaddr.h"

enum mode { MODE_TALK, MODE_LOGIN };

/* Counted request outcomes: every path the service knows (plus "other") by every code it sends. */
static const char *const known_paths[] = { "/", "/health", "/talk", "/send", "/verify", "/metrics", "other" };
enum { N_PATHS = sizeof(known_paths) / sizeof(known_paths[0]) };
static const unsigned int known_codes[] = { MHD_HTTP_OK, MHD_HTTP_NOT_FOUND, MHD_HTTP_METHOD_NOT_ALLOWED,
					    MHD_HTTP_SERVICE_UNAVAILABLE };
enum { N_CODES = sizeof(known_codes) / sizeof(known_codes[0]) };

struct service {
	enum mode mode;
	char name[128];
	char hello[192];
	char talk[192];
	char verified[192];
	char verify_url[512]; /* "" when no --login was given */
	long login_timeout_ms;
	/* Answering threads update these concurrently (one thread per connection). */
	atomic_ulong requests[N_PATHS][N_CODES];
	atomic_ulong login_ok, login_failed;
};

static const char *mode_name(enum mode m)
{
	return m == MODE_LOGIN ? "login" : "talk";
}

static size_t path_index(const char *url)
{
	for (size_t i = 0; i + 1 < N_PATHS; i++)
		if (strcmp(url, known_paths[i]) == 0)
			return i;
	return N_PATHS - 1;
}

static void count_request(struct service *svc, const char *url, unsigned int status)
{
	for (size_t c = 0; c < N_CODES; c++) {
		if (known_codes[c] == status) {
			atomic_fetch_add(&svc->requests[path_index(url)][c], 1);
			return;
		}
	}
}

static enum MHD_Result send_response(struct MHD_Connection *conn, unsigned int status, const char *body,
				     size_t len, const char *content_type, enum MHD_ResponseMemoryMode memory)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, memory);
	if (!resp) {
		if (memory == MHD_RESPMEM_MUST_FREE)
			free((void *)body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	enum MHD_Result r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result answer(struct service *svc, struct MHD_Connection *conn, const char *url,
			      unsigned int status, const char *text)
{
	count_request(svc, url, status);
	return send_response(conn, status, text, strlen(text), "text/plain", MHD_RESPMEM_MUST_COPY);
}

static size_t discard_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	(void)data;
	(void)userdata;
	return size * nmemb;
}

/* Asks the login service; true when it answered 200 within the timeout. */
static bool login_says_ok(struct service *svc, char *why, size_t why_size)
{
	CURL *curl = curl_easy_init();
	if (!curl) {
		snprintf(why, why_size, "cannot create a client");
		return false;
	}
	curl_easy_setopt(curl, CURLOPT_URL, svc->verify_url);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, svc->login_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, svc->login_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
	CURLcode rc = curl_easy_perform(curl);
	long code = 0;
	bool ok = false;
	if (rc != CURLE_OK) {
		snprintf(why, why_size, "%s", curl_easy_strerror(rc));
	} else {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
		ok = code == 200;
		if (!ok)
			snprintf(why, why_size, "login answered HTTP %ld", code);
	}
	curl_easy_cleanup(curl);
	return ok;
}

static enum MHD_Result handle_send(struct service *svc, struct MHD_Connection *conn, const char *url)
{
	if (svc->verify_url[0] == '\0')
		return answer(svc, conn, url, MHD_HTTP_SERVICE_UNAVAILABLE, "no login service configured\n");
	char why[160] = "";
	if (!login_says_ok(svc, why, sizeof(why))) {
		atomic_fetch_add(&svc->login_failed, 1);
		char text[256];
		snprintf(text, sizeof(text), "%s cannot send: login failed: %s\n", svc->name, why);
		return answer(svc, conn, url, MHD_HTTP_SERVICE_UNAVAILABLE, text);
	}
	atomic_fetch_add(&svc->login_ok, 1);
	char text[192];
	snprintf(text, sizeof(text), "sent by %s\n", svc->name);
	return answer(svc, conn, url, MHD_HTTP_OK, text);
}

/* The counters in the Prometheus text exposition format (version 0.0.4). */
static char *render_metrics(struct service *svc)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	if (!out)
		return NULL;
	const char *mode = mode_name(svc->mode);
	fprintf(out, "# HELP chaos_demo_requests_total Requests answered, by path and HTTP status code.\n"
		     "# TYPE chaos_demo_requests_total counter\n");
	for (size_t p = 0; p < N_PATHS; p++) {
		for (size_t c = 0; c < N_CODES; c++) {
			unsigned long n = atomic_load(&svc->requests[p][c]);
			if (n > 0)
				fprintf(out, "chaos_demo_requests_total{service=\"%s\",path=\"%s\",code=\"%u\"} %lu\n",
					mode, known_paths[p], known_codes[c], n);
		}
	}
	if (svc->mode == MODE_TALK) {
		fprintf(out, "# HELP chaos_demo_login_calls_total Calls /send made to the login service, by result.\n"
			     "# TYPE chaos_demo_login_calls_total counter\n"
			     "chaos_demo_login_calls_total{result=\"ok\"} %lu\n"
			     "chaos_demo_login_calls_total{result=\"failed\"} %lu\n",
			atomic_load(&svc->login_ok), atomic_load(&svc->login_failed));
	}
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version, const char *upload_data,
				      size_t *upload_data_size, void **req_cls)
{
	struct service *svc = cls;
	(void)version;
	(void)upload_data;
	(void)req_cls;

	/* Bodies are never read; refusing them keeps MHD from buffering whatever a client sends. */
	if (*upload_data_size != 0)
		return MHD_NO;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return answer(svc, conn, url, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (strcmp(url, "/") == 0)
		return answer(svc, conn, url, MHD_HTTP_OK, svc->hello);
	if (strcmp(url, "/health") == 0)
		return answer(svc, conn, url, MHD_HTTP_OK, "ok\n");
	if (strcmp(url, "/metrics") == 0) {
		/* Counted before rendering, so a scrape sees itself like any other request. */
		count_request(svc, url, MHD_HTTP_OK);
		char *text = render_metrics(svc);
		if (!text)
			return MHD_NO;
		return send_response(conn, MHD_HTTP_OK, text, strlen(text), "text/plain; version=0.0.4",
				     MHD_RESPMEM_MUST_FREE);
	}
	if (svc->mode == MODE_TALK && strcmp(url, "/talk") == 0)
		return answer(svc, conn, url, MHD_HTTP_OK, svc->talk);
	if (svc->mode == MODE_TALK && strcmp(url, "/send") == 0)
		return handle_send(svc, conn, url);
	if (svc->mode == MODE_LOGIN && strcmp(url, "/verify") == 0)
		return answer(svc, conn, url, MHD_HTTP_OK, svc->verified);
	return answer(svc, conn, url, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* "10.77.0.11:8080", "0.0.0.0:8080", "[::]:8080" -> socket address. */
static int parse_listen(const char *text, struct sockaddr_storage *ss, unsigned int *extra_flags)
{
	char host[INET6_ADDRSTRLEN];
	uint16_t port;
	int r = host_port_split(text, host, sizeof(host), &port);
	if (r < 0)
		return r;

	struct sockaddr_storage tmp;
	memset(&tmp, 0, sizeof(tmp));
	struct sockaddr_in *sin = (struct sockaddr_in *)&tmp;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&tmp;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*extra_flags = 0;
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		/* "[::]" should also take IPv4 clients, like most real services do. */
		*extra_flags = IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr) ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
	} else {
		return -EINVAL;
	}
	*ss = tmp;
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: chaos-demo-service --listen ADDR:PORT --name NAME [--mode talk|login]\n"
		"                          [--login URL] [--login-timeout MS]\n"
		"  both modes: GET / -> 200 \"hello from NAME\", /health -> 200 \"ok\", /metrics (Prometheus text)\n"
		"  talk:  /talk -> 200 \"talk from NAME\"; /send -> GET URL/verify on the login service,\n"
		"         200 if it answered 200 within MS milliseconds (default 500), else 503\n"
		"  login: /verify -> 200 \"verified by NAME\"\n"
		"  exits on SIGTERM/SIGINT\n");
}

static int parse_options(int argc, char **argv, struct service *svc, const char **listen_text)
{
	static const struct option options[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "name", required_argument, NULL, 'n' },
		{ "mode", required_argument, NULL, 'm' },
		{ "login", required_argument, NULL, 'L' },
		{ "login-timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = "demo", *login = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "l:n:m:L:t:h", options, NULL)) != -1) {
		switch (opt) {
		case 'l': *listen_text = optarg; break;
		case 'n': name = optarg; break;
		case 'm':
			if (strcmp(optarg, "talk") == 0) {
				svc->mode = MODE_TALK;
			} else if (strcmp(optarg, "login") == 0) {
				svc->mode = MODE_LOGIN;
			} else {
				log_error("--mode must be talk or login, not %s", optarg);
				return -EINVAL;
			}
			break;
		case 'L': login = optarg; break;
		case 't': {
			char *end = NULL;
			errno = 0;
			long ms = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || ms < 1 || ms > 60000) {
				log_error("--login-timeout must be 1..60000 milliseconds, not %s", optarg);
				return -EINVAL;
			}
			svc->login_timeout_ms = ms;
			break;
		}
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	if (login && svc->mode != MODE_TALK) {
		log_error("--login only makes sense with --mode talk");
		return -EINVAL;
	}
	if (snprintf(svc->name, sizeof(svc->name), "%s", name) >= (int)sizeof(svc->name)) {
		log_error("--name is too long");
		return -EINVAL;
	}
	snprintf(svc->hello, sizeof(svc->hello), "hello from %s\n", svc->name);
	snprintf(svc->talk, sizeof(svc->talk), "talk from %s\n", svc->name);
	snprintf(svc->verified, sizeof(svc->verified), "verified by %s\n", svc->name);
	if (login) {
		size_t n = strlen(login);
		while (n > 0 && login[n - 1] == '/')
			n--;
		if (snprintf(svc->verify_url, sizeof(svc->verify_url), "%.*s/verify", (int)n, login) >=
		    (int)sizeof(svc->verify_url)) {
			log_error("--login URL is too long");
			return -EINVAL;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct service svc = { .mode = MODE_TALK, .login_timeout_ms = 500 };
	const char *listen_text = "0.0.0.0:8080";
	if (parse_options(argc, argv, &svc, &listen_text) < 0)
		return 2;

	struct sockaddr_storage addr;
	unsigned int family_flags;
	if (parse_listen(listen_text, &addr, &family_flags) < 0) {
		log_error("--listen %s: expected ADDR:PORT or [V6ADDR]:PORT", listen_text);
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("cannot initialise libcurl");
		return 1;
	}

	/* Blocked before MHD starts its threads, so only sigwait below ever sees them. */
	sigset_t stop_signals;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* A thread per connection: /send waits for the login service, and while it does (login
	 * unreachable: up to the timeout) /health and /talk must keep answering at once. */
	struct MHD_Daemon *daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
			MHD_USE_ERROR_LOG | family_flags,
		0, NULL, NULL, handle_request, &svc, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)200,
		MHD_OPTION_END);
	if (!daemon) {
		log_error("cannot listen on %s", listen_text);
		curl_global_cleanup();
		return 1;
	}
	log_info("%s (%s) listening on %s%s%s", svc.name, mode_name(svc.mode), listen_text,
		 svc.verify_url[0] ? ", login at " : "", svc.verify_url);

	int sig = 0;
	sigwait(&stop_signals, &sig);
	log_info("signal %d: stopping", sig);
	MHD_stop_daemon(daemon);
	curl_global_cleanup();
	return 0;
}
