/* Shared by faults/delayline.bpf.c and faults/delayline.c: map layouts and the
 * mark of packets coming back from the line. Fixed-width kernel types only
 * (compiled by clang -target bpf and by the host compiler). */
#pragma once
#include <linux/types.h>

/* skb->mark of frames the agent wrote back into a TAP, so that the program on
 * the real interface lets them pass (and clears the mark). */
#define DELAYLINE_MARK 0xc4a0d11eu
/* Interfaces one fault can divert (packet.h's PACKET_MAX_INTERFACES, plus room). */
#define DELAYLINE_MAX_LINKS 64

struct delayline_divert {
	__u32 tap_ingress;      /* 0: this direction is not diverted */
	__u32 tap_egress;
};

struct delayline_return {
	__u32 ifindex;          /* the real interface */
	__u32 ingress;          /* 1: deliver into its ingress; 0: send out of it */
};

struct delayline_counters {
	__u64 diverted;
	__u64 returned;
	__u64 unroutable;
};
