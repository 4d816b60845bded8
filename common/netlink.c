#include "common/netlink.h"

#include <linux/netlink.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

struct nl_sock *netlink_route_socket(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	if (!sk)
		return NULL;
	if (nl_connect(sk, NETLINK_ROUTE) < 0) {
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}
