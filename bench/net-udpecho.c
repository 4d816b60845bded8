/* UDP ping-pong for the delay benchmark (bench/net-delay.sh); the same protocol and
 * output as bench/net-udpecho.py, in C so the measuring tool adds as little latency
 * and caps the packet rate as little as possible.
 *   net-udpecho server PORT
 *   net-udpecho rtt ADDR PORT [COUNT [RATE]]        (default 1000 probes at 100/s)
 *   net-udpecho rate ADDR PORT [RATES [SECONDS]]    (RATES comma-separated, default
 *                                                    1000,2000,...,160000; 2 s each)
 *   net-udpecho sink PORT                           a bound socket that never reads (its
 *                                                    small buffer overflows: drops after tc)
 *   net-udpecho blast ADDR PORT [COUNT]             sends COUNT 64-byte datagrams as fast as
 *                                                    possible (sendmmsg, 64 per call); prints the
 *                                                    sender thread's CPU ns per datagram
 * blast's CPU time includes the receive path on a veth pair (softirq runs in the sender's
 * context, and CLOCK_THREAD_CPUTIME_ID counts it without IRQ time accounting), so it is the
 * per-packet cost of the whole path, tc programs included, nearly independent of other load.
 * A probe is 64 bytes: sequence number and CLOCK_MONOTONIC send time (ns). One thread:
 * sends when due, reads echoes in between, waits in poll() until the next send. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PROBE_SIZE 64
#define GRACE_NS 1000000000LL   /* wait for echoes this long after the last send (+ max RTT) */
#define MAX_BURST 64

struct probe {
	uint64_t seq;
	uint64_t sent_ns;
	unsigned char pad[PROBE_SIZE - 16];
};

struct result {
	uint64_t sent, echoed, reordered;
	double *rtt_ms;         /* echoed entries */
	double max_rtt_ms;
	double send_seconds;
};

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int udp_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int buf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	return fd;
}

static int server(int port)
{
	int fd = udp_socket();
	if (fd < 0)
		return 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("bind");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		unsigned char buf[2048];
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &len);
		if (n < 0)
			continue;
		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, len);
	}
}

static int sink(int port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int buf = 4096;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("sink");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;)
		pause();
}

static int blast(const char *addr, int port, uint64_t count)
{
	enum { BATCH = 64 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (fd < 0 || inet_pton(AF_INET, addr, &a.sin_addr) != 1 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("blast");
		return 1;
	}
	static unsigned char payload[PROBE_SIZE];
	struct iovec iov = { .iov_base = payload, .iov_len = sizeof(payload) };
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	struct timespec c0, c1;
	int64_t w0 = now_ns();
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	uint64_t sent = 0, failed = 0;
	while (sent + failed < count) {
		int n = sendmmsg(fd, msgs, BATCH, 0);
		if (n > 0)
			sent += (uint64_t)n;
		else
			failed++;
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	int64_t wall = now_ns() - w0;
	double cpu = (double)(c1.tv_sec - c0.tv_sec) * 1e9 + (double)(c1.tv_nsec - c0.tv_nsec);
	printf("blast sent %llu failed %llu cpu_ns_per_packet %.1f wall_pps %.0f\n", (unsigned long long)sent,
	       (unsigned long long)failed, cpu / (double)sent, (double)sent / ((double)wall / 1e9));
	close(fd);
	return 0;
}

static void drain(int fd, struct result *r, uint8_t *seen, uint64_t count, int64_t *last_seq)
{
	for (;;) {
		struct probe p;
		ssize_t n = recv(fd, &p, sizeof(p), MSG_DONTWAIT);
		if (n < 0)
			return;
		if (n < 16 || p.seq >= count || seen[p.seq])
			continue;
		seen[p.seq] = 1;
		if ((int64_t)p.seq < *last_seq)
			r->reordered++;
		else
			*last_seq = (int64_t)p.seq;
		double rtt = (double)(now_ns() - (int64_t)p.sent_ns) / 1e6;
		r->rtt_ms[r->echoed++] = rtt;
		r->max_rtt_ms = rtt > r->max_rtt_ms ? rtt : r->max_rtt_ms;
	}
}

static int run(const char *addr, int port, double rate, uint64_t count, struct result *r)
{
	memset(r, 0, sizeof(*r));
	int fd = udp_socket();
	if (fd < 0)
		return fd;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -EINVAL;
	}
	uint8_t *seen = calloc(count, 1);
	r->rtt_ms = calloc(count, sizeof(double));
	if (!seen || !r->rtt_ms) {
		free(seen);
		free(r->rtt_ms);
		close(fd);
		return -ENOMEM;
	}
	const double period = 1e9 / rate;
	int64_t start = now_ns(), send_end = start, end_wait, last_seq = -1;
	double next_due = (double)start;
	for (;;) {
		int64_t now = now_ns();
		if (r->sent < count) {
			for (int burst = 0; r->sent < count && next_due <= (double)now && burst < MAX_BURST; burst++) {
				struct probe p = { .seq = r->sent, .sent_ns = (uint64_t)now_ns() };
				/* A full socket buffer counts as a loss of the path under test. */
				(void)send(fd, &p, sizeof(p), MSG_DONTWAIT);
				r->sent++;
				next_due += period;
			}
			if (r->sent == count)
				send_end = now_ns();
		}
		drain(fd, r, seen, count, &last_seq);
		int timeout_ms;
		if (r->sent == count) {
			end_wait = send_end + GRACE_NS + (int64_t)(r->max_rtt_ms * 1e6);
			if (r->echoed == count || now_ns() >= end_wait)
				break;
			timeout_ms = (int)((end_wait - now_ns()) / 1000000) + 1;
			timeout_ms = timeout_ms > 50 ? 50 : timeout_ms;
		} else {
			double wait = next_due - (double)now_ns();
			timeout_ms = wait > 1e6 ? (int)(wait / 1e6) : 0;
		}
		if (timeout_ms > 0) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			poll(&pfd, 1, timeout_ms);
		} else if (r->sent == count) {
			continue;
		}
	}
	r->send_seconds = (double)(send_end - start) / 1e9;
	free(seen);
	close(fd);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest rank on a sorted array. */
static double pct(const double *sorted, uint64_t n, double p)
{
	if (n == 0)
		return NAN;
	uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)n);
	return sorted[rank ? rank - 1 : 0];
}

static int rtt_mode(const char *addr, int port, uint64_t count, double rate)
{
	struct result r;
	int e = run(addr, port, rate, count, &r);
	if (e < 0) {
		fprintf(stderr, "net-udpecho: %s\n", strerror(-e));
		return 1;
	}
	qsort(r.rtt_ms, r.echoed, sizeof(double), cmp_double);
	printf("rtt sent %llu echoed %llu loss %.2f%% reordered %llu p50 %.3f p99 %.3f min %.3f max %.3f ms\n",
	       (unsigned long long)r.sent, (unsigned long long)r.echoed,
	       100.0 * (double)(r.sent - r.echoed) / (double)r.sent, (unsigned long long)r.reordered,
	       pct(r.rtt_ms, r.echoed, 50), pct(r.rtt_ms, r.echoed, 99), r.echoed ? r.rtt_ms[0] : NAN,
	       r.echoed ? r.rtt_ms[r.echoed - 1] : NAN);
	free(r.rtt_ms);
	return 0;
}

static int rate_mode(const char *addr, int port, const char *rates, double seconds)
{
	char *list = strdup(rates), *save = NULL;
	long best = 0;
	if (!list)
		return 1;
	for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		long rate = atol(tok);
		if (rate <= 0)
			continue;
		struct result r;
		int e = run(addr, port, (double)rate, (uint64_t)((double)rate * seconds), &r);
		if (e < 0) {
			fprintf(stderr, "net-udpecho: %s\n", strerror(-e));
			free(list);
			return 1;
		}
		qsort(r.rtt_ms, r.echoed, sizeof(double), cmp_double);
		double achieved = r.send_seconds > 0 ? (double)r.sent / r.send_seconds : 0;
		double loss = 100.0 * (double)(r.sent - r.echoed) / (double)r.sent;
		printf("rate %ld/s sent %.0f/s echoed %.0f/s loss %.2f%% reordered %llu p50 %.3f p99 %.3f ms\n", rate,
		       achieved, r.send_seconds > 0 ? (double)r.echoed / r.send_seconds : 0, loss,
		       (unsigned long long)r.reordered, pct(r.rtt_ms, r.echoed, 50), pct(r.rtt_ms, r.echoed, 99));
		fflush(stdout);
		free(r.rtt_ms);
		if (achieved < 0.95 * (double)rate) {
			printf("sender limit: this tool reached only %.0f/s\n", achieved);
			break;
		}
		if (loss >= 1.0)
			break;
		best = rate;
	}
	free(list);
	printf("max rate with loss < 1%%: %ld packets/s\n", best);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "sink") == 0)
		return sink(atoi(argv[2]));
	if (argc >= 4 && strcmp(argv[1], "blast") == 0)
		return blast(argv[2], atoi(argv[3]), argc > 4 ? strtoull(argv[4], NULL, 10) : 1000000);
	if (argc >= 3 && strcmp(argv[1], "server") == 0)
		return server(atoi(argv[2]));
	if (argc >= 4 && strcmp(argv[1], "rtt") == 0)
		return rtt_mode(argv[2], atoi(argv[3]), argc > 4 ? strtoull(argv[4], NULL, 10) : 1000,
				argc > 5 ? atof(argv[5]) : 100);
	if (argc >= 4 && strcmp(argv[1], "rate") == 0)
		return rate_mode(argv[2], atoi(argv[3]),
				 argc > 4 ? argv[4] : "1000,2000,5000,10000,20000,40000,80000,160000",
				 argc > 5 ? atof(argv[5]) : 2);
	fprintf(stderr, "usage: net-udpecho server PORT | rtt ADDR PORT [COUNT [RATE]] | rate ADDR PORT [RATES [SECONDS]]\n"
			"       net-udpecho sink PORT | blast ADDR PORT [COUNT]\n");
	return 2;
}
