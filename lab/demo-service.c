/* chaos-demo-service: the lab's stand-in for a real web service.
 * GET / answers "hello from NAME", GET /health answers "ok"; anything else is a 404.
 * It has no state, so whatever a probe sees is caused by the network around it. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/netaddr.h"

struct service {
	char hello[192];
};

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned int status, const char *text)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	enum MHD_Result r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version, const char *upload_data,
				      size_t *upload_data_size, void **req_cls)
{
	const struct service *svc = cls;
	(void)version;
	(void)upload_data;
	(void)req_cls;

	/* Bodies are never read; refusing them keeps MHD from buffering whatever a client sends. */
	if (*upload_data_size != 0)
		return MHD_NO;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (strcmp(url, "/") == 0)
		return send_text(conn, MHD_HTTP_OK, svc->hello);
	if (strcmp(url, "/health") == 0)
		return send_text(conn, MHD_HTTP_OK, "ok\n");
	return send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
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
	fprintf(out, "usage: chaos-demo-service --listen ADDR:PORT --name NAME\n"
		     "  GET / -> 200 \"hello from NAME\", GET /health -> 200 \"ok\"; exits on SIGTERM/SIGINT\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen_text = "0.0.0.0:8080", *name = "demo";
	int opt;
	while ((opt = getopt_long(argc, argv, "l:n:h", options, NULL)) != -1) {
		switch (opt) {
		case 'l': listen_text = optarg; break;
		case 'n': name = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	struct service svc;
	if (snprintf(svc.hello, sizeof(svc.hello), "hello from %s\n", name) >= (int)sizeof(svc.hello)) {
		log_error("--name is too long");
		return 2;
	}
	struct sockaddr_storage addr;
	unsigned int family_flags;
	if (parse_listen(listen_text, &addr, &family_flags) < 0) {
		log_error("--listen %s: expected ADDR:PORT or [V6ADDR]:PORT", listen_text);
		return 2;
	}

	/* Blocked before MHD starts its thread, so only sigwait below ever sees them. */
	sigset_t stop_signals;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct MHD_Daemon *daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | family_flags, 0, NULL,
		NULL, handle_request, &svc, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_END);
	if (!daemon) {
		log_error("cannot listen on %s", listen_text);
		return 1;
	}
	log_info("%s listening on %s", name, listen_text);

	int sig = 0;
	sigwait(&stop_signals, &sig);
	log_info("signal %d: stopping", sig);
	MHD_stop_daemon(daemon);
	return 0;
}
