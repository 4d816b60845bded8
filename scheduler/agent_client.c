#include "scheduler/agent_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"

#define ANSWER_LIMIT (8u << 20)

struct slot {
	struct agent_call *call;
	CURL *easy;
	struct curl_slist *headers;
	char *buf;
	size_t len;
	bool overflow;
	char errbuf[CURL_ERROR_SIZE];
	uint64_t started;
};

void agent_client_defaults(struct agent_client *cl, const struct tls_files *tls)
{
	memset(cl, 0, sizeof(*cl));
	cl->tls = tls;
	cl->timeout_ms = AGENT_DEFAULT_TIMEOUT_MS;
	cl->connect_timeout_ms = 3000;
	cl->max_parallel = AGENT_DEFAULT_PARALLEL;
}

void agent_client_close(struct agent_client *cl)
{
	if (cl->multi)
		curl_multi_cleanup(cl->multi);
	cl->multi = NULL;
}

void agent_call_init(struct agent_call *c, const char *host, const char *agent, const char *method,
		     const char *path, char *body)
{
	memset(c, 0, sizeof(*c));
	c->host = host;
	c->agent = agent;
	c->method = method;
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->body = body;
}

void agent_call_clear(struct agent_call *c)
{
	free(c->body);
	c->body = NULL;
	json_object_put(c->answer);
	c->answer = NULL;
}

void agent_calls_free(struct agent_call *calls, size_t n)
{
	for (size_t i = 0; calls && i < n; i++)
		agent_call_clear(&calls[i]);
	free(calls);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct slot *s = userdata;
	size_t n = size * nmemb;
	if (s->len + n > ANSWER_LIMIT) {
		s->overflow = true;
		return 0;
	}
	char *grown = realloc(s->buf, s->len + n + 1);
	if (!grown)
		return 0;
	s->buf = grown;
	memcpy(s->buf + s->len, ptr, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

static int slot_start(const struct agent_client *cl, struct slot *s, struct agent_call *c)
{
	memset(s, 0, sizeof(*s));
	s->call = c;
	s->easy = curl_easy_init();
	if (!s->easy)
		return -1;
	char url[600];
	if (strncmp(c->agent, "unix:", 5) == 0) {
		curl_easy_setopt(s->easy, CURLOPT_UNIX_SOCKET_PATH, c->agent + 5);
		snprintf(url, sizeof(url), "http://localhost%s", c->path);
	} else {
		snprintf(url, sizeof(url), "%s%s", c->agent, c->path);
		if (cl->tls) {
			curl_easy_setopt(s->easy, CURLOPT_SSLCERT, cl->tls->cert);
			curl_easy_setopt(s->easy, CURLOPT_SSLKEY, cl->tls->key);
			curl_easy_setopt(s->easy, CURLOPT_CAINFO, cl->tls->ca);
		}
		curl_easy_setopt(s->easy, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(s->easy, CURLOPT_SSL_VERIFYHOST, 2L);
		curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS_STR, "https");
	}
	curl_easy_setopt(s->easy, CURLOPT_URL, url);
	curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, c->method);
	curl_easy_setopt(s->easy, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, cl->timeout_ms);
	curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, cl->connect_timeout_ms);
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(s->easy, CURLOPT_USERAGENT, "chaos/" CHAOSKIT_VERSION);
	s->headers = curl_slist_append(NULL, "Expect:");
	if (c->body) {
		s->headers = curl_slist_append(s->headers, "Content-Type: application/json");
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, c->body);
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(c->body));
	} else if (strcmp(c->method, "POST") == 0) {
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, 0L);
	}
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
	s->started = mono_ms();
	return 0;
}

static void slot_finish(struct slot *s, CURLcode rc)
{
	struct agent_call *c = s->call;
	c->latency_ms = mono_ms() - s->started;
	if (rc != CURLE_OK) {
		c->status = 0;
		snprintf(c->reason, sizeof(c->reason), "%s", rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "unreachable");
		long os_errno = 0;
		curl_easy_getinfo(s->easy, CURLINFO_OS_ERRNO, &os_errno);
		if (rc == CURLE_COULDNT_CONNECT && strncmp(c->agent, "unix:", 5) == 0 && os_errno)
			/* curl would speak of "localhost port 80", which is not where we went */
			snprintf(c->error, sizeof(c->error), "%s: cannot connect to %s: %s", c->host, c->agent + 5,
				 strerror((int)os_errno));
		else
			snprintf(c->error, sizeof(c->error), "%s (%s): %s", c->host, c->agent,
				 s->overflow ? "answer too large" : s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
	} else {
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &c->status);
		if (s->buf) {
			c->answer = json_tokener_parse(s->buf);
		}
		if (!agent_call_ok(c)) {
			struct json_object *errobj = NULL, *v;
			const char *reason = "", *msg = "", *key = "";
			if (c->answer && json_object_object_get_ex(c->answer, "error", &errobj)) {
				if (json_object_object_get_ex(errobj, "reason", &v))
					reason = json_object_get_string(v);
				if (json_object_object_get_ex(errobj, "message", &v))
					msg = json_object_get_string(v);
				if (json_object_object_get_ex(errobj, "key", &v) && json_object_is_type(v, json_type_string))
					key = json_object_get_string(v);
			}
			snprintf(c->reason, sizeof(c->reason), "%s", reason[0] ? reason : "http_error");
			snprintf(c->error, sizeof(c->error), "%s: %ld %s%s%s%s%s%s", c->host, c->status,
				 reason[0] ? reason : "error", msg[0] ? ": " : "", msg, key[0] ? " (key " : "", key,
				 key[0] ? ")" : "");
		}
	}
	free(s->buf);
	s->buf = NULL;
	curl_slist_free_all(s->headers);
	s->headers = NULL;
}

int agent_batch(struct agent_client *cl, struct agent_call *calls, size_t n)
{
	if (n == 0)
		return 0;
	int parallel = cl->max_parallel > 0 ? cl->max_parallel : AGENT_DEFAULT_PARALLEL;
	size_t width = n < (size_t)parallel ? n : (size_t)parallel;
	struct slot *slots = calloc(width, sizeof(*slots));
	if (!cl->multi) {
		cl->multi = curl_multi_init();
		/* room to keep one idle connection per agent of a large fleet */
		if (cl->multi)
			curl_multi_setopt(cl->multi, CURLMOPT_MAXCONNECTS, 4096L);
	}
	CURLM *multi = cl->multi;
	if (!slots || !multi) {
		for (size_t i = 0; i < n; i++)
			snprintf(calls[i].error, sizeof(calls[i].error), "%s: out of memory", calls[i].host);
		free(slots);
		return (int)n;
	}
	size_t next = 0, running_slots = 0;
	int failures = 0;
	for (size_t i = 0; i < width; i++) {
		struct agent_call *c = &calls[next++];
		if (slot_start(cl, &slots[i], c) == 0 && curl_multi_add_handle(multi, slots[i].easy) == CURLM_OK) {
			running_slots++;
		} else {
			snprintf(c->error, sizeof(c->error), "%s: cannot start the request", c->host);
			failures++;
			if (slots[i].easy)
				curl_easy_cleanup(slots[i].easy);
			curl_slist_free_all(slots[i].headers);
			slots[i].easy = NULL;
		}
	}
	while (running_slots > 0) {
		int still = 0;
		curl_multi_perform(multi, &still);
		CURLMsg *msg;
		int queued;
		while ((msg = curl_multi_info_read(multi, &queued))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct slot *s = NULL;
			for (size_t i = 0; i < width; i++)
				if (slots[i].easy == msg->easy_handle)
					s = &slots[i];
			if (!s)
				continue;
			CURLcode rc = msg->data.result;
			curl_multi_remove_handle(multi, s->easy);
			slot_finish(s, rc);
			if (s->call->status == 0)
				failures++;
			curl_easy_cleanup(s->easy);
			s->easy = NULL;
			running_slots--;
			while (next < n) {
				struct agent_call *c = &calls[next++];
				if (slot_start(cl, s, c) == 0 && curl_multi_add_handle(multi, s->easy) == CURLM_OK) {
					running_slots++;
					break;
				}
				snprintf(c->error, sizeof(c->error), "%s: cannot start the request", c->host);
				failures++;
				if (s->easy)
					curl_easy_cleanup(s->easy);
				curl_slist_free_all(s->headers);
				s->easy = NULL;
			}
		}
		if (running_slots > 0)
			curl_multi_poll(multi, NULL, 0, 200, NULL);
	}
	free(slots);
	return failures;
}
