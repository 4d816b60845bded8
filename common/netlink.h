#pragma once

struct nl_sock;

/* A libnl socket connected to NETLINK_ROUTE in the calling thread's network
 * namespace, or NULL. The caller frees it with nl_socket_free(). */
struct nl_sock *netlink_route_socket(void);
