/* Settings of the connection-refused programs (faults/connrefuse.bpf.c), one
 * layout for the BPF side and user space (faults/connrefuse.c). Only
 * fixed-width kernel types: compiled by clang -target bpf and the host compiler. */
#pragma once
#include <linux/types.h>

#define CONNREFUSE_MAX_PORT_RANGES 8

struct connrefuse_config {
	__u8 tcp;               /* booleans: refuse connects of this protocol */
	__u8 udp;
	__u8 match_dst;         /* the dst_cidrs trie must hold the destination */
	__u8 pad;
	__s32 error;            /* errno connect() returns; 0 = the kernel's EPERM */
	__u32 n_ports;          /* 0 = every destination port */
	__u16 port_first[CONNREFUSE_MAX_PORT_RANGES];   /* host byte order */
	__u16 port_last[CONNREFUSE_MAX_PORT_RANGES];
};
