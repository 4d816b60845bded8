/* Addresses, CIDR prefixes and port ranges as written in experiment files and API bodies. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct cidr {
	int family;          /* AF_INET or AF_INET6 */
	uint8_t addr[16];    /* network byte order; IPv4 uses the first 4 bytes */
	uint8_t prefix_len;  /* 0..32 or 0..128 */
};

/* "10.0.0.0/8", "fd00::/64", or a bare address (a /32 or /128).
 * Returns -EINVAL for malformed text and for host bits set past the prefix
 * ("10.0.0.1/8" is almost always a typo for a host or for 10.0.0.0/8). */
int cidr_parse(const char *text, struct cidr *out);
char *cidr_format(const struct cidr *c, char *buf, size_t len);

struct port_range { uint16_t first, last; };

/* "80" or "1000-2000" (first <= last, 0 < port <= 65535). */
int port_range_parse(const char *text, struct port_range *out);

/* "host:port", "[v6]:port" -> separate host and port; -EINVAL if malformed. */
int host_port_split(const char *text, char *host, size_t host_len, uint16_t *port);
