/* Shared by faults/delayline.bpf.c and faults/delayline.c: map layouts and the
 * mark of packets coming back from the line. Fixed-width kernel types only
 * (compiled by clang -target bpf and by the host compiler). */
#pragma once
#include <linux/types.h>

/* skb->mark of frames the agent wrote back into a TAP: one value per fault
 * (DELAYLINE_MARK_BASE + a slot of the tc handle allocator, unique in the
 * process), so that with several delay lines on one interface each program
 * can tell its own returning frames (pass on, mark cleared) from another
 * line's (pass on untouched: this program already saw them, it comes earlier
 * in the chain than the program that diverted them). */
#define DELAYLINE_MARK_BASE 0xc4a00000u
#define DELAYLINE_MARK_MASK 0xfffffc00u
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
