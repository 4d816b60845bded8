#include "common/netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_uint(const char *text, unsigned long max, unsigned long *out)
{
	if (!*text || !isdigit((unsigned char)*text))
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int cidr_parse(const char *text, struct cidr *out)
{
	char addr[INET6_ADDRSTRLEN + 8];
	if (!text || strlen(text) >= sizeof(addr))
		return -EINVAL;
	strcpy(addr, text);
	char *slash = strchr(addr, '/');
	if (slash)
		*slash = '\0';

	struct cidr c = { 0 };
	unsigned max_len;
	if (inet_pton(AF_INET, addr, c.addr) == 1) {
		c.family = AF_INET;
		max_len = 32;
	} else if (inet_pton(AF_INET6, addr, c.addr) == 1) {
		c.family = AF_INET6;
		max_len = 128;
	} else {
		return -EINVAL;
	}
	unsigned long len = max_len;
	if (slash && parse_uint(slash + 1, max_len, &len) < 0)
		return -EINVAL;
	c.prefix_len = (uint8_t)len;

	for (unsigned bit = c.prefix_len; bit < max_len; bit++)
		if (c.addr[bit / 8] & (0x80 >> (bit % 8)))
			return -EINVAL;
	*out = c;
	return 0;
}

char *cidr_format(const struct cidr *c, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	if (!inet_ntop(c->family, c->addr, addr, sizeof(addr)))
		snprintf(addr, sizeof(addr), "?");
	snprintf(buf, len, "%s/%u", addr, c->prefix_len);
	return buf;
}

int port_range_parse(const char *text, struct port_range *out)
{
	char buf[16];
	if (!text || strlen(text) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, text);
	char *dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	unsigned long first, last;
	if (parse_uint(buf, 65535, &first) < 0 || first == 0)
		return -EINVAL;
	last = first;
	if (dash && (parse_uint(dash + 1, 65535, &last) < 0 || last < first))
		return -EINVAL;
	out->first = (uint16_t)first;
	out->last = (uint16_t)last;
	return 0;
}

int host_port_split(const char *text, char *host, size_t host_len, uint16_t *port)
{
	if (!text)
		return -EINVAL;
	const char *colon;
	const char *host_start = text;
	size_t n;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		host_start = text + 1;
		n = (size_t)(close - host_start);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon || strchr(text, ':') != colon)
			return -EINVAL;
		n = (size_t)(colon - text);
	}
	if (n == 0 || n >= host_len)
		return -EINVAL;
	unsigned long p;
	if (parse_uint(colon + 1, 65535, &p) < 0 || p == 0)
		return -EINVAL;
	memcpy(host, host_start, n);
	host[n] = '\0';
	*port = (uint16_t)p;
	return 0;
}
