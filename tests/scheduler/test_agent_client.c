/* The batch agent client against a fake agent on a unix socket: every answer lands on
 * its own call, concurrency stays within the bound yet is used, agent errors and
 * transport failures come back per call with clear messages. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "common/timeutil.h"
#include "scheduler/agent_client.h"
#include "scheduler/run.h"

static atomic_int in_flight, max_in_flight, handlers_running, deleted_ours, deleted_others;
static char sock_path[108];
static char agent_addr[128];

static void send_answer(int fd, int status, const char *body)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			 status, strlen(body));
	ssize_t w = write(fd, head, (size_t)n);
	w = write(fd, body, strlen(body));
	(void)w;
}

static void *handle(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char req[4096];
	size_t len = 0;
	/* read the head and whatever body Content-Length announces */
	for (;;) {
		ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		req[len] = '\0';
		char *end = strstr(req, "\r\n\r\n");
		if (!end)
			continue;
		const char *cl = strcasestr(req, "Content-Length:");
		size_t want = cl ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
		if (len - (size_t)(end + 4 - req) >= want)
			break;
	}
	req[len] = '\0';
	int now = atomic_fetch_add(&in_flight, 1) + 1;
	int seen = atomic_load(&max_in_flight);
	while (now > seen && !atomic_compare_exchange_weak(&max_in_flight, &seen, now))
		;
	char method[16] = "", path[200] = "";
	sscanf(req, "%15s %199s", method, path);
	char *body = strstr(req, "\r\n\r\n");
	body = body ? body + 4 : "";
	char answer[512];
	if (strncmp(path, "/v1/ok/", 7) == 0) {
		sleep_ms(20);
		snprintf(answer, sizeof(answer), "{\"method\":\"%s\",\"path\":\"%s\",\"body_len\":%zu}", method, path,
			 strlen(body));
		send_answer(fd, 200, answer);
	} else if (strcmp(path, "/v1/err") == 0) {
		send_answer(fd, 404, "{\"error\":{\"reason\":\"no_such_fault\",\"message\":\"no fault f-1\",\"key\":\"id\"}}");
	} else if (strcmp(path, "/v1/notjson") == 0) {
		send_answer(fd, 200, "hello");
	} else if (strcmp(method, "POST") == 0 && strcmp(path, "/v1/faults") == 0) {
		/* applies, but answers too late for the client */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		poll(&p, 1, 5000);
	} else if (strcmp(method, "GET") == 0 && strcmp(path, "/v1/faults") == 0) {
		send_answer(fd, 200, "{\"faults\":[{\"id\":\"f-aaaaaa\",\"kind\":\"blackhole\",\"lease\":{\"id\":\"L1\"}},"
				     "{\"id\":\"f-bbbbbb\",\"kind\":\"blackhole\",\"lease\":{\"id\":\"other\"}},"
				     "{\"id\":\"f-cccccc\",\"kind\":\"blackhole\"}]}");
	} else if (strncmp(path, "/v1/faults/", 11) == 0) {
		if (strcmp(method, "DELETE") == 0) {
			if (strcmp(path + 11, "f-aaaaaa") == 0)
				atomic_fetch_add(&deleted_ours, 1);
			else
				atomic_fetch_add(&deleted_others, 1);
		}
		snprintf(answer, sizeof(answer), "{\"id\":\"%s\",\"state\":\"%s\",\"stats\":{\"packets_dropped\":7}}",
			 path + 11, strcmp(method, "DELETE") == 0 ? "reverted" : "active");
		send_answer(fd, 200, answer);
	} else if (strcmp(path, "/v1/slow") == 0) {
		/* until the client gives up and closes */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		poll(&p, 1, 5000);
	} else {
		send_answer(fd, 500, "{}");
	}
	atomic_fetch_sub(&in_flight, 1);
	close(fd);
	atomic_fetch_sub(&handlers_running, 1);
	return NULL;
}

static int listen_fd = -1;

static void *serve(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(listen_fd, NULL, NULL);
		if (c < 0)
			return NULL; /* listening socket shut down */
		pthread_t t;
		atomic_fetch_add(&handlers_running, 1);
		if (pthread_create(&t, NULL, handle, (void *)(intptr_t)c) == 0)
			pthread_detach(t);
		else {
			atomic_fetch_sub(&handlers_running, 1);
			close(c);
		}
	}
}

static pthread_t server;

static int setup(void **state)
{
	(void)state;
	snprintf(sock_path, sizeof(sock_path), "/tmp/ckt-sch-agent-%d.sock", (int)getpid());
	unlink(sock_path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	if (bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) || listen(listen_fd, 256))
		return -1;
	snprintf(agent_addr, sizeof(agent_addr), "unix:%s", sock_path);
	return pthread_create(&server, NULL, serve, NULL);
}

static int teardown(void **state)
{
	(void)state;
	shutdown(listen_fd, SHUT_RDWR);
	close(listen_fd);
	pthread_join(server, NULL);
	for (int i = 0; i < 300 && atomic_load(&handlers_running) > 0; i++)
		sleep_ms(10);
	unlink(sock_path);
	return 0;
}

static void many_calls_bounded_concurrency(void **state)
{
	(void)state;
	enum { N = 200, PARALLEL = 16 };
	struct agent_client cl;
	agent_client_defaults(&cl, NULL);
	cl.max_parallel = PARALLEL;
	struct agent_call *calls = calloc(N, sizeof(*calls));
	char names[N][16];
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "h%d", i);
		char path[64];
		snprintf(path, sizeof(path), "/v1/ok/%d", i);
		char *body = NULL;
		if (i % 2 && asprintf(&body, "{\"n\":%d}", i) < 0)
			body = NULL;
		agent_call_init(&calls[i], names[i], agent_addr, i % 2 ? "POST" : "GET", path, body);
	}
	atomic_store(&max_in_flight, 0);
	uint64_t t0 = mono_ms();
	assert_int_equal(agent_batch(&cl, calls, N), 0);
	uint64_t took = mono_ms() - t0;
	print_message("%d calls, %d at once, 20 ms each on the agent: %llu ms; most at once on the agent: %d\n", N,
		      PARALLEL, (unsigned long long)took, atomic_load(&max_in_flight));
	for (int i = 0; i < N; i++) {
		assert_true(agent_call_ok(&calls[i]));
		assert_string_equal(calls[i].error, "");
		struct json_object *v;
		assert_true(json_object_object_get_ex(calls[i].answer, "path", &v));
		char want[64];
		snprintf(want, sizeof(want), "/v1/ok/%d", i);
		assert_string_equal(json_object_get_string(v), want); /* each answer on its own call */
		assert_true(json_object_object_get_ex(calls[i].answer, "method", &v));
		assert_string_equal(json_object_get_string(v), i % 2 ? "POST" : "GET");
		assert_true(json_object_object_get_ex(calls[i].answer, "body_len", &v));
		assert_int_equal(json_object_get_int(v), i % 2 ? (int)strlen(calls[i].body) : 0);
	}
	assert_true(atomic_load(&max_in_flight) <= PARALLEL);
	assert_true(atomic_load(&max_in_flight) >= 2);
	/* serially 200 x 20 ms = 4 s; concurrently far less even on a busy machine */
	assert_true(took < 3000);
	agent_calls_free(calls, N);
	agent_client_close(&cl);
}

static void errors_per_call(void **state)
{
	(void)state;
	struct agent_client cl;
	agent_client_defaults(&cl, NULL);
	cl.timeout_ms = 400;
	struct agent_call calls[5];
	agent_call_init(&calls[0], "a", agent_addr, "DELETE", "/v1/err", NULL);
	agent_call_init(&calls[1], "b", "unix:/tmp/ckt-sch-no-such.sock", "GET", "/v1/info", NULL);
	agent_call_init(&calls[2], "c", agent_addr, "GET", "/v1/slow", NULL);
	agent_call_init(&calls[3], "d", agent_addr, "GET", "/v1/notjson", NULL);
	agent_call_init(&calls[4], "e", agent_addr, "GET", "/v1/ok/1", NULL);
	assert_int_equal(agent_batch(&cl, calls, 5), 2); /* b and c got no answer */

	assert_int_equal(calls[0].status, 404);
	assert_string_equal(calls[0].reason, "no_such_fault");
	assert_string_equal(calls[0].error, "a: 404 no_such_fault: no fault f-1 (key id)");

	assert_int_equal(calls[1].status, 0);
	assert_string_equal(calls[1].reason, "unreachable");
	assert_non_null(strstr(calls[1].error, "b: cannot connect to /tmp/ckt-sch-no-such.sock: No such file"));

	assert_int_equal(calls[2].status, 0);
	assert_string_equal(calls[2].reason, "timeout");
	assert_true(calls[2].latency_ms >= 350 && calls[2].latency_ms < 3000);

	assert_int_equal(calls[3].status, 200);
	assert_null(calls[3].answer); /* not JSON: no answer object, but the call itself worked */
	assert_true(agent_call_ok(&calls[4]));
	for (int i = 0; i < 5; i++)
		agent_call_clear(&calls[i]);
	agent_client_close(&cl);
}

static void empty_batch(void **state)
{
	(void)state;
	struct agent_client cl;
	agent_client_defaults(&cl, NULL);
	assert_int_equal(agent_batch(&cl, NULL, 0), 0);
}

static void unanswered_apply_is_found_and_reverted(void **state)
{
	(void)state;
	struct agent_client cl;
	agent_client_defaults(&cl, NULL);
	cl.timeout_ms = 300;
	struct host h = { .name = "h1", .agent = agent_addr };
	struct inventory inv = { .hosts = &h, .n_hosts = 1 };
	struct report rep;
	assert_int_equal(report_init(&rep, "t", NULL), 0);
	struct fault_set set = { .lease_id = "L1" };
	struct apply_request req = { .kind = "blackhole", .duration_ms = 10000, .lease_id = "L1",
				     .lease_ttl_ms = 3000, .step = 1 };
	size_t which = 0;
	assert_int_equal(faults_apply(&cl, &inv, &which, 1, &req, &set, &rep, true), 1);
	assert_int_equal(set.count, 0);
	assert_int_equal(set.n_unanswered, 1);
	/* the revert adopts the fault with our lease, and only that one */
	assert_int_equal(faults_revert_all(&cl, &set, &rep, true), 0);
	assert_int_equal(atomic_load(&deleted_ours), 1);
	assert_int_equal(atomic_load(&deleted_others), 0);
	assert_int_equal(set.count, 1);
	assert_true(set.items[0].ended);
	struct json_object *events, *last, *v;
	json_object_object_get_ex(rep.root, "events", &events);
	last = json_object_array_get_idx(events, json_object_array_length(events) - 1);
	json_object_object_get_ex(last, "type", &v);
	assert_string_equal(json_object_get_string(v), "fault_reverted");
	json_object_object_get_ex(last, "id", &v);
	assert_string_equal(json_object_get_string(v), "f-aaaaaa");
	fault_set_free(&set);
	report_free(&rep);
	agent_client_close(&cl);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(many_calls_bounded_concurrency),
		cmocka_unit_test(errors_per_call),
		cmocka_unit_test(empty_batch),
		cmocka_unit_test(unanswered_apply_is_found_and_reverted),
	};
	int r = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return r;
}
