/* Opens the scoped builds of the network objects (faults/scope_variant.h). This file is the
 * only one that sees their skeleton headers. */
#include "faults/scope_variant.h"

#include "faults/match_config.h"
#include "faults/delayline_bpf.h"
#include "faults/dns.h"
#include "faults/packet_scoped.skel.h"
#include "faults/dns_scoped.skel.h"
#include "faults/delayline_scoped.skel.h"

#include <errno.h>

#define OPEN_SCOPED(name)                                                                   \
	struct name##_bpf *name##_bpf_open_scoped(size_t skel_size, size_t rodata_size)      \
	{                                                                                    \
		if (skel_size != sizeof(struct name##_bpf) ||                                \
		    rodata_size != sizeof(struct name##_bpf__rodata)) {                     \
			errno = EPROTO;                                                      \
			return NULL;                                                         \
		}                                                                            \
		return name##_bpf__open();                                                   \
	}

OPEN_SCOPED(packet)
OPEN_SCOPED(dns)
OPEN_SCOPED(delayline)
