/* Attaching the packet programs: tcx links or clsact + cls_bpf. */
#include "faults/packet.h"

#include <errno.h>
#include <stdio.h>

const char *packet_backend_name(enum packet_backend b)
{
	return b == PACKET_BACKEND_TCX ? "tcx" : "clsact";
}

int packet_backend_choose(const char *preference, enum packet_backend *out, char *reason, size_t len)
{
	(void)preference;
	(void)out;
	snprintf(reason, len, "not implemented yet");
	return -ENOTSUP;
}

int packet_tc_sweep(void)
{
	return 0;
}
