/* Probes against loopback only: command (exit code, stdout, timeout killing the
 * whole process group), tcp (open and closed ports), http (a one-shot local server). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "common/timeutil.h"
#include "scheduler/probe.h"

static struct probe command_probe(const char *run, int exit_code, const char *re, uint64_t timeout_ms)
{
	struct probe p = { .name = "cmd", .type = PROBE_COMMAND, .run = (char *)run, .exit_code = exit_code,
			   .timeout_ms = timeout_ms };
	if (re) {
		assert_int_equal(regcomp(&p.regex, re, PROBE_REGEX_FLAGS), 0);
		p.has_regex = true;
		p.regex_text = (char *)re;
	}
	return p;
}

static void command_probe_results(void **state)
{
	(void)state;
	struct probe_result res;
	struct probe p = command_probe("echo hello; exit 3", 3, "^hel+o", 5000);
	probe_run(&p, &res);
	assert_true(res.ok);
	assert_string_equal(res.value, "exit 3");
	regfree(&p.regex);

	p = command_probe("echo bye", 0, "^hello", 5000);
	probe_run(&p, &res);
	assert_false(res.ok);
	assert_non_null(strstr(res.reason, "stdout does not match"));
	regfree(&p.regex);

	p = command_probe("exit 1", 0, NULL, 5000);
	probe_run(&p, &res);
	assert_false(res.ok);
	assert_non_null(strstr(res.reason, "exit code 1, expected 0"));
}

static void command_timeout_kills_the_process_group(void **state)
{
	(void)state;
	char marker[] = "/tmp/ckt-sch-probe-XXXXXX";
	int fd = mkstemp(marker);
	assert_true(fd >= 0);
	close(fd);
	unlink(marker);
	/* a grandchild in the background must die with the group, not write the marker later */
	char run[256];
	snprintf(run, sizeof(run), "(sleep 1; touch %s) & sleep 10", marker);
	struct probe p = command_probe(run, 0, NULL, 300);
	struct probe_result res;
	uint64_t t0 = mono_ms();
	probe_run(&p, &res);
	uint64_t took = mono_ms() - t0;
	assert_false(res.ok);
	assert_string_equal(res.value, "timeout");
	assert_true(took < 3000);
	sleep_ms(1500);
	assert_int_equal(access(marker, F_OK), -1);
}

static int listen_loopback(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	socklen_t len = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

static void tcp_probe_results(void **state)
{
	(void)state;
	uint16_t port;
	int fd = listen_loopback(&port);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	struct probe p = { .name = "tcp", .type = PROBE_TCP, .address = addr, .timeout_ms = 2000 };
	struct probe_result res;
	probe_run(&p, &res);
	assert_true(res.ok);
	assert_string_equal(res.value, "connected");
	close(fd); /* now nothing listens there */
	probe_run(&p, &res);
	assert_false(res.ok);
	assert_non_null(strstr(res.reason, "refused"));
}

struct server {
	int fd;
	const char *answer;
	char request[2048];   /* what the probe sent */
};

static void *serve_once(void *arg)
{
	struct server *s = arg;
	int c = accept(s->fd, NULL, NULL);
	if (c < 0)
		return NULL;
	ssize_t n = read(c, s->request, sizeof(s->request) - 1);
	s->request[n > 0 ? n : 0] = '\0';
	ssize_t w = write(c, s->answer, strlen(s->answer));
	(void)w;
	close(c);
	return NULL;
}

static void http_case(const char *answer, long *statuses, size_t n_statuses, const char *re, bool want_ok,
		      const char *reason_part)
{
	uint16_t port;
	struct server s = { .fd = listen_loopback(&port), .answer = answer };
	pthread_t t;
	pthread_create(&t, NULL, serve_once, &s);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/health", port);
	struct probe p = { .name = "http", .type = PROBE_HTTP, .url = url, .statuses = statuses,
			   .n_statuses = n_statuses, .timeout_ms = 3000 };
	if (re) {
		assert_int_equal(regcomp(&p.regex, re, PROBE_REGEX_FLAGS), 0);
		p.has_regex = true;
		p.regex_text = (char *)re;
	}
	struct probe_result res;
	probe_run(&p, &res);
	pthread_join(t, NULL);
	close(s.fd);
	if (p.has_regex)
		regfree(&p.regex);
	if (res.ok != want_ok || (reason_part && !strstr(res.reason, reason_part)))
		fail_msg("answer %.20s...: ok=%d reason=%s", answer, res.ok, res.reason);
}

static void http_probe_results(void **state)
{
	(void)state;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
	const char *unavailable = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	long only_200[] = { 200 };
	long accept_503[] = { 200, 503 };
	http_case(ok, NULL, 0, "^ok$", true, "HTTP 200");
	http_case(ok, only_200, 1, "^nope", false, "body does not match");
	http_case(unavailable, NULL, 0, NULL, false, "status 503");
	http_case(unavailable, accept_503, 2, NULL, true, NULL);
	/* nothing listens: no answer is a deviation, not a crash */
	uint16_t port;
	int fd = listen_loopback(&port);
	close(fd);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	struct probe p = { .name = "http", .type = PROBE_HTTP, .url = url, .timeout_ms = 1000 };
	struct probe_result res;
	probe_run(&p, &res);
	assert_false(res.ok);
	assert_string_equal(res.value, "no answer");
}

static void http_urls_fail_over_in_order(void **state)
{
	(void)state;
	uint16_t dead_port, port;
	int dead = listen_loopback(&dead_port);
	close(dead); /* refused */
	struct server s = { .fd = listen_loopback(&port),
			    .answer = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n" };
	pthread_t t;
	pthread_create(&t, NULL, serve_once, &s);
	char u1[64], u2[64];
	snprintf(u1, sizeof(u1), "http://127.0.0.1:%u/talk", dead_port);
	snprintf(u2, sizeof(u2), "http://127.0.0.1:%u/talk", port);
	char *urls[] = { u1, u2 };
	struct probe p = { .name = "talk", .type = PROBE_HTTP, .url = u1, .urls = urls, .n_urls = 2, .timeout_ms = 2000 };
	struct probe_result res;
	probe_run(&p, &res);
	pthread_join(t, NULL);
	close(s.fd);
	if (!res.ok || !strstr(res.reason, "after 1 failed") || !strstr(res.reason, u2))
		fail_msg("failover: ok=%d reason=%s", res.ok, res.reason);
	assert_non_null(strstr(s.request, "GET /talk "));
	/* none answers: the reason names every url */
	urls[1] = u1;
	probe_run(&p, &res);
	assert_false(res.ok);
	if (!strstr(res.reason, "none of 2 urls answered"))
		fail_msg("reason: %s", res.reason);
}

static void prom_check(const struct probe *p, const char *body, int want, const char *reason_part)
{
	double v = -1;
	char reason[512];
	int r = prometheus_eval(p, body, &v, reason, sizeof(reason));
	if (r != want || !strstr(reason, reason_part))
		fail_msg("%s: r=%d (want %d) reason=%s (want ...%s...)", body, r, want, reason, reason_part);
}

static void prometheus_answers_are_judged(void **state)
{
	(void)state;
	struct probe below = { .name = "ratio", .type = PROBE_PROMETHEUS, .has_below = true, .below = 0.05 };
	const char *vec1 = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
			   "[{\"metric\":{\"job\":\"talk\"},\"value\":[1732520000.123,\"0.12\"]}]}}";
	const char *vec_low = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
			      "[{\"metric\":{},\"value\":[1732520000.123,\"0.01\"]}]}}";
	const char *vec3 = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
			   "{\"metric\":{\"a\":\"1\"},\"value\":[1,\"1\"]},{\"metric\":{\"a\":\"2\"},\"value\":[1,\"1\"]},"
			   "{\"metric\":{\"a\":\"3\"},\"value\":[1,\"1\"]}]}}";
	const char *vec0 = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}";
	const char *scalar = "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1732520000,\"1\"]}}";
	const char *nan = "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1732520000,\"NaN\"]}}";
	const char *matrix = "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}";
	const char *error = "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error at char 5\"}";
	prom_check(&below, vec1, 1, "value 0.12 not below 0.05");
	prom_check(&below, vec_low, 0, "value 0.01");
	prom_check(&below, vec3, -EINVAL, "query returned 3 series");
	prom_check(&below, vec0, -EINVAL, "query returned 0 series");
	prom_check(&below, matrix, -EINVAL, "query returned a matrix");
	prom_check(&below, error, -EINVAL, "query failed: parse error at char 5");
	prom_check(&below, "<html>", -EINVAL, "not JSON");
	prom_check(&below, "{\"status\":\"success\"", -EINVAL, "not JSON");
	prom_check(&below, nan, 1, "NaN");
	struct probe above = { .name = "up", .type = PROBE_PROMETHEUS, .has_above = true, .above = 1 };
	prom_check(&above, scalar, 1, "value 1 not above 1");
	struct probe band = { .name = "band", .type = PROBE_PROMETHEUS, .has_above = true, .above = 0, .has_below = true,
			      .below = 2 };
	prom_check(&band, scalar, 0, "value 1");
	prom_check(&band, vec1, 0, "value 0.12");
	struct probe eq = { .name = "eq", .type = PROBE_PROMETHEUS, .has_equals = true, .equals = 0.1, .within = 0.05 };
	prom_check(&eq, vec1, 0, "value 0.12");
	prom_check(&eq, scalar, 1, "value 1 not within 0.05 of 0.1");
	struct probe exact = { .name = "exact", .type = PROBE_PROMETHEUS, .has_equals = true, .equals = 1 };
	prom_check(&exact, scalar, 0, "value 1");
	prom_check(&exact, vec1, 1, "value 0.12 not equal to 1");
}

/* A fake Prometheus: the probe must ask /api/v1/query with the query URL-encoded. */
static void prometheus_probe_against_a_fake_server(void **state)
{
	(void)state;
	const char *json = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
			   "[{\"metric\":{},\"value\":[1732520000.5,\"0.12\"]}]}}";
	char answer[512];
	snprintf(answer, sizeof(answer), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		 "Connection: close\r\n\r\n%s", strlen(json), json);
	uint16_t port;
	struct server s = { .fd = listen_loopback(&port), .answer = answer };
	pthread_t t;
	pthread_create(&t, NULL, serve_once, &s);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	struct probe p = { .name = "ratio", .type = PROBE_PROMETHEUS, .prom_url = url,
			   .query = "sum(rate(http_requests_total{code=~\"5..\"}[1m]))", .has_below = true, .below = 0.05,
			   .timeout_ms = 2000 };
	struct probe_result res;
	probe_run(&p, &res);
	pthread_join(t, NULL);
	close(s.fd);
	if (!strstr(s.request, "GET /api/v1/query?query=sum%28rate%28http_requests_total%7Bcode%3D~%225..%22%7D%5B1m%5D%29%29 HTTP"))
		fail_msg("request: %s", s.request);
	assert_false(res.ok);
	assert_string_equal(res.value, "0.12");
	assert_string_equal(res.reason, "value 0.12 not below 0.05");
	/* 400 with Prometheus' error body: the error is shown */
	const char *err = "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"1:5: parse error\"}";
	snprintf(answer, sizeof(answer), "HTTP/1.1 400 Bad Request\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
		 strlen(err), err);
	s.fd = listen_loopback(&port);
	pthread_create(&t, NULL, serve_once, &s);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	probe_run(&p, &res);
	pthread_join(t, NULL);
	close(s.fd);
	assert_false(res.ok);
	assert_string_equal(res.reason, "query failed: 1:5: parse error");
	/* nobody there */
	int fd = listen_loopback(&port);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	probe_run(&p, &res);
	assert_false(res.ok);
	assert_string_equal(res.value, "no answer");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(command_probe_results),
		cmocka_unit_test(command_timeout_kills_the_process_group),
		cmocka_unit_test(tcp_probe_results),
		cmocka_unit_test(http_probe_results),
		cmocka_unit_test(http_urls_fail_over_in_order),
		cmocka_unit_test(prometheus_answers_are_judged),
		cmocka_unit_test(prometheus_probe_against_a_fake_server),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return r;
}
