#include "agent/http.h"

#include "agent/tls.h"
#include "common/log.h"
#include "common/timeutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

enum listener_type { LISTENER_UNIX, LISTENER_TLS };

struct http_listener {
	enum listener_type type;
	struct api *api;
	struct MHD_Daemon *daemon;
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct tls_material tls;
};

/* Per request: the body as it arrives, and a refusal decided before it did. */
struct request_state {
	uint64_t started_ms;
	char *body;
	size_t len, cap;
	bool too_large;
	size_t dropped;         /* bytes of an oversized body read and thrown away */
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	log_vmsg(LOG_LVL_DEBUG, fmt, ap);
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct api_response *resp)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(resp->len, resp->body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		api_response_release(resp);
		return MHD_NO;
	}
	resp->body = NULL;  /* MHD frees it */
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type ? resp->content_type : "text/plain");
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result refuse(struct MHD_Connection *conn, const struct api_error *err)
{
	struct api_response resp;
	api_respond_error(&resp, err);
	return send_response(conn, &resp);
}

/* The caller of the unix socket must be root: the socket's mode is the first
 * line of defence, the peer's credentials the second. */
static int check_unix_peer(struct MHD_Connection *conn, struct api_error *err)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		api_error_set(err, 403, "peer_not_root", NULL, "cannot read the caller's credentials");
		return -EACCES;
	}
	if (cred.uid != 0) {
		api_error_set(err, 403, "peer_not_root", NULL, "only root may use this socket (caller uid %u)",
			      (unsigned)cred.uid);
		log_warn("unix socket: refused pid %d uid %u (not root)", (int)cred.pid, (unsigned)cred.uid);
		return -EACCES;
	}
	return 0;
}

static int check_tls_peer(struct MHD_Connection *conn, struct api_error *err)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	int r = tls_check_client(ci ? (gnutls_session_t)ci->tls_session : NULL, err);
	if (r < 0)
		log_info("tls: refused a client: %s", err->message);
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	(void)version;
	struct http_listener *l = cls;
	struct request_state *rs = *con_cls;
	struct api_error err;
	if (!rs) {
		int r = l->type == LISTENER_UNIX ? check_unix_peer(conn, &err) : check_tls_peer(conn, &err);
		if (r < 0)
			return refuse(conn, &err);
		const char *clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		unsigned long long announced = clen ? strtoull(clen, NULL, 10) : 0;
		/* A modestly oversized body is read and dropped before the 413 goes out: answering
		 * while the client is still sending makes the close reset the connection under its
		 * feet, and the client sees a send error instead of the 413. Huge ones are refused
		 * at once rather than read. */
		if (announced > API_DRAIN_LIMIT) {
			api_error_set(&err, 413, "body_too_large", NULL, "request bodies are limited to %d bytes",
				      API_MAX_BODY);
			return refuse(conn, &err);
		}
		rs = calloc(1, sizeof(*rs));
		if (!rs)
			return MHD_NO;
		rs->too_large = announced > API_MAX_BODY;
		rs->started_ms = mono_ms();
		*con_cls = rs;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (rs->too_large || rs->len + n > API_MAX_BODY) {
			/* oversized, chunked or lying about its length: read and drop the rest */
			rs->too_large = true;
			rs->dropped += n;
			return rs->dropped > API_DRAIN_LIMIT ? MHD_NO : MHD_YES;
		}
		if (rs->len + n + 1 > rs->cap) {
			size_t cap = rs->cap ? rs->cap : 1024;
			while (cap < rs->len + n + 1)
				cap *= 2;
			char *grown = realloc(rs->body, cap);
			if (!grown)
				return MHD_NO;
			rs->body = grown;
			rs->cap = cap;
		}
		memcpy(rs->body + rs->len, upload_data, n);
		rs->len += n;
		rs->body[rs->len] = '\0';
		return MHD_YES;
	}
	if (rs->too_large) {
		api_error_set(&err, 413, "body_too_large", NULL, "request bodies are limited to %d bytes", API_MAX_BODY);
		return refuse(conn, &err);
	}
	struct api_response resp;
	api_handle(l->api, method, url, rs->body, rs->len, &resp);
	log_debug("%s %s %s -> %d (%llu ms)", l->type == LISTENER_UNIX ? "unix" : "tls", method, url, resp.status,
		  (unsigned long long)(mono_ms() - rs->started_ms));
	return send_response(conn, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	struct request_state *rs = *con_cls;
	if (rs) {
		free(rs->body);
		free(rs);
		*con_cls = NULL;
	}
}

static int set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int make_socket_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return -EINVAL;
	*slash = '\0';
	struct stat st;
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
		if (st.st_mode & 0022)
			log_warn("unix socket: %s is writable by others than its owner", dir);
		return 0;
	}
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* A socket file left by a crashed agent is replaced; a live one is not. */
static int clear_stale_socket(const char *path, const struct sockaddr_un *addr)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return log_err(-EEXIST, "unix socket: %s exists and is not a socket", path);
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return -errno;
	int alive = connect(probe, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
	close(probe);
	if (alive)
		return log_err(-EADDRINUSE, "unix socket: %s answers: another agent is running", path);
	if (unlink(path) < 0)
		return -errno;
	return 0;
}

static int start_daemon(struct http_listener *l, int fd)
{
	/* poll, not epoll (what AUTO picks): with epoll, libmicrohttpd 0.9.75 spins at
	 * full CPU on a TLS connection whose record arrived only in part (6 bytes of a
	 * ClientHello are enough), so 64 handshakes at once starved a host running many
	 * agents and timed out. poll waits for the rest of the record. */
	unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem tls_opts[] = {
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, l->tls.key },
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, l->tls.cert },
		{ MHD_OPTION_HTTPS_MEM_TRUST, 0, l->tls.ca },
		{ MHD_OPTION_END, 0, NULL },
	};
	if (l->type == LISTENER_TLS)
		flags |= MHD_USE_TLS;
	l->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, l,
				     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				     MHD_OPTION_LISTEN_SOCKET, fd,
				     MHD_OPTION_THREAD_POOL_SIZE, (unsigned)2,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
				     MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
				     MHD_OPTION_ARRAY, l->type == LISTENER_TLS ? tls_opts : tls_opts + 3,
				     MHD_OPTION_END);
	return l->daemon ? 0 : -EIO;
}

int http_listen_unix(const char *path, struct api *api, struct http_listener **out)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path))
		return log_err(-ENAMETOOLONG, "unix socket: path too long: %s", path);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	int r = make_socket_dir(path);
	if (r < 0)
		return log_err(r, "unix socket: cannot create the directory of %s: %s", path, strerror(-r));
	if ((r = clear_stale_socket(path, &addr)) < 0)
		return r;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_err(-errno, "unix socket: %s", strerror(errno));
	mode_t old = umask(0177);
	r = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ? -errno : 0;
	umask(old);
	if (r == 0 && chmod(path, 0600) < 0)
		r = -errno;
	if (r == 0 && (listen(fd, 128) < 0))
		r = -errno;
	if (r == 0)
		r = set_nonblocking(fd);
	if (r < 0) {
		close(fd);
		return log_err(r, "unix socket: %s: %s", path, strerror(-r));
	}
	struct http_listener *l = calloc(1, sizeof(*l));
	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	l->type = LISTENER_UNIX;
	l->api = api;
	snprintf(l->unix_path, sizeof(l->unix_path), "%s", path);
	if ((r = start_daemon(l, fd)) < 0) {
		close(fd);
		unlink(path);
		free(l);
		return log_err(r, "unix socket: the HTTP server did not start on %s", path);
	}
	*out = l;
	return 0;
}

static int bind_tcp(const char *host, uint16_t port, uint16_t *bound_port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_PASSIVE };
	struct addrinfo *ai;
	char service[8];
	snprintf(service, sizeof(service), "%u", port);
	int gr = getaddrinfo(host, service, &hints, &ai);
	if (gr != 0)
		return log_err(-EINVAL, "listen_tls: \"%s\" is not a numeric address: %s", host, gai_strerror(gr));
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r = fd < 0 ? -errno : 0;
	int one = 1, zero = 0;
	if (r == 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		r = -errno;
	/* "[::]:7070" means every address, IPv4 included */
	if (r == 0 && ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (r == 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		r = -errno;
	if (r == 0 && listen(fd, 128) < 0)
		r = -errno;
	if (r == 0)
		r = set_nonblocking(fd);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (r == 0 && getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		r = -errno;
	freeaddrinfo(ai);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return log_err(r, "listen_tls: cannot listen on %s port %u: %s", host, port, strerror(-r));
	}
	*bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						     : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

int http_listen_tls(const struct agent_config *cfg, struct api *api, struct http_listener **out, uint16_t *port)
{
	struct http_listener *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->type = LISTENER_TLS;
	l->api = api;
	char err[512];
	int r = tls_material_load(cfg, &l->tls, err, sizeof(err));
	if (r < 0) {
		free(l);
		return log_err(r, "tls: %s", err);
	}
	uint16_t bound = 0;
	int fd = bind_tcp(cfg->tls_host, cfg->tls_port, &bound);
	if (fd < 0) {
		tls_material_release(&l->tls);
		free(l);
		return fd;
	}
	if ((r = start_daemon(l, fd)) < 0) {
		close(fd);
		tls_material_release(&l->tls);
		free(l);
		return log_err(r, "tls: the HTTPS server did not start (check that cert and key match)");
	}
	*port = bound;
	*out = l;
	return 0;
}

void http_stop(struct http_listener *l)
{
	if (!l)
		return;
	MHD_stop_daemon(l->daemon);  /* closes the listening socket */
	if (l->type == LISTENER_UNIX)
		unlink(l->unix_path);
	tls_material_release(&l->tls);
	free(l);
}
